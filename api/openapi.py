"""The OpenAPI document: problem responses declared once, examples, and the offline reference.

A route lists the refusals it can give and an example of its answer in one call::

    @router.get(
        "/subjects/{subject_id}",
        name="subjects.get",
        summary="Read a subject's metadata",
        responses=responses(404, 410, 422, example=SUBJECT),
    )

``responses`` adds the refusals every ``/v1`` route can give (401, 403, 503;
``public=True`` leaves them out) and documents each status as
``application/problem+json`` with the schema ``api.problems`` really sends:
``Problem``, or ``SchemaProblem`` (with ``errors``) for 422. ``install`` puts
those schemas in the document's components, lists the configured regions as
the values of every region field, and serves the reference pages (``/docs``
Swagger UI, ``/redoc`` ReDoc) from the assets of the ``fastapi-offline``
package: nothing is loaded from another host.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import re
from collections.abc import Iterable
from importlib import resources
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field

from api.http import RAW_BODY_MARK
from api.problems import PROBLEM_JSON, TYPE_PREFIX
from vault.settings import Settings

# -- the bodies api.problems sends --------------------------------------------------


class Problem(BaseModel):
    """An error (RFC 9457 problem details); ``code`` is the error's stable slug."""

    type: str = Field(description="urn:recvault:problem:<kind>", pattern="^urn:recvault:problem:")
    title: str = Field(description="the kind of problem, the same for every occurrence")
    status: int = Field(description="the HTTP status", ge=400, le=599)
    detail: str = Field(description="what went wrong with this request (no secret, no identifier)")
    code: str = Field(description="stable slug for programs, e.g. not-found, region-not-granted")


class FieldError(BaseModel):
    loc: list[str] = Field(description="where: body, query, path or header, then the field")
    msg: str = Field(description="what is wrong with it (the value itself is never echoed)")


class SchemaProblem(Problem):
    """422: the request does not match the schema; ``errors`` says where."""

    errors: list[FieldError]


#: status -> (when it is answered, problem kind, title, example detail, example code)
PROBLEMS: dict[int, tuple[str, str, str, str, str]] = {
    400: (
        "invalid input the schema cannot express (e.g. an upload with a bad Content-Length)",
        "invalid-input",
        "Invalid input",
        "Content-Length must be a non-negative integer",
        "invalid-input",
    ),
    401: (
        "no bearer token, or one that is unknown or revoked (WWW-Authenticate: Bearer)",
        "unauthenticated",
        "Unauthenticated",
        "a valid bearer token is required",
        "unauthenticated",
    ),
    403: (
        "the principal's roles may not call this route, its regions do not include the "
        "subject's, or processing of the subject is restricted",
        "forbidden",
        "Forbidden",
        "region JP not granted to clinic-ph",
        "region-not-granted",
    ),
    404: (
        "no such subject, record, hold or destruction (an unknown or malformed id)",
        "not-found",
        "Not found",
        "record 0f8e4a9c1b2d4e6f8a0b1c2d3e4f5a6b not found",
        "not-found",
    ),
    408: (
        "the request body stalled (nothing received for limits.body_idle_timeout)",
        "request-timeout",
        "Request timeout",
        "the request body stalled",
        "request-timeout",
    ),
    409: (
        "the request conflicts with the current state (e.g. a hold already released, "
        "a subject being erased or transferred)",
        "conflict",
        "Conflict",
        "hold 5a6b0f8e4a9c1b2d4e6f8a0b1c2d3e4f was already released",
        "conflict",
    ),
    410: (
        "the record or subject was erased (its key is destroyed)",
        "erased",
        "Erased",
        "subject 3e4f5a6b0f8e4a9c1b2d4e6f8a0b1c2d was erased",
        "erased",
    ),
    411: (
        "an upload without Content-Length (chunked uploads are refused)",
        "length-required",
        "Length required",
        "Content-Length is required (chunked uploads are refused)",
        "length-required",
    ),
    413: (
        "the body is larger than allowed (limits.max_record_bytes; 64 KiB for JSON)",
        "too-large",
        "Content too large",
        "a JSON body is limited to 65536 bytes",
        "too-large",
    ),
    416: (
        "the Range cannot be satisfied (Content-Range: bytes */size)",
        "range-not-satisfiable",
        "Range not satisfiable",
        "the byte range cannot be satisfied",
        "range-not-satisfiable",
    ),
    422: (
        "the request does not match the schema; errors lists each field",
        "schema",
        "Request does not match the schema",
        "the request does not match the schema; see errors",
        "schema",
    ),
    503: (
        "the key service, an object store or the database is down (Retry-After)",
        "unavailable",
        "Service unavailable",
        "key service unavailable",
        "unavailable",
    ),
}

#: refusals every /v1 route can give: authentication, authorization, an outage
V1_PROBLEMS = (401, 403, 503)

_HEADERS: dict[int, dict[str, Any]] = {
    401: {"WWW-Authenticate": {"schema": {"type": "string"}, "description": "Bearer"}},
    416: {"Content-Range": {"schema": {"type": "string"}, "description": "bytes */<size>"}},
    503: {
        "Retry-After": {
            "required": True,
            "schema": {"type": "string", "pattern": "^[0-9]+$"},
            "description": "seconds to wait before retrying",
        }
    },
}


def problem_example(status: int) -> dict[str, Any]:
    _, kind, title, detail, code = PROBLEMS[status]
    body: dict[str, Any] = {
        "type": TYPE_PREFIX + kind,
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    }
    if status == 422:
        body["errors"] = [{"loc": ["body", "region"], "msg": "Input should be 'JP' or 'PH'"}]
    return body


def problem_response(status: int) -> dict[str, Any]:
    """The OpenAPI response object of one refusal."""
    schema = "SchemaProblem" if status == 422 else "Problem"
    response: dict[str, Any] = {
        "description": PROBLEMS[status][0],
        "content": {
            PROBLEM_JSON: {
                "schema": {"$ref": f"#/components/schemas/{schema}"},
                "example": problem_example(status),
            }
        },
    }
    if status in _HEADERS:
        response["headers"] = _HEADERS[status]
    return response


def responses(
    *statuses: int,
    example: Any = None,
    status: int = 200,
    media_type: str = "application/json",
    public: bool = False,
) -> dict[int | str, dict[str, Any]]:
    """``responses=`` of a route: its refusals as problem+json, and an example of its answer.

    ``statuses`` are the refusals particular to the route; every ``/v1`` route also
    gets 401, 403 and 503 (``public=True``: none of them). ``example`` is the answer
    for ``status`` (the route's success status) in ``media_type``.
    """
    refusals: Iterable[int] = statuses if public else (*V1_PROBLEMS, *statuses)
    documented: dict[int | str, dict[str, Any]] = {
        code: problem_response(code) for code in sorted(set(refusals))
    }
    if example is not None:
        documented[status] = {"content": {media_type: {"example": example}}}
    return documented


# -- the document -------------------------------------------------------------------

#: the JSON Schema extension that marks a region field (its values are the configured regions)
REGION_MARK = "x-recvault-region"


def _components() -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    for model in (Problem, SchemaProblem):
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    return schemas


def _mark_regions(node: Any, regions: list[str]) -> None:
    """Every schema marked ``REGION_MARK`` lists the configured regions as its values."""
    if isinstance(node, dict):
        if node.pop(REGION_MARK, False):
            node["enum"] = regions
        for value in node.values():
            _mark_regions(value, regions)
    elif isinstance(node, list):
        for value in node:
            _mark_regions(value, regions)


def _allow_empty_uploads(spec: dict[str, Any]) -> None:
    """``limits.allow_empty_records``: a raw body may be empty after all."""
    for item in spec.get("paths", {}).values():
        for operation in item.values():
            if isinstance(operation, dict) and operation.get(RAW_BODY_MARK):
                for media in operation["requestBody"]["content"].values():
                    media.get("schema", {}).pop("minLength", None)


def document(app: FastAPI, settings: Settings) -> dict[str, Any]:
    """The app's OpenAPI document with the problem schemas and this deployment's settings."""
    # a copy: FastAPI shares the routes' openapi_extra dicts with the document
    spec = copy.deepcopy(
        get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
            tags=app.openapi_tags,
        )
    )
    components = spec.setdefault("components", {}).setdefault("schemas", {})
    components.update(_components())
    # FastAPI's own 422 shape is never sent: every route documents SchemaProblem instead
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    _mark_regions(spec, sorted(settings.regions))
    if settings.limits.allow_empty_records:
        _allow_empty_uploads(spec)
    return spec


# -- the reference pages ------------------------------------------------------------

STATIC_URL = "/docs/assets"
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.S)
_INLINE_STYLE = re.compile(r"<style>(.*?)</style>", re.S)


def _hashes(pattern: re.Pattern[str], html: str) -> str:
    digests = [hashlib.sha256(block.encode()).digest() for block in pattern.findall(html)]
    return " ".join(f"'sha256-{base64.b64encode(d).decode()}'" for d in digests)


def page_csp(html: str) -> str:
    """The page's own scripts and styles, and the inline blocks it carries by hash; no host.

    Swagger UI and ReDoc set style attributes and inject ``<style>`` at run time
    (``style-src 'unsafe-inline'``; styles cannot run code), ReDoc searches in a
    worker made from a ``blob:`` URL, and both draw icons from ``data:`` images.
    """
    scripts = " ".join(filter(None, ["'self'", _hashes(_INLINE_SCRIPT, html)]))
    return (
        "default-src 'none'; "
        f"script-src {scripts}; "
        "style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; "
        "font-src 'self'; "
        "connect-src 'self'; "
        "worker-src 'self' blob:; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )


def _page(html: str) -> HTMLResponse:
    return HTMLResponse(html, headers={"Content-Security-Policy": page_csp(html)})


def install(app: FastAPI, settings: Settings) -> None:
    """Serve the document with the problem schemas, and the offline reference pages."""
    cached: dict[str, Any] = {}

    def openapi() -> dict[str, Any]:
        if not cached:
            cached.update(document(app, settings))
        return cached

    app.openapi = openapi  # type: ignore[method-assign]
    assets = resources.files("fastapi_offline") / "static"
    app.mount(STATIC_URL, StaticFiles(directory=str(assets)), name="docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"
    title = f"{app.title} API reference"
    favicon = f"{STATIC_URL}/favicon.png"
    swagger = get_swagger_ui_html(
        openapi_url=openapi_url,
        title=title,
        swagger_js_url=f"{STATIC_URL}/swagger-ui-bundle.js",
        swagger_css_url=f"{STATIC_URL}/swagger-ui.css",
        swagger_favicon_url=favicon,
        oauth2_redirect_url=None,
    )
    redoc = get_redoc_html(
        openapi_url=openapi_url,
        title=title,
        redoc_js_url=f"{STATIC_URL}/redoc.standalone.js",
        redoc_favicon_url=favicon,
        with_google_fonts=False,
    )
    pages = {"/docs": bytes(swagger.body).decode(), "/redoc": bytes(redoc.body).decode()}

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return _page(pages["/docs"])

    @app.get("/redoc", include_in_schema=False)
    def redoc_ui() -> HTMLResponse:
        return _page(pages["/redoc"])
