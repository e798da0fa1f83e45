"""Fixtures for the audit tests: a vault over a real DB, and a DB-side attacker with raw SQL."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from tests.fixtures.settings import region_configs, vault_settings
from vault import RecordVault, Settings
from vault.audit.chain import GENESIS
from vault.metadata.migrate import upgrade


@pytest.fixture
def make_vault(tmp_path: Path, clock) -> Iterator[Callable[..., RecordVault]]:
    """``make_vault(db_url, **settings)``; ``reopen(vault)`` builds it again (a restart)."""
    built: list[RecordVault] = []

    def factory(db_url: str, stores=None, settings: Settings | None = None, **extra) -> RecordVault:
        if settings is None:
            regions = region_configs(tmp_path, stores=stores)
            settings = vault_settings(db_url, regions, **extra)
            upgrade(settings.database.url)
        vault = RecordVault.from_settings(settings, clock=clock)
        built.append(vault)
        return vault

    yield factory
    for vault in built:
        vault.close()


def fill(vault: RecordVault, clock, events: int) -> int:
    """Append ``events`` events (a subject, its records); return the chain's last seq."""
    subject = vault.create_subject(f"p-{clock.now.timestamp()}", "JP")
    for _ in range(events - 1):
        clock.advance(seconds=1)
        vault.put_record(subject.id, "photo", b"x")
    return head(vault)


def head(vault: RecordVault) -> int:
    with vault._ctx.engine.connect() as conn:
        return int(conn.execute(text("SELECT seq FROM audit_head")).scalar_one())


class Attacker:
    """Someone with write access to the metadata DB, and nothing else: raw SQL only."""

    def __init__(self, db_url: str) -> None:
        self.engine: Engine = create_engine(db_url)

    def close(self) -> None:
        self.engine.dispose()

    def edit(self, seq: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                text("UPDATE audit_events SET actor = 'nobody' WHERE seq = :s"), {"s": seq}
            )

    def delete(self, seq: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(text("DELETE FROM audit_events WHERE seq = :s"), {"s": seq})

    def cut_tail(self, keep: int) -> None:
        """Delete every event after ``keep``; leave ``audit_head`` as it was."""
        with self.engine.begin() as conn:
            conn.execute(text("DELETE FROM audit_events WHERE seq > :s"), {"s": keep})

    def rewind(self, keep: int) -> None:
        """Delete every event after ``keep`` and point ``audit_head`` at the last one left."""
        self.cut_tail(keep)
        with self.engine.begin() as conn:
            last = conn.execute(
                text("SELECT hash FROM audit_events WHERE seq = :s"), {"s": keep}
            ).scalar_one()
            conn.execute(text("UPDATE audit_head SET seq = :s, hash = :h"), {"s": keep, "h": last})

    def rewrite(self, key: bytes, *, actor_at: int | None = None) -> None:
        """Recompute every link with ``key`` (renaming the actor at ``actor_at``), head too.

        With a key of its own, the links cannot match recvault's; with the chain
        key (a stronger attacker than the DB alone gives), only a checkpoint can tell.
        """
        from vault.audit.chain import _canonical
        from vault.metadata.tables import UTCDateTime

        chain_key = hmac.new(key, b"recvault/audit-chain", hashlib.sha256).digest()
        columns = "seq, ts, actor, role, action, target, subject_id, region, purpose, outcome"
        with self.engine.begin() as conn:
            query = text(f"SELECT {columns} FROM audit_events ORDER BY seq")
            rows = conn.execute(query.columns(ts=UTCDateTime())).all()
            prev = GENESIS
            for row in rows:
                event = dict(row._mapping)
                if row.seq == actor_at:
                    event["actor"] = "nobody"
                digest = hmac.new(
                    chain_key, prev.encode() + _canonical(row.seq, event), hashlib.sha256
                ).hexdigest()
                conn.execute(
                    text(
                        "UPDATE audit_events SET actor = :a, prev_hash = :p, hash = :h"
                        " WHERE seq = :s"
                    ),
                    {"a": event["actor"], "p": prev, "h": digest, "s": row.seq},
                )
                prev = digest
            conn.execute(
                text("UPDATE audit_head SET seq = :s, hash = :h"), {"s": rows[-1].seq, "h": prev}
            )


@pytest.fixture
def attacker() -> Iterator[Callable[[str], Attacker]]:
    made: list[Attacker] = []

    def factory(db_url: str) -> Attacker:
        made.append(Attacker(db_url))
        return made[-1]

    yield factory
    for a in made:
        a.close()
