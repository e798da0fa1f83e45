"""``recvault login`` against the real provider: device flow, loopback redirect with PKCE, refresh.

``recvault`` runs as a process of its own with its config directory in a
temporary folder; the person at the browser is played by httpx, which opens
the address the command prints and fills in the provider's forms.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.fixtures.settings import ROOT, run_recvault
from tests.oidc.conftest import through_provider
from tests.oidc.test_console_sso import ServedAt


@pytest.fixture
def served(sso_api, oidc) -> Iterator[ServedAt]:
    api = sso_api()
    server = ServedAt(api.app, oidc.callback_port)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def cli_env(tmp_path, served) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECVAULT_")}
    env.update(
        RECVAULT_ADDR=served.url,
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        PYTHONPATH=str(ROOT),
        PYTHONUNBUFFERED="1",
        BROWSER="true",  # webbrowser runs `true URL`: the test is the browser
    )
    return env


def start_login(env: dict[str, str], *args: str) -> tuple[subprocess.Popen[str], str]:
    """``recvault login`` started; the address it asks the person to open."""
    process = subprocess.Popen(
        [sys.executable, "-m", "vault.cli", "login", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    line = process.stderr.readline()
    found = re.search(r"open (\S+)", line)
    assert found, line + (process.stderr.read() if process.poll() is not None else "")
    return process, found.group(1)


def finish(process: subprocess.Popen[str]) -> str:
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    return out


def signed_in_as(env: dict[str, str], user: str) -> str:
    """``recvault login --browser`` finished by ``user`` at the provider; what it printed."""
    process, where = start_login(env, "--browser")
    with httpx.Client(follow_redirects=True, timeout=20) as browser:
        through_provider(browser, browser.get(where), user)
    return finish(process)


def credentials(env: dict[str, str]) -> Path:
    return Path(env["XDG_CONFIG_HOME"]) / "recvault" / "credentials.json"


@pytest.mark.slow  # the device flow polls every 5 s (RFC 8628's default interval)
def test_device_flow_login_then_commands_use_the_token_then_logout(cli_env) -> None:
    process, where = start_login(cli_env)
    with httpx.Client(follow_redirects=True, timeout=20) as browser:
        # the code is in the address: the pages ask to confirm it, to sign in, to consent
        done = through_provider(browser, browser.get(where), "service-ph")
        assert done.status_code == 200 and "Sign-in Success" in done.text, done.text[-300:]
    assert "signed in to" in finish(process)
    path = credentials(cli_env)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    created = run_recvault(cli_env, "subjects", "create", "ref-cli", "--region", "PH", "--json")
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout)["region"] == "PH"
    other = run_recvault(cli_env, "subjects", "create", "ref-cli", "--region", "JP")
    assert other.returncode == 1 and "region-not-granted" in other.stderr
    # RECVAULT_TOKEN wins over the stored sign-in
    forced = run_recvault({**cli_env, "RECVAULT_TOKEN": "rvt_wrong"}, "subjects", "get", "0" * 32)
    assert forced.returncode == 1 and "unauthenticated" in forced.stderr
    out = run_recvault(cli_env, "logout")
    assert out.returncode == 0 and "signed out" in out.stdout
    after = run_recvault(cli_env, "subjects", "create", "ref-cli", "--region", "PH")
    assert after.returncode == 2 and "recvault login" in after.stderr


def test_browser_login_with_a_loopback_redirect_and_pkce(cli_env) -> None:
    process, where = start_login(cli_env, "--browser")
    assert "code_challenge_method=S256" in where and "redirect_uri=http%3A%2F%2F127.0.0.1" in where
    with httpx.Client(follow_redirects=True, timeout=20) as browser:
        landed = through_provider(browser, browser.get(where), "compliance-ph")
        assert "signed in" in landed.text
    finish(process)
    report = run_recvault(cli_env, "residency", "report", "--json")
    assert report.returncode in (0, 1), report.stderr  # 1: a violation found, still answered
    assert '"PH"' in report.stdout and '"JP"' not in report.stdout


def test_an_expired_access_token_is_renewed_with_the_refresh_token(cli_env) -> None:
    signed_in_as(cli_env, "service-ph")
    path = credentials(cli_env)
    stored = json.loads(path.read_text())
    [entry] = stored.values()
    assert entry["refresh_token"]
    entry["expires_at"] = time.time() - 60
    path.write_text(json.dumps(stored))
    created = run_recvault(cli_env, "subjects", "create", "ref-renewed", "--region", "PH")
    assert created.returncode == 0, created.stderr
    renewed = json.loads(path.read_text())[next(iter(stored))]
    assert renewed["access_token"] != entry["access_token"]
    assert renewed["expires_at"] > time.time()


def test_logout_revokes_the_refresh_token_at_the_provider(cli_env) -> None:
    signed_in_as(cli_env, "service-ph")
    [entry] = json.loads(credentials(cli_env).read_text()).values()
    out = run_recvault(cli_env, "logout")
    assert out.returncode == 0 and "signed out" in out.stdout, out.stderr
    assert "revoked" in out.stdout
    # whoever copied the file before cannot renew the sign-in any more
    renewed = httpx.post(
        entry["token_endpoint"],
        data={
            "grant_type": "refresh_token",
            "refresh_token": entry["refresh_token"],
            "client_id": entry["client_id"],
        },
        timeout=20,
    )
    assert renewed.status_code == 400 and renewed.json()["error"] == "invalid_grant"


def test_logout_says_when_the_provider_could_not_revoke(cli_env) -> None:
    signed_in_as(cli_env, "service-ph")
    path = credentials(cli_env)
    stored = json.loads(path.read_text())
    [entry] = stored.values()
    entry["issuer"] = "http://127.0.0.1:9"  # a provider that cannot be reached
    path.write_text(json.dumps(stored))
    out = run_recvault(cli_env, "logout")
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert "not revoked" in out.stderr and entry["refresh_token"] not in out.stderr
    assert json.loads(path.read_text()) == {}  # forgotten here all the same
