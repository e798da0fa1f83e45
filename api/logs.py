"""Request ids and the access log: one JSON line per request an operator can use.

``RequestContext`` is the outermost layer of the app. It takes the client's
``X-Request-ID`` when it is well-formed (1-128 of ``A-Z a-z 0-9 . _ -``) or
makes one, binds it for the request (``vault.audit.context``: every audit event
the request causes carries it), returns it as ``X-Request-ID``, and writes the
access line (logger ``recvault.api.access``): request id, principal name, route
*name*, method, status, bytes in and out, duration. Never a path, a query
string, a token, an external reference, a file name or content.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.metrics import ApiMetrics
from vault.audit.context import request_id_bound
from vault.spans import spans_bound

access_log = logging.getLogger("recvault.api.access")

_WELL_FORMED = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
#: where routes leave the principal's name for the access line (``api.deps.authorize``)
PRINCIPAL_KEY = "principal"


def request_id_of(scope: Scope) -> str:
    for name, value in scope.get("headers") or ():
        if name == b"x-request-id":
            text = bytes(value).decode("latin-1")
            if _WELL_FORMED.match(text):
                return text
            break
    return uuid.uuid4().hex


class RequestContext:
    """Request id, access line and request metrics: each request is measured once, here."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics | None = None) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(scope)
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        started = time.perf_counter()
        received = sent = 0
        status = 500

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
            return message

        async def tagged_send(message: Message) -> None:
            nonlocal sent, status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                MutableHeaders(scope=message)["X-Request-ID"] = request_id
            elif message["type"] == "http.response.body":
                sent += len(message.get("body", b""))
            await send(message)

        try:
            with request_id_bound(request_id), spans_bound() as spans:
                await self.app(scope, counting_receive, tagged_send)
        finally:
            parts = spans.totals()
            route = getattr(scope.get("route"), "name", None) or "unmatched"
            method = scope.get("method", "")
            elapsed = time.perf_counter() - started
            if self.metrics is not None:
                self.metrics.observe_request(route, method, status, received, sent, elapsed, parts)
            access_log.info(
                "request",
                extra={
                    "request_id": request_id,
                    "principal": state.get(PRINCIPAL_KEY, ""),
                    "route": route,
                    "method": method,
                    "status": status,
                    "bytes_in": received,
                    "bytes_out": sent,
                    "duration_ms": round(elapsed * 1000, 1),
                    "spans_ms": {k: round(v * 1000, 1) for k, v in parts.items()},
                },
            )
