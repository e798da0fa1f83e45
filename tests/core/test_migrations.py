"""The Alembic migrations and the SQLModel tables describe the same schema."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text
from sqlmodel import SQLModel

import vault.metadata.tables  # noqa: F401
from vault.metadata.migrate import downgrade, include_name, upgrade


def _diff(url: str) -> list:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"compare_type": True, "include_name": include_name}
            )
            return compare_metadata(context, SQLModel.metadata)
    finally:
        engine.dispose()


def test_models_and_migrations_agree(db_url):
    upgrade(db_url)
    assert _diff(db_url) == []


def test_upgrade_is_idempotent_and_reversible(db_url):
    upgrade(db_url)
    upgrade(db_url)
    downgrade(db_url, "base")
    upgrade(db_url)
    assert _diff(db_url) == []


def test_drift_is_detected(db_url):
    from sqlalchemy import Column, Integer, MetaData, Table

    upgrade(db_url)
    extra = MetaData()
    for table in SQLModel.metadata.tables.values():
        table.to_metadata(extra)
    Table("not_migrated", extra, Column("id", Integer, primary_key=True))
    engine = create_engine(db_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), extra)
    engine.dispose()
    assert any(d[0] == "add_table" and d[1].name == "not_migrated" for d in diff)


@pytest.mark.postgres
def test_partitioning_keeps_every_audit_event(pg_url):
    """0005 on a DB with history: a partition per month since the oldest event, rows kept."""
    upgrade(pg_url, "0003")
    engine = create_engine(pg_url)
    columns = "seq, ts, actor, role, action, target, subject_id, region, purpose, outcome"
    with engine.begin() as conn:
        for seq, ts in enumerate(["2024-11-30 23:59:59+00", "2024-12-01 00:00:00+00"], 1):
            conn.execute(
                text(
                    f"INSERT INTO audit_events ({columns}, prev_hash, hash) VALUES "
                    f"({seq}, '{ts}', 'a', 'r', 'x.y', 't', '', 'JP', '', 'ok', 'p', 'h')"
                )
            )
    upgrade(pg_url)
    with engine.connect() as conn:
        november = conn.execute(text("SELECT seq FROM audit_events_2024_11")).scalars().all()
        december = conn.execute(text("SELECT seq FROM audit_events_2024_12")).scalars().all()
        default = conn.execute(text("SELECT count(*) FROM audit_events_default")).scalar_one()
    assert (november, december, default) == ([1], [2], 0)
    downgrade(pg_url, "0003")
    with engine.connect() as conn:
        seqs = conn.execute(text("SELECT seq FROM audit_events ORDER BY seq")).scalars().all()
    engine.dispose()
    assert seqs == [1, 2]
