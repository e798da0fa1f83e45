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
from tests.fixtures.settings import (
    LOCATIONS,
    TOKEN_ENV,
    run_recvault,
    secret_env,
    server_env,
    write_toml,
)

PASSWORD = "Pw-not-for-stderr-4711"


def one_line(done: subprocess.CompletedProcess[str], code: int, *wanted: str) -> str:
    """The error line, the only line on stderr."""
    assert done.returncode == code, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
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
        ("principals", "add", "svc-a", "--role", "service"),
        ("principals", "disable", "svc-a"),
        ("gc",),
    ],
)
def test_a_database_that_is_down_is_one_line_and_exit_1(tmp_path, command) -> None:
    """Only the error line: no log line before it (the checkpoint maintains the audit
    partitions first, and used to log that it could not)."""
    done = run_recvault(_down_db(tmp_path), *command)
    one_line(done, 1, "metadata database unavailable", "[unavailable]")
    assert PASSWORD not in done.stderr


@pytest.mark.parametrize(
    "command",
    [
        ("audit", "checkpoint"),
        ("principals", "list"),
        ("principals", "add", "svc-a", "--role", "service"),
        ("gc", "--report"),
    ],
)
def test_a_database_without_recvaults_schema_is_one_line_naming_db_upgrade(
    tmp_path, db_url, command
) -> None:
    """``recvault db upgrade`` not run: the line says so (was a traceback quoting SQL on
    PostgreSQL, and "metadata database unavailable" on SQLite)."""
    env = server_env(write_toml(tmp_path), secret_env())
    env["RECVAULT_DATABASE__URL"] = db_url  # an empty database (PostgreSQL: an empty schema)
    done = run_recvault(env, *command)
    one_line(done, 1, "run `recvault db upgrade`", "[schema-not-current]")
    assert "SELECT" not in done.stderr and "INSERT" not in done.stderr


@pytest.mark.parametrize("kind", ["missing", "directory", "empty"])
def test_serve_with_a_console_client_secret_file_it_cannot_read_does_not_start(
    tmp_path, kind
) -> None:
    """The console's OIDC client secret from ``RECVAULT_OIDC_CLIENT_SECRET_FILE`` is read at
    every sign-in (a rotated file counts at once); a file that cannot be read is a config
    error when the server starts (was a 500 at the first sign-in)."""
    path = tmp_path / "client-secret"
    if kind == "directory":
        path.mkdir()
    elif kind == "empty":
        path.write_text("\n")
    env = server_env(write_toml(tmp_path), secret_env())
    env.update(
        RECVAULT_AUTH__OIDC__ISSUER="https://login.example.org",
        RECVAULT_AUTH__OIDC__AUDIENCE="recvault",
        RECVAULT_AUTH__OIDC__CLIENT_ID="recvault-console",
        RECVAULT_OIDC_CLIENT_SECRET_FILE=str(path),
    )
    done = run_recvault(env, "serve", "--port", str(free_port()), timeout=20)
    one_line(done, 2, "RECVAULT_OIDC_CLIENT_SECRET_FILE", str(path), "[config-error]")


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


# -- keys bootstrap: the operator token from a file ---------------------------------------

TOKEN_LIKE = "s.not-for-stderr-0815"


def _transit_env(tmp_path: Path, addr: str, token_file: Path | None = None) -> dict[str, str]:
    """A deployment whose JP keys are in Transit at ``addr``, its token from ``TOKEN_ENV``
    (or its ``_FILE``), or from ``token_file`` when given."""
    config = tmp_path / "recvault.toml"
    config.write_text(
        f'[database]\nurl = "sqlite:///{tmp_path / "meta.db"}"\n'
        f'[regions.JP]\nlocation = "{LOCATIONS["JP"]}"\n'
        f'[regions.JP.store]\nkind = "local"\npath = "{tmp_path / "objects"}"\n'
        f'[regions.JP.keys]\nkind = "vault"\naddr = "{addr}"\nmount = "transit-jp"\n'
        f'token_env = "{TOKEN_ENV}"\n'
        + (f'token_file = "{token_file}"\n' if token_file is not None else "")
    )
    return server_env(config, secret_env())


@pytest.mark.parametrize("problem", ["missing", "directory", "empty", "not-utf-8"])
def test_keys_bootstrap_with_a_token_file_it_cannot_read_is_a_config_error(
    tmp_path, problem
) -> None:
    path = tmp_path / "token"
    if problem == "directory":
        path.mkdir()
    elif problem == "empty":
        path.write_text("\n")
    elif problem == "not-utf-8":
        path.write_bytes(b"\xff" + TOKEN_LIKE.encode())
    env = _transit_env(tmp_path, f"http://127.0.0.1:{free_port()}")
    env[f"{TOKEN_ENV}_FILE"] = str(path)
    line = one_line(
        run_recvault(env, "keys", "bootstrap"), 2, f"{TOKEN_ENV}_FILE", str(path), "[config-error]"
    )
    assert TOKEN_LIKE not in line


def test_keys_bootstrap_names_the_token_file_setting(tmp_path) -> None:
    path = tmp_path / "nowhere"
    env = _transit_env(tmp_path, f"http://127.0.0.1:{free_port()}", token_file=path)
    one_line(
        run_recvault(env, "keys", "bootstrap"),
        2,
        "regions.JP.keys.token_file",
        str(path),
        "[config-error]",
    )


def test_keys_bootstrap_reads_its_token_from_the_file(tmp_path, bao_factory) -> None:
    """On a server of its own: bootstrap rewrites the policies for this one mount."""
    server = bao_factory()
    path = tmp_path / "token"
    path.write_text(server.root_token + "\n")
    env = _transit_env(tmp_path, server.addr)
    env[f"{TOKEN_ENV}_FILE"] = str(path)
    done = run_recvault(env, "keys", "bootstrap")
    assert done.returncode == 0, done.stderr
    assert "region JP: transit mounts transit-jp ready" in done.stdout
    assert server.root_token not in done.stdout + done.stderr


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
