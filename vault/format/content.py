"""Turn what callers hand to ``put_record`` into a stream with a known length.

The object format binds the plaintext length into the header, so it must be
known before sealing starts: bytes carry it, files and seekable streams are
measured, and other streams must say it (``size=``) or are refused.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from vault.errors import InvalidInput, LengthRequired, NotFound

Content = bytes | bytearray | memoryview | str | os.PathLike[str] | BinaryIO


def content_length(content: Content, size: int | None = None) -> int:
    """The plaintext length of ``content``, measured without reading it.

    Paths are measured with ``stat`` (not opened); the sealer later checks that
    the source delivers exactly this many bytes, so a file that changes in
    between fails the write instead of storing a torn record.
    """
    if isinstance(content, bytes | bytearray | memoryview):
        length = len(content)
        if size is not None and size != length:
            raise InvalidInput(f"declared size {size} differs from the content ({length} bytes)")
        return length
    if isinstance(content, str | os.PathLike):
        path = Path(content)
        try:
            info = path.stat()
        except FileNotFoundError:
            raise NotFound("content file not found") from None
        if path.is_dir():
            raise InvalidInput("content path is a directory")
        return info.st_size
    with content_stream(content, size) as (_, length):
        return length


@contextmanager
def content_stream(content: Content, size: int | None = None) -> Iterator[tuple[BinaryIO, int]]:
    """Yield ``(stream, length)``; files opened here are closed afterwards."""
    if isinstance(content, bytes | bytearray | memoryview):
        data = bytes(content)
        if size is not None and size != len(data):
            raise InvalidInput(f"declared size {size} differs from the content ({len(data)} bytes)")
        yield io.BytesIO(data), len(data)
        return
    if isinstance(content, str | os.PathLike):
        path = Path(content)
        try:
            handle = path.open("rb")
        except FileNotFoundError:
            raise NotFound("content file not found") from None
        except IsADirectoryError:
            raise InvalidInput("content path is a directory") from None
        with handle:
            yield handle, os.fstat(handle.fileno()).st_size
        return
    if not hasattr(content, "read"):
        raise InvalidInput("content must be bytes, a path or a binary stream")
    if size is not None:
        if size < 0:
            raise InvalidInput("size must not be negative")
        yield content, size
        return
    length: int | None = None
    try:
        if content.seekable():
            start = content.tell()
            length = content.seek(0, io.SEEK_END) - start
            content.seek(start)
    except (OSError, ValueError, AttributeError):
        length = None
    if length is None:
        raise LengthRequired("the content length must be given (size=) for a non-seekable stream")
    yield content, length
