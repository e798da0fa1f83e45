"""Audit events partitioned by month on PostgreSQL (migration 0005, vault/audit/partitions.py).

The checkpoint schedule makes upcoming months; a month missed is moved out of the
default partition; the oldest past month detaches (its table and rows kept) and
the chain still verifies from the recorded boundary. SQLite has no partitions.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from tests.audit.conftest import fill
from vault.errors import Conflict, InvalidInput

postgres = pytest.mark.postgres


def names(vault) -> dict[str, int]:
    return {p.name: p.events for p in vault.audit_partitions() if p.attached}


def count(vault, table: str) -> int:
    with vault._ctx.engine.connect() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


@postgres
def test_the_table_is_partitioned_by_month_with_a_default(make_vault, pg_url) -> None:
    vault = make_vault(pg_url)
    with vault._ctx.engine.connect() as conn:
        key = conn.execute(
            text(
                "SELECT pg_get_partkeydef(to_regclass('audit_events')), "
                "(SELECT pg_get_constraintdef(oid) FROM pg_constraint "
                " WHERE conrelid = to_regclass('audit_events') AND contype = 'p')"
            )
        ).one()
    assert key == ("RANGE (ts)", "PRIMARY KEY (seq, ts)")
    assert "audit_events_default" in names(vault)


@postgres
def test_checkpoints_make_the_coming_months_and_move_a_missed_one(make_vault, pg_url, clock):
    vault = make_vault(pg_url)  # the clock says 2026-01: no partition for it yet
    fill(vault, clock, 5)
    assert count(vault, "audit_events_default") >= 5
    vault.audit_checkpoint()
    made = names(vault)
    assert {"audit_events_2026_01", "audit_events_2026_02", "audit_events_2026_03"} <= set(made)
    assert made["audit_events_default"] == 0  # the month's events moved into its partition
    assert made["audit_events_2026_01"] >= 5
    clock.advance(days=31)
    fill(vault, clock, 3)
    assert names(vault)["audit_events_2026_02"] >= 3
    assert vault.verify_audit().ok
    assert len(list(vault.audit_events(action="record.create"))) == 6


@postgres
def test_detaching_the_oldest_month_keeps_its_rows_and_the_chain(make_vault, pg_url, clock):
    vault = make_vault(pg_url)
    vault.audit_checkpoint()  # 2026-01..03
    first_month_head = fill(vault, clock, 4)
    clock.now = datetime(2026, 2, 10, tzinfo=UTC)
    fill(vault, clock, 4)
    clock.now = datetime(2026, 3, 10, tzinfo=UTC)
    vault.audit_checkpoint()
    january = count(vault, "audit_events_2026_01")

    with pytest.raises(Conflict, match="oldest"):
        vault.detach_audit_partition("2026-02")
    with pytest.raises(InvalidInput, match="current or a future"):
        vault.detach_audit_partition("2026-03")
    with pytest.raises(InvalidInput, match="not a month"):
        vault.detach_audit_partition("january")

    detached = vault.detach_audit_partition("2026-01")
    assert not detached.attached and detached.last_seq == first_month_head
    assert detached.events == january
    assert count(vault, "audit_events_2026_01") == january  # kept, outside the chain's table
    assert "audit_events_2026_01" not in names(vault)
    listed = {p.name: p for p in vault.audit_partitions()}
    assert not listed["audit_events_2026_01"].attached

    verdict = vault.verify_audit()
    assert verdict.ok and verdict.events >= first_month_head
    assert vault.audit_checkpoint() is not None  # checkpoints go on from the boundary
    events = list(vault.audit_events(action="audit.partition.detach"))
    assert any(e.target.startswith("audit_events_2026_01 seq:") for e in events)
    assert any(e.outcome.startswith("refused:") for e in events)
    # a queried event of the detached month is no longer in the table: queries start later
    assert all(e.seq > first_month_head for e in vault.audit_events())


@postgres
def test_tampering_after_a_detach_is_still_found(make_vault, pg_url, clock):
    vault = make_vault(pg_url)
    vault.audit_checkpoint()
    fill(vault, clock, 3)
    clock.now = datetime(2026, 2, 10, tzinfo=UTC)
    target = fill(vault, clock, 3)
    vault.detach_audit_partition("2026-01")
    with vault._ctx.engine.begin() as conn:
        conn.execute(
            text("UPDATE audit_events SET actor = 'someone-else' WHERE seq = :s"), {"s": target}
        )
    verdict = vault.verify_audit()
    assert not verdict.ok and verdict.first_broken_seq == target


def test_sqlite_has_no_partitions(make_vault, sqlite_url) -> None:
    vault = make_vault(sqlite_url)
    assert vault.audit_partitions() == []
    with pytest.raises(InvalidInput, match="only on PostgreSQL"):
        vault.detach_audit_partition("2020-01")
    assert vault.verify_audit().ok
