"""LocalKeyProvider: the conformance suite, plus the destruction guarantee on the file itself."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from keys.base import KeyDestroyed, KeyNotFound, KeyProvider
from keys.local import LocalKeyProvider
from keys.naming import subject_key_name
from tests.keys.conformance import NAME_SECRET, KeyProviderConformance, dek
from vault.errors import IntegrityError

MASTER_KEY = bytes(range(32))


@pytest.fixture
def local_provider(tmp_path: Path) -> LocalKeyProvider:
    return LocalKeyProvider(tmp_path / "keys.db", MASTER_KEY)


class TestLocalConformance(KeyProviderConformance):
    @pytest.fixture
    def provider(self, local_provider: LocalKeyProvider) -> KeyProvider:
        return local_provider


def _material(path: Path, name: str) -> list[bytes]:
    with sqlite3.connect(path) as db:
        return [
            bytes(row[0])
            for row in db.execute("SELECT material FROM key_versions WHERE name = ?", (name,))
        ]


def _files(path: Path) -> list[Path]:
    return [p for p in path.parent.iterdir() if p.name.startswith(path.name)]


def test_destroy_removes_the_material_from_every_file(tmp_path: Path) -> None:
    path = tmp_path / "keys.db"
    provider = LocalKeyProvider(path, MASTER_KEY)
    doomed = subject_key_name(NAME_SECRET, "doomed")
    kept = subject_key_name(NAME_SECRET, "kept")
    for name in (doomed, kept):
        provider.ensure_key(name)
        provider.rotate(name)
    kept_wrapped = provider.wrap(kept, [b"\x07" * 32])
    materials = _material(path, doomed)
    assert len(materials) == 2 and all(len(m) == 12 + 32 + 16 for m in materials)
    raw = b"".join(p.read_bytes() for p in _files(path))
    assert all(m in raw for m in materials)  # the scan below can find what it looks for

    provider.destroy(doomed)

    raw = b"".join(p.read_bytes() for p in _files(path))
    for material in materials:
        assert material not in raw
        assert material[12:28] not in raw  # not even a fragment of the sealed key
    assert provider.unwrap(kept, [kept_wrapped[0].ciphertext]) == [b"\x07" * 32]


def test_trim_removes_the_material_from_the_file(tmp_path: Path) -> None:
    path = tmp_path / "keys.db"
    provider = LocalKeyProvider(path, MASTER_KEY)
    name = subject_key_name(NAME_SECRET, "trimmed")
    provider.ensure_key(name)
    first = _material(path, name)[0]
    provider.rotate(name)
    provider.set_min_encryption_version(name, 2)
    provider.set_min_decryption_version(name, 2)
    provider.trim(name, 2)
    raw = b"".join(p.read_bytes() for p in _files(path))
    assert first not in raw


def test_a_destroyed_name_is_never_recreated(local_provider: LocalKeyProvider) -> None:
    name = subject_key_name(NAME_SECRET, "gone")
    local_provider.ensure_key(name)
    [wrapped] = local_provider.wrap(name, [dek()])
    local_provider.destroy(name)
    with pytest.raises(KeyDestroyed):
        local_provider.ensure_key(name)
    with pytest.raises(KeyDestroyed):
        local_provider.unwrap(name, [wrapped.ciphertext])
    with pytest.raises(KeyDestroyed):
        local_provider.wrap(name, [dek()])
    assert local_provider.describe(name).exists is False


def test_keys_survive_a_reopen_but_not_a_wrong_master_key(tmp_path: Path) -> None:
    path = tmp_path / "keys.db"
    name = subject_key_name(NAME_SECRET, "reopen")
    first = LocalKeyProvider(path, MASTER_KEY)
    first.ensure_key(name)
    key = dek()
    [wrapped] = first.wrap(name, [key])
    assert LocalKeyProvider(path, MASTER_KEY).unwrap(name, [wrapped.ciphertext]) == [key]
    with pytest.raises(IntegrityError):
        LocalKeyProvider(path, b"\x00" * 32).unwrap(name, [wrapped.ciphertext])


def test_material_is_bound_to_its_name(tmp_path: Path) -> None:
    """Swapping sealed material between two keys in the file is detected, not used."""
    path = tmp_path / "keys.db"
    provider = LocalKeyProvider(path, MASTER_KEY)
    a = subject_key_name(NAME_SECRET, "a")
    b = subject_key_name(NAME_SECRET, "b")
    provider.ensure_key(a)
    provider.ensure_key(b)
    [wrapped] = provider.wrap(a, [dek()])
    with sqlite3.connect(path) as db:
        db.execute(
            "UPDATE key_versions SET material = (SELECT material FROM key_versions WHERE name = ?)"
            " WHERE name = ?",
            (b, a),
        )
    with pytest.raises(IntegrityError):
        provider.unwrap(a, [wrapped.ciphertext])


def test_wrapped_form(local_provider: LocalKeyProvider) -> None:
    name = subject_key_name(NAME_SECRET, "form")
    local_provider.ensure_key(name)
    [wrapped] = local_provider.wrap(name, [dek()])
    assert wrapped.ciphertext.startswith("local:v1:")
    with pytest.raises(IntegrityError):
        local_provider.unwrap(name, ["local:v1:not base64!"])
    with pytest.raises(KeyNotFound):
        local_provider.unwrap(subject_key_name(NAME_SECRET, "nobody"), [wrapped.ciphertext])


def test_parallel_wraps_and_rotations(local_provider: LocalKeyProvider) -> None:
    name = subject_key_name(NAME_SECRET, "busy")
    local_provider.ensure_key(name)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(10):
                key = dek()
                [wrapped] = local_provider.wrap(name, [key])
                assert local_provider.unwrap(name, [wrapped.ciphertext]) == [key]
            local_provider.rotate(name)
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert local_provider.describe(name).latest_version == 9


def test_master_key_must_be_long_enough(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        LocalKeyProvider(tmp_path / "k.db", b"short")
