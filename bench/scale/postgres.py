"""Bytes per subject, record, version and audit event in PostgreSQL, measured on 1M rows each.

Makes a scratch database, migrates it (audit events partitioned by month),
writes one subject with a record of two versions through recvault itself (local
keys and store) to learn each column's real width, then seeds ``--rows`` rows of
each table with ``generate_series`` in one statement per table (values of the
same widths, hex so that nothing compresses; wrapped DEKs and key names sized
as Transit makes them: 89 and 76 characters). After VACUUM ANALYZE it prints
``pg_total_relation_size`` (heap + TOAST + every index) per row, split into
heap and indexes; audit events spread over 12 monthly partitions. Secondary
indexes are built after the rows (sorted builds are denser than indexes grown
by random inserts: docs/scale.md gives both, measured on subjects and records).

    python -m bench.scale.postgres --rows 1000000
"""

from __future__ import annotations

import argparse
import secrets
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import create_engine, text

from vault.audit.partitions import create_month, next_month
from vault.metadata.migrate import upgrade
from vault.service import RecordVault
from vault.settings import Settings

ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
DB = "recvault_scale"
TRANSIT_WRAPPED = 89  # "vault:v1:" + base64 of a 60-byte ciphertext
SHARDED_KEY_NAME = 76  # "subj-" + 64 hex + "." + 6 hex (ADR 0012)


def hexes(i: str, width: int, salt: str) -> str:
    """SQL for ``width`` hex characters derived from ``i`` (incompressible enough)."""
    parts = (width + 31) // 32
    joined = " || ".join(f"md5({i}::text || '{salt}{n}')" for n in range(parts))
    return f"substr({joined}, 1, {width})"


def sample(url: str, home: Path) -> dict[str, int]:
    """Real widths from one subject and a record of two versions written by recvault."""
    regions = {
        "JP": {
            "location": "ap-northeast-1",
            "store": {"kind": "local", "path": str(home / "jp")},
            "keys": {"kind": "local", "path": str(home / "keys-jp.db")},
        }
    }
    settings = Settings.load(
        None,
        database={"url": url},
        regions=regions,
        name_secret=secrets.token_hex(32),
        signing_key=secrets.token_hex(32),
        master_key=secrets.token_hex(32),
    )
    vault = RecordVault.from_settings(settings)
    try:
        subject = vault.create_subject("sample-patient", "JP")
        record = vault.put_record(subject.id, "xray", b"x" * 1000)
        vault.update_record(record.id, b"y" * 1000)
    finally:
        vault.close()
    engine = create_engine(url)
    with engine.connect() as conn:
        widths = conn.execute(
            text(
                "SELECT octet_length(header), length(object_key), length(etag), "
                "length(content_type) FROM record_versions LIMIT 1"
            )
        ).one()
        audit = conn.execute(
            text(
                "SELECT avg(length(actor)), avg(length(action)), avg(length(target)), "
                "avg(length(purpose)), avg(length(outcome)) FROM audit_events"
            )
        ).one()
    engine.dispose()
    return {
        "header": int(widths[0]),
        "object_key": int(widths[1]),
        "etag": int(widths[2]),
        "content_type": int(widths[3]),
        "actor": round(audit[0]),
        "action": round(audit[1]),
        "target": round(audit[2]),
        "purpose": round(audit[3]),
        "outcome": round(audit[4]),
    }


def seed(url: str, rows: int, w: dict[str, int], tables: list[str]) -> dict[str, float]:
    engine = create_engine(url)
    took: dict[str, float] = {}
    with engine.begin() as conn:  # a scratch DB: tables may be seeded alone (FKs cost no bytes)
        for table, constraint in conn.execute(
            text(
                "SELECT conrelid::regclass::text, conname FROM pg_constraint "
                "WHERE contype = 'f' AND connamespace = current_schema()::regnamespace"
            )
        ).all():
            conn.execute(text(f"ALTER TABLE {table} DROP CONSTRAINT {constraint}"))
    statements = {
        "subjects": f"""
            INSERT INTO subjects (id, ref_hmac, ref_base, region, key_name, state, restricted,
                                  min_key_version, created_at, destroyed_at)
            SELECT {hexes("i", 32, "s")}, {hexes("i", 64, "r")}, {hexes("i", 64, "b")},
                   CASE WHEN i % 2 = 0 THEN 'JP' ELSE 'PH' END,
                   'subj-' || {hexes("i", SHARDED_KEY_NAME - 5, "k")}, 'active', false, 0,
                   now() - (i || ' seconds')::interval, NULL
            FROM generate_series(1, {rows}) i""",
        "records": f"""
            INSERT INTO records (id, subject_id, category, state, current_version, created_at,
                                 last_processed_at, retain_until, erased_at)
            SELECT {hexes("i", 32, "c")}, {hexes("i", 32, "s")}, 'xray', 'active', 1,
                   now() - (i || ' seconds')::interval, now() - (i || ' seconds')::interval,
                   now() + '10 years'::interval - (i || ' seconds')::interval, NULL
            FROM generate_series(1, {rows}) i""",
        "record_versions": f"""
            INSERT INTO record_versions (record_id, version, state, object_key, size, header,
                wrapped_dek, key_name, key_version, content_type, etag, created_at,
                committed_at, lock_until)
            SELECT {hexes("i", 32, "c")}, 1, 'committed', {hexes("i", w["object_key"], "o")},
                   1048576, decode({hexes("i", 2 * w["header"], "h")}, 'hex'),
                   'vault:v1:' || {hexes("i", TRANSIT_WRAPPED - 9, "w")},
                   'subj-' || {hexes("i", SHARDED_KEY_NAME - 5, "k")}, 1,
                   'application/octet-stream', {hexes("i", w["etag"], "e")},
                   now() - (i || ' seconds')::interval, now() - (i || ' seconds')::interval,
                   now() + '10 years'::interval
            FROM generate_series(1, {rows}) i""",
        "audit_events": f"""
            INSERT INTO audit_events (seq, ts, actor, role, action, target, subject_id, region,
                purpose, outcome, prev_hash, hash, request_id)
            SELECT 1000 + i, date_trunc('month', now()) - (({rows} - i) * 31536000.0 / {rows}
                   || ' seconds')::interval,
                   'svc-' || {hexes("i", max(1, w["actor"] - 4), "a")}, 'service', 'record.read',
                   {hexes("i", 32, "t")}, {hexes("i", 32, "s")}, 'JP',
                   {hexes("i", max(1, w["purpose"]), "p")}, 'ok', {hexes("i", 64, "ph")},
                   {hexes("i", 64, "hh")}, {hexes("i", 32, "q")}
            FROM generate_series(1, {rows}) i""",
    }
    for table, statement in statements.items():
        if table not in tables:
            continue
        started = time.perf_counter()
        with engine.begin() as conn:
            conn.execute(text("SET LOCAL synchronous_commit = off"))
            conn.execute(text("SET LOCAL maintenance_work_mem = '256MB'"))
            # Secondary indexes are dropped and built again after the rows (sorted builds:
            # minutes instead of an hour of random index inserts on this shared machine);
            # docs/scale.md corrects their size to that of indexes grown insert by insert.
            secondary = conn.execute(
                text(
                    "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = :t "
                    "AND schemaname = current_schema() AND indexname NOT IN "
                    "(SELECT conname FROM pg_constraint WHERE conrelid = to_regclass(:t))"
                ),
                {"t": table},
            ).all()
            for name, _ in secondary:
                conn.execute(text(f"DROP INDEX {name}"))
            conn.execute(text(statement))
            for _, definition in secondary:
                conn.execute(text(definition.replace(" ON ONLY ", " ON ")))
        took[table] = time.perf_counter() - started
        print(f"seeded {rows} {table} in {took[table]:.0f} s", flush=True)
    engine.dispose()
    return took


def sizes(url: str) -> dict[str, tuple[int, int, int, int]]:
    """table -> (rows, total bytes, heap+toast bytes, index bytes); partitions summed."""
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    found: dict[str, tuple[int, int, int, int]] = {}
    with engine.connect() as conn:
        conn.execute(text("VACUUM ANALYZE"))
        for table in ("subjects", "records", "record_versions", "audit_events"):
            rows = conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
            total, indexes = conn.execute(
                text(
                    "SELECT sum(pg_total_relation_size(relid)), sum(pg_indexes_size(relid)) "
                    "FROM pg_partition_tree(CAST(:t AS regclass)) WHERE isleaf"
                ),
                {"t": table},
            ).one()
            if total is None:  # not partitioned: the table itself
                total, indexes = conn.execute(
                    text(
                        "SELECT pg_total_relation_size(CAST(:t AS regclass)), "
                        "pg_indexes_size(CAST(:t AS regclass))"
                    ),
                    {"t": table},
                ).one()
            found[table] = (int(rows), int(total), int(total) - int(indexes), int(indexes))
    engine.dispose()
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--tables", default="subjects,records,record_versions,audit_events")
    args = parser.parse_args(argv)
    admin = create_engine(ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {DB}"))
        conn.execute(text(f"CREATE DATABASE {DB}"))
        version = conn.execute(text("SHOW server_version")).scalar_one()
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{DB}"
    try:
        upgrade(url)
        with tempfile.TemporaryDirectory() as home:
            widths = sample(url, Path(home))
        print(f"PostgreSQL {version}; widths from a real record: {widths}")
        engine = create_engine(url)
        with engine.begin() as conn:  # twelve past months for the seeded audit events
            today = datetime.now(UTC)
            month = date(today.year - 1, today.month, 1)
            for _ in range(13):
                create_month(conn, month)
                month = next_month(month)
        engine.dispose()
        seed(url, args.rows, widths, args.tables.split(","))
        print(f"{'table':<16} {'rows':>10} {'total MiB':>10} {'B/row':>7} {'heap':>6} {'index':>6}")
        for table, (rows, total, heap, index) in sizes(url).items():
            if table not in args.tables.split(","):
                continue
            print(
                f"{table:<16} {rows:>10} {total / 2**20:>10.1f} {total / rows:>7.0f} "
                f"{heap / rows:>6.0f} {index / rows:>6.0f}"
            )
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)"))
        admin.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
