"""The HTTP side of the ``recvault`` client: one connection, problem+json turned into ``ApiError``.

Commands in ``vault.cli.client`` never look at status codes themselves: a
non-2xx answer becomes an ``ApiError`` carrying the server's ``detail``,
``code`` and status, and ``vault.cli.app`` maps it to an exit code.

httpx is imported where it is used, not here: a download over plain HTTP runs
on ``http.client`` alone and its command starts ~45 ms sooner.
"""

from __future__ import annotations

import http.client
import json
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, Protocol
from urllib.parse import urlencode, urlsplit
from urllib.request import getproxies, proxy_bypass

from vault.cli.credentials import stored_token
from vault.errors import VaultError

if TYPE_CHECKING:
    import httpx

DEFAULT_ADDR = "http://127.0.0.1:8000"
CHUNK = 1024 * 1024


class ApiError(VaultError):
    """The recvault API refused the request (or could not be reached)."""

    code = "api-error"

    def __init__(self, message: str, *, status: int | None, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        if code:
            self.code = code


class ClientUsageError(VaultError):
    """The command line is incomplete (e.g. no token given)."""

    code = "usage"


def _problem(response: httpx.Response) -> ApiError:
    detail = ""
    code: str | None = None
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        detail = str(body.get("detail") or body.get("title") or "")
        code = body.get("code") or None
        errors = body.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            first = errors[0]
            where = ".".join(str(p) for p in first.get("loc", []) if p != "body")
            detail = (
                f"{detail.removesuffix('; see errors')}: {where} {first.get('msg', '')}".strip()
            )
        if isinstance(body.get("detail"), list):  # FastAPI's own 422 shape
            detail = "; ".join(
                f"{'.'.join(str(p) for p in item.get('loc', []))}: {item.get('msg')}"
                for item in body["detail"]
            )
    if not detail:
        detail = response.reason_phrase or f"HTTP {response.status_code}"
    return ApiError(
        detail, status=response.status_code, code=code or f"http-{response.status_code}"
    )


#: RFC 6750's b64token: what an Authorization header may carry as a bearer token
_BEARER = re.compile(r"[A-Za-z0-9\-._~+/]+=*")


def bearer_token(token: str, source: str) -> str:
    """``token`` without surrounding whitespace (a file's line end), if it can be sent at all.

    The refusal names where the token came from, never the token: it would otherwise
    reach the terminal, a CI log or a bug report, through the HTTP library's own error.
    """
    token = token.strip()
    if not _BEARER.fullmatch(token):
        raise ClientUsageError(
            f"the token from {source} is not a bearer token: it holds spaces, line breaks "
            "or characters other than A-Z a-z 0-9 - . _ ~ + / ="
        )
    return token


@dataclass
class ApiClient:
    """A bearer-token client for ``/v1`` of one recvault API."""

    addr: str
    token: str | None
    timeout: float = 60.0

    @classmethod
    def from_options(cls, addr: str | None, token: str | None) -> ApiClient:
        chosen = (addr or os.environ.get("RECVAULT_ADDR") or DEFAULT_ADDR).rstrip("/")
        if not chosen.startswith(("http://", "https://")):
            raise ClientUsageError(f"--addr must be an http(s) URL, got {chosen!r}")
        if token:
            return cls(chosen, bearer_token(token, "--token"))
        if from_env := os.environ.get("RECVAULT_TOKEN"):
            return cls(chosen, bearer_token(from_env, "RECVAULT_TOKEN"))
        # then the token `recvault login` kept for this address (renewed if about to expire)
        stored = stored_token(chosen)
        return cls(chosen, bearer_token(stored, "the stored sign-in") if stored else None)

    def _http(self) -> httpx.Client:
        import httpx

        return httpx.Client(
            base_url=self.addr,
            headers=self._headers(),
            timeout=httpx.Timeout(self.timeout, connect=10.0),
        )

    def _headers(self) -> dict[str, str]:
        if not self.token:
            raise ClientUsageError(
                "no token: set RECVAULT_TOKEN, pass --token, or sign in with recvault login"
            )
        return {"Authorization": f"Bearer {self.token}", "User-Agent": "recvault-cli"}

    def _unreachable(self, exc: Exception) -> ApiError:
        return ApiError(
            f"cannot reach the recvault API at {self.addr} ({type(exc).__name__})",
            status=None,
            code="unreachable",
        )

    def call(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: dict[str, Any] | None = None,
    ) -> Any:
        """Send one request and return its JSON body (``None`` for an empty answer)."""
        import httpx

        clean = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            with self._http() as http:
                response = http.request(method, path, json=body, params=clean)
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from None
        if response.is_error:
            raise _problem(response)
        if not response.content:
            return None
        if "ndjson" in response.headers.get("Content-Type", ""):
            return [json.loads(line) for line in response.text.splitlines() if line.strip()]
        try:
            return response.json()
        except ValueError:
            return {"body": response.text}

    def upload(
        self,
        method: str,
        path: str,
        source: IO[bytes],
        size: int,
        *,
        params: dict[str, Any] | None = None,
        content_type: str = "application/octet-stream",
        advance: Callable[[int], None] = lambda n: None,
    ) -> Any:
        """Stream ``size`` bytes of ``source`` as the raw body, with Content-Length."""

        def chunks() -> Iterator[bytes]:
            while block := source.read(CHUNK):
                advance(len(block))
                yield block

        import httpx

        headers = {"Content-Length": str(size), "Content-Type": content_type}
        clean = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            with self._http() as http:
                response = http.request(
                    method, path, content=chunks(), headers=headers, params=clean
                )
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from None
        if response.is_error:
            raise _problem(response)
        return response.json() if response.content else None

    @contextmanager
    def download(
        self,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Iterator[Download]:
        """Open a streamed GET; the caller writes its ``blocks`` as they come.

        Straight to the address, the body is read by ``http.client`` into one reused
        1 MiB buffer: httpx reads 64 KiB at a time and copies each block through
        h11 (1.0-1.3 s of the CLI's CPU per GiB against 0.3 s; docs/benchmarks.md,
        P9). Through a proxy from the environment, httpx carries it as before.
        """
        clean = {k: v for k, v in (params or {}).items() if v is not None}
        if self._proxied():
            with self._download_httpx(path, clean, headers or {}) as body:
                yield body
            return
        sent = {**self._headers(), **(headers or {})}
        target = urlsplit(self.addr)
        connection: http.client.HTTPConnection
        if target.scheme == "https":
            import httpx  # its TLS context: certifi and SSL_CERT_FILE, as every other call

            connection = http.client.HTTPSConnection(
                target.hostname or "",
                target.port,
                timeout=self.timeout,
                context=httpx.create_ssl_context(),
            )
        else:
            connection = http.client.HTTPConnection(
                target.hostname or "", target.port, timeout=self.timeout
            )
        query = f"?{urlencode(clean)}" if clean else ""
        try:
            try:
                connection.request("GET", f"{target.path}{path}{query}", headers=sent)
                response = connection.getresponse()
                if response.status >= 400:
                    content = response.read()
            except (OSError, http.client.HTTPException) as exc:
                raise self._unreachable(exc) from None
            if response.status >= 400:
                import httpx

                raise _problem(
                    httpx.Response(response.status, headers=response.getheaders(), content=content)
                )
            yield Download(response.headers, self._blocks(response))
        finally:
            connection.close()

    def _blocks(self, response: http.client.HTTPResponse) -> Iterator[memoryview]:
        """The body read into one reused buffer; each block is valid until the next."""
        buffer = memoryview(bytearray(CHUNK))
        try:
            while got := response.readinto(buffer):
                yield buffer[:got]
            if response.length:  # the connection closed before Content-Length bytes came
                raise http.client.IncompleteRead(b"", response.length)
        except (OSError, http.client.HTTPException) as exc:
            raise self._unreachable(exc) from None

    def _proxied(self) -> bool:
        """Whether the environment names a proxy for this address (httpx would use it)."""
        target = urlsplit(self.addr)
        return target.scheme in getproxies() and not proxy_bypass(target.hostname or "")

    @contextmanager
    def _download_httpx(
        self, path: str, params: dict[str, Any], headers: dict[str, str]
    ) -> Iterator[Download]:
        import httpx

        try:
            with (
                self._http() as http,
                http.stream("GET", path, params=params, headers=headers) as response,
            ):
                if response.is_error:
                    response.read()
                    raise _problem(response)
                yield Download(response.headers, response.iter_bytes())
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from None


class Headers(Protocol):
    def get(self, name: str, /) -> str | None: ...


@dataclass
class Download:
    """A response being read: its headers and its body's blocks, each valid until the next."""

    headers: Headers
    blocks: Iterator[bytes | memoryview]
