"""Fixtures for the CLI tests: a live recvault API (uvicorn in a subprocess) and a CLI runner.

The API serves a vault on SQLite with local keys in a temporary directory, on a
free loopback port; principals for every role are created before it starts.
The CLI runs as ``python -m vault.cli`` in a subprocess, exactly as a user
runs it, so exit codes and stderr are the real ones.
"""

from __future__ import annotations

import io
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fixtures.bao import free_port
from vault import RecordVault, Settings
from vault.domain import Actor, Role
from vault.metadata.migrate import upgrade

ROOT = Path(__file__).resolve().parents[2]
ROLES = {
    "SERVICE": ["service"],
    "ADMIN": ["admin"],
    "ADMIN2": ["admin"],
    "SECURITY": ["security"],
    "COMPLIANCE": ["compliance"],
    "DPO": ["dpo"],
    "TRANSFER": ["admin", "compliance"],
}


@dataclass
class LiveApi:
    addr: str
    tokens: dict[str, str]
    workdir: Path

    def env(self, role: str | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RECVAULT_")}
        env["PYTHONPATH"] = str(ROOT)
        env["RECVAULT_ADDR"] = self.addr
        env["COLUMNS"] = "200"
        env.update({f"RECVAULT_TOKEN_{k}": v for k, v in self.tokens.items()})
        if role:
            env["RECVAULT_TOKEN"] = self.tokens[role]
        return env


def write_config(home: Path) -> Path:
    lines = [f'[database]\nurl = "sqlite:///{home / "meta.db"}"\n']
    for name, location in (("JP", "ap-northeast-1"), ("PH", "ph-manila-1")):
        lines.append(
            f'[regions.{name}]\nlocation = "{location}"\n'
            f'[regions.{name}.store]\nkind = "local"\npath = "{home / "objects" / name.lower()}"\n'
            f'[regions.{name}.keys]\nkind = "local"\npath = "{home / f"keys-{name}.db"}"\n'
        )
    path = home / "recvault.toml"
    path.write_text("\n".join(lines))
    return path


def wait_ready(addr: str, process: subprocess.Popen[bytes] | None, within: float) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the API exited with {process.returncode}")
        try:
            if httpx.get(f"{addr}/readyz", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"the API at {addr} was not ready within {within} s")


def start_api(home: Path, env: dict[str, str], attempts: int = 3) -> tuple[Any, str]:
    """uvicorn on a free port; if another process took the port first, try another."""
    for attempt in range(1, attempts + 1):
        port = free_port()
        with (home / "api.log").open("ab") as log:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "api.app:build",
                    "--factory",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--log-level",
                    "warning",
                ],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=home,
            )
        addr = f"http://127.0.0.1:{port}"
        try:
            wait_ready(addr, process, 60)
            return process, addr
        except RuntimeError:
            process.terminate()
            process.wait(timeout=20)
            if attempt == attempts:
                raise
    raise AssertionError("unreachable")


@pytest.fixture(scope="module")
def live_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApi]:
    home = tmp_path_factory.mktemp("api")
    secret_env = {
        "RECVAULT_NAME_SECRET": secrets.token_hex(32),
        "RECVAULT_SIGNING_KEY": secrets.token_hex(32),
        "RECVAULT_MASTER_KEY": secrets.token_hex(32),
    }
    config = write_config(home)
    settings = Settings.load(
        config, **{k.removeprefix("RECVAULT_").lower(): v for k, v in secret_env.items()}
    )
    upgrade(settings.database.url)
    vault = RecordVault.from_settings(settings)
    operator = Actor("test-operator", frozenset(Role))
    tokens = {
        role: vault.principals.add(f"cli-{role.lower()}", roles, None, operator)[1]
        for role, roles in ROLES.items()
    }
    vault.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECVAULT_")}
    env.update(secret_env, RECVAULT_CONFIG=str(config), PYTHONPATH=str(ROOT))
    process, addr = start_api(home, env)
    try:
        work = home / "work"
        work.mkdir()
        yield LiveApi(addr, tokens, work)
    finally:
        process.terminate()
        process.wait(timeout=20)


@dataclass
class Result:
    code: int
    out: str
    err: str
    raw: bytes


class _Buffer(io.BytesIO):
    """Bytes that outlive the text wrapper around them (which closes its buffer)."""

    def close(self) -> None:
        pass


def run_cli(api: LiveApi, role: str | None, *args: str, stdin: bytes | None = None) -> Result:
    """Run ``recvault`` in this process (``main()``, as the console script does).

    stdin, stdout and stderr are swapped for byte buffers and the environment
    is the user's shell (``RECVAULT_ADDR``, ``RECVAULT_TOKEN``); one test in
    ``test_client.py`` runs the real console entry point in a subprocess.
    """
    from vault.cli.app import main

    out, err = _Buffer(), _Buffer()
    streams = (sys.stdin, sys.stdout, sys.stderr, sys.argv)
    saved_env = dict(os.environ)
    saved_cwd = os.getcwd()
    sys.stdin = io.TextIOWrapper(io.BytesIO(stdin or b""))
    sys.stdout = io.TextIOWrapper(out, write_through=True)
    sys.stderr = io.TextIOWrapper(err, write_through=True)
    sys.argv = ["recvault", *args]
    os.environ.clear()
    os.environ.update(api.env(role))
    os.chdir(api.workdir)
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        sys.stdin, sys.stdout, sys.stderr, sys.argv = streams
        os.environ.clear()
        os.environ.update(saved_env)
        os.chdir(saved_cwd)
    raw = out.getvalue()
    return Result(code, raw.decode(errors="replace"), err.getvalue().decode(), raw)


def run_cli_process(api: LiveApi, role: str | None, *args: str) -> Result:
    """The console entry point in a real subprocess (``python -m vault.cli``)."""
    done = subprocess.run(
        [sys.executable, "-m", "vault.cli", *args],
        env=api.env(role),
        cwd=api.workdir,
        capture_output=True,
        timeout=120,
    )
    out = done.stdout.decode(errors="replace")
    return Result(done.returncode, out, done.stderr.decode(), done.stdout)
