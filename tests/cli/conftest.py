"""Fixtures for the CLI tests: a live recvault API (uvicorn in a subprocess) and a CLI runner.

The API serves a vault on SQLite with local keys in a temporary directory, on a
free loopback port; principals for every role are created before it starts.
The CLI runs as ``python -m vault.cli`` in a subprocess, exactly as a user
runs it, so exit codes and stderr are the real ones.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fixtures.settings import (
    ROOT,
    secret_env,
    serve,
    server_env,
    write_toml,
)
from vault import RecordVault, Settings
from vault.domain import Actor, Role
from vault.metadata.migrate import upgrade

#: the PH store of the CLI's deployment reports a Manila location, as in the docs' examples
CLI_LOCATIONS = {"JP": "ap-northeast-1", "PH": "ph-manila-1"}
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


@pytest.fixture(scope="module")
def live_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApi]:
    home = tmp_path_factory.mktemp("api")
    secrets_env = secret_env()
    config = write_toml(home, CLI_LOCATIONS)
    settings = Settings.load(
        config, **{k.removeprefix("RECVAULT_").lower(): v for k, v in secrets_env.items()}
    )
    upgrade(settings.database.url)
    vault = RecordVault.from_settings(settings)
    operator = Actor("test-operator", frozenset(Role))
    tokens = {
        role: vault.principals.add(f"cli-{role.lower()}", roles, None, operator)[1]
        for role, roles in ROLES.items()
    }
    vault.close()
    process, addr = serve(home, server_env(config, secrets_env))
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


def run_cli_process(
    api: LiveApi, role: str | None, *args: str, env: dict[str, str] | None = None
) -> Result:
    """The console entry point in a real subprocess (``python -m vault.cli``), stdout a pipe."""
    done = subprocess.run(
        [sys.executable, "-m", "vault.cli", *args],
        env={**api.env(role), **(env or {})},
        cwd=api.workdir,
        capture_output=True,
        timeout=120,
    )
    out = done.stdout.decode(errors="replace")
    return Result(done.returncode, out, done.stderr.decode(), done.stdout)
