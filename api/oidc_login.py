"""Console single sign-on: authorization code with PKCE (S256), state and nonce checked.

``/console/sso/login`` sends the browser to the provider; ``/console/sso/callback``
checks the state, exchanges the code (with the PKCE verifier), checks the ID
token's nonce, and turns the access token into a ``Principal`` exactly as the
API does (``OidcVerifier``). The console's session starts through the function
in ``app.state.sso_start_session`` (``start_session(request, sign_in) ->
Response``); without one the callback answers the established principal as
JSON. Signing out is the console's own form (a POST with its CSRF token): for
a session started here, ``provider_sign_out`` then sends the browser to the
provider's ``end_session_endpoint`` (when it offers one) to end the session
there too. There is no GET address for it: a page of another site could
otherwise sign a person out of the console and of the provider.

The pending sign-in (state, nonce, PKCE verifier, where to go next) travels in
a short-lived HttpOnly cookie MACed with a key derived from the deployment's
name secret, so any API replica can finish a sign-in another one started. It
also names (by a hash, ``app.state.sso_current_session``) the console session
the browser had when the sign-in started: the provider's cross-site redirect
back does not bring the console's SameSite=Strict cookie, and a successful
sign-in ends that session.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from api.deps import VaultDep
from api.oidc import UNAUTHENTICATED, OidcVerifier, ProviderUnavailable, TokenRefused
from api.oidc_tokens import console_client, exchange_code
from api.openapi import responses
from vault.errors import NotFound, Unavailable
from vault.principals import Principal
from vault.service import RecordVault
from vault.settings import OidcConfig

router = APIRouter(tags=["sign-in"])

PENDING_COOKIE = "recvault_sso"
ID_TOKEN_COOKIE = "recvault_sso_id"  # noqa: S105  (a cookie's name)
COOKIE_PATH = "/console/sso"
#: the ID token is sent back only to the console's sign-out form, which names it to the provider
SIGN_OUT_PATH = "/console/sign-out"
#: how long a person may take at the provider's sign-in page
PENDING_SECONDS = 600


@dataclass(frozen=True)
class SignIn:
    """What a finished sign-in hands to the console's ``start_session``."""

    principal: Principal
    access_token: str
    id_token: str
    refresh_token: str | None
    expires_in: int | None
    next: str
    #: the console session the browser had when this sign-in started, by an opaque
    #: reference ('' for none): the new session replaces it
    replaces: str = ""


SessionStarter = Callable[[Request, SignIn], Response]
#: the reference of the console session a request's browser has ('' for none)
SessionNamer = Callable[[Request], str]


def install(app: FastAPI, vault: RecordVault) -> None:
    """Set ``app.state.oidc`` (the API's token verifier) and add the sign-in routes."""
    config = vault.settings.auth.oidc
    app.state.oidc = OidcVerifier(config, set(vault.regions)) if config else None
    if not hasattr(app.state, "sso_start_session"):
        app.state.sso_start_session = None
    if not hasattr(app.state, "sso_current_session"):
        app.state.sso_current_session = None
    app.include_router(router)


def _verifier(request: Request) -> OidcVerifier:
    verifier: OidcVerifier | None = getattr(request.app.state, "oidc", None)
    if verifier is None:
        raise NotFound("single sign-on is not configured ([auth.oidc])")
    return verifier


# -- the pending sign-in cookie ---------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _cookie_key(vault: RecordVault) -> bytes:
    secret = vault.settings.secret_bytes("name_secret")
    return hmac.new(secret, b"recvault/console-sso-cookie", hashlib.sha256).digest()


def _seal(vault: RecordVault, payload: dict[str, Any]) -> str:
    body = _b64(json.dumps(payload, separators=(",", ":")).encode())
    tag = hmac.new(_cookie_key(vault), body.encode(), hashlib.sha256).digest()
    return f"{body}.{_b64(tag)}"


def _open(vault: RecordVault, value: str | None) -> dict[str, Any] | None:
    if not value or value.count(".") != 1:
        return None
    body, tag = value.split(".")
    wanted = hmac.new(_cookie_key(vault), body.encode(), hashlib.sha256).digest()
    try:
        if not hmac.compare_digest(_unb64(tag), wanted):
            return None
        payload = json.loads(_unb64(body))
    except ValueError:
        return None
    if not isinstance(payload, dict) or payload.get("exp", 0) < time.time():
        return None
    return payload


#: the longest ``next`` kept: it travels in the pending sign-in's cookie (4 KB in browsers)
NEXT_LIMIT = 2048


def _safe_next(value: str | None) -> str:
    """Only a path inside the console: no open redirect through ``next``.

    Printable ASCII only (a browser percent-encodes the rest): the path becomes a
    ``Location`` header, which cannot carry other characters or a line break.
    """
    if (
        value
        and len(value) <= NEXT_LIMIT
        and (value == "/console" or value.startswith(("/console/", "/console?")))
        and "//" not in value
        and "\\" not in value
        and all("!" <= c <= "~" for c in value)
    ):
        return value
    return "/console"


def _message(status: int, title: str, text: str) -> HTMLResponse:
    """A page a person reads: what happened and how to go on."""
    body = (
        "<!doctype html><html lang=en><meta charset=utf-8><title>recvault sign-in</title>"
        f"<h1>{html.escape(title)}</h1><p>{html.escape(text)}</p>"
        '<p><a href="/console">Back to the console</a></p></html>'
    )
    return HTMLResponse(body, status_code=status, headers={"Cache-Control": "no-store"})


def _unavailable(exc: Unavailable) -> HTMLResponse:
    return _message(
        503,
        "Sign-in is unavailable",
        "The identity provider cannot be reached right now, so single sign-on cannot "
        "complete. Try again in a few minutes. " + exc.message,
    )


# -- routes -------------------------------------------------------------------------------


@router.get(
    "/auth/oidc",
    name="oidc_config",
    summary="Where recvault login signs in",
    responses=responses(
        404,
        public=True,
        example={
            "issuer": "https://login.example.org/realms/clinics",
            "audience": "recvault",
            "client_id": "recvault-cli",
            "scopes": ["openid", "profile"],
        },
    ),
)
def oidc_config(request: Request) -> dict[str, Any]:
    """The provider that ``recvault login`` signs in with (public; no token needed).

    404 when single sign-on is not configured (``[auth.oidc]``)."""
    config = _verifier(request).config
    return {
        "issuer": config.issuer,
        "audience": config.audience,
        "client_id": config.cli_client_id,
        "scopes": config.scopes,
    }


@router.get("/console/sso/login", name="sso_login", response_model=None, include_in_schema=False)
@router.get("/console/oidc/start", response_model=None, include_in_schema=False)
def sso_login(request: Request, vault: VaultDep, next: str | None = None) -> Response:
    verifier = _verifier(request)
    client_id = console_client(verifier)
    try:
        authorize = verifier.metadata.endpoint("authorization_endpoint")
    except Unavailable as exc:
        return _unavailable(exc)
    if authorize is None:
        return _unavailable(ProviderUnavailable("no authorization_endpoint"))
    code_verifier = secrets.token_urlsafe(48)
    current: SessionNamer | None = getattr(request.app.state, "sso_current_session", None)
    pending = {
        "state": secrets.token_urlsafe(24),
        "nonce": secrets.token_urlsafe(24),
        "verifier": code_verifier,
        "next": _safe_next(next),
        "replaces": current(request) if current else "",
        "exp": int(time.time()) + PENDING_SECONDS,
    }
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": _redirect_uri(request, verifier.config),
        "scope": " ".join(verifier.config.scopes),
        "state": pending["state"],
        "nonce": pending["nonce"],
        "code_challenge": _b64(hashlib.sha256(code_verifier.encode()).digest()),
        "code_challenge_method": "S256",
    }
    response = RedirectResponse(f"{authorize}?{urlencode(query)}", status_code=303)
    _set_cookie(request, response, PENDING_COOKIE, _seal(vault, pending), PENDING_SECONDS)
    return response


@router.get(
    "/console/sso/callback", name="sso_callback", response_model=None, include_in_schema=False
)
def sso_callback(
    request: Request,
    vault: VaultDep,
    code: str | None = None,
    state: str | None = None,
    error: str | None = None,
) -> Response:
    verifier = _verifier(request)
    client_id = console_client(verifier)
    pending = _open(vault, request.cookies.get(PENDING_COOKIE))
    try:
        if pending is None:
            raise TokenRefused("state", "this sign-in expired or was started in another browser")
        if not state or not hmac.compare_digest(state, str(pending["state"])):
            raise TokenRefused("state", "the provider's answer belongs to another sign-in (state)")
        if error or not code:
            # the provider's error code is a short slug; its free text is not shown
            slug = "".join(c for c in (error or "no_code")[:40] if c.isalnum() or c == "_")
            raise TokenRefused("provider", f"the provider did not sign you in ({slug})")
        tokens = exchange_code(
            verifier,
            client_id,
            code,
            str(pending["verifier"]),
            _redirect_uri(request, verifier.config),
        )
        id_token, access_token = tokens.get("id_token"), tokens.get("access_token")
        if not isinstance(id_token, str) or not isinstance(access_token, str):
            raise TokenRefused("provider", "the provider answered without the tokens")
        verifier.id_token_claims(id_token, client_id, str(pending["nonce"]))
        principal = verifier.principal(access_token)
    except TokenRefused as exc:
        vault.audit_refusal(UNAUTHENTICATED, "auth.sign_in.oidc", outcome=f"refused:{exc.reason}")
        response: Response = _message(401, "Sign-in refused", exc.message)
        response.delete_cookie(PENDING_COOKIE, path=COOKIE_PATH)
        return response
    except Unavailable as exc:
        return _unavailable(exc)
    vault.record_sign_in(principal.actor(), "oidc")
    refresh = tokens.get("refresh_token")
    expires = tokens.get("expires_in")
    sign_in = SignIn(
        principal=principal,
        access_token=access_token,
        id_token=id_token,
        refresh_token=refresh if isinstance(refresh, str) else None,
        expires_in=expires if isinstance(expires, int) else None,
        next=str(pending["next"]),
        replaces=str(pending.get("replaces") or ""),
    )
    start: SessionStarter | None = getattr(request.app.state, "sso_start_session", None)
    response = _same_site_hop(start(request, sign_in)) if start else _principal_answer(sign_in)
    response.delete_cookie(PENDING_COOKIE, path=COOKIE_PATH)
    # kept only to name the session at the provider when signing out (id_token_hint)
    _set_cookie(request, response, ID_TOKEN_COOKIE, id_token, 12 * 3600, SIGN_OUT_PATH)
    return response


def provider_sign_out(request: Request) -> RedirectResponse:
    """Where a person signed out of a single sign-on session goes: the provider's
    end-session page (with ``id_token_hint``), or the console when it offers none.

    Called by the console's sign-out (a checked POST) once its session has ended.
    """
    verifier = _verifier(request)
    back = verifier.config.post_logout_redirect_uri or str(request.base_url) + "console"
    target = "/console"
    try:
        end_session = verifier.metadata.endpoint("end_session_endpoint")
    except Unavailable:
        end_session = None  # the console's session still ends; the provider's cannot now
    if end_session:
        query = {"post_logout_redirect_uri": back}
        if verifier.config.client_id:
            query["client_id"] = verifier.config.client_id
        hint = request.cookies.get(ID_TOKEN_COOKIE)
        if hint:
            query["id_token_hint"] = hint
        target = f"{end_session}?{urlencode(query)}"
    response = RedirectResponse(target, status_code=303)
    response.delete_cookie(ID_TOKEN_COOKIE, path=SIGN_OUT_PATH)
    return response


# -- helpers ------------------------------------------------------------------------------


def _redirect_uri(request: Request, config: OidcConfig) -> str:
    return config.redirect_uri or str(request.url_for("sso_callback"))


def _set_cookie(
    request: Request, response: Response, name: str, value: str, age: int, path: str = COOKIE_PATH
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=age,
        path=path,
        httponly=True,
        secure=request.url.scheme == "https",
        samesite="lax",  # the provider's redirect back is a top-level GET from another site
    )


def _same_site_hop(response: Response) -> Response:
    """A redirect answered instead by a page that moves on by itself.

    The callback is reached through redirects that started at the provider, another
    site: a browser withholds SameSite=Strict cookies (the console's session) from
    the request a redirect leads to. A page's own refresh is a navigation of this
    site, so the session cookie set here is sent with it. No script (the console's
    Content-Security-Policy allows none); the page keeps the cookies being set.
    """
    location = response.headers.get("location")
    if not (300 <= response.status_code < 400 and location):
        return response
    target = html.escape(location, quote=True)
    page = HTMLResponse(
        "<!doctype html><html lang=en><meta charset=utf-8>"
        f'<meta http-equiv="refresh" content="0;url={target}"><title>recvault</title>'
        f'<p>Signed in. <a href="{target}">Continue to the console</a></p></html>',
        headers={"Cache-Control": "no-store"},
    )
    for name, value in response.raw_headers:
        if name.lower() == b"set-cookie":
            page.raw_headers.append((name, value))
    return page


def _principal_answer(sign_in: SignIn) -> Response:
    """Without a console: the principal the sign-in established."""
    principal = sign_in.principal
    return JSONResponse(
        {
            "principal": principal.name,
            "roles": [role.value for role in principal.roles],
            "regions": list(principal.regions) if principal.regions is not None else None,
            "next": sign_in.next,
        },
        headers={"Cache-Control": "no-store"},
    )
