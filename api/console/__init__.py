"""The web console at ``/console``: server-rendered pages for people (ADR 0007).

Jinja2 templates and a vendored htmx, all inside the package (no CDN); a
server-side session per signed-in person (``sessions``); each page calls
``RecordVault`` with that person's actor under the HTTP API's permission matrix.
It imports ``api`` (permissions, problems, streaming) and ``vault``; nothing imports it
but ``api.app``.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from api.console.pages import router
from api.console.sessions import start_session
from api.console.web import HERE, PREFIX, Console, signed_in
from vault.service import RecordVault


def install(app: FastAPI, vault: RecordVault) -> None:
    """Serve the console from ``app`` (its routes stay out of the OpenAPI document)."""
    app.state.console = Console(vault)
    app.mount(f"{PREFIX}/static", StaticFiles(directory=HERE / "static"), name="console-static")
    app.include_router(router)

    def to_home() -> RedirectResponse:
        return RedirectResponse(f"{PREFIX}/", status_code=308)

    app.add_api_route(PREFIX, to_home, include_in_schema=False, name="console.root")


__all__ = ["Console", "install", "signed_in", "start_session"]
