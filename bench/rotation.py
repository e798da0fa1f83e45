"""Benchmark P7: DEK rewrap rate through ``rotate_keys`` against raw hvac batch rewrap.

Run ``python -m bench.rotation``. It starts its own ``bao server -dev`` on a free
loopback port, bootstraps Transit, creates a few subject keys through
``RecordVault`` and seeds the metadata DB directly with ``--deks`` wrapped DEKs
(no objects: rotation never touches them). Then, in interleaved pairs, it times

- raw: hvac ``transit/rewrap`` of the same wrapped DEKs in batches of the same
  size, results thrown away (the key service's own cost), and
- rotate_keys: the whole rotation of every key (rotate, read rows in batches,
  rewrap, write rows and progress, raise the minimums, audit),

and prints one table. Target: rotate_keys rate >= 0.5 x raw rate.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import hvac
from sqlalchemy import insert
from sqlmodel import Session, select

from bench.seed import record_rows
from keys.bootstrap import bootstrap_transit
from tests.fixtures.bao import start_bao_server
from vault import RecordVault, Settings
from vault.metadata import RecordRow, RecordVersionRow, SubjectRow
from vault.metadata.migrate import upgrade
from vault.storage import tune_process

TARGET = 0.5
MOUNT = "transit-jp"
TOKEN_ENV = "RECVAULT_BENCH_VAULT_TOKEN"


def build_vault(addr: str, db_url: str, workdir: Path, batch: int) -> RecordVault:
    settings = Settings.load(
        None,
        database={"url": db_url},
        regions={
            "JP": {
                "location": "ap-northeast-1",
                "store": {"kind": "local", "path": str(workdir / "objects")},
                "keys": {"kind": "vault", "addr": addr, "mount": MOUNT, "token_env": TOKEN_ENV},
            }
        },
        limits={"wrap_batch": batch},
        name_secret=secrets.token_hex(32),
        signing_key=secrets.token_hex(32),
        master_key=secrets.token_hex(32),
    )
    upgrade(settings.database.url)
    return RecordVault.from_settings(settings)


def seed(vault: RecordVault, keys: int, deks: int) -> None:
    """``deks`` wrapped DEKs spread over ``keys`` subjects, inserted straight into the DB."""
    ctx = vault._ctx
    provider = vault.regions["JP"].keys
    now = datetime.now(UTC)
    per_key = deks // keys
    for k in range(keys):
        subject = vault.create_subject(f"bench-{k}-{uuid.uuid4().hex}", "JP")
        wrapped = provider.wrap(subject.key_name, [os.urandom(32) for _ in range(per_key)])
        records, versions = [], []
        for w in wrapped:
            record_id = uuid.uuid4().hex
            record, version = record_rows(
                record_id,
                subject.id,
                f"JP/{record_id[:2]}/{record_id}",
                key_name=w.key_name,
                key_version=w.key_version,
                wrapped_dek=w.ciphertext,
                now=now,
            )
            records.append(record)
            versions.append(version)
        with Session(ctx.engine) as session:
            session.execute(insert(RecordRow.__table__), records)  # type: ignore[attr-defined]
            session.execute(insert(RecordVersionRow.__table__), versions)  # type: ignore[attr-defined]
            session.commit()


def current_wrapped(vault: RecordVault) -> dict[str, list[str]]:
    with Session(vault._ctx.engine) as session:
        names = session.exec(select(SubjectRow.key_name)).all()
        return {
            name: list(
                session.exec(
                    select(RecordVersionRow.wrapped_dek).where(RecordVersionRow.key_name == name)
                ).all()
            )
            for name in names
        }


def raw_rewrap(client: hvac.Client, by_key: dict[str, list[str]], batch: int) -> int:
    transit = client.secrets.transit
    done = 0
    for name, wrapped in by_key.items():
        for start in range(0, len(wrapped), batch):
            chunk = wrapped[start : start + batch]
            answer = transit.rewrap_data(
                name=name,
                ciphertext=None,
                batch_input=[{"ciphertext": c} for c in chunk],
                mount_point=MOUNT,
            )
            done += len(answer["data"]["batch_results"])
    return done


def main(argv: list[str] | None = None) -> int:
    tune_process()  # as `recvault serve` and `recvault worker` do at start-up
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deks", type=int, default=100_000)
    parser.add_argument("--keys", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=250)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--db-url", default=None, help="default: a fresh SQLite file")
    args = parser.parse_args(argv)

    workdir = Path(tempfile.mkdtemp(prefix="recvault-bench-rotation-"))
    db_url = args.db_url or f"sqlite:///{workdir / 'meta.db'}"
    server = start_bao_server(workdir)
    pairs: list[tuple[float, float]] = []
    try:
        bootstrap_transit(server.addr, server.root_token, [MOUNT])
        os.environ[TOKEN_ENV] = server.root_token
        vault = build_vault(server.addr, db_url, workdir, args.batch_size)
        seed(vault, args.keys, args.deks)
        client = hvac.Client(url=server.addr, token=server.root_token, timeout=30.0)
        total = (args.deks // args.keys) * args.keys
        for attempt in range(args.repeats):
            by_key = current_wrapped(vault)
            for name in by_key:  # give the raw rewrap a newer version to move to
                client.secrets.transit.rotate_key(name=name, mount_point=MOUNT)

            def raw(wrapped: dict[str, list[str]] = by_key) -> float:
                started = time.perf_counter()
                assert raw_rewrap(client, wrapped, args.batch_size) == total
                return total / (time.perf_counter() - started)

            def rotate() -> float:
                started = time.perf_counter()
                report = vault.rotate_keys(region="JP")
                assert report.deks_rewrapped == total and report.keys_rotated == args.keys
                return total / (time.perf_counter() - started)

            if attempt % 2:
                raw_rate = raw()
                rotate_rate = rotate()
            else:
                rotate_rate = rotate()
                raw_rate = raw()
            pairs.append((rotate_rate, raw_rate))
        status = vault.key_status().regions["JP"]
        assert status.deks_awaiting_rewrap == 0 and status.open_rotations == ()
        vault.close()
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    rotate_rate = statistics.median(p for p, _ in pairs)
    raw_rate = statistics.median(r for _, r in pairs)
    ratio = statistics.median(p / r for p, r in pairs)
    engine = "SQLite" if db_url.startswith("sqlite") else "PostgreSQL"
    print(
        f"OpenBao dev server, loopback, {os.cpu_count()} CPUs, {engine} metadata DB, "
        f"{total:,} DEKs under {args.keys} keys, batch {args.batch_size}, "
        f"medians of {args.repeats} interleaved pairs"
    )
    print(f"{'case':<30} {'DEKs/s':>10}")
    print(f"{'rotate_keys (whole rotation)':<30} {rotate_rate:>10,.0f}")
    print(f"{'raw hvac batch rewrap':<30} {raw_rate:>10,.0f}")
    verdict = "pass" if ratio >= TARGET else "FAIL"
    print(f"ratio {ratio:.2f} (per pair: {', '.join(f'{p / r:.2f}' for p, r in pairs)})")
    print(f"target >= {TARGET}: {verdict}")
    return 0 if ratio >= TARGET else 1


if __name__ == "__main__":
    raise SystemExit(main())
