"""``recvault audit partitions ls|detach``: server-side, on PostgreSQL; one line on refusal."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.settings import secret_env, server_env, write_toml
from vault.metadata.migrate import upgrade


def recvault(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vault.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def configured(home: Path, url: str) -> dict[str, str]:
    config = write_toml(home)
    text = config.read_text().splitlines()
    config.write_text("\n".join([f'[database]\nurl = "{url}"', *text[2:]]) + "\n")
    upgrade(url)
    return server_env(config, secret_env())


@pytest.mark.postgres
def test_partitions_are_listed_and_a_wrong_month_is_refused(tmp_path: Path, pg_url: str) -> None:
    env = configured(tmp_path, pg_url)
    listed = recvault(env, "audit", "partitions", "ls", "--json")
    assert listed.returncode == 0, listed.stderr
    names = {p["name"]: p for p in json.loads(listed.stdout)}
    assert names["audit_events_default"]["attached"] is True
    future = recvault(env, "audit", "partitions", "detach", "2099-01")
    assert future.returncode == 2
    assert "current or a future month" in future.stderr and "Traceback" not in future.stderr
    assert future.stderr.strip().count("\n") == 0
    missing = recvault(env, "audit", "partitions", "detach", "2020-01")
    assert missing.returncode != 0 and "no attached audit partition" in missing.stderr


def test_sqlite_says_there_are_none(tmp_path: Path) -> None:
    env = configured(tmp_path, f"sqlite:///{tmp_path / 'meta.db'}")
    listed = recvault(env, "audit", "partitions", "ls")
    assert listed.returncode == 0 and "not PostgreSQL" in listed.stderr
