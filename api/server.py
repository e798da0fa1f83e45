"""How recvault runs under uvicorn: server limits, and request headers bounded in size and time.

uvicorn bounds keep-alive idleness (``timeout_keep_alive``) and open
connections (``limit_concurrency``), but with the httptools parser it bounds
neither the size of a request's headers nor the time they take to arrive (a
50 MB header was answered 200; a connection trickling headers stayed open for
ever). ``GuardedHttpToolsProtocol`` adds both to uvicorn's own protocol class,
which uvicorn accepts as its ``http`` option (``recvault serve`` names it; ADR 0006):

- request line and headers above ``limits.max_header_bytes`` bytes, or more than
  ``limits.max_headers`` fields: 431, and the connection closes;
- headers not complete ``limits.header_timeout`` after the connection opened or
  the request began: 408, and the connection closes;
- a request the parser cannot read (a byte above ASCII in the target, a control
  character in a header, a malformed Content-Length): 400 ``malformed-request``,
  and the connection closes. uvicorn's own answer was plain text;
- a request past ``limits.max_connections`` (uvicorn's ``limit_concurrency``):
  503 ``overloaded`` with ``Retry-After``, and the connection closes (uvicorn's
  own answer was plain text too).

Each of these is a problem document, as every error of the app is.

Request bodies are bounded in the app (``api.limits.BodyIdleTimeout``,
``api.streaming.UploadGate``), where the route knows what to clean up.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import TYPE_CHECKING, Any

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from vault.settings import LimitsConfig

if TYPE_CHECKING:
    from uvicorn._types import ASGIReceiveCallable, ASGISendCallable, Scope

log = logging.getLogger("recvault.api")


class _Refused(Exception):
    """Raised from a parser callback to stop parsing a request that is refused."""


#: bytes asked of the socket per read (asyncio's own default: 256 KiB)
RECEIVE_BYTES = 1024 * 1024

#: seconds a refused connection is drained before it is closed
LINGER = 2.0

#: status -> (reason phrase, problem type, code, detail) of the answers given before the app
_REFUSALS = {
    400: ("Bad Request", "invalid-input", "malformed-request", "the request is not valid HTTP/1.1"),
    408: ("Request Timeout", "request-timeout", "request-timeout", "request timeout"),
    431: (
        "Request Header Fields Too Large",
        "headers-too-large",
        "headers-too-large",
        "request header fields too large",
    ),
    503: ("Service Unavailable", "unavailable", "overloaded", "too many connections; retry later"),
}
#: seconds a client turned away at the connection limit should wait
OVERLOADED_RETRY_AFTER = 5


def _problem_bytes(status: int) -> bytes:
    reason, kind, code, detail = _REFUSALS[status]
    body = {
        "type": f"urn:recvault:problem:{kind}",
        "title": reason,
        "status": status,
        "detail": detail,
        "code": code,
    }
    return json.dumps(body, separators=(",", ":")).encode()


async def overloaded(scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
    """What a request past ``limit_concurrency`` gets: uvicorn's own 503 is plain text."""
    body = _problem_bytes(503)
    await send(
        {
            "type": "http.response.start",
            "status": 503,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", str(OVERLOADED_RETRY_AFTER).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a size, count and time limit on request headers."""

    max_header_bytes = 32 * 1024
    max_headers = 100
    header_timeout = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_headers = True
        self._pending_bytes = 0  # raw bytes received while headers are incomplete
        self._parsed_bytes = 0  # request line and header fields the parser accepted
        self._header_count = 0
        self._header_timer: asyncio.TimerHandle | None = None
        self._refused = False

    # -- the time limit --------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if hasattr(transport, "max_size"):
            # asyncio receives at most 256 KiB per read: an upload reached the app in
            # 4,096+ messages per GiB, each through every middleware (docs/benchmarks.md, P9)
            transport.max_size = RECEIVE_BYTES
        self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_timer()
        super().connection_lost(exc)

    def _arm_header_timer(self) -> None:
        if self._header_timer is None and self.header_timeout > 0:
            self._header_timer = self.loop.call_later(self.header_timeout, self._headers_too_slow)

    def _disarm_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if self._in_headers and not self.transport.is_closing():
            if self._pending_bytes or self._parsed_bytes:
                self._refuse(408)
            else:  # nothing of a request arrived: no answer is owed
                self.transport.close()

    # -- the size limit --------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except _Refused:
            return
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        except httptools.HttpParserError:
            if self._refused:
                return
            self.logger.warning("Invalid HTTP request received.")
            self._refuse(400)
            return
        if self._in_headers and not self._refused:
            # The parser holds an unfinished header until it is whole: bound what it
            # holds, so a 50 MB header is refused long before it is complete.
            self._arm_header_timer()
            self._pending_bytes += len(data)
            if self._pending_bytes > self.max_header_bytes:
                self._refuse(431)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_headers = True
        self._pending_bytes = self._parsed_bytes = self._header_count = 0
        self._arm_header_timer()

    def on_url(self, url: bytes) -> None:
        self._count(len(url), 0)
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + 4, 1)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_headers = False
        self._disarm_header_timer()
        limit = self.limit_concurrency
        if limit is None or (len(self.connections) < limit and len(self.tasks) < limit):
            super().on_headers_complete()
            return
        # Past the limit uvicorn answers with its own app (the same test as here), in plain
        # text: the request goes to ``overloaded`` instead, with the limit lifted for it.
        log.warning("request refused before the app: 503 overloaded")
        app = self.app
        self.app, self.limit_concurrency = overloaded, None
        try:
            super().on_headers_complete()
        finally:
            self.app, self.limit_concurrency = app, limit

    def _count(self, size: int, fields: int) -> None:
        self._parsed_bytes += size
        self._header_count += fields
        if self._header_count > self.max_headers or self._parsed_bytes > self.max_header_bytes:
            self._refuse(431)
            raise _Refused

    # -- refusing ---------------------------------------------------------------

    def send_400_response(self, msg: str) -> None:
        """uvicorn's plain-text 400, answered as a problem document instead."""
        self._refuse(400)

    def _refuse(self, status: int) -> None:
        """Answer ``status`` with a problem document and close; nothing reaches the app."""
        if self._refused:
            return
        self._refused = True
        self._disarm_header_timer()
        reason, _, code, _ = _REFUSALS[status]
        body = _problem_bytes(status)
        head = b"HTTP/1.1 %d %s\r\n" % (status, reason.encode())
        headers = (
            b"content-type: application/problem+json\r\n"
            b"content-length: %d\r\nconnection: close\r\n\r\n" % len(body)
        )
        log.warning("request refused before the app: %d %s", status, code)
        if self.transport.is_closing():
            return
        self.transport.write(head + headers + body)
        # A lingering close: closing with unread data would reset the connection and the
        # client could lose the answer. Stop writing, read and drop what is still coming,
        # and close once the client has sent it all, or after LINGER seconds at most.
        if self.transport.can_write_eof():
            self.transport.write_eof()
            self.loop.call_later(LINGER, self.transport.close)
        else:
            self.transport.close()


def configure(limits: LimitsConfig) -> None:
    """Apply this deployment's header limits to every connection accepted from now on.

    ``api.app:build`` calls it; uvicorn is given the class by name
    (``http="api.server:GuardedHttpToolsProtocol"``, see ``recvault serve``).
    """
    GuardedHttpToolsProtocol.max_header_bytes = limits.max_header_bytes
    GuardedHttpToolsProtocol.max_headers = limits.max_headers
    GuardedHttpToolsProtocol.header_timeout = (
        limits.header_timeout.approx_timedelta().total_seconds()
    )
