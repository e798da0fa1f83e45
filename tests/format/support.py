"""Shared inputs and helpers for the format tests."""

from __future__ import annotations

import io
import random
from collections.abc import Callable, Iterable, Iterator

from vault.errors import IntegrityError
from vault.format import envelope

SEG = envelope.SEGMENT_SIZE
TAG = 16
DEK = bytes(range(32))
OTHER_DEK = bytes(range(1, 33))
SALT = bytes(range(100, 132))
CONTEXT = envelope.ObjectContext(
    record_id="0d9a6c1e-2b3f-4e5a-8c7d-9e0f1a2b3c4d",
    record_version=1,
    subject_id="5b4a3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d",
    region="JP",
)
KEY_BLOCK = envelope.KeyBlock("subj-" + "ab" * 16, 1, b"vault:v1:" + bytes(range(48)))

#: Plaintexts are slices of one random pool, so big cases cost no generation time.
POOL = random.Random(20).randbytes(4 * SEG)


def plaintext(length: int) -> bytes:
    return POOL[:length]


def seal_bytes(
    data: bytes | Iterable[bytes],
    length: int | None = None,
    *,
    context: envelope.ObjectContext = CONTEXT,
    dek: bytes = DEK,
    salt: bytes = SALT,
) -> bytes:
    if isinstance(data, bytes):
        length, data = len(data), [data]
    assert length is not None
    return b"".join(
        envelope.seal(
            data, dek=dek, key_block=KEY_BLOCK, context=context, plaintext_length=length, salt=salt
        )
    )


def open_bytes(obj: bytes, *, dek: bytes = DEK, context: envelope.ObjectContext = CONTEXT) -> bytes:
    return b"".join(envelope.open_stream(io.BytesIO(obj), dek=dek, context=context))


def collect(start: Callable[[], Iterator[bytes]]) -> tuple[list[bytes], IntegrityError | None]:
    """Consume an opening like a client would: keep every chunk until an IntegrityError."""
    chunks: list[bytes] = []
    try:
        for chunk in start():
            chunks.append(chunk)
    except IntegrityError as exc:
        return chunks, exc
    return chunks, None


def segments_of(obj: bytes) -> tuple[bytes, list[bytes]]:
    """Split a well-formed object into its header and sealed segments."""
    header = envelope.parse_header(obj)
    body = obj[header.length :]
    return obj[: header.length], [body[i : i + SEG + TAG] for i in range(0, len(body), SEG + TAG)]


class CountingFetch:
    """A range fetch over an in-memory object that records every call."""

    def __init__(self, obj: bytes) -> None:
        self.obj = obj
        self.calls: list[tuple[int, int]] = []

    def __call__(self, start: int, stop: int) -> bytes:
        self.calls.append((start, stop))
        return self.obj[start:stop]

    @property
    def fetched(self) -> int:
        return sum(stop - start for start, stop in self.calls)
