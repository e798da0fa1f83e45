"""Object key rules shared by every store, so a key valid in one is valid in all."""

from __future__ import annotations

import re

from vault.storage.base import InvalidObjectKey

#: Temp files of ``LocalStore`` start with this; no key segment may.
TEMP_PREFIX = ".tmp-"
MAX_KEY_BYTES = 1024
SEGMENT = re.compile(r"[A-Za-z0-9._-]+")


def check_segments(path: str, what: str = "object key") -> None:
    """Refuse ``path`` unless it is ``/``-separated segments of ``[A-Za-z0-9._-]``."""
    for segment in path.split("/"):
        if not SEGMENT.fullmatch(segment) or segment in (".", ".."):
            raise InvalidObjectKey(
                f"{what} {path!r}: segments must be [A-Za-z0-9._-]+ and not . or .."
            )
        if segment.startswith(TEMP_PREFIX):
            raise InvalidObjectKey(f"{what} {path!r}: the {TEMP_PREFIX} prefix is reserved")


def check_key(key: str) -> None:
    """Refuse an empty, absolute, over-long or otherwise malformed object key."""
    if not key:
        raise InvalidObjectKey("object key is empty")
    if len(key.encode()) > MAX_KEY_BYTES:
        raise InvalidObjectKey(f"object key is longer than {MAX_KEY_BYTES} bytes")
    check_segments(key)


def check_prefix(prefix: str) -> None:
    """Refuse a listing prefix that no valid key could start with."""
    directory, _, name = prefix.rpartition("/")
    if directory:
        check_segments(directory, "prefix")
    if name and not SEGMENT.fullmatch(name):
        raise InvalidObjectKey(f"prefix {prefix!r}: segments must be [A-Za-z0-9._-]+")
