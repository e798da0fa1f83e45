"""Limits on request bodies: size on JSON routes (413), and idleness on every route (408).

``JsonBodyLimit`` refuses oversized bodies on JSON routes before they are read
(by Content-Length), or as soon as a body without one grows past the limit. A
JSON body must also be UTF-8 (Python's parser would take UTF-16 and UTF-32 as
well) and name each key of an object once (the parser keeps the last, where a
proxy or a log reader may take the first): both are 400 ``invalid-input``.
Record uploads are exempt: their routes declare a raw body (``api.http.RAW_BODY``
in their OpenAPI extra), check Content-Length against ``limits.max_record_bytes``
themselves and stream the body. The exemption is read once from the app's own
OpenAPI document, so a new raw-body route needs nothing here.

``BodyIdleTimeout`` bounds the wait for each piece of a request body: a client
that sends nothing for ``limits.body_idle_timeout`` (a stalled upload, or a body
shorter than its Content-Length) gets 408 with ``Connection: close``, whatever the
route made of the error, and an upload in progress is aborted (nothing is kept).
"""

from __future__ import annotations

import json
import re
from typing import Any

import anyio
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.http import RAW_BODY_MARK
from api.problems import vault_error_response
from vault.errors import InvalidInput, RequestTimeout, TooLarge, VaultError

#: JSON request bodies are small; anything bigger is refused before it is parsed
JSON_BODY_LIMIT = 64 * 1024


class JsonBodyLimit:
    def __init__(self, app: ASGIApp, limit: int = JSON_BODY_LIMIT) -> None:
        self.app = app
        self.limit = limit
        self._raw_routes: list[tuple[str, re.Pattern[str]]] | None = None

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
        body = bytearray() if _parsed_as_json(scope) else None
        answer = RefusingSend(scope, send)

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                piece = message.get("body", b"")
                seen += len(piece)
                if seen > self.limit:
                    raise answer.refuse(self._too_large())
                if body is not None:
                    body.extend(piece)
                    ended = not message.get("more_body", False)
                    if ended and (refusal := json_refusal(bytes(body))) is not None:
                        raise answer.refuse(refusal)
            return message

        await self.app(scope, limited, answer)

    def _too_large(self) -> TooLarge:
        return TooLarge(f"a JSON body is limited to {self.limit} bytes")

    def _raw_body(self, scope: Scope) -> bool:
        """True when the route this request goes to streams a raw body."""
        if self._raw_routes is None:
            self._raw_routes = raw_body_routes(scope.get("app"))
        method, path = scope.get("method", ""), scope.get("path", "")
        return any(method == m and pattern.match(path) for m, pattern in self._raw_routes)


def _parsed_as_json(scope: Scope) -> bool:
    """True when FastAPI would parse this body as JSON (its type says JSON; strict, without
    a type it is not parsed)."""
    declared: bytes | None = dict(scope.get("headers") or []).get(b"content-type")
    if declared is None:
        return False
    kind = declared.split(b";", 1)[0].strip().lower()
    return kind == b"application/json" or (
        kind.startswith(b"application/") and kind.endswith(b"+json")
    )


class _Twice(Exception):
    pass


def _once_each(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found = dict(pairs)
    if len(found) != len(pairs):
        raise _Twice
    return found


def json_refusal(body: bytes) -> InvalidInput | None:
    """Why a JSON body is refused before it is parsed for the route, or None (an empty
    body included: the route says whether it needs one).

    A body that is not JSON at all is left to the route's own parser (its 422 says
    where); the key named twice is not quoted back (a key can be any text).
    """
    try:
        # JSON text in UTF-8 has no NUL byte; UTF-16 and UTF-32 of it always do
        text = body.decode("utf-8") if b"\x00" not in body else None
    except UnicodeDecodeError:
        text = None
    if text is None:
        return InvalidInput("a JSON body must be UTF-8 text")
    try:
        json.loads(text, object_pairs_hook=_once_each)
    except _Twice:
        return InvalidInput("a JSON object in the body names the same key twice")
    except ValueError:
        return None
    return None


def raw_body_routes(app: Any) -> list[tuple[str, re.Pattern[str]]]:
    """(method, path pattern) of every operation marked ``RAW_BODY_MARK`` in the OpenAPI."""
    openapi = getattr(app, "openapi", None)
    if openapi is None:
        return []
    found = []
    for path, operations in openapi().get("paths", {}).items():
        for method, operation in operations.items():
            if isinstance(operation, dict) and operation.get(RAW_BODY_MARK):
                pattern, _, _ = compile_path(path)
                found.append((method.upper(), pattern))
    return found


class BodyIdleTimeout:
    """408 for a request body that stops arriving (see the module docstring)."""

    def __init__(self, app: ASGIApp, idle_seconds: float, min_rate: int = 0) -> None:
        self.app = app
        self.idle = idle_seconds
        #: bytes/s a body must average once ``idle`` seconds have passed since it started
        self.min_rate = min_rate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.idle <= 0:
            await self.app(scope, receive, send)
            return
        body_done = False
        answer = RefusingSend(scope, send)
        began: float | None = None
        received = 0

        def wait_limit(now: float) -> tuple[float, str]:
            """How long the next part may take, and what to say when it does not come."""
            idle = (self.idle, f"no part of the request body arrived for {self.idle:g} s")
            if not self.min_rate or began is None:
                return idle
            # by time t the body must hold min_rate * (t - idle) bytes: a head start of
            # ``idle`` seconds, then at least the minimum rate on average
            latest = began + self.idle + received / self.min_rate
            if latest - now < self.idle:
                return max(0.0, latest - now), (
                    f"the request body arrived slower than {self.min_rate} bytes/s"
                )
            return idle

        async def timed_receive() -> Message:
            nonlocal body_done, began, received
            if body_done:
                # the body is complete: what follows is only the wait for a disconnect
                return await receive()
            now = anyio.current_time()
            if began is None:
                began = now
            limit, why = wait_limit(now)
            with anyio.move_on_after(limit):
                message = await receive()
                if message["type"] != "http.request" or not message.get("more_body", False):
                    body_done = True
                received += len(message.get("body", b""))
                return message
            # the client is told 408 and the connection closes (the rest is never read)
            raise answer.refuse(RequestTimeout(why))

        await self.app(scope, timed_receive, answer)


class RefusingSend:
    """The ``send`` of a request whose body a middleware may refuse while the route reads it.

    The framework turns any error of reading the body into its own answer (a 400):
    once ``refuse`` has been called, the response the app starts is replaced by the
    refusal's problem document, whatever the route made of it.
    """

    def __init__(self, scope: Scope, send: Send) -> None:
        self.scope, self.send = scope, send
        self.refusal: VaultError | None = None
        self.started = self.replaced = False

    def refuse(self, refusal: VaultError) -> VaultError:
        """Remember ``refusal`` and return it, for the receive that raises it."""
        self.refusal = refusal
        return refusal

    async def __call__(self, message: Message) -> None:
        if self.replaced:
            return
        if message["type"] == "http.response.start":
            if self.refusal is not None and not self.started:
                self.started = self.replaced = True
                await vault_error_response(self.refusal)(self.scope, _nothing, self.send)
                return
            self.started = True
        await self.send(message)


async def _nothing() -> Message:
    return {"type": "http.disconnect"}
