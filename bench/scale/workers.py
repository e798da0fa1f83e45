"""Sweep and rotation throughput with 1, 2 and 4 worker processes on PostgreSQL.

Sweeps: ``--records`` records whose retention ended, nine in each subject of ten
records (the tenth lives on, so each is erased alone: key rotated, the rest
rewrapped), seeded straight into the DB (their objects never written: deleting
a missing object costs a local store one ``unlink``), then ``recvault worker
--once`` started N times at once; the figure is records disposed per second of
wall time until the last worker exits. Rotation: ``--deks`` wrapped DEKs under
``--keys`` Transit keys (a real OpenBao dev server), then N processes each call
``RecordVault.rotate_keys`` at once (jobs claimed with ``FOR UPDATE SKIP
LOCKED``); the figure is DEKs rewrapped per second of wall time.

    python -m bench.scale.workers --records 20000 --deks 200000 --keys 16
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, insert, text
from sqlmodel import Session

from bench.seed import record_rows
from keys.bootstrap import bootstrap_transit
from tests.fixtures.bao import start_bao_server
from vault import RecordVault, Settings
from vault.metadata import RecordRow, RecordVersionRow
from vault.metadata.migrate import upgrade

ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
DB = "recvault_scale_workers"
URL = f"postgresql+psycopg://postgres@127.0.0.1:5432/{DB}"
TOKEN_ENV = "RECVAULT_BENCH_VAULT_TOKEN"
MOUNTS = ["transit-jp-0", "transit-jp-1"]
ROOT = Path(__file__).resolve().parents[2]

ROTATE = """
import json, sys
from vault import RecordVault, Settings
vault = RecordVault.from_settings(Settings.load(None, **json.loads(sys.argv[1])))
report = vault.rotate_keys(region="JP", actor="rotation-worker")
print(json.dumps({"deks": report.deks_rewrapped, "keys": report.keys_rotated}))
vault.close()
"""


def fresh_db() -> None:
    admin = create_engine(ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)"))
        conn.execute(text(f"CREATE DATABASE {DB}"))
    admin.dispose()
    upgrade(URL)


def settings_dict(addr: str, home: Path, secrets_: dict[str, str]) -> dict[str, object]:
    return {
        "database": {"url": URL},
        "regions": {
            "JP": {
                "location": "ap-northeast-1",
                "store": {"kind": "local", "path": str(home / "objects")},
                "keys": {"kind": "vault", "addr": addr, "mounts": MOUNTS, "token_env": TOKEN_ENV},
            }
        },
        # records whose retention ended go at once; subject keys wait as they would
        "destruction": {"waiting_period": "P30D"},
        **secrets_,
    }


def seed(vault: RecordVault, subjects: int, per_subject: int, expired: int) -> int:
    """Subjects made through recvault (their Transit keys), records and DEKs inserted directly;
    ``expired`` records of each subject have reached their retention date. Returns those."""
    provider = vault.regions["JP"].keys
    now = datetime.now(UTC)
    made = 0
    for s in range(subjects):
        subject = vault.create_subject(f"scale-{s}-{uuid.uuid4().hex}", "JP")
        wrapped = provider.wrap(subject.key_name, [os.urandom(32) for _ in range(per_subject)])
        records, versions = [], []
        for index, w in enumerate(wrapped):
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
            gone = index < expired
            record["retain_until"] = now - timedelta(days=1) if gone else now + timedelta(days=3650)
            records.append(record)
            versions.append(version)
        with Session(vault._ctx.engine) as session:
            session.execute(insert(RecordRow.__table__), records)  # type: ignore[attr-defined]
            session.execute(insert(RecordVersionRow.__table__), versions)  # type: ignore[attr-defined]
            session.commit()
        made += min(expired, len(records))
    return made


def run_parallel(commands: list[list[str]], env: dict[str, str]) -> tuple[float, list[str]]:
    started = time.perf_counter()
    procs = [
        subprocess.Popen(c, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for c in commands
    ]
    outs = []
    for proc in procs:
        out, err = proc.communicate(timeout=900)
        if proc.returncode != 0:
            raise RuntimeError(f"worker failed: {err[-2000:]}")
        outs.append(out)
    return time.perf_counter() - started, outs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--deks", type=int, default=200_000)
    parser.add_argument("--keys", type=int, default=16)
    parser.add_argument("--workers", default="1,2,4")
    args = parser.parse_args(argv)
    home = Path(tempfile.mkdtemp(prefix="recvault-scale-workers-"))
    server = start_bao_server(home)
    secrets_ = {
        name: secrets.token_hex(32) for name in ("name_secret", "signing_key", "master_key")
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECVAULT_")}
    env.update({TOKEN_ENV: server.root_token, "PYTHONPATH": str(ROOT)})
    os.environ[TOKEN_ENV] = server.root_token
    print(f"PostgreSQL, OpenBao dev server ({len(MOUNTS)} mounts), {os.cpu_count()} CPUs (shared)")
    try:
        bootstrap_transit(server.addr, server.root_token, MOUNTS)
        config = settings_dict(server.addr, home, secrets_)
        toml = home / "recvault.toml"
        toml.write_text(
            f'[database]\nurl = "{URL}"\n[regions.JP]\nlocation = "ap-northeast-1"\n'
            f'[regions.JP.store]\nkind = "local"\npath = "{home / "objects"}"\n'
            f'[regions.JP.keys]\nkind = "vault"\naddr = "{server.addr}"\n'
            f'mounts = {json.dumps(MOUNTS)}\ntoken_env = "{TOKEN_ENV}"\n'
        )
        worker_env = env | {f"RECVAULT_{k.upper()}": v for k, v in secrets_.items()}
        worker_env["RECVAULT_CONFIG"] = str(toml)
        print(f"{'workers':>7} {'job':<8} {'items':>8} {'wall s':>7} {'items/s':>8}")
        for n in (int(x) for x in args.workers.split(",")):
            fresh_db()
            vault = RecordVault.from_settings(Settings.load(None, **config))  # type: ignore[arg-type]
            # nine of each subject's ten records expire: each sweep erases them one by one
            # (the subject lives on), rotating its key and rewrapping the tenth's DEK
            records = seed(vault, args.records // 9, 10, expired=9)
            vault.close()
            wall, outs = run_parallel(
                [[sys.executable, "-m", "vault.cli", "worker", "--once"]] * n, worker_env
            )
            disposed = sum(
                json.loads(line)["sweep"]["records_erased"]
                for out in outs
                for line in out.splitlines()
                if line.startswith("{") and "sweep" in line
            )
            assert disposed == records, (disposed, records)
            print(
                f"{n:>7} {'sweep':<8} {records:>8} {wall:>7.1f} {records / wall:>8.0f}", flush=True
            )

            fresh_db()
            vault = RecordVault.from_settings(Settings.load(None, **config))  # type: ignore[arg-type]
            deks = seed(vault, args.keys, args.deks // args.keys, expired=0)
            deks = args.keys * (args.deks // args.keys)
            vault.close()
            wall, outs = run_parallel([[sys.executable, "-c", ROTATE, json.dumps(config)]] * n, env)
            rewrapped = sum(json.loads(out.strip().splitlines()[-1])["deks"] for out in outs)
            assert rewrapped == deks, (rewrapped, deks)
            print(f"{n:>7} {'rotate':<8} {deks:>8} {wall:>7.1f} {deks / wall:>8.0f}", flush=True)
    finally:
        server.stop()
        admin = create_engine(ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)"))
        admin.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
