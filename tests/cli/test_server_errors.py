"""Server-side commands with bad or missing configuration, or a database that is down.

Each failure is one line on stderr with the documented exit code (2: the
configuration is wrong; 1: a dependency failed), never a traceback, and never
a secret from the configuration or the environment.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.bao import free_port
from tests.fixtures.db import PG_BASE
from tests.fixtures.settings import run_recvault, secret_env, server_env, write_toml

PASSWORD = "Pw-not-for-stderr-4711"


def one_line(
    done: subprocess.CompletedProcess[str], code: int, *wanted: str, logged: int = 0
) -> str:
    """The error line; ``logged`` lines of the server's log may come before it."""
    assert done.returncode == code, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 + logged, done.stderr
    lines = lines[logged:]
    for piece in wanted:
        assert piece in lines[0], lines[0]
    return lines[0]


def _down_db(tmp_path: Path) -> dict[str, str]:
    """A deployment whose PostgreSQL does not answer (nothing listens on the port)."""
    env = server_env(write_toml(tmp_path), secret_env())
    url = f"postgresql+psycopg://recvault_app:{PASSWORD}@127.0.0.1:{free_port()}/recvault"
    env["RECVAULT_DATABASE__URL"] = url
    return env


@pytest.mark.parametrize(
    "command",
    [
        ("db", "upgrade"),
        ("audit", "checkpoint"),
        ("audit", "partitions", "ls"),
        ("audit", "partitions", "detach", "2020-01"),
        ("principals", "list"),
        ("gc",),
    ],
)
def test_a_database_that_is_down_is_one_line_and_exit_1(tmp_path, command) -> None:
    done = run_recvault(_down_db(tmp_path), *command)
    # the checkpoint first maintains the audit partitions, and logs that it could not
    logged = 1 if command == ("audit", "checkpoint") else 0
    one_line(done, 1, "metadata database unavailable", "[unavailable]", logged=logged)
    assert PASSWORD not in done.stderr


def test_worker_once_fails_when_its_sweep_failed(tmp_path) -> None:
    """A cron job running ``worker --once`` must see that the sweep did not happen."""
    done = run_recvault(_down_db(tmp_path), "worker", "--once")
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert '"error": "metadata database unavailable"' in done.stdout
    assert PASSWORD not in done.stdout + done.stderr


def test_a_database_url_recvault_cannot_use_is_a_config_error(tmp_path) -> None:
    env = server_env(write_toml(tmp_path), secret_env())
    env["RECVAULT_DATABASE__URL"] = f"mysql://root:{PASSWORD}@db/recvault"
    line = one_line(run_recvault(env, "db", "upgrade"), 2, "database.url", "[config-error]")
    assert PASSWORD not in line


def test_a_configuration_that_is_a_directory_is_a_config_error(tmp_path) -> None:
    """A file that cannot be read (here a directory: root reads a file of mode 0000)."""
    env = server_env(tmp_path, secret_env())
    one_line(run_recvault(env, "gc"), 2, str(tmp_path), "[config-error]")


def test_a_configuration_file_that_is_not_text_is_a_config_error(tmp_path) -> None:
    config = tmp_path / "recvault.toml"
    config.write_bytes(b"\xff\xfe[database]\n")
    env = server_env(config, secret_env())
    one_line(run_recvault(env, "gc"), 2, str(config), "UTF-8", "[config-error]")


def test_a_secret_file_that_is_missing_names_its_variable(tmp_path) -> None:
    env = server_env(write_toml(tmp_path), secret_env())
    del env["RECVAULT_SIGNING_KEY"]
    env["RECVAULT_SIGNING_KEY_FILE"] = str(tmp_path / "nowhere")
    one_line(run_recvault(env, "gc"), 2, "RECVAULT_SIGNING_KEY_FILE", "[config-error]")


@pytest.fixture
def unprivileged_pg_url(pg_url: str) -> Iterator[str]:
    """``pg_url``'s schema, reached as a role that may not create anything in it (as the
    application role connects: it is not the owner that migrations run as)."""
    from sqlalchemy import create_engine, text

    role = "t_app_" + uuid.uuid4().hex[:12]
    schema = pg_url.rsplit("search_path%3D", 1)[1]
    admin = create_engine(PG_BASE, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE ROLE "{role}" LOGIN'))
        conn.execute(text(f'GRANT USAGE ON SCHEMA "{schema}" TO "{role}"'))
    try:
        yield pg_url.replace("://postgres@", f"://{role}@", 1)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP OWNED BY "{role}"'))
            conn.execute(text(f'DROP ROLE "{role}"'))
        admin.dispose()


@pytest.mark.postgres
def test_db_upgrade_as_a_role_without_rights_is_one_line(tmp_path, unprivileged_pg_url) -> None:
    """The operator ran the migrations as the application role: one line saying so, never
    a traceback quoting SQL."""
    env = server_env(write_toml(tmp_path), secret_env())
    env["RECVAULT_DATABASE__URL"] = unprivileged_pg_url
    line = one_line(run_recvault(env, "db", "upgrade"), 1, "owner role", "[forbidden]")
    assert "CREATE" not in line
