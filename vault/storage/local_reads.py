"""Reading ``LocalStore``'s files: an object's descriptor, its stream with read-ahead, byte
ranges and metadata, and the store errors an ``OSError`` becomes.

Whole objects and large ranges go through O_DIRECT where it pays
(``tuning.direct``; docs/benchmarks.md, P2 and P6); everything else is a
plain buffered read.
"""

from __future__ import annotations

import errno
import os
import stat
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, cast

from vault.storage.base import ObjectInfo, ObjectNotFound, StoreAccessDenied, StoreUnavailable
from vault.storage.tuning.direct import open_direct, read_range

_FADVISE = getattr(os, "posix_fadvise", None)  # absent on macOS


def os_error(exc: OSError, action: str) -> Exception:
    """The store error an ``OSError`` met while ``action`` becomes."""
    if isinstance(exc, PermissionError):
        return StoreAccessDenied(f"local store: permission denied while {action}")
    name = errno.errorcode.get(exc.errno or 0, "OSError")
    return StoreUnavailable(f"local store: {name} while {action}")


def file_info(key: str, st: os.stat_result) -> ObjectInfo:
    return ObjectInfo(
        key=key,
        size=st.st_size,
        etag=f"{st.st_size:x}-{st.st_mtime_ns:x}",
        last_modified=datetime.fromtimestamp(st.st_mtime, UTC),
    )


def open_object_fd(path: Path, key: str) -> int:
    """A read-only descriptor of the regular file at ``path`` that holds ``key``."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
        raise ObjectNotFound(f"no object {key!r}") from exc
    except OSError as exc:
        raise os_error(exc, "opening an object") from exc
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise ObjectNotFound(f"no object {key!r}")
    return fd


def object_stream(fd: int, *, direct: bool) -> BinaryIO:
    """A stream of the whole object open at ``fd`` (which it takes over), read ahead."""
    if direct:
        try:
            reader = open_direct(fd)
        except BaseException as exc:
            os.close(fd)
            if isinstance(exc, OSError):
                raise os_error(exc, "opening an object") from exc
            raise
        if reader is not None:
            # Read ahead with O_DIRECT (vault/storage/tuning/direct.py; docs/benchmarks.md, P2).
            return cast(BinaryIO, reader)
    stream = os.fdopen(fd, "rb")
    if _FADVISE is not None:
        # A whole-object read: let the kernel read further ahead (docs/benchmarks.md, P2).
        _FADVISE(stream.fileno(), 0, 0, os.POSIX_FADV_SEQUENTIAL)
    return stream


def object_range(fd: int, start: int, stop: int, *, direct: bool) -> bytes:
    """Bytes ``[start, stop)`` of the object open at ``fd``, which it closes."""
    try:
        if direct:
            return read_range(fd, start, stop)
        return os.pread(fd, stop - start, start)
    except OSError as exc:
        raise os_error(exc, "reading an object") from exc
    finally:
        os.close(fd)


def object_metadata(path: Path, key: str) -> ObjectInfo:
    """The ``ObjectInfo`` of the regular file at ``path`` that holds ``key``."""
    try:
        st = path.stat()
    except (FileNotFoundError, NotADirectoryError) as exc:
        raise ObjectNotFound(f"no object {key!r}") from exc
    except OSError as exc:
        raise os_error(exc, "reading object metadata") from exc
    if not path.is_file():
        raise ObjectNotFound(f"no object {key!r}")
    return file_info(key, st)
