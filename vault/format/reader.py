"""RecordReader: a record's verified plaintext as a binary stream (and as chunks)."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class ReadMeta:
    record_id: str
    version: int
    size: int
    content_type: str
    etag: str
    start: int
    stop: int

    @property
    def length(self) -> int:
        return self.stop - self.start


class RecordReader(io.RawIOBase):
    """Plaintext of one record version (or a range of it), released segment by segment.

    Every byte handed out belongs to a segment whose tag verified. Use it as a
    context manager; ``iter_chunks()`` streams without extra copies.
    """

    def __init__(self, chunks: Iterator[bytes], meta: ReadMeta, closer: Callable[[], None]) -> None:
        super().__init__()
        self.meta = meta
        self._chunks = chunks
        self._buffer = memoryview(b"")
        self._closer = closer

    def readable(self) -> bool:
        return True

    def readinto(self, target: bytearray | memoryview) -> int:  # type: ignore[override]
        while not self._buffer:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._buffer = memoryview(chunk)
        n = min(len(target), len(self._buffer))
        target[:n] = self._buffer[:n]
        self._buffer = self._buffer[n:]
        return n

    def iter_chunks(self) -> Iterator[bytes]:
        if self._buffer:
            pending, self._buffer = bytes(self._buffer), memoryview(b"")
            yield pending
        yield from self._chunks

    def close(self) -> None:
        if not self.closed:
            try:
                self._closer()
            finally:
                super().close()
