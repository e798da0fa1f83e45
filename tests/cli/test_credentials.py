"""Where the CLI's tokens come from and where they go: never into an error, never from a
file others can read or replace.

``recvault login`` keeps tokens in ``<config dir>/recvault/credentials.json``;
these tests write that file by hand (``tests/oidc/test_cli_login.py`` signs in
for real) and run the CLI as a user runs it, in a subprocess.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import time
from pathlib import Path

import pytest

from tests.fixtures.settings import ROOT, run_recvault

SECRET = "rvt_SecretThatMustNotBePrinted0123456789abcdef"
#: nothing listens here: every check below must come before a connection is tried
NOWHERE = "http://127.0.0.1:9"


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECVAULT_")}
    env.update(
        PYTHONPATH=str(ROOT), XDG_CONFIG_HOME=str(tmp_path / "config"), RECVAULT_ADDR=NOWHERE
    )
    env.update(extra)
    return env


def _error_line(done: subprocess.CompletedProcess[str], code: int, slug: str) -> str:
    assert done.returncode == code, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and f"[{slug}]" in lines[0], done.stderr
    return lines[0]


# -- a token that cannot be a bearer token ------------------------------------------------


@pytest.mark.parametrize("suffix", ["\nX", "\rX", "\x7f", " extra", "é"])
@pytest.mark.parametrize(
    "command",
    [
        ("subjects", "get", "0" * 32),
        ("records", "get", "0" * 32, "-o", "out.bin"),  # the download path (http.client)
    ],
)
def test_a_malformed_token_is_refused_without_printing_it(tmp_path, suffix, command) -> None:
    done = run_recvault(_env(tmp_path, RECVAULT_TOKEN=SECRET + suffix), *command)
    line = _error_line(done, 2, "usage")
    assert "RECVAULT_TOKEN" in line
    assert SECRET not in done.stderr + done.stdout


def test_surrounding_whitespace_of_a_token_is_dropped(tmp_path) -> None:
    """A token read from a file with its line end still reaches the server (here: nowhere)."""
    done = run_recvault(
        _env(tmp_path, RECVAULT_TOKEN=f" {SECRET}\r\n"), "subjects", "get", "0" * 32
    )
    _error_line(done, 1, "unreachable")


# -- the file recvault login keeps -------------------------------------------------------


def _store(tmp_path: Path, content: str, mode: int = 0o600) -> Path:
    folder = tmp_path / "config" / "recvault"
    folder.mkdir(parents=True, mode=0o700, exist_ok=True)
    path = folder / "credentials.json"
    path.write_text(content)
    path.chmod(mode)
    return path


def _entry(token: str = SECRET) -> dict[str, object]:
    return {
        NOWHERE: {
            "issuer": "http://127.0.0.1:9/issuer",
            "client_id": "recvault-cli",
            "token_endpoint": "http://127.0.0.1:9/token",
            "access_token": token,
            "refresh_token": None,
            "expires_at": time.time() + 3600,
        }
    }


def test_a_stored_token_is_used_for_its_own_address_only(tmp_path) -> None:
    _store(tmp_path, json.dumps(_entry()))
    used = run_recvault(_env(tmp_path), "subjects", "get", "0" * 32)
    _error_line(used, 1, "unreachable")  # it had a token, and tried
    other = run_recvault(
        _env(tmp_path, RECVAULT_ADDR="http://127.0.0.2:9"), "subjects", "get", "0" * 32
    )
    assert "no token" in _error_line(other, 2, "usage")


def test_a_credentials_file_others_can_read_is_refused(tmp_path) -> None:
    path = _store(tmp_path, json.dumps(_entry()), mode=0o644)
    line = _error_line(run_recvault(_env(tmp_path), "subjects", "get", "0" * 32), 1, "credentials")
    assert str(path) in line and "0644" in line
    assert SECRET not in line


def test_a_credentials_file_that_is_a_link_is_refused(tmp_path) -> None:
    elsewhere = tmp_path / "planted.json"
    elsewhere.write_text(json.dumps(_entry("rvt_someone_elses_token")))
    elsewhere.chmod(0o600)
    folder = tmp_path / "config" / "recvault"
    folder.mkdir(parents=True, mode=0o700)
    (folder / "credentials.json").symlink_to(elsewhere)
    line = _error_line(run_recvault(_env(tmp_path), "subjects", "get", "0" * 32), 1, "credentials")
    assert "link" in line


def test_a_damaged_credentials_file_says_so(tmp_path) -> None:
    path = _store(tmp_path, '{"http://127.0.0.1:9": {"access_token": ')
    line = _error_line(run_recvault(_env(tmp_path), "subjects", "get", "0" * 32), 1, "credentials")
    assert str(path) in line and "recvault login" in line


def test_saving_makes_the_folder_private_and_never_follows_a_planted_link(
    tmp_path, monkeypatch
) -> None:
    from vault.cli import credentials

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    folder = tmp_path / "config" / "recvault"
    folder.mkdir(parents=True, mode=0o755)
    folder.chmod(0o755)  # made before by something else, with the umask's mode
    victim = tmp_path / "victim"
    victim.write_text("keep me")
    (folder / "credentials.tmp").symlink_to(victim)  # the old fixed temporary name
    path = credentials.store(NOWHERE, _entry()[NOWHERE])
    assert victim.read_text() == "keep me"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and not path.is_symlink()
    assert credentials.stored_token(NOWHERE) == SECRET
    assert credentials.forget(NOWHERE) is not None
    assert credentials.stored_token(NOWHERE) is None
