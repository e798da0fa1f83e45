"""The Alembic migrations and the SQLModel tables describe the same schema."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine
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
