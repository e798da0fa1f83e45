"""The one mapping of recvault errors to HTTP statuses, rendered as ``application/problem+json``.

Every error a client sees goes through ``problem_response``: a body with
``type``, ``title``, ``status``, ``detail`` and ``code`` (the error's stable
slug). Details of server-side failures are never sent: a client learns that
the server failed and how (``integrity``, ``internal``), not why.
"""

from __future__ import annotations

import logging
import re
import traceback
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Mount
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from keys.base import KeyAccessDenied, KeyError_, KeyNotFound
from vault.errors import (
    ConfigError,
    Conflict,
    Erased,
    IntegrityError,
    InvalidInput,
    LengthRequired,
    NotFound,
    PermissionDenied,
    RangeNotSatisfiable,
    RequestTimeout,
    SchemaNotCurrent,
    TooLarge,
    Unauthenticated,
    Unavailable,
    VaultError,
)
from vault.metadata.sessions import database_error
from vault.storage.base import ObjectNotFound, StoreAccessDenied

log = logging.getLogger("recvault.api")

PROBLEM_JSON = "application/problem+json"
TYPE_PREFIX = "urn:recvault:problem:"
#: the code of a 404 whose id was malformed (clients may treat it as their own mistake)
MALFORMED_ID = "malformed-id"
#: seconds a client should wait after a 503 caused by a refused credential (an operator must act)
MISCONFIGURED_RETRY_AFTER = 30


@dataclass(frozen=True)
class Mapping:
    status: int
    kind: str  # the problem type's last part
    title: str
    expose_detail: bool = True


#: Most specific class first: the first ``isinstance`` match wins.
ERROR_MAP: tuple[tuple[type[VaultError], Mapping], ...] = (
    # The key service or store refusing *our* credentials is a deployment fault, not the
    # caller's: 503 (readiness fails too) with a longer Retry-After, no detail.
    (KeyAccessDenied, Mapping(503, "misconfigured", "Service misconfigured", False)),
    (StoreAccessDenied, Mapping(503, "misconfigured", "Service misconfigured", False)),
    (SchemaNotCurrent, Mapping(503, "misconfigured", "Service misconfigured", False)),
    (Unavailable, Mapping(503, "unavailable", "Service unavailable")),
    # A live subject's key or a committed object missing: stored data is damaged.
    (KeyNotFound, Mapping(500, "integrity", "Stored data failed verification", False)),
    (ObjectNotFound, Mapping(500, "integrity", "Stored data failed verification", False)),
    (IntegrityError, Mapping(500, "integrity", "Stored data failed verification", False)),
    (KeyError_, Mapping(500, "internal", "Internal error", False)),
    (ConfigError, Mapping(500, "internal", "Internal error", False)),
    (Unauthenticated, Mapping(401, "unauthenticated", "Unauthenticated")),
    (PermissionDenied, Mapping(403, "forbidden", "Forbidden")),
    (LengthRequired, Mapping(411, "length-required", "Length required")),
    (InvalidInput, Mapping(400, "invalid-input", "Invalid input")),
    (NotFound, Mapping(404, "not-found", "Not found")),
    (Erased, Mapping(410, "erased", "Erased")),
    (Conflict, Mapping(409, "conflict", "Conflict")),
    (TooLarge, Mapping(413, "too-large", "Content too large")),
    (RangeNotSatisfiable, Mapping(416, "range-not-satisfiable", "Range not satisfiable")),
    (RequestTimeout, Mapping(408, "request-timeout", "Request timeout")),
)
INTERNAL = Mapping(500, "internal", "Internal error", False)


def mapping_for(exc: VaultError) -> Mapping:
    for cls, mapping in ERROR_MAP:
        if isinstance(exc, cls):
            return mapping
    return INTERNAL


def problem_response(
    status: int,
    kind: str,
    title: str,
    detail: str,
    code: str,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": TYPE_PREFIX + kind,
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    }
    body.update(extra or {})
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def vault_error_response(exc: VaultError) -> JSONResponse:
    mapping = mapping_for(exc)
    headers: dict[str, str] = {}
    if mapping.status == 503:
        retry = getattr(exc, "retry_after", MISCONFIGURED_RETRY_AFTER)
        headers["Retry-After"] = str(max(1, int(retry)))
    if mapping.status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="recvault"'
    if mapping.status == 408:
        headers["Connection"] = "close"  # the rest of the body will never be read
    if isinstance(exc, RangeNotSatisfiable) and exc.size is not None:
        headers["Content-Range"] = f"bytes */{exc.size}"
    if mapping.expose_detail:
        detail = exc.message
    else:
        # The code and class go to the server log (no message: it may name a key).
        log.error("request failed: %s (%s)", exc.code, type(exc).__name__)
        detail = mapping.title.lower()
    return problem_response(mapping.status, mapping.kind, mapping.title, detail, exc.code, headers)


async def _on_vault_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, VaultError)
    return vault_error_response(exc)


async def _on_database(request: Request, exc: Exception) -> JSONResponse:
    """A driver failure that escaped the vault: the database cannot serve now (503).

    The type only: the text of a driver error quotes SQL (parameters are hidden by
    the engine, but the statement is none of the log's business either).
    """
    error = database_error(exc) or Unavailable("metadata database unavailable")
    log.error("request failed: %s (%s)", error.message, type(exc).__name__)
    return vault_error_response(error)


async def _on_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    located = [e.get("loc", ()) for e in exc.errors()]
    if located and all(loc and loc[0] == "path" for loc in located):
        # A path whose id is malformed names no resource: 404, as an unknown id does.
        names = sorted({str(loc[-1]) for loc in located})
        wanted = "a configured region" if names == ["region"] else "32 hex digits"
        detail = f"no such resource: {', '.join(names)} must be {wanted}"
        return problem_response(404, "not-found", "Not found", detail, MALFORMED_ID)
    # Only where and what: the offending input itself may be an identifier of a person.
    errors = [
        {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", ""))}
        for e in exc.errors()
    ]
    return problem_response(
        422,
        "schema",
        "Request does not match the schema",
        "the request does not match the schema; see errors",
        "schema",
        extra={"errors": errors},
    )


_ID = re.compile(r"[0-9a-f]{32}")

_HTTP_KINDS = {
    400: ("invalid-input", "Invalid input"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    413: ("too-large", "Content too large"),
}


async def _on_http(request: Request, exc: Exception) -> JSONResponse:
    """Errors raised by the framework itself (unknown path, wrong method, unreadable body)."""
    assert isinstance(exc, StarletteHTTPException)
    kind, title = _HTTP_KINDS.get(exc.status_code, ("http-error", "HTTP error"))
    headers = dict(exc.headers or {})
    if exc.status_code == 405 and _names_no_resource(request):
        # e.g. DELETE /v1/subjects//restriction reaches GET /v1/subjects/{subject_id} with
        # "restriction" as the id: no resource has that name, whatever the method
        detail = "no such resource: the path's id must be 32 hex digits"
        return problem_response(404, "not-found", "Not found", detail, MALFORMED_ID)
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(sorted(_methods_of_path(request)))
    return problem_response(exc.status_code, kind, title, str(exc.detail), kind, headers=headers)


def _names_no_resource(request: Request) -> bool:
    """Whether every documented path this request fits took an id segment that is no id."""
    path = request.url.path
    fits = False
    for template in request.app.openapi().get("paths", {}):
        names = re.findall(r"{(\w+)}", template)
        pattern = re.sub(
            r"{\w+}", "([^/]+)", re.escape(template).replace(r"\{", "{").replace(r"\}", "}")
        )
        found = re.fullmatch(pattern, path)
        if found is None:
            continue
        fits = True
        ids = [v for n, v in zip(names, found.groups(), strict=True) if n.endswith("_id")]
        if not ids or all(_ID.fullmatch(v) for v in ids):
            return False
    return fits


#: the methods a 405's ``Allow`` may name
_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _methods_of_path(request: Request) -> set[str]:
    """Every method of every route on this path (Starlette names only the first route's).

    Each route is asked whether it takes this path with each method: the routers
    FastAPI includes keep their routes (and the routes' ``methods``) inside them.
    A mounted directory takes every method to refuse all but GET and HEAD.
    """
    # matched as the app's own router saw the request (a mount changes root_path)
    scope = {**request.scope}
    scope["root_path"] = scope.get("app_root_path", scope.get("root_path", ""))
    methods: set[str] = set()
    for route in request.app.router.routes:
        if isinstance(route, Mount):
            if isinstance(route.app, StaticFiles) and route.matches(scope)[0] != Match.NONE:
                methods |= {"GET", "HEAD"}
            continue
        for method in _METHODS:
            if route.matches({**scope, "method": method})[0] == Match.FULL:
                methods.add(method)
    return methods


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    # Frames only: an exception's message may quote input, and input may identify a person.
    frames = "".join(traceback.format_tb(exc.__traceback__))
    log.error(
        "unexpected failure: %s",
        type(exc).__name__,
        extra={"exc_type": type(exc).__qualname__, "stack": frames},
    )
    return problem_response(500, "internal", "Internal error", "internal error", "internal")


class UnexpectedErrors:
    """An exception no handler took becomes the 500 problem document inside the middleware.

    Starlette answers an ``Exception`` handler from its outermost layer, outside every
    middleware: that 500 went out without ``X-Request-ID`` and the security headers.
    Installed innermost, this answers it where they are added. Once a response has
    started nothing else can be sent: the error goes on and the connection is dropped.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watched)
        except Exception as exc:
            if started:
                raise
            response = await _on_unexpected(Request(scope), exc)
            await response(scope, receive, send)


def install(app: FastAPI) -> None:
    app.add_exception_handler(VaultError, _on_vault_error)
    app.add_exception_handler(RequestValidationError, _on_validation)
    # Any error of the driver (lost connection, statement or lock timeout, pool exhausted)
    app.add_exception_handler(sa_exc.DBAPIError, _on_database)
    app.add_exception_handler(sa_exc.TimeoutError, _on_database)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(Exception, _on_unexpected)
