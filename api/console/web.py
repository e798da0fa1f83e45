"""The console's machinery: templates, the signed-in person, CSRF, permissions, error pages.

Every page resolves ``Signed`` (the session's actor, or a redirect to sign in),
asks ``require`` whether the permission matrix of the HTTP API lets the actor's
roles do it (a refusal is audited exactly as ``api.deps.authorize`` audits it),
and calls ``RecordVault`` with the actor. Errors take the HTTP API's one
mapping (``api.problems.mapping_for``) and become a readable page.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import exc as sa_exc

from api.console.lists import address
from api.console.rotations import Rotations
from api.console.sessions import (
    COOKIE,
    CSRF_FIELD,
    CSRF_HEADER,
    ConsoleSession,
    Expired,
    Renewal,
    SessionStore,
    session_ref,
    start_session,
)
from api.permissions import allowed
from api.problems import mapping_for
from vault.domain import Actor
from vault.errors import (
    InvalidCursor,
    InvalidInput,
    PermissionDenied,
    TooLarge,
    Unauthenticated,
    Unavailable,
    VaultError,
)
from vault.service import RecordVault

log = logging.getLogger("recvault.console")

PREFIX = "/console"
HERE = Path(__file__).parent
#: scripts, styles and images only from recvault itself; no inline script or style
CONSOLE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
FORM_LIMIT = 64 * 1024


@dataclass(frozen=True)
class Page:
    """A page of the navigation: shown to the roles the matrix allows ``route``."""

    key: str
    label: str
    path: str
    route: str  # the /v1 route name whose permission the page needs


PAGES = (
    Page("subjects", "Subjects", f"{PREFIX}/subjects", "subjects.get"),
    Page("holds", "Legal holds", f"{PREFIX}/holds", "holds.list"),
    Page("destructions", "Key destructions", f"{PREFIX}/destructions", "destructions.list"),
    Page("disposal", "Disposal", f"{PREFIX}/disposal", "retention.plan"),
    Page("residency", "Residency", f"{PREFIX}/residency", "residency.report"),
    Page("audit", "Audit", f"{PREFIX}/audit", "audit.query"),
    Page("keys", "Keys", f"{PREFIX}/keys", "keys.status"),
)


class SignInRequired(Exception):
    def __init__(self, expired: bool = False) -> None:
        super().__init__("sign in required")
        self.expired = expired


class CsrfRefused(Exception):
    pass


#: single sign-on's renewal: a refresh token → the actor its new access token grants,
#: the refresh token to keep, and the new access token's lifetime in seconds (if told);
#: raises ``Unauthenticated`` when the provider refuses, ``Unavailable`` when it is down
Renewer = Callable[[str], tuple[Actor, str, int | None]]


class Console:
    """What the console's pages share: the vault, the sessions and the templates."""

    def __init__(self, vault: RecordVault, oidc_provider: str | None = None) -> None:
        self.vault = vault
        settings = vault.settings.console
        self.sessions = SessionStore(
            vault.clock,
            settings.idle_timeout.approx_timedelta(),
            settings.absolute_timeout.approx_timedelta(),
        )
        self.rotations = Rotations()
        #: the name of a single sign-on provider, shown as "Sign in with <name>" when set
        self.oidc_provider = oidc_provider
        #: set by ``connect_single_sign_on``: renews an SSO session's grants at the provider
        self.renew: Renewer | None = None
        #: one renewal at a time: a refresh token may be used once (its successor replaces it)
        self.renewing = threading.Lock()
        #: ``auth.console_token_sign_in``: the "Token" form (off in production with SSO)
        self.token_sign_in = vault.settings.auth.console_token_sign_in
        self.templates = Environment(
            loader=FileSystemLoader(HERE / "templates"),
            autoescape=select_autoescape(["html", "svg"]),
            trim_blocks=True,
            lstrip_blocks=True,
        )


def console_of(request: Request) -> Console:
    console: Console = request.app.state.console
    return console


ConsoleDep = Annotated[Console, Depends(console_of)]


def signed_in_session(request: Request, console: ConsoleDep) -> ConsoleSession:
    try:
        session = console.sessions.get(request.cookies.get(COOKIE))
    except Expired as gone:
        console.vault.audit_session(gone.session.actor, "console.session", "expired")
        raise SignInRequired(expired=True) from None
    if session is None:
        raise SignInRequired()
    if session.credential:
        try:
            console.vault.principals.authenticate_hash(session.credential)
        except Unauthenticated:
            console.sessions.end(request.cookies.get(COOKIE))
            console.vault.audit_session(session.actor, "console.session", "revoked")
            raise SignInRequired() from None
    if session.renewal is not None and console.vault.clock() >= session.renewal.due:
        session = _renewed(request, console, session)
    return session


def _renewed(request: Request, console: Console, session: ConsoleSession) -> ConsoleSession:
    """A single sign-on session past its access token's expiry, with grants the provider renewed.

    The provider decides as it would for a new sign-in: a person removed there, or
    left with no recvault role or region, is signed out here (audited ``revoked``);
    changed grants count from now. The provider down is an outage (503), not a refusal.
    """
    cookie = request.cookies.get(COOKIE) or ""
    with console.renewing:
        try:
            current = console.sessions.get(cookie)  # another request may have renewed it
        except Expired:
            raise SignInRequired(expired=True) from None
        if current is None:
            raise SignInRequired()
        renewal = current.renewal
        if renewal is None or console.vault.clock() < renewal.due:
            return current
        if console.renew is None or not renewal.refresh_token:
            # the provider gave no refresh token: the session lasts as long as its token
            console.sessions.end(cookie)
            console.vault.audit_session(current.actor, "console.session", "expired")
            raise SignInRequired(expired=True)
        try:
            actor, refresh_token, lifetime = console.renew(renewal.refresh_token)
        except Unauthenticated:
            console.sessions.end(cookie)
            console.vault.audit_session(current.actor, "console.session", "revoked")
            raise SignInRequired() from None
        next_renewal = Renewal.after(console.vault.clock(), lifetime, refresh_token)
        renewed = console.sessions.renewed(cookie, actor, next_renewal)
    if renewed is None:
        raise SignInRequired()
    return renewed


Signed = Annotated[ConsoleSession, Depends(signed_in_session)]


async def form_of(request: Request) -> dict[str, str]:
    """The urlencoded form of a POST (bounded), last value of each field."""
    body = await request.body()
    if len(body) > FORM_LIMIT:
        raise TooLarge("the form is too large")
    return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))


async def checked_form(request: Request, session: Signed, console: ConsoleDep) -> dict[str, str]:
    """The form of a state change, refused (and audited) unless it echoes the CSRF token."""
    form = await form_of(request)
    offered = request.headers.get(CSRF_HEADER) or form.get(CSRF_FIELD)
    if not session.csrf_ok(offered):
        route = getattr(request.scope.get("route"), "name", "") or "unknown"
        console.vault.audit_refusal(session.actor, f"{route}.csrf", "", "refused:csrf")
        raise CsrfRefused()
    return form


CheckedForm = Annotated[dict[str, str], Depends(checked_form)]


def require(console: Console, actor: Actor, route: str, target: str = "") -> None:
    """Refuse (audited) unless the HTTP API's matrix lets ``actor`` call ``route``."""
    if not allowed(route, actor.roles):
        console.vault.audit_refusal(actor, f"console.{route}", target)
        raise PermissionDenied(f"{actor.name} may not use this page ({route})")


def pages_for(actor: Actor) -> list[Page]:
    return [p for p in PAGES if allowed(p.route, actor.roles)]


def render(
    request: Request,
    template: str,
    session: ConsoleSession | None = None,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    console = console_of(request)
    html = console.templates.get_template(template).render(
        session=session,
        actor=session.actor if session else None,
        nav=pages_for(session.actor) if session else [],
        path=request.url.path,
        csrf=session.csrf if session else "",
        **context,
    )
    return HTMLResponse(html, status_code=status, headers=page_headers())


def page_headers() -> dict[str, str]:
    return {"Content-Security-Policy": CONSOLE_CSP, "Cache-Control": "no-store"}


def signed_in(
    request: Request,
    actor: Actor,
    method: str = "token",
    credential: str = "",
    renewal: Renewal | None = None,
    replaces: str = "",
) -> RedirectResponse:
    """Start a session for ``actor`` (already authenticated) and send the browser to the console.

    The sign-in of any method ends here: token today, single sign-on's callback too.
    The session the browser had ends first (audited ``console.sign_out`` ``replaced``):
    the one its cookie names, and ``replaces`` (a ``session_ref``: the session it had
    when a single sign-on started, as the provider's cross-site redirect back does not
    bring the SameSite=Strict cookie). Whoever kept the old cookie is signed out, and
    the new session never has the old one's id.
    """
    console = console_of(request)
    current = session_ref(request.cookies.get(COOKIE))
    for ended in console.sessions.end_replaced([current, replaces]):
        console.vault.audit_session(ended.actor, "console.sign_out", "replaced")
    cookie = start_session(console.sessions, actor, method, credential, renewal)
    console.vault.audit_session(actor, "console.sign_in", f"ok:{method}")
    response = RedirectResponse(f"{PREFIX}/", status_code=303, headers=page_headers())
    response.set_cookie(
        COOKIE,
        cookie,
        path=PREFIX,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


def to_sign_in(request: Request, expired: bool = False) -> Response:
    target = f"{PREFIX}/sign-in" + ("?expired=1" if expired else "")
    if request.headers.get("HX-Request"):
        return Response(status_code=204, headers={"HX-Redirect": target})
    response = RedirectResponse(target, status_code=303, headers=page_headers())
    response.delete_cookie(COOKIE, path=PREFIX)
    return response


def error_page(request: Request, exc: VaultError) -> HTMLResponse:
    mapping = mapping_for(exc)
    if mapping.expose_detail:
        message = exc.message
    else:
        log.error("console request failed: %s (%s)", exc.code, type(exc).__name__)
        message = f"{mapping.title}. Try again later; the operators have the details."
    session = None
    try:
        session = console_of(request).sessions.get(request.cookies.get(COOKIE))
    except Expired:
        session = None
    first = None
    if isinstance(exc, InvalidCursor):
        cursors = {k for k in request.query_params if k == "cursor" or k.endswith("_cursor")}
        first = address(request, cursors | {"done"}, [])
    return render(
        request,
        "error.html",
        session,
        status=mapping.status,
        title=mapping.title,
        message=message,
        code=exc.code,
        first=first,
    )


class ConsoleRoute(APIRoute):
    """Every console route: a sign-in redirect, a CSRF refusal or a domain error becomes a page."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except SignInRequired as need:
                return to_sign_in(request, need.expired)
            except CsrfRefused:
                refused = PermissionDenied("the form was refused: reload the page and try again")
                return error_page(request, refused)
            except VaultError as exc:
                return error_page(request, exc)
            except RequestValidationError:
                return error_page(request, InvalidInput("the address or form is not valid"))
            except (sa_exc.DBAPIError, sa_exc.TimeoutError) as exc:
                log.error("console request failed: database unavailable (%s)", type(exc).__name__)
                return error_page(request, Unavailable("metadata database unavailable"))
            except Exception as exc:
                frames = "".join(traceback.format_tb(exc.__traceback__))
                log.error(
                    "unexpected failure: %s",
                    type(exc).__name__,
                    extra={"exc_type": type(exc).__qualname__, "stack": frames},
                )
                return render(
                    request,
                    "error.html",
                    None,
                    status=500,
                    title="Internal error",
                    message="Something went wrong on the server. Try again later.",
                    code="internal",
                )

        return guarded
