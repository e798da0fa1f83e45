"""``recvault principals`` and ``recvault serve`` end to end: a token shown once, kept only
as a hash, accepted by the API served from the settings (``api.app:build``)."""

from __future__ import annotations

import hashlib
import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.fixtures.settings import secret_env, serve, server_env, write_toml
from vault.principals import TOKEN_CACHE_SECONDS

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-c", "from vault.cli import main; main()"]


def write_config(tmp_path: Path) -> dict[str, str]:
    return server_env(write_toml(tmp_path), secret_env())


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

    server, base = serve(tmp_path, env)
    try:
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
        assert re.search(r"intake .* no ", cli(env, "principals", "list"))
        cli(env, "principals", "disable", "intake")
        assert re.search(r"intake .* yes ", cli(env, "principals", "list"))  # as other tables
        # the server trusts a verified token for TOKEN_CACHE_SECONDS (ADR 0011): disabled
        # from another process, the principal is refused once that window has passed
        url = f"{base}/v1/subjects/{created.json()['id']}"
        statuses = []
        for _ in range(int(4 * (TOKEN_CACHE_SECONDS + 5))):
            statuses.append(httpx.get(url, headers=headers).status_code)
            if statuses[-1] != 200:
                break
            time.sleep(0.25)
        assert statuses[-1] == 401, statuses
    finally:
        server.terminate()
        server.wait(timeout=20)
    log = (tmp_path / "api.log").read_text()
    assert "p-1" not in log and token not in log


def _with_database(tmp_path: Path, url: str) -> dict[str, str]:
    env = write_config(tmp_path)
    config = Path(env["RECVAULT_CONFIG"])
    text = config.read_text().replace(f'url = "sqlite:///{tmp_path / "meta.db"}"', f'url = "{url}"')
    config.write_text(text)
    return env


def test_serve_workers_are_processes_sharing_the_port_on_postgresql(tmp_path, pg_url):
    """``--workers 2``: two API processes answer on one port; a PH-only token stays PH-only."""
    import psutil

    env = _with_database(tmp_path, pg_url)
    cli(env, "db", "upgrade")
    [jp] = re.findall(
        r"token: (rvt_\S+)",
        cli(env, "principals", "add", "jp", "--role", "service", "--region", "JP"),
    )
    [ph] = re.findall(
        r"token: (rvt_\S+)",
        cli(env, "principals", "add", "ph", "--role", "service", "--region", "PH"),
    )
    server, base = serve(tmp_path, env, workers=2)
    try:
        workers = [
            p
            for p in psutil.Process(server.pid).children(recursive=True)
            if "spawn_main" in " ".join(p.cmdline())
        ]
        assert len(workers) == 2, [p.cmdline() for p in workers]
        jp_headers = {"Authorization": f"Bearer {jp}"}
        ph_headers = {"Authorization": f"Bearer {ph}"}
        subjects = []
        for n in range(8):  # a new connection each: the kernel spreads them over both
            made = httpx.post(
                f"{base}/v1/subjects",
                json={"external_ref": f"w-{n}", "region": "JP"},
                headers=jp_headers,
            )
            assert made.status_code == 201, made.text
            subjects.append(made.json()["id"])
        for subject_id in subjects:
            assert (
                httpx.get(f"{base}/v1/subjects/{subject_id}", headers=jp_headers).status_code == 200
            )
            assert httpx.get(
                f"{base}/v1/subjects/{subject_id}", headers=ph_headers
            ).status_code in (403, 404)
        assert all(p.is_running() for p in workers)
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in workers)


def test_serve_refuses_workers_on_sqlite(tmp_path):
    env = write_config(tmp_path)
    done = subprocess.run(
        [*CLI, "serve", "--workers", "2", "--port", "1"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "needs PostgreSQL" in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
