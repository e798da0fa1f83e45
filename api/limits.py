"""Refuse oversized request bodies on JSON routes before they are read (413, problem+json).

Record uploads are exempt: their routes check Content-Length against
``limits.max_record_bytes`` themselves and stream the body.
"""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.problems import vault_error_response
from vault.errors import TooLarge

#: JSON request bodies are small; anything bigger is refused before it is parsed
JSON_BODY_LIMIT = 64 * 1024
_RAW_BODY_ROUTES = (
    ("POST", re.compile(r"^/v1/subjects/[^/]+/records/?$")),
    ("PUT", re.compile(r"^/v1/records/[^/]+/content/?$")),
)


class JsonBodyLimit:
    def __init__(self, app: ASGIApp, limit: int = JSON_BODY_LIMIT) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self._raw_body(scope):
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            response = vault_error_response(self._too_large())
            await response(scope, receive, send)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise self._too_large()
            return message

        await self.app(scope, limited, send)

    def _too_large(self) -> TooLarge:
        return TooLarge(f"a JSON body is limited to {self.limit} bytes")

    @staticmethod
    def _raw_body(scope: Scope) -> bool:
        method, path = scope.get("method", ""), scope.get("path", "")
        return any(method == m and pattern.match(path) for m, pattern in _RAW_BODY_ROUTES)
