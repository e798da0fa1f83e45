"""Listing ``LocalStore``'s files in S3 key order, one directory's entries per level at a time."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from vault.storage.base import ObjectInfo
from vault.storage.local_reads import file_info
from vault.storage.naming import TEMP_PREFIX


def walk_keys(
    directory: Path, base: str, name_prefix: str, start_after: str = ""
) -> Iterator[ObjectInfo]:
    """Depth-first walk in S3 key order: a directory ``d`` sorts as ``d/``.

    Past ``start_after``: files at or before it are skipped, and so are whole
    directories whose keys all sort before it (they are not descended into).
    """
    stack = [iter(_sorted_entries(directory, name_prefix))]
    bases = [base]
    while stack:
        entry = next(stack[-1], None)
        if entry is None:
            stack.pop()
            bases.pop()
            continue
        key = bases[-1] + entry.name
        try:
            if entry.is_dir(follow_symlinks=False):
                inner = key + "/"
                if start_after > inner and not start_after.startswith(inner):
                    continue  # every key inside sorts before start_after
                stack.append(iter(_sorted_entries(Path(entry.path), "")))
                bases.append(inner)
            elif entry.is_file(follow_symlinks=False) and key > start_after:
                yield file_info(key, entry.stat(follow_symlinks=False))
        except FileNotFoundError:
            continue  # deleted while we walked


def _sorted_entries(directory: Path, name_prefix: str) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(directory) as it:
            entries = [
                e
                for e in it
                if e.name.startswith(name_prefix)
                and not e.name.startswith(TEMP_PREFIX)
                and not e.is_symlink()
            ]
    except FileNotFoundError:
        return []
    entries.sort(key=lambda e: e.name + "/" if e.is_dir(follow_symlinks=False) else e.name)
    return entries
