"""Operators write settings in the environment as they read them in the docs: ``PT5S``,
not ``'"PT5S"'``; a bad value is one line naming the variable, never a traceback."""

from __future__ import annotations

import os

from tests.fixtures.settings import run_recvault, secret_env, server_env, write_toml


def test_gc_with_a_plain_duration_in_the_environment(tmp_path):
    env = server_env(write_toml(tmp_path), secret_env())
    assert run_recvault(env, "db", "upgrade").returncode == 0
    done = run_recvault({**env, "RECVAULT_LIMITS__GC_GRACE": "PT5S"}, "gc")
    assert done.returncode == 0, done.stderr
    assert "removed 0 pending versions" in done.stdout


def test_a_bad_value_is_one_line(tmp_path):
    env = server_env(write_toml(tmp_path), secret_env())
    done = run_recvault({**env, "RECVAULT_LIMITS__GC_GRACE": "5 minutes"}, "gc")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "RECVAULT_LIMITS__GC_GRACE" in lines[0], done.stderr


def test_the_environment_wins_over_the_file(tmp_path):
    """One variable overrides one setting of a shared file; the file's other settings stay."""
    config = write_toml(tmp_path)
    config.write_text(config.read_text() + '\n[limits]\ngc_grace = "P1D"\nmax_connections = 50\n')
    from vault.settings import Settings

    env = {"RECVAULT_LIMITS__GC_GRACE": "PT5S", **secret_env()}
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        settings = Settings.load(config)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    assert str(settings.limits.gc_grace) == "PT5S"
    assert settings.limits.max_connections == 50
    assert settings.database.url.startswith("sqlite:///")
