"""Small HTTP helpers shared by routes: declared lengths, aware times, raw-body OpenAPI."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request

from vault.durations import require_aware
from vault.errors import InvalidInput, LengthRequired, TooLarge

#: OpenAPI extension that marks a raw-body route (``api.limits`` exempts it from the JSON limit)
RAW_BODY_MARK = "x-raw-body"

#: OpenAPI for routes that take the raw record bytes as their body
RAW_BODY: dict[str, Any] = {
    RAW_BODY_MARK: True,
    "requestBody": {
        "required": True,
        "description": "the record's bytes; Content-Length is required, Content-Type is stored",
        # an empty record is refused (it would have to be kept for ten years)
        "content": {
            "application/octet-stream": {
                "schema": {"type": "string", "format": "binary", "minLength": 1}
            }
        },
    },
}


def declared_length(request: Request, limit: int) -> int:
    """The body's Content-Length, checked against ``limit`` before a byte is read."""
    raw = request.headers.get("content-length")
    if raw is None:
        raise LengthRequired("Content-Length is required (chunked uploads are refused)")
    raw = raw.strip()
    if not raw.isascii() or not raw.isdigit() or len(raw) > 20:
        raise InvalidInput("Content-Length must be a non-negative integer")
    length = int(raw)
    if length > limit:
        raise TooLarge(f"content of {length} bytes exceeds the limit of {limit} bytes")
    return length


def content_type(request: Request) -> str:
    return request.headers.get("content-type") or "application/octet-stream"


#: query parameters that take a time: RFC 3339 (ISO 8601 with a zone)
TIME_SCHEMA: dict[str, Any] = {"format": "date-time"}


def aware_time(value: str | None, name: str) -> datetime | None:
    """Parse an ISO 8601 time that carries a zone; anything else is invalid input (400).

    An instant that the offset moves past year 1 or 9999 is clamped to the
    nearest representable one (the filters and plans it feeds mean "from the
    beginning" or "until the end").
    """
    if value is None:
        return None
    try:
        # RFC 3339 allows a lower-case t and z
        moment = datetime.fromisoformat(value.upper())
    except ValueError:
        raise InvalidInput(f"{name} must be an ISO 8601 date and time with a zone") from None
    try:
        require_aware(moment)
    except InvalidInput:
        raise InvalidInput(
            f"{name} must carry a time zone (e.g. 2026-01-31T09:00:00+09:00)"
        ) from None
    try:
        return moment.astimezone(UTC)
    except (OverflowError, ValueError):
        # Near year 1 or 9999 an offset moves the instant outside what datetime can hold.
        edge = datetime.min if moment.year == 1 else datetime.max
        return edge.replace(tzinfo=UTC)


def header_safe(value: str, default: str = "application/octet-stream") -> str:
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        return default
    return value
