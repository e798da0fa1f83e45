"""Prometheus metrics of the API (prometheus-client lives here, never in ``vault``).

One registry per app, so several apps (tests) never collide. Requests are
labelled by route *name* (``records.content``, the permission matrix's key),
never by raw path or query string, so no identifier reaches the metrics and
cardinality stays bounded.
The access log is written by ``api.logs.RequestContext``, on the same terms.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class ApiMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "recvault_http_requests_total",
            "HTTP requests by route, method and status",
            ["route", "method", "status"],
            registry=r,
        )
        self.request_bytes = Counter(
            "recvault_http_request_bytes_total",
            "Bytes of request bodies received",
            ["route", "method"],
            registry=r,
        )
        self.response_bytes = Counter(
            "recvault_http_response_bytes_total",
            "Bytes of response bodies sent",
            ["route", "method"],
            registry=r,
        )
        self.duration = Histogram(
            "recvault_http_request_duration_seconds",
            "Time from request start to the end of the response",
            ["route", "method"],
            registry=r,
        )
        self.key_calls = Histogram(
            "recvault_key_service_call_seconds",
            "Latency of calls to the key service (Vault Transit) by region and operation",
            ["region", "op"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=r,
        )
        self.sweeps = Counter(
            "recvault_retention_sweeps_total", "Retention sweeps run through the API", registry=r
        )
        self.sweep_items = Counter(
            "recvault_retention_sweep_items_total",
            "What sweeps did, by kind (records_erased, destructions_executed, ...)",
            ["kind"],
            registry=r,
        )
        self.rotations = Counter(
            "recvault_key_rotations_total", "Key rotations run through the API", registry=r
        )
        self.keys_rotated = Counter(
            "recvault_keys_rotated_total", "Subject keys rotated, from rotation reports", registry=r
        )

    def observe_key_call(self, region: str, op: str, seconds: float) -> None:
        self.key_calls.labels(region, op).observe(seconds)

    def count_sweep(self, result: Mapping[str, Any]) -> None:
        self.sweeps.inc()
        for kind, value in result.items():
            if isinstance(value, int) and value > 0:
                self.sweep_items.labels(kind).inc(value)

    def count_rotation(self, report: Mapping[str, Any]) -> None:
        self.rotations.inc()
        rotated = report.get("keys_rotated", report.get("rotated"))
        if isinstance(rotated, list):
            rotated = len(rotated)
        if isinstance(rotated, int) and rotated > 0:
            self.keys_rotated.inc(rotated)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class MetricsMiddleware:
    """Counts requests and body bytes per route template."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        received = sent = 0
        status = 500

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
            return message

        async def counting_send(message: Message) -> None:
            nonlocal sent, status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif message["type"] == "http.response.body":
                sent += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, counting_receive, counting_send)
        finally:
            template = getattr(scope.get("route"), "name", None) or "unmatched"
            method = scope.get("method", "")
            elapsed = time.perf_counter() - started
            m = self.metrics
            m.requests.labels(template, method, str(status)).inc()
            m.request_bytes.labels(template, method).inc(received)
            m.response_bytes.labels(template, method).inc(sent)
            m.duration.labels(template, method).observe(elapsed)
