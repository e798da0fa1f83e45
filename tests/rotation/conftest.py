"""Fixtures and helpers for the rotation tests: seeded vaults, object hashes, a faulty provider."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlmodel import Session, select

from keys.base import KeyProvider, KeyUnavailable, WrappedDek
from tests.core.conftest import make_vault  # noqa: F401  (shared fixture)
from tests.fixtures.bao import BaoServer
from vault import Actor, RecordVault, Role
from vault.metadata import RecordVersionRow

SECURITY = Actor("sec-officer", frozenset({Role.SECURITY}))


def seed(vault: RecordVault, region: str, subjects: int, records: int) -> dict[str, bytes]:
    """Subjects with records of random content; returns record id → content."""
    contents: dict[str, bytes] = {}
    for s in range(subjects):
        subject = vault.create_subject(f"{region}-patient-{s}", region)
        for r in range(records):
            content = os.urandom(200 + 37 * r)
            contents[vault.put_record(subject.id, "photo", content).id] = content
    return contents


def read(vault: RecordVault, record_id: str, version: int | None = None) -> bytes:
    with vault.open_record(record_id, version) as reader:
        return reader.read()


def object_hashes(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def wrapped_rows(vault: RecordVault) -> dict[tuple[str, int], RecordVersionRow]:
    with Session(vault._ctx.engine) as session:
        rows = session.exec(select(RecordVersionRow)).all()
        return {(r.record_id, r.version): r for r in rows}


class FaultyKeys:
    """A provider wrapper that runs ``on_rewrap(n)`` before the n-th rewrap call and can
    fail once right after a successful ``rotate`` or before raising the minimums."""

    def __init__(
        self,
        inner: KeyProvider,
        on_rewrap: Callable[[int], None] | None = None,
        fail_after_rotate: bool = False,
        fail_min_encryption: bool = False,
    ) -> None:
        self._inner = inner
        self._on_rewrap = on_rewrap
        self.fail_after_rotate = fail_after_rotate
        self.fail_min_encryption = fail_min_encryption
        self.rewraps = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def rotate(self, name: str) -> int:
        latest = self._inner.rotate(name)
        if self.fail_after_rotate:
            self.fail_after_rotate = False
            raise KeyUnavailable("key service not serving: connection reset")
        return latest

    def set_min_encryption_version(self, name: str, version: int) -> None:
        if self.fail_min_encryption:
            self.fail_min_encryption = False
            raise KeyUnavailable("key service not serving: connection reset")
        self._inner.set_min_encryption_version(name, version)

    def rewrap(self, name: str, wrapped: list[str]) -> list[WrappedDek]:
        self.rewraps += 1
        if self._on_rewrap is not None:
            self._on_rewrap(self.rewraps)
        return self._inner.rewrap(name, wrapped)


def install(vault: RecordVault, region: str, keys: object) -> None:
    vault.regions[region] = dataclasses.replace(vault.regions[region], keys=keys)  # type: ignore[arg-type]


def unseal(server: BaoServer) -> None:
    """Unseal a dev server with the unseal key it printed at start."""
    found = re.findall(r"Unseal Key: (\S+)", server.log_path.read_text())
    assert found, "the dev server printed no unseal key"
    request = urllib.request.Request(
        f"{server.addr}/v1/sys/unseal",
        data=json.dumps({"key": found[-1]}).encode(),
        method="PUT",
    )
    with urllib.request.urlopen(request, timeout=5):
        pass
