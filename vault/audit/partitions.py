"""Audit events partitioned by month on PostgreSQL: upcoming months made ahead, old ones detached.

Migration 0005 turns ``audit_events`` into a table partitioned by range of
``ts``: one partition per calendar month (UTC), ``audit_events_YYYY_MM``, and a
default partition for anything no month covers. The primary key is
``(seq, ts)`` (a partitioned table's keys must hold the partition key); the
chain stays gap-free because appenders take ``seq`` under the ``audit_head``
lock, as before.

- ``ensure_months`` makes the current month and the next ``ahead`` ones.
  ``recvault db upgrade`` runs it as the owner role for ``OWNER_AHEAD`` months;
  the audit checkpoint schedule (API and ``recvault worker``) runs it too, which
  makes tables only where its role may (the application role of a production
  deployment may not, and says so once in its log). When a month was missed
  and its events landed in the default partition, they are moved into the new
  month's partition in the same transaction.
- ``detach_month`` detaches the oldest month (never the current one): its table
  stays, with every row, for its own retention, and ``audit_detached`` records
  its last sequence number and hash, where verification of the chain starts.

SQLite keeps one unpartitioned table; there, nothing here applies.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from vault.context import VaultContext
from vault.domain import Actor, AuditPartition
from vault.errors import Conflict, InvalidInput, NotFound, VaultError

PARENT = "audit_events"
DEFAULT = "audit_events_default"
#: months made ahead of the current one (by whichever role runs the checkpoint schedule)
AHEAD = 2
#: months ``recvault db upgrade`` makes ahead, as the owner role (the application role of
#: a production deployment may not create tables: docs/operations.md, "Audit partitions")
OWNER_AHEAD = 12
_MONTH_NAME = re.compile(r"^audit_events_(\d{4})_(\d{2})$")
_MONTH_ARG = re.compile(r"^(\d{4})-(\d{2})$")
# one maintainer at a time (API processes and workers all run it)
_LOCK = "SELECT pg_advisory_xact_lock(hashtext('recvault/audit-partitions'))"


def month_of(ts: datetime) -> date:
    ts = ts.astimezone(UTC)
    return date(ts.year, ts.month, 1)


def next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def partition_name(month: date) -> str:
    return f"{PARENT}_{month:%Y_%m}"


def _bound(month: date) -> str:
    return f"{month:%Y-%m-%d} 00:00:00+00"


def _at(month: date) -> datetime:
    return datetime(month.year, month.month, 1, tzinfo=UTC)


def parse_month(given: str) -> date:
    """``YYYY-MM`` or a partition's name."""
    match = _MONTH_ARG.fullmatch(given.strip()) or _MONTH_NAME.fullmatch(given.strip())
    if match is None or not 1 <= int(match.group(2)) <= 12:
        raise InvalidInput(f"not a month: {given!r} (write YYYY-MM, e.g. 2026-01)")
    return date(int(match.group(1)), int(match.group(2)), 1)


def is_partitioned(engine: Engine) -> bool:
    if engine.dialect.name != "postgresql":
        return False
    with engine.connect() as conn:
        return bool(
            conn.execute(
                text(
                    "SELECT 1 FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid "
                    "WHERE c.relname = :name AND c.relnamespace = current_schema()::regnamespace"
                ),
                {"name": PARENT},
            ).first()
        )


def _attached(conn: Connection) -> dict[str, str]:
    """Attached partitions: name -> bound expression."""
    rows = conn.execute(
        text(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent "
            "WHERE p.relname = :parent AND p.relnamespace = current_schema()::regnamespace"
        ),
        {"parent": PARENT},
    ).all()
    return {str(name): str(bound) for name, bound in rows}


def create_month(conn: Connection, month: date) -> bool:
    """Make ``month``'s partition if missing (moving its events out of the default)."""
    name = partition_name(month)
    if name in _attached(conn) or _table_exists(conn, name):
        return False
    start, end = _bound(month), _bound(next_month(month))
    where = f"ts >= '{start}' AND ts < '{end}'"
    waiting = conn.execute(text(f"SELECT count(*) FROM {DEFAULT} WHERE {where}")).scalar_one()  # noqa: S608  (names made from dates, never from input)
    if waiting:
        conn.execute(text(f"ALTER TABLE {PARENT} DETACH PARTITION {DEFAULT}"))
    conn.execute(
        text(f"CREATE TABLE {name} PARTITION OF {PARENT} FOR VALUES FROM ('{start}') TO ('{end}')")
    )
    if waiting:
        conn.execute(text(f"INSERT INTO {name} SELECT * FROM {DEFAULT} WHERE {where}"))  # noqa: S608  (names made from dates, never from input)
        conn.execute(text(f"DELETE FROM {DEFAULT} WHERE {where}"))  # noqa: S608  (names made from dates, never from input)
        conn.execute(text(f"ALTER TABLE {PARENT} ATTACH PARTITION {DEFAULT} DEFAULT"))
    return True


def _table_exists(conn: Connection, name: str) -> bool:
    return bool(conn.execute(text("SELECT to_regclass(:name)"), {"name": name}).scalar())


def ensure_months(engine: Engine, now: datetime, ahead: int = AHEAD) -> list[str]:
    """The current month's partition and the next ``ahead``; returns the ones made now."""
    if not is_partitioned(engine):
        return []
    made: list[str] = []
    with engine.begin() as conn:
        conn.execute(text(_LOCK))
        month = month_of(now)
        for _ in range(ahead + 1):
            if create_month(conn, month):
                made.append(partition_name(month))
            month = next_month(month)
    return made


def list_partitions(engine: Engine) -> list[AuditPartition]:
    """Every month (attached or detached) and the default partition, oldest first."""
    if not is_partitioned(engine):
        return []
    found: list[AuditPartition] = []
    with engine.connect() as conn:
        for name, _bound_text in sorted(_attached(conn).items()):
            events, size, first, last = conn.execute(
                text(
                    f"SELECT count(*), pg_total_relation_size('{name}'), min(seq), max(seq) "  # noqa: S608  (names made from dates, never from input)
                    f"FROM {name}"
                )
            ).one()
            month = _MONTH_NAME.fullmatch(name)
            start = parse_month(name) if month else None
            found.append(
                AuditPartition(
                    name=name,
                    start=_at(start) if start else None,
                    end=_at(next_month(start)) if start else None,
                    attached=True,
                    events=int(events),
                    total_bytes=int(size),
                    first_seq=first,
                    last_seq=last,
                )
            )
        detached = conn.execute(
            text(
                "SELECT partition, month, first_seq, last_seq, events, detached_at "
                "FROM audit_detached ORDER BY last_seq"
            )
        ).all()
        for name, _month, first, last, events, detached_at in detached:
            size = conn.execute(
                text("SELECT coalesce(pg_total_relation_size(to_regclass(:n)), 0)"), {"n": name}
            ).scalar_one()
            start = parse_month(name)
            found.append(
                AuditPartition(
                    name=name,
                    start=_at(start),
                    end=_at(next_month(start)),
                    attached=False,
                    events=int(events),
                    total_bytes=int(size),
                    first_seq=first,
                    last_seq=last,
                    detached_at=detached_at.astimezone(UTC) if detached_at else None,
                )
            )
    return sorted(
        found, key=lambda p: (p.start is None, p.start or datetime.max.replace(tzinfo=UTC))
    )


def detach_month(engine: Engine, month: date, now: datetime, by: str) -> AuditPartition:
    """Detach the oldest month's partition (before the current month); its table is kept."""
    if not is_partitioned(engine):
        raise InvalidInput("audit partitions exist only on PostgreSQL")
    name = partition_name(month)
    if month >= month_of(now):
        raise InvalidInput(f"{name} is the current or a future month; only past months detach")
    with engine.begin() as conn:
        conn.execute(text(_LOCK))
        attached = _attached(conn)
        if name not in attached:
            raise NotFound(f"no attached audit partition {name}")
        months = sorted(n for n in attached if _MONTH_NAME.fullmatch(n))
        if months[0] != name:
            raise Conflict(
                f"detach the oldest month first ({months[0]}): the chain must stay whole"
            )
        events, first, last = conn.execute(
            text(f"SELECT count(*), min(seq), max(seq) FROM {name}")  # noqa: S608  (names made from dates, never from input)
        ).one()
        last_hash = ""
        if last is not None:
            last_hash = conn.execute(
                text(f"SELECT hash FROM {name} WHERE seq = :seq"),  # noqa: S608  (date-made name)
                {"seq": last},
            ).scalar_one()
        conn.execute(text(f"ALTER TABLE {PARENT} DETACH PARTITION {name}"))
        if last is not None:
            earlier = conn.execute(
                text(f"SELECT count(*) FROM {PARENT} WHERE seq <= :seq"),  # noqa: S608
                {"seq": last},
            ).scalar_one()
            if earlier:
                raise Conflict(
                    f"{earlier} events still attached come before the end of {name} "
                    "(in the default partition or a later month); not detached"
                )
        if last is None:
            # an empty month: nothing of the chain leaves; keep the boundary where it was
            previous = conn.execute(
                text(
                    "SELECT last_seq, last_hash FROM audit_detached ORDER BY last_seq DESC LIMIT 1"
                )
            ).first()
            first = last = int(previous[0]) if previous else 0
            last_hash = str(previous[1]) if previous else "0" * 64
        conn.execute(
            text(
                "INSERT INTO audit_detached (partition, month, first_seq, last_seq, last_hash, "
                "events, detached_at, detached_by) VALUES (:p, :m, :f, :l, :h, :e, :at, :by)"
            ),
            {
                "p": name,
                "m": _at(month),
                "f": first,
                "l": last,
                "h": last_hash,
                "e": int(events),
                "at": now,
                "by": by[:200],
            },
        )
        size = conn.execute(text(f"SELECT pg_total_relation_size('{name}')")).scalar_one()
    return AuditPartition(
        name=name,
        start=_at(month),
        end=_at(next_month(month)),
        attached=False,
        events=int(events),
        total_bytes=int(size),
        first_seq=first,
        last_seq=last,
        detached_at=now,
    )


class AuditPartitions:
    """The operations behind ``recvault audit partitions``: list, detach, keep months ahead."""

    def __init__(self, ctx: VaultContext) -> None:
        self.ctx = ctx

    def list_all(self, actor: Actor) -> list[AuditPartition]:
        found = list_partitions(self.ctx.engine)
        self.ctx.audit.record(actor=actor, action="audit.partitions", outcome=f"ok:{len(found)}")
        return found

    def detach(self, month: str, actor: Actor) -> AuditPartition:
        try:
            detached = detach_month(
                self.ctx.engine, parse_month(month), self.ctx.clock(), actor.name
            )
        except VaultError as exc:
            self.ctx.audit.record(
                actor=actor,
                action="audit.partition.detach",
                target=str(month)[:64],
                outcome=f"refused:{exc.code}",
            )
            raise
        # the boundary goes into the chain too: a forged audit_detached row shows against it
        self.ctx.audit.record(
            actor=actor,
            action="audit.partition.detach",
            target=f"{detached.name} seq:{detached.first_seq}-{detached.last_seq}",
        )
        return detached

    def maintain(self) -> list[str]:
        """Make the current and the next months' partitions (storage upkeep: logged by the
        caller, not an access to audit; a checkpoint after it would otherwise never be idle)."""
        return ensure_months(self.ctx.engine, self.ctx.clock())
