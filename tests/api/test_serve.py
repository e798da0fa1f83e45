"""``recvault principals`` and ``recvault serve`` end to end: a token shown once, kept only
as a hash, accepted by the API served from the settings (``api.app:build``)."""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.fixtures.bao import free_port

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-c", "from vault.cli import main; main()"]


def write_config(tmp_path: Path) -> dict[str, str]:
    lines = [f'[database]\nurl = "sqlite:///{tmp_path / "meta.db"}"\n']
    for name, location in (("JP", "ap-northeast-1"), ("PH", "ap-southeast-1")):
        lines.append(
            f'[regions.{name}]\nlocation = "{location}"\n'
            f'[regions.{name}.store]\nkind = "local"\npath = "{tmp_path / name}"\n'
            f'[regions.{name}.keys]\nkind = "local"\npath = "{tmp_path / f"keys-{name}.db"}"\n'
        )
    (tmp_path / "recvault.toml").write_text("\n".join(lines))
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "RECVAULT_CONFIG": str(tmp_path / "recvault.toml"),
        "RECVAULT_NAME_SECRET": secrets.token_hex(32),
        "RECVAULT_SIGNING_KEY": secrets.token_hex(32),
        "RECVAULT_MASTER_KEY": secrets.token_hex(32),
    }


def cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [*CLI, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_principals_and_serve(tmp_path):
    env = write_config(tmp_path)
    cli(env, "db", "upgrade")
    added = cli(env, "principals", "add", "intake", "--role", "service", "--region", "JP")
    [token] = re.findall(r"token: (rvt_\S+)", added)
    listed = cli(env, "principals", "list", "--json")
    assert token not in listed and '"intake"' in listed
    with sqlite3.connect(tmp_path / "meta.db") as db:
        stored = db.execute("SELECT token_hash FROM principals").fetchall()
    assert stored == [(hashlib.sha256(token.encode()).hexdigest(),)]

    port = free_port()
    server = subprocess.Popen(
        [*CLI, "serve", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, "serve did not start"
            time.sleep(0.1)
        assert httpx.get(f"{base}/readyz").json()["status"] == "ok"
        headers = {"Authorization": f"Bearer {token}"}
        created = httpx.post(
            f"{base}/v1/subjects", json={"external_ref": "p-1", "region": "JP"}, headers=headers
        )
        assert created.status_code == 201
        ph = httpx.post(
            f"{base}/v1/subjects", json={"external_ref": "p-2", "region": "PH"}, headers=headers
        )
        assert ph.status_code == 403
        cli(env, "principals", "disable", "intake")
        assert (
            httpx.get(f"{base}/v1/subjects/{created.json()['id']}", headers=headers).status_code
            == 401
        )
    finally:
        server.terminate()
        server.wait(timeout=20)
    log = server.stderr.read().decode() if server.stderr else ""
    assert "p-1" not in log and token not in log
