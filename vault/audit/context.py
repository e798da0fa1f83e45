"""The request an audit event belongs to: an id the edge binds for the length of a request.

The HTTP edge binds the request's ``X-Request-ID`` here; ``AuditLog`` writes it
into every event it appends in that context (threads started with
``anyio.to_thread`` or ``contextvars.copy_context`` see it too). Outside a
request it is empty.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

#: the id of the request being served ('' outside a request)
REQUEST_ID: ContextVar[str] = ContextVar("recvault_request_id", default="")


@contextmanager
def request_id_bound(request_id: str) -> Iterator[None]:
    token = REQUEST_ID.set(request_id)
    try:
        yield
    finally:
        REQUEST_ID.reset(token)
