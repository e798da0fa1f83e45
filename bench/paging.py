"""Paging benchmark: the first and a deep page of two big lists over HTTP, on PostgreSQL.

Run ``python -m bench paging`` (or ``python -m bench.paging``; ``--help`` for sizes).

A fresh schema in the PostgreSQL of ``RECVAULT_TEST_PG`` (default: the test
database at 127.0.0.1:5432) gets one subject with ``--records`` records (10,000)
and an audit log of ``--events`` events (1,000,000), inserted straight into the
tables by ``INSERT ... SELECT generate_series`` (no API, no sealing: a list
reads rows only); the audit head is moved past them so the API's own events
chain on. The API (``recvault serve`` in its own process, on a loopback
port) then answers, each timed ``--repeats`` times over HTTP with a keep-alive client:

- records of the subject: the first page, and a page 9,900 rows deep;
- the audit query: the first page, a page ~1,000,000 events deep, and the same
  deep page filtered by actor (``actor=``: the ``(actor, seq)`` index).

Pages hold 100 items (the default limit). Deep cursors are minted with the
server's own cursor key, as a client following ``next`` would hold them.
Target: each page <= 50 ms (median) over HTTP.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

from tests.fixtures.settings import serve, server_env
from vault import RecordVault, Settings
from vault.domain import Actor, Role
from vault.metadata.migrate import upgrade
from vault.paging import scope

TARGET_MS = 50.0
PG_BASE = os.environ.get("RECVAULT_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
READER = "bench-reader"


@dataclass(frozen=True)
class Figure:
    name: str
    median_ms: float
    p95_ms: float
    items: int
    #: the same page through ``RecordVault`` in this process (no HTTP), median
    library_ms: float = 0.0


def library_ms(call: Callable[[], object], repeats: int) -> float:
    for _ in range(3):
        call()
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def settings_for(db_url: str, workdir: Path, keys: dict[str, str]) -> Settings:
    regions = {
        name: {
            "location": location,
            "store": {"kind": "local", "path": str(workdir / "objects" / name.lower())},
            "keys": {"kind": "local", "path": str(workdir / f"keys-{name}.db")},
        }
        for name, location in (("JP", "ap-northeast-1"), ("PH", "ap-southeast-1"))
    }
    return Settings.load(
        None,
        database={"url": db_url},
        regions=regions,
        **keys,
    )


def write_config(db_url: str, workdir: Path) -> Path:
    """The same deployment as ``settings_for``, as a TOML file for ``recvault serve``."""
    lines = [f'[database]\nurl = "{db_url}"\n']
    for name, location in (("JP", "ap-northeast-1"), ("PH", "ap-southeast-1")):
        lines.append(
            f'[regions.{name}]\nlocation = "{location}"\n'
            f'[regions.{name}.store]\nkind = "local"\n'
            f'path = "{workdir / "objects" / name.lower()}"\n'
            f'[regions.{name}.keys]\nkind = "local"\npath = "{workdir / f"keys-{name}.db"}"\n'
        )
    path = workdir / "recvault.toml"
    path.write_text("\n".join(lines))
    return path


def seed(vault: RecordVault, db_url: str, records: int, events: int) -> tuple[str, float]:
    """One subject with ``records`` records, and ``events`` audit events; (subject, seconds)."""
    subject = vault.create_subject("bench-paging-subject", "JP", actor="bench")
    started = time.perf_counter()
    engine = create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(
            text(
                """
                INSERT INTO records (id, subject_id, category, state, current_version,
                    created_at, last_processed_at, retain_until)
                SELECT md5('r' || g), :subject, 'photo', 'active', 1,
                    now() + g * interval '1 ms', now(), now() + interval '10 years'
                FROM generate_series(1, :n) g
                """
            ),
            {"subject": subject.id, "n": records},
        )
        conn.execute(
            text(
                """
                INSERT INTO record_versions (record_id, version, state, object_key, size,
                    wrapped_dek, key_name, key_version, content_type, etag, created_at,
                    committed_at)
                SELECT md5('r' || g), 1, 'committed',
                    'JP/' || substr(md5('r' || g), 1, 2) || '/' || md5('o' || g), 1024,
                    'vault:v1:bench', :key, 1, 'image/png', md5('e' || g),
                    now() + g * interval '1 ms', now()
                FROM generate_series(1, :n) g
                """
            ),
            {"key": subject.key_name, "n": records},
        )
        top = conn.execute(text("SELECT seq FROM audit_head")).scalar_one()
        # a bulk load builds each secondary index once, after the rows are in
        indexes = conn.execute(
            text(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'audit_events'"
                " AND schemaname = current_schema() AND indexname <> 'audit_events_pkey'"
            )
        ).all()
        for name, _ in indexes:
            conn.execute(text(f'DROP INDEX "{name}"'))
        conn.execute(text("SET LOCAL maintenance_work_mem = '256MB'"))
        conn.execute(
            text(
                """
                INSERT INTO audit_events (seq, ts, actor, role, action, target, subject_id,
                    region, purpose, outcome, prev_hash, hash, request_id)
                SELECT :top + g, now() - interval '1 day' + g * interval '1 ms',
                    'svc-' || (g % 50), 'service', 'record.read', 'r' || (g % 10000),
                    :subject, CASE WHEN g % 2 = 0 THEN 'JP' ELSE 'PH' END, 'treatment', 'ok',
                    lpad(to_hex(g - 1), 64, '0'), lpad(to_hex(g), 64, '0'), ''
                FROM generate_series(1, :n) g
                """
            ),
            {"top": top, "subject": subject.id, "n": events},
        )
        for _, definition in indexes:
            conn.execute(text(definition))
        # the API's own events chain on after the seeded ones (the seeded hashes do not
        # verify: this log is for reading, not for a chain check)
        conn.execute(
            text(
                "UPDATE audit_head SET seq = :seq, hash = lpad(to_hex(CAST(:n AS bigint)), 64, '0')"
            ),
            {"seq": top + events, "n": events},
        )
        conn.execute(text("ANALYZE records; ANALYZE record_versions; ANALYZE audit_events"))
    engine.dispose()
    return subject.id, time.perf_counter() - started


def timed(client: httpx.Client, path: str, params: dict[str, object], repeats: int) -> Figure:
    for _ in range(3):  # warm the connection, the plan cache and the pages
        assert client.get(path, params=params).status_code == 200
    samples, items = [], 0
    for _ in range(repeats):
        started = time.perf_counter()
        response = client.get(path, params=params)
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.text
        items = len(response.json()["items"])
    samples.sort()
    p95 = samples[min(len(samples) - 1, int(len(samples) * 0.95))]
    return Figure(path, statistics.median(samples), p95, items)


def settle(base: str, within: float = 300.0) -> None:
    """Wait for the server's first audit checkpoint attempt (it reads the whole chain)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        state = httpx.get(f"{base}/readyz", timeout=10).json().get("audit_checkpoint")
        if state not in (None, "pending"):
            print(f"server's first audit checkpoint attempt: {state}")
            return
        time.sleep(0.5)
    raise RuntimeError("the server's first audit checkpoint attempt did not end")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args(argv)

    schema = "bench_paging_" + uuid.uuid4().hex[:12]
    admin = create_engine(PG_BASE, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    db_url = f"{PG_BASE}?options=-csearch_path%3D{schema}"
    workdir = Path(tempfile.mkdtemp(prefix="recvault-bench-paging-"))
    vault = None
    try:
        keys = {n: secrets.token_hex(32) for n in ("name_secret", "signing_key", "master_key")}
        settings = settings_for(db_url, workdir, keys)
        upgrade(db_url)
        vault = RecordVault.from_settings(settings)
        subject_id, seed_s = seed(vault, db_url, args.records, args.events)
        print(f"seeded {args.records} records and {args.events} audit events in {seed_s:.1f} s")
        reader = Actor(READER, frozenset({Role.SERVICE, Role.COMPLIANCE}))
        _, token = vault.principals.add(READER, ["service", "compliance"], None, reader)
        cursors = vault._ctx.cursors
        records = f"/v1/subjects/{subject_id}/records"
        with vault._ctx.engine.connect() as conn:
            deep_row = conn.execute(
                text(
                    "SELECT created_at, id FROM records WHERE subject_id = :s"
                    " ORDER BY created_at, id OFFSET :n LIMIT 1"
                ),
                {"s": subject_id, "n": max(0, args.records - 101)},
            ).one()
            top = conn.execute(text("SELECT max(seq) FROM audit_events")).scalar_one()
        deep_records = cursors.encode(scope("records", READER, subject_id=subject_id), deep_row)
        audit_scope = scope("audit", READER, after_seq=0)
        deep_audit = cursors.encode(audit_scope, (top - 150,))
        actor_scope = scope("audit", READER, principal="svc-7", after_seq=0)
        deep_actor = cursors.encode(actor_scope, (top - 5000,))
        # the API in its own process (`recvault serve`), as deployed: the client's CPU
        # and the server's are not one interpreter's
        env = server_env(
            write_config(db_url, workdir), {f"RECVAULT_{k.upper()}": v for k, v in keys.items()}
        )
        server, base = serve(workdir, env)
        figures = []
        try:
            settle(base)
            headers = {"Authorization": f"Bearer {token}"}
            with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
                v = vault
                plan: list[tuple[str, str, dict[str, object], Callable[[], object]]] = [
                    (
                        "records, first page",
                        records,
                        {},
                        lambda: v.records_page(subject_id, actor=reader),
                    ),
                    (
                        "records, deep page",
                        records,
                        {"cursor": deep_records},
                        lambda: v.records_page(subject_id, cursor=deep_records, actor=reader),
                    ),
                    ("audit, first page", "/v1/audit", {}, lambda: v.audit_page(actor=reader)),
                    (
                        "audit, deep page",
                        "/v1/audit",
                        {"cursor": deep_audit},
                        lambda: v.audit_page(cursor=deep_audit, actor=reader),
                    ),
                    (
                        "audit by actor, first page",
                        "/v1/audit",
                        {"actor": "svc-7"},
                        lambda: v.audit_page(principal="svc-7", actor=reader),
                    ),
                    (
                        "audit by actor, deep page",
                        "/v1/audit",
                        {"actor": "svc-7", "cursor": deep_actor},
                        lambda: v.audit_page(principal="svc-7", cursor=deep_actor, actor=reader),
                    ),
                ]
                for name, path, params, call in plan:
                    figure = timed(client, path, params, args.repeats)
                    lib = library_ms(call, args.repeats)
                    figures.append(Figure(name, figure.median_ms, figure.p95_ms, figure.items, lib))
        finally:
            server.terminate()
            server.wait(timeout=30)
        print(
            f"{'page (limit 100)':<30} {'HTTP median ms':>14} {'p95 ms':>8}"
            f" {'library ms':>10} {'items':>6}  target"
        )
        worst = 0.0
        for f in figures:
            verdict = "ok" if f.median_ms <= TARGET_MS else "MISSED"
            print(
                f"{f.name:<30} {f.median_ms:>14.1f} {f.p95_ms:>8.1f} {f.library_ms:>10.1f}"
                f" {f.items:>6}"
                f"  <= {TARGET_MS:.0f} ms {verdict}"
            )
            worst = max(worst, f.median_ms)
        print(f"paging: slowest median {worst:.1f} ms (target <= {TARGET_MS:.0f} ms)")
        return 0 if worst <= TARGET_MS else 1
    finally:
        if vault is not None:
            vault.close()
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


if __name__ == "__main__":
    raise SystemExit(main())
