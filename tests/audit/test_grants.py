"""docs/deploy/postgres-grants.sql: the role the API and workers use may append to the audit
log and never edit it, through the partitioned table or through any month's own table."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import ProgrammingError

from tests.fixtures.db import PG_BASE
from tests.fixtures.settings import ROOT, run_recvault
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


def test_the_owner_makes_a_year_of_months_and_the_application_role_says_once_it_cannot(
    database, caplog
) -> None:
    """The application role may not create tables: ``recvault db upgrade`` (the owner) makes
    this month's partition and the next twelve; the checkpoint schedule, running as the
    application role, makes none and says so once per process (before, a warning every
    interval, and no month was ever made past the two the migration made)."""
    import logging
    from types import SimpleNamespace

    from vault.audit import checkpoints
    from vault.audit.partitions import OWNER_AHEAD, month_of, next_month, partition_name

    env = {k: v for k, v in os.environ.items() if not k.startswith("RECVAULT_")}
    env["RECVAULT_DATABASE__URL"] = database
    done = run_recvault(env, "db", "upgrade")
    assert done.returncode == 0, done.stderr
    owner = create_engine(database, isolation_level="AUTOCOMMIT")
    with owner.connect() as conn:
        conn.exec_driver_sql((ROOT / "docs" / "deploy" / "postgres-grants.sql").read_text())
        made = set(
            conn.execute(
                text(
                    "SELECT inhrelid::regclass::text FROM pg_inherits "
                    "WHERE inhparent = 'audit_events'::regclass"
                )
            ).scalars()
        )
    owner.dispose()
    month = month_of(datetime.now(UTC))
    expected = []
    for _ in range(OWNER_AHEAD + 1):
        expected.append(partition_name(month))
        month = next_month(month)
    assert set(expected) <= made

    app = make_engine(database.replace("postgres@", f"{APP_ROLE}@"))
    later = datetime(month.year + 1, month.month, 15, tzinfo=UTC)  # past what the owner made
    ctx = SimpleNamespace(
        engine=app,
        clock=lambda: later,
        signing_key=SimpleNamespace(public_key_b64=lambda: "k"),
    )
    checkpoints._said_not_ours.clear()
    caplog.set_level(logging.INFO, logger="recvault.audit")
    for _ in range(3):
        checkpoints.Checkpoints(ctx)._maintain_partitions()  # type: ignore[arg-type]
    said = [r.getMessage() for r in caplog.records if "audit partitions" in r.getMessage()]
    assert len(said) == 1 and "recvault db upgrade" in said[0], said
    log = AuditLog(app, b"k" * 32, lambda: later)
    log.record(actor=SYSTEM, action="grants.later")  # still appended: the default partition
    assert log.verify().ok
    app.dispose()
