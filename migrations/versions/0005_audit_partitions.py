"""audit events partitioned by month on PostgreSQL; audit_detached records detached months

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 14:00:00

On PostgreSQL, ``audit_events`` becomes a table partitioned by range of ``ts``
(one partition per UTC month, ``audit_events_YYYY_MM``, plus
``audit_events_default``), with primary key ``(seq, ts)``: a partitioned
table's unique keys must hold the partition key. Every other index of the old
table (whatever earlier migrations made) is made again on the new one. Months
from the oldest event to two months ahead are created, then the rows are
copied. SQLite keeps its one table; both get ``audit_detached``.
"""
from datetime import UTC, date, datetime
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision: str = '0005'
down_revision: Union[str, None] = '0004'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

AHEAD = 2


def _next(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def _indexes(bind, table: str) -> list[tuple[str, str]]:
    rows = bind.execute(
        sa.text(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i "
            "WHERE i.tablename = :t AND i.schemaname = current_schema() "
            "AND i.indexname NOT IN (SELECT conname FROM pg_constraint "
            "WHERE conrelid = to_regclass(:t) AND contype = 'p')"
        ),
        {"t": table},
    ).all()
    return [(str(name), str(definition)) for name, definition in rows]


def _primary_key(bind, table: str) -> str:
    return str(
        bind.execute(
            sa.text("SELECT conname FROM pg_constraint WHERE conrelid = to_regclass(:t) AND contype = 'p'"),
            {"t": table},
        ).scalar_one()
    )


def upgrade() -> None:
    op.create_table(
        'audit_detached',
        sa.Column('partition', sqlmodel.sql.sqltypes.AutoString(length=63), nullable=False),
        sa.Column('month', sa.DateTime(timezone=True), nullable=False),
        sa.Column('first_seq', sa.BigInteger(), nullable=False),
        sa.Column('last_seq', sa.BigInteger(), nullable=False),
        sa.Column('last_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('events', sa.BigInteger(), nullable=False),
        sa.Column('detached_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('detached_by', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.PrimaryKeyConstraint('partition'),
    )
    with op.batch_alter_table('audit_detached', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_detached_last_seq'), ['last_seq'], unique=False)

    bind = op.get_bind()
    if bind.dialect.name != 'postgresql':
        return
    indexes = _indexes(bind, 'audit_events')
    pkey = _primary_key(bind, 'audit_events')
    op.execute("ALTER TABLE audit_events RENAME TO audit_events_unpartitioned")
    op.execute(f"ALTER TABLE audit_events_unpartitioned RENAME CONSTRAINT {pkey} TO {pkey}_unpartitioned")
    for name, _ in indexes:
        op.execute(f"ALTER INDEX {name} RENAME TO {name}_unpartitioned")
    op.execute(
        "CREATE TABLE audit_events (LIKE audit_events_unpartitioned INCLUDING DEFAULTS) "
        "PARTITION BY RANGE (ts)"
    )
    op.execute(f"ALTER TABLE audit_events ADD CONSTRAINT {pkey} PRIMARY KEY (seq, ts)")
    for _, definition in indexes:
        # pg_indexes gave "CREATE INDEX name ON schema.audit_events USING ...": the new table now
        op.execute(definition.replace(" ON ONLY ", " ON "))
    op.execute("CREATE TABLE audit_events_default PARTITION OF audit_events DEFAULT")
    oldest = bind.execute(sa.text("SELECT min(ts) FROM audit_events_unpartitioned")).scalar()
    now = datetime.now(UTC)
    month = date((oldest or now).astimezone(UTC).year, (oldest or now).astimezone(UTC).month, 1)
    last = date(now.year, now.month, 1)
    for _ in range(AHEAD):
        last = _next(last)
    while month <= last:
        end = _next(month)
        op.execute(
            f"CREATE TABLE audit_events_{month:%Y_%m} PARTITION OF audit_events "
            f"FOR VALUES FROM ('{month:%Y-%m-%d} 00:00:00+00') TO ('{end:%Y-%m-%d} 00:00:00+00')"
        )
        month = end
    op.execute("INSERT INTO audit_events SELECT * FROM audit_events_unpartitioned")
    op.execute("DROP TABLE audit_events_unpartitioned")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == 'postgresql':
        indexes = _indexes(bind, 'audit_events')
        pkey = _primary_key(bind, 'audit_events')
        op.execute("ALTER TABLE audit_events RENAME TO audit_events_partitioned")
        op.execute(f"ALTER TABLE audit_events_partitioned RENAME CONSTRAINT {pkey} TO {pkey}_partitioned")
        for name, _ in indexes:
            op.execute(f"ALTER INDEX {name} RENAME TO {name}_partitioned")
        op.execute("CREATE TABLE audit_events (LIKE audit_events_partitioned INCLUDING DEFAULTS)")
        op.execute(f"ALTER TABLE audit_events ADD CONSTRAINT {pkey} PRIMARY KEY (seq)")
        for _, definition in indexes:
            op.execute(definition.replace(" ON ONLY ", " ON "))
        # attached months only: detached ones stay the standalone tables they became
        op.execute("INSERT INTO audit_events SELECT * FROM audit_events_partitioned")
        op.execute("DROP TABLE audit_events_partitioned CASCADE")
    with op.batch_alter_table('audit_detached', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_detached_last_seq'))
    op.drop_table('audit_detached')
