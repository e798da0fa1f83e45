"""``recvault dev``: ready, usable through its dev.env, gone after SIGTERM, and persistent.

Runs the real command in a subprocess on a free port with a temporary data
directory (never 127.0.0.1:8000, never the repository's ``.recvault/``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psutil
import pytest

from tests.cli.conftest import ROOT, LiveApi, run_cli
from tests.fixtures.bao import free_port
from tests.fixtures.settings import wait_ready
from vault.cli.dev import read_env_file

pytestmark = pytest.mark.xdist_group("recvault-dev")


@contextmanager
def dev_server(data_dir: Path, port: int) -> Iterator[tuple[subprocess.Popen[bytes], set[int]]]:
    """Start ``recvault dev``; yield it and the ids of every process it started."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECVAULT_")}
    env["PYTHONPATH"] = str(ROOT)
    with (data_dir.parent / f"dev-{port}.log").open("ab") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "vault.cli",
                "dev",
                "--port",
                str(port),
                "--data-dir",
                str(data_dir),
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=data_dir.parent,
        )
    try:
        wait_ready(f"http://127.0.0.1:{port}", process, 60)  # a generous bound, not a benchmark
        children = {p.pid for p in psutil.Process(process.pid).children(recursive=True)}
        yield process, children | {process.pid}
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECVAULT_")}
    env["PYTHONPATH"] = str(ROOT)
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
    return env


def second_start(data_dir: Path, addr: str) -> None:
    """A second ``recvault dev`` on the same data directory names the one that runs."""
    again = subprocess.run(
        [
            sys.executable,
            "-m",
            "vault.cli",
            "dev",
            "--port",
            str(free_port()),
            "--data-dir",
            data_dir,
        ],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert again.returncode == 1, again.stderr
    assert "recvault dev already runs on" in again.stderr and addr in again.stderr
    assert "in use" not in again.stderr


def admin_from_dev_env(env_file: Path, cwd: Path) -> None:
    """``source dev.env`` alone is enough for a server-side command in a new shell."""
    shell = subprocess.run(
        [
            "bash",
            "-c",
            f"source {env_file} && recvault principals add clinic-ph --role service --region PH",
        ],
        env=clean_env(),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shell.returncode == 0, shell.stderr
    assert "clinic-ph" in shell.stdout and "rvt_" in shell.stdout


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_dev_start_env_stop_and_restart_reuses_data(tmp_path):
    data_dir = tmp_path / "data"
    port = free_port()
    with dev_server(data_dir, port) as (process, started):
        env_file = data_dir / "dev.env"
        assert env_file.stat().st_mode & 0o777 == 0o600
        assert (data_dir / "secrets.env").stat().st_mode & 0o777 == 0o600
        assert (data_dir / "bao" / "init.json").stat().st_mode & 0o777 == 0o600
        values = read_env_file(env_file)
        assert values["RECVAULT_ADDR"] == f"http://127.0.0.1:{port}"
        banner = (tmp_path / f"dev-{port}.log").read_text()
        assert f"Web console: http://127.0.0.1:{port}/console" in banner
        sign_in = httpx.get(f"http://127.0.0.1:{port}/console/sign-in", timeout=10)
        assert sign_in.status_code == 200 and 'for="token">Token<' in sign_in.text
        roles = {"SERVICE", "ADMIN", "ADMIN2", "SECURITY", "COMPLIANCE", "DPO"}
        tokens = {k.removeprefix("RECVAULT_TOKEN_"): v for k, v in values.items() if "TOKEN" in k}
        assert roles <= set(tokens)
        api = LiveApi(values["RECVAULT_ADDR"], tokens, tmp_path)
        subject = run_cli(
            api, "SERVICE", "subjects", "create", "CLINIC-DEV-1", "--region", "PH", "-q"
        )
        assert subject.code == 0, subject.err
        stored = run_cli(
            api,
            "SERVICE",
            "records",
            "put",
            "-",
            "--subject",
            subject.out.strip(),
            "--category",
            "photo",
            "-q",
            stdin=b"first run photo",
        )
        assert stored.code == 0, stored.err
        record_id = stored.out.strip()
        second_start(data_dir, values["RECVAULT_ADDR"])
        admin_from_dev_env(env_file, tmp_path)
        bao_pids = [p for p in started if "bao" in " ".join(psutil.Process(p).cmdline())]
        assert bao_pids, "recvault dev should run its own OpenBao"
        secrets_before = (data_dir / "secrets.env").read_text()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    assert not [pid for pid in started if alive(pid)], "recvault dev left processes behind"

    with dev_server(data_dir, free_port()) as (_, restarted):
        assert (data_dir / "secrets.env").read_text() == secrets_before
        values = read_env_file(data_dir / "dev.env")
        tokens2 = {k.removeprefix("RECVAULT_TOKEN_"): v for k, v in values.items() if "TOKEN" in k}
        assert tokens2["SERVICE"] == tokens["SERVICE"]  # tokens kept across runs
        api = LiveApi(values["RECVAULT_ADDR"], tokens2, tmp_path)
        back = run_cli(api, "SERVICE", "records", "get", record_id)
        assert back.code == 0, back.err
        assert back.raw == b"first run photo"
    assert not [pid for pid in restarted if alive(pid)]
