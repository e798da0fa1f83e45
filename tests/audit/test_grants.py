"""docs/deploy/postgres-grants.sql: the role the API and workers use may append to the audit
log and never edit it, through the partitioned table or through any month's own table."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import ProgrammingError

from tests.fixtures.db import PG_BASE
from tests.fixtures.settings import ROOT
from vault.audit.chain import AuditLog
from vault.domain import SYSTEM
from vault.metadata import make_engine
from vault.metadata.migrate import upgrade

pytestmark = pytest.mark.postgres
APP_ROLE = "recvault_app"  # the name the grants file uses (docs/deploy/postgres-init.sh)


@pytest.fixture
def database(pg_available) -> Iterator[str]:
    """A database of its own (the grants file names schema public), migrated by its owner."""
    name = "grants_" + uuid.uuid4().hex[:12]
    admin = create_engine(PG_BASE, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
        exists = conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": APP_ROLE})
        if not exists.first():
            conn.execute(text(f"CREATE ROLE {APP_ROLE} LOGIN"))
    url = PG_BASE.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE {name} WITH (FORCE)"))
        admin.dispose()


def test_the_application_role_only_appends_to_every_month(database) -> None:
    upgrade(database)
    owner = create_engine(database, isolation_level="AUTOCOMMIT")
    grants = (ROOT / "docs" / "deploy" / "postgres-grants.sql").read_text()
    with owner.connect() as conn:
        conn.exec_driver_sql(grants)
        months = conn.execute(
            text(
                "SELECT inhrelid::regclass::text FROM pg_inherits "
                "WHERE inhparent = 'audit_events'::regclass"
            )
        ).scalars()
        months = list(months)
    owner.dispose()
    assert "audit_events_default" in months and len(months) >= 2

    app_url = database.replace("postgres@", f"{APP_ROLE}@")
    app = make_engine(app_url)
    log = AuditLog(app, b"k" * 32, lambda: datetime.now(UTC))
    log.record(actor=SYSTEM, action="grants.check")  # appending works, through the parent
    assert log.verify().ok
    for table in ["audit_events", *months]:
        for statement in (f"UPDATE {table} SET action = 'x'", f"DELETE FROM {table}"):
            with app.connect() as conn, pytest.raises(ProgrammingError, match="permission"):
                conn.execute(text(statement))
    app.dispose()
