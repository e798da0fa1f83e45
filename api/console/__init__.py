"""The web console at ``/console``: server-rendered pages for people (ADR 0007).

Jinja2 templates and a vendored htmx, all inside the package (no CDN); a
server-side session per signed-in person (``sessions``); each page calls
``RecordVault`` with that person's actor under the HTTP API's permission matrix.
It imports ``api`` (permissions, problems, streaming) and ``vault``; nothing imports it
but ``api.app``.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from api.console.pages import router
from api.console.sessions import COOKIE, Renewal, session_ref, start_session
from api.console.web import HERE, PREFIX, Console, signed_in
from api.oidc import OidcVerifier
from api.oidc_login import SignIn
from api.oidc_tokens import renewal
from vault.domain import Actor
from vault.service import RecordVault


def install(app: FastAPI, vault: RecordVault) -> None:
    """Serve the console from ``app`` (its routes stay out of the OpenAPI document)."""
    app.state.console = Console(vault)
    app.mount(f"{PREFIX}/static", StaticFiles(directory=HERE / "static"), name="console-static")
    app.include_router(router)

    def to_home() -> RedirectResponse:
        return RedirectResponse(f"{PREFIX}/", status_code=308)

    app.add_api_route(PREFIX, to_home, include_in_schema=False, name="console.root")


def connect_single_sign_on(app: FastAPI, vault: RecordVault) -> None:
    """With ``[auth.oidc]``: "Sign in with <provider>", and its callback starts a console session.

    Called after ``api.oidc_login.install``; the sign-in routes live there (ADR 0008).
    """
    config = vault.settings.auth.oidc
    if config is None or not config.client_id:
        return
    console: Console = app.state.console
    console.oidc_provider = config.display_name
    verifier: OidcVerifier = app.state.oidc
    renew = renewal(verifier)

    def renew_actor(refresh_token: str) -> tuple[Actor, str, int | None]:
        principal, successor, lifetime = renew(refresh_token)
        return principal.actor(), successor, lifetime

    console.renew = renew_actor

    def start(request: Request, sign_in: SignIn) -> Response:
        # the grants count while the access token does; then they are renewed (web._renewed)
        renewal = Renewal.after(vault.clock(), sign_in.expires_in, sign_in.refresh_token)
        actor = sign_in.principal.actor()
        response = signed_in(request, actor, "oidc", renewal=renewal, replaces=sign_in.replaces)
        response.headers["location"] = sign_in.next  # a console path (checked by oidc_login)
        return response

    def current_session(request: Request) -> str:
        # named when the sign-in starts: the redirect back from the provider's site
        # does not carry the SameSite=Strict cookie (signed_in ends it on success)
        return session_ref(request.cookies.get(COOKIE))

    app.state.sso_start_session = start
    app.state.sso_current_session = current_session


__all__ = ["Console", "connect_single_sign_on", "install", "signed_in", "start_session"]
