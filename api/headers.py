"""Response headers that keep what recvault sends out of caches, frames and browsers' guesses.

- every response: ``X-Content-Type-Options: nosniff`` and ``Referrer-Policy:
  no-referrer`` (a link or redirect to another site, such as the identity
  provider, never tells it an address of recvault: a console path may hold a
  subject's id, a query a file name);
- ``/v1``: ``Cache-Control: no-store`` (records and metadata of patients are
  never kept by a browser or a proxy);
- any HTML page: a strict ``Content-Security-Policy`` and ``X-Frame-Options: DENY``;
- record content (``content_headers``): ``Content-Disposition: attachment`` with a
  name made of the record id, never the client's file name (ADR 0002), and a CSP
  that sandboxes it, so content uploaded as ``text/html`` cannot run as a page of
  recvault's origin.
"""

from __future__ import annotations

import mimetypes

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: HTML pages: nothing loads, nothing frames them, no form posts anywhere
HTML_CSP = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
#: stored content: never a document of recvault's origin, whatever its type
CONTENT_CSP = "default-src 'none'; sandbox"
#: nothing of recvault needs a Referer, not even from itself
REFERRER_POLICY = "no-referrer"

#: types of treatment records that ``mimetypes`` does not know everywhere
_EXTENSIONS = {
    "model/stl": ".stl",
    "application/sla": ".stl",
    "model/ply": ".ply",
    "model/obj": ".obj",
    "application/dicom": ".dcm",
    "image/jpeg": ".jpg",
    "application/octet-stream": ".bin",
}


def attachment_name(record_id: str, content_type: str) -> str:
    """``<record_id>.<ext>`` for the content type (``.bin`` when it is unknown)."""
    kind = content_type.split(";", 1)[0].strip().lower()
    ext = _EXTENSIONS.get(kind) or mimetypes.guess_extension(kind, strict=False) or ".bin"
    if not ext[1:].isalnum():
        ext = ".bin"
    return f"{record_id}{ext}"


def content_headers(record_id: str, content_type: str) -> dict[str, str]:
    """Headers of a response that carries a record's bytes."""
    return {
        "Content-Disposition": f'attachment; filename="{attachment_name(record_id, content_type)}"',
        "Content-Security-Policy": CONTENT_CSP,
        "X-Content-Type-Options": "nosniff",
    }


class SecurityHeaders:
    """Adds the headers above to every HTTP response (pure ASGI: bodies stream through)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        api_path = str(scope.get("path", "")).startswith("/v1")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers["Referrer-Policy"] = REFERRER_POLICY
                if api_path:
                    headers["Cache-Control"] = "no-store"
                if headers.get("content-type", "").lower().startswith("text/html"):
                    headers.setdefault("Content-Security-Policy", HTML_CSP)
                    headers["X-Frame-Options"] = "DENY"
            await send(message)

        await self.app(scope, receive, with_headers)
