"""Prometheus metrics of the API (prometheus-client lives here, never in ``vault``).

One registry per app, so several apps (tests) never collide. Requests are
labelled by route *name* (``records.content``, the permission matrix's key),
never by raw path or query string, so no identifier reaches the metrics and
cardinality stays bounded.
``api.logs.RequestContext`` measures each request once, for the access log and
``ApiMetrics.observe_request`` alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest


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
        self.span_seconds = Counter(
            "recvault_request_span_seconds",
            "Seconds of requests spent in each part (auth, db, keys, audit, store; vault.spans)",
            ["route", "method", "span"],
            registry=r,
        )
        self.rotations = Counter(
            "recvault_key_rotations_total", "Key rotations run through the API", registry=r
        )
        self.keys_rotated = Counter(
            "recvault_keys_rotated_total", "Subject keys rotated, from rotation reports", registry=r
        )

    def observe_request(
        self,
        route: str,
        method: str,
        status: int,
        received: int,
        sent: int,
        seconds: float,
        spans: Mapping[str, float] | None = None,
    ) -> None:
        """One finished request (measured by ``api.logs.RequestContext``)."""
        self.requests.labels(route, method, str(status)).inc()
        for name, spent in (spans or {}).items():
            self.span_seconds.labels(route, method, name).inc(spent)
        self.request_bytes.labels(route, method).inc(received)
        self.response_bytes.labels(route, method).inc(sent)
        self.duration.labels(route, method).observe(seconds)

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
