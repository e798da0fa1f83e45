"""``recvault login`` and ``logout``: sign in through the API's identity provider.

The API tells which provider and client to use (``GET /auth/oidc``). Where the
provider offers the device authorization flow, ``login`` prints a code to
enter on any device's browser; otherwise (or with ``--browser``) it opens the
browser at the provider and waits on a loopback port for the redirect
(authorization code with PKCE S256 and a state, RFC 8252). The tokens go to
the user's config directory (``vault.cli.credentials``, mode 0600).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import sys
import time
import webbrowser
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Annotated, Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import typer

from vault.cli import credentials
from vault.cli.app import app
from vault.cli.http import DEFAULT_ADDR, ApiError, ClientUsageError

AddrOpt = Annotated[
    str | None,
    typer.Option(
        "--addr", help="API address (default: $RECVAULT_ADDR, else http://127.0.0.1:8000)"
    ),
]
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
#: how long a person may take to sign in at the provider
WAIT_SECONDS = 300


def _addr(addr: str | None) -> str:
    chosen = (addr or os.environ.get("RECVAULT_ADDR") or DEFAULT_ADDR).rstrip("/")
    if not chosen.startswith(("http://", "https://")):
        raise ClientUsageError(f"--addr must be an http(s) URL, got {chosen!r}")
    return chosen


def _get_json(url: str, what: str) -> dict[str, Any]:
    try:
        answer = httpx.get(url, timeout=30)
    except httpx.TransportError as exc:
        raise ApiError(f"cannot reach {what} ({type(exc).__name__})", status=None) from None
    if answer.status_code == 404:
        raise ApiError(f"{what} does not offer single sign-on", status=404, code="not-found")
    if answer.is_error:
        raise ApiError(f"{what} answered {answer.status_code}", status=answer.status_code)
    body = answer.json()
    if not isinstance(body, dict):
        raise ApiError(f"{what} answered something unexpected", status=answer.status_code)
    return body


def _token_request(endpoint: str, form: dict[str, str]) -> httpx.Response:
    try:
        return httpx.post(endpoint, data=form, timeout=30)
    except httpx.TransportError as exc:
        raise ApiError(
            f"cannot reach the identity provider ({type(exc).__name__})",
            status=None,
            code="unreachable",
        ) from None


def _refused(answer: httpx.Response) -> ApiError:
    try:
        error = str(answer.json().get("error", answer.status_code))
    except ValueError:
        error = str(answer.status_code)
    return ApiError(f"the identity provider refused the sign-in ({error})", status=401)


# -- device authorization (RFC 8628) ------------------------------------------------------


def device_flow(provider: dict[str, Any], client_id: str, scope: str) -> dict[str, Any]:
    answer = _token_request(
        provider["device_authorization_endpoint"], {"client_id": client_id, "scope": scope}
    )
    if answer.status_code != 200:
        raise _refused(answer)
    grant = answer.json()
    where = grant.get("verification_uri_complete") or grant["verification_uri"]
    typer.echo(f"To sign in, open {where}", err=True)
    typer.echo(f"and confirm the code {grant['user_code']}", err=True)
    sys.stderr.flush()
    interval = float(grant.get("interval", 5))
    deadline = time.monotonic() + float(grant.get("expires_in", WAIT_SECONDS))
    while time.monotonic() < deadline:
        time.sleep(interval)
        polled = _token_request(
            provider["token_endpoint"],
            {
                "grant_type": DEVICE_GRANT,
                "device_code": grant["device_code"],
                "client_id": client_id,
            },
        )
        if polled.status_code == 200:
            tokens: dict[str, Any] = polled.json()
            return tokens
        error = polled.json().get("error") if polled.content else None
        if error == "authorization_pending":
            continue
        if error == "slow_down":
            interval += 5
            continue
        raise _refused(polled)
    raise ApiError("the sign-in was not completed in time", status=None, code="timeout")


# -- browser and loopback redirect (RFC 8252, PKCE) -------------------------------------


class _Redirect(BaseHTTPRequestHandler):
    received: dict[str, str] = {}  # replaced per server

    def do_GET(self) -> None:
        query = parse_qs(urlsplit(self.path).query)
        if urlsplit(self.path).path != "/callback":
            self.send_error(404)
            return
        type(self).received.update({k: v[0] for k, v in query.items()})
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.end_headers()
        self.wfile.write(b"recvault: signed in. You can close this tab and return to the terminal.")

    def log_message(self, format: str, *args: Any) -> None:
        pass  # no access lines on the terminal


def browser_flow(provider: dict[str, Any], client_id: str, scope: str) -> dict[str, Any]:
    class Redirect(_Redirect):
        received: dict[str, str] = {}  # this sign-in's own

    handler = Redirect
    server = HTTPServer(("127.0.0.1", 0), handler)
    redirect_uri = f"http://127.0.0.1:{server.server_address[1]}/callback"
    verifier = secrets.token_urlsafe(48)
    state = secrets.token_urlsafe(24)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": scope,
        "state": state,
        "code_challenge": challenge.rstrip(b"=").decode(),
        "code_challenge_method": "S256",
    }
    url = f"{provider['authorization_endpoint']}?{urlencode(query)}"
    typer.echo(f"To sign in, open {url}", err=True)
    sys.stderr.flush()
    webbrowser.open(url)
    server.timeout = 1
    deadline = time.monotonic() + WAIT_SECONDS
    try:
        while not handler.received and time.monotonic() < deadline:
            server.handle_request()
    finally:
        server.server_close()
    received: dict[str, str] = handler.received
    if not received:
        raise ApiError("the sign-in was not completed in time", status=None, code="timeout")
    if not hmac.compare_digest(received.get("state", ""), state):
        raise ApiError("the provider's answer belongs to another sign-in", status=401)
    if "code" not in received:
        error = received.get("error", "no code")
        raise ApiError(f"the identity provider refused the sign-in ({error})", status=401)
    answer = _token_request(
        provider["token_endpoint"],
        {
            "grant_type": "authorization_code",
            "code": received["code"],
            "redirect_uri": redirect_uri,
            "code_verifier": verifier,
            "client_id": client_id,
        },
    )
    if answer.status_code != 200:
        raise _refused(answer)
    tokens: dict[str, Any] = answer.json()
    return tokens


# -- commands -------------------------------------------------------------------------------


@app.command("login")
def login(
    addr: AddrOpt = None,
    browser: Annotated[
        bool,
        typer.Option("--browser", help="sign in in this machine's browser, not with a code"),
    ] = False,
) -> None:
    """Sign in through the API's identity provider; later commands use the token."""
    chosen = _addr(addr)
    config = _get_json(f"{chosen}/auth/oidc", f"the recvault API at {chosen}")
    client_id = config.get("client_id")
    if not client_id:
        raise ApiError(
            f"the recvault API at {chosen} names no client for recvault login "
            "([auth.oidc] cli_client_id)",
            status=None,
            code="not-configured",
        )
    issuer = str(config["issuer"])
    provider = _get_json(
        issuer.rstrip("/") + "/.well-known/openid-configuration", "the identity provider"
    )
    scope = " ".join([*config.get("scopes", ["openid"]), "offline_access"])
    if provider.get("device_authorization_endpoint") and not browser:
        tokens = device_flow(provider, client_id, scope)
    else:
        tokens = browser_flow(provider, client_id, scope)
    if not isinstance(tokens.get("access_token"), str):
        raise ApiError("the identity provider answered without an access token", status=None)
    entry = credentials.entry_from_tokens(
        tokens, issuer=issuer, client_id=client_id, token_endpoint=provider["token_endpoint"]
    )
    path = credentials.store(chosen, entry)
    typer.echo(f"signed in to {chosen} through {issuer}; token kept in {path}")


@app.command("logout")
def logout(addr: AddrOpt = None) -> None:
    """Forget the token recvault login kept for the API and revoke its refresh token."""
    chosen = _addr(addr)
    entry = credentials.forget(chosen)
    if entry is None:
        typer.echo(f"not signed in to {chosen}")
        return
    refresh = entry.get("refresh_token")
    if not refresh:
        typer.echo(f"signed out of {chosen}")
        return
    problem = _revoke(entry, str(refresh))
    if problem:
        # the copy here is gone; one taken earlier could still renew the sign-in
        raise ApiError(
            f"signed out of {chosen} here, but the sign-in was not revoked at the identity "
            f"provider ({problem}): end it there (its sessions page) if the file may have "
            "been copied",
            status=None,
            code="not-revoked",
        )
    typer.echo(f"signed out of {chosen}; the identity provider revoked the sign-in")


def _revoke(entry: dict[str, Any], refresh: str) -> str | None:
    """Revoke the refresh token (RFC 7009); what went wrong, or None when it is revoked."""
    try:
        provider = _get_json(
            str(entry["issuer"]).rstrip("/") + "/.well-known/openid-configuration",
            "the identity provider",
        )
    except ApiError as exc:
        return exc.message
    endpoint = provider.get("revocation_endpoint")
    if not endpoint:
        return "it offers no revocation endpoint"
    form = {"token": refresh, "token_type_hint": "refresh_token", "client_id": entry["client_id"]}
    try:
        answer = _token_request(str(endpoint), form)
    except ApiError as exc:
        return exc.message
    if answer.status_code != 200:
        return f"it answered {answer.status_code}"
    return None
