"""The embedded key provider: subject keys in one SQLite file, sealed under a master key.

Each key version is 32 random bytes stored encrypted with AES-256-GCM under a
key derived from the master key (HKDF-SHA-512), bound by its AAD to the key
name and version. DEKs are wrapped with the key version they name:
``local:v<version>:`` + base64(nonce ‖ ciphertext ‖ tag). The semantics follow
Transit (minimum versions, trim, destroy); destroy overwrites the material in
the file (``secure_delete`` then ``VACUUM``) and keeps a tombstone of the name
so the key can be neither used nor silently re-created.
"""

from __future__ import annotations

import base64
import binascii
import re
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from keys.base import (
    KeyDescription,
    KeyDestroyed,
    KeyError_,
    KeyNotFound,
    KeyUnavailable,
    KeyVersionRetired,
    WrappedDek,
)
from keys.batch import batch_failure
from keys.naming import PREFIX
from vault.crypto import (
    AES_KEY_BYTES,
    GCM_NONCE_BYTES,
    AesGcm,
    AuthenticationFailed,
    hkdf_sha512,
    random_bytes,
)
from vault.errors import IntegrityError, VaultError

_KEK_SALT = b"recvault/local-key-provider"
_KEK_INFO = b"recvault/local-key-provider/v1/key-material"
_MATERIAL_AAD = b"recvault/local/key-material\x00"
_DEK_AAD = b"recvault/local/dek\x00"
_WRAPPED = re.compile(r"^local:v(\d+):([A-Za-z0-9+/=]+)$")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS subject_keys (
    name TEXT PRIMARY KEY,
    destroyed_at REAL,
    latest_version INTEGER NOT NULL,
    min_decryption_version INTEGER NOT NULL,
    min_encryption_version INTEGER NOT NULL,
    min_available_version INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS key_versions (
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    created_at REAL NOT NULL,
    material BLOB NOT NULL,
    PRIMARY KEY (name, version)
);
"""


def _aad(domain: bytes, name: str, version: int) -> bytes:
    return domain + name.encode() + b"\x00" + version.to_bytes(4, "big")


class LocalKeyProvider:
    """Subject keys in a SQLite file; for the embedded deployment and for tests."""

    def __init__(self, path: Path, master_key: bytes, label: str = "local") -> None:
        if len(master_key) < AES_KEY_BYTES:
            raise ValueError("the master key must be at least 32 bytes")
        self._path = Path(path)
        self._label = label
        self._kek = AesGcm(hkdf_sha512(master_key, _KEK_SALT, _KEK_INFO, AES_KEY_BYTES))
        self._lock = threading.RLock()
        with self._connect() as db:
            # Rollback journal, not WAL: no copy of a deleted page lingers in a -wal file.
            db.execute("PRAGMA journal_mode=DELETE")
            db.executescript(_SCHEMA)

    @property
    def label(self) -> str:
        return self._label

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            db = sqlite3.connect(self._path, timeout=30.0, isolation_level=None)
        except sqlite3.Error as exc:
            raise KeyUnavailable(f"local key store cannot be opened: {exc}") from None
        try:
            db.execute("PRAGMA secure_delete=ON")
            yield db
        except sqlite3.Error as exc:
            raise KeyUnavailable(f"local key store failed: {exc}") from None
        finally:
            db.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock, self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    # -- key state -----------------------------------------------------------------

    def _row(self, db: sqlite3.Connection, name: str) -> tuple[int, int, int, int]:
        """(latest, min_decryption, min_encryption, min_available) of a live key."""
        row = db.execute(
            "SELECT destroyed_at, latest_version, min_decryption_version,"
            " min_encryption_version, min_available_version FROM subject_keys WHERE name = ?",
            (name,),
        ).fetchone()
        if row is None:
            raise KeyNotFound(f"no subject key {name}")
        if row[0] is not None:
            raise KeyDestroyed(f"subject key {name} was destroyed")
        return int(row[1]), int(row[2]), int(row[3]), int(row[4])

    def _add_version(self, db: sqlite3.Connection, name: str, version: int) -> None:
        nonce = random_bytes(GCM_NONCE_BYTES)
        sealed = self._kek.encrypt(
            nonce, random_bytes(AES_KEY_BYTES), _aad(_MATERIAL_AAD, name, version)
        )
        db.execute(
            "INSERT INTO key_versions (name, version, created_at, material) VALUES (?, ?, ?, ?)",
            (name, version, time.time(), nonce + sealed),
        )

    def _materials(self, db: sqlite3.Connection, name: str) -> dict[int, AesGcm]:
        keys: dict[int, AesGcm] = {}
        for version, material in db.execute(
            "SELECT version, material FROM key_versions WHERE name = ?", (name,)
        ):
            nonce, sealed = material[:GCM_NONCE_BYTES], material[GCM_NONCE_BYTES:]
            try:
                raw = self._kek.decrypt(nonce, sealed, _aad(_MATERIAL_AAD, name, version))
            except AuthenticationFailed:
                raise IntegrityError(
                    f"key material of {name} v{version} fails to authenticate"
                ) from None
            keys[int(version)] = AesGcm(raw)
        return keys

    # -- lifecycle -----------------------------------------------------------------

    def ensure_key(self, name: str) -> KeyDescription:
        with self._write() as db:
            try:
                self._row(db, name)
            except KeyNotFound:
                db.execute(
                    "INSERT INTO subject_keys VALUES (?, NULL, 1, 1, 0, 0)",
                    (name,),
                )
                self._add_version(db, name, 1)
        return self.describe(name)

    def rotate(self, name: str) -> int:
        with self._write() as db:
            latest = self._row(db, name)[0] + 1
            self._add_version(db, name, latest)
            db.execute("UPDATE subject_keys SET latest_version = ? WHERE name = ?", (latest, name))
        return latest

    def set_min_decryption_version(self, name: str, version: int) -> None:
        with self._write() as db:
            latest, _, _, available = self._row(db, name)
            if not max(1, available) <= version <= latest:
                raise KeyError_(
                    f"min decryption version {version} outside {max(1, available)}..{latest}"
                )
            db.execute(
                "UPDATE subject_keys SET min_decryption_version = ? WHERE name = ?",
                (version, name),
            )

    def set_min_encryption_version(self, name: str, version: int) -> None:
        with self._write() as db:
            latest, _, _, available = self._row(db, name)
            if not (version == 0 or available <= version <= latest):
                raise KeyError_(f"min encryption version {version} outside {available}..{latest}")
            db.execute(
                "UPDATE subject_keys SET min_encryption_version = ? WHERE name = ?",
                (version, name),
            )

    def trim(self, name: str, min_available_version: int) -> None:
        with self._write() as db:
            _, min_dec, min_enc, available = self._row(db, name)
            if min_enc == 0:
                raise KeyError_("trim needs a minimum encryption version first")
            if min_available_version > min(min_dec, min_enc):
                raise KeyError_("trim cannot pass the minimum decryption or encryption version")
            if min_available_version < available:
                raise KeyError_("trimmed versions cannot be brought back")
            db.execute(
                "DELETE FROM key_versions WHERE name = ? AND version < ?",
                (name, min_available_version),
            )
            db.execute(
                "UPDATE subject_keys SET min_available_version = ? WHERE name = ?",
                (min_available_version, name),
            )
        self._vacuum()

    def describe(self, name: str) -> KeyDescription:
        with self._lock, self._connect() as db:
            try:
                latest, min_dec, min_enc, available = self._row(db, name)
            except (KeyNotFound, KeyDestroyed):
                return KeyDescription(name=name, exists=False)
            versions = {
                int(version): datetime.fromtimestamp(created, tz=UTC)
                for version, created in db.execute(
                    "SELECT version, created_at FROM key_versions"
                    " WHERE name = ? AND version >= ? ORDER BY version",
                    (name, min_dec),
                )
            }
        return KeyDescription(
            name=name,
            exists=True,
            latest_version=latest,
            min_decryption_version=min_dec,
            min_encryption_version=min_enc,
            min_available_version=available,
            versions=versions,
        )

    def destroy(self, name: str) -> None:
        with self._write() as db:
            try:
                self._row(db, name)
            except (KeyNotFound, KeyDestroyed):
                return
            db.execute("DELETE FROM key_versions WHERE name = ?", (name,))
            db.execute(
                "UPDATE subject_keys SET destroyed_at = ?, latest_version = 0,"
                " min_decryption_version = 0, min_encryption_version = 0,"
                " min_available_version = 0 WHERE name = ?",
                (time.time(), name),
            )
        self._vacuum()

    def _vacuum(self) -> None:
        # secure_delete zeroes freed cells; VACUUM rewrites the file so no freed page survives.
        with self._lock, self._connect() as db:
            db.execute("VACUUM")

    def list_keys(self) -> Iterator[str]:
        with self._lock, self._connect() as db:
            names = [
                str(row[0])
                for row in db.execute(
                    "SELECT name FROM subject_keys WHERE destroyed_at IS NULL ORDER BY name"
                )
            ]
        return iter(name for name in names if name.startswith(PREFIX))

    def health(self) -> None:
        with self._lock, self._connect() as db:
            db.execute("SELECT count(*) FROM subject_keys").fetchone()

    # -- record path ---------------------------------------------------------------

    def wrap(self, name: str, deks: Sequence[bytes]) -> list[WrappedDek]:
        with self._lock, self._connect() as db:
            latest = self._row(db, name)[0]
            key = self._materials(db, name)[latest]
        return [self._seal(key, name, latest, dek) for dek in deks]

    def unwrap(self, name: str, wrapped: Sequence[str]) -> list[bytes]:
        with self._lock, self._connect() as db:
            _, min_dec, _, _ = self._row(db, name)
            keys = self._materials(db, name)
        results: list[bytes] = []
        failures: dict[int, VaultError] = {}
        for index, text in enumerate(wrapped):
            try:
                results.append(self._open(keys, min_dec, name, text))
            except (IntegrityError, KeyVersionRetired) as exc:
                failures[index] = exc
                results.append(b"")
        if failures:
            raise batch_failure("unwrap", failures, len(wrapped))
        return results

    def rewrap(self, name: str, wrapped: Sequence[str]) -> list[WrappedDek]:
        with self._lock, self._connect() as db:
            latest, min_dec, _, _ = self._row(db, name)
            keys = self._materials(db, name)
        results: list[WrappedDek] = []
        failures: dict[int, VaultError] = {}
        for index, text in enumerate(wrapped):
            try:
                dek = self._open(keys, min_dec, name, text)
            except (IntegrityError, KeyVersionRetired) as exc:
                failures[index] = exc
                continue
            results.append(self._seal(keys[latest], name, latest, dek))
        if failures:
            raise batch_failure("rewrap", failures, len(wrapped))
        return results

    @staticmethod
    def _seal(key: AesGcm, name: str, version: int, dek: bytes) -> WrappedDek:
        nonce = random_bytes(GCM_NONCE_BYTES)
        sealed = key.encrypt(nonce, dek, _aad(_DEK_AAD, name, version))
        text = f"local:v{version}:" + base64.b64encode(nonce + sealed).decode("ascii")
        return WrappedDek(name, version, text)

    @staticmethod
    def _open(keys: dict[int, AesGcm], min_dec: int, name: str, text: str) -> bytes:
        match = _WRAPPED.match(text)
        if match is None:
            raise IntegrityError(f"wrapped DEK for {name} is malformed")
        version = int(match.group(1))
        if version < min_dec:
            raise KeyVersionRetired(
                f"wrapped DEK of {name} is below its minimum decryption version"
            )
        key = keys.get(version)
        if key is None:
            raise IntegrityError(f"wrapped DEK names an unknown version of {name}")
        try:
            blob = base64.b64decode(match.group(2), validate=True)
            return key.decrypt(
                blob[:GCM_NONCE_BYTES], blob[GCM_NONCE_BYTES:], _aad(_DEK_AAD, name, version)
            )
        except (AuthenticationFailed, binascii.Error, ValueError):
            raise IntegrityError(f"wrapped DEK does not authenticate under {name}") from None
