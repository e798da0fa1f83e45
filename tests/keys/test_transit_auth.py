"""Vault authentication for the long run, on a real OpenBao dev server.

AppRole tokens with a 4 s TTL and a 12 s maximum TTL are renewed and replaced
under steady load with no failed call; a revoked token is replaced on the next
call; a token file is read again when it changes; the settings that choose all
this reach the provider from the TOML table of a region.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest

from keys.base import KeyAccessDenied
from keys.bootstrap import create_token
from keys.naming import subject_key_name
from keys.transit import TransitKeyProvider
from keys.transit.auth import VaultAuth
from tests.fixtures.bao import TransitSetup
from tests.keys.conformance import NAME_SECRET, dek
from vault.errors import ConfigError
from vault.regions import build_keys
from vault.settings import Settings

ROLE_POLICIES = ["recvault-key-admin"]


def bao(setup: TransitSetup, method: str, path: str, body: Any = None) -> dict[str, Any]:
    """One call with the root token (the test plays the operator)."""
    request = urllib.request.Request(
        f"{setup.addr}/v1/{path}",
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"X-Vault-Token": setup.root_token},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        text = answer.read()
    return dict(json.loads(text)) if text else {}


def approle(
    setup: TransitSetup, directory: Path, *, ttl: str, max_ttl: str
) -> tuple[str, Path, Path]:
    """A fresh AppRole with short-lived tokens; its role and secret ids written to files."""
    if "approle/" not in (bao(setup, "GET", "sys/auth").get("data") or {}):
        try:
            bao(setup, "POST", "sys/auth/approle", {"type": "approle"})
        except urllib.error.HTTPError as exc:  # another test enabled it meanwhile
            if exc.code != 400:
                raise
    role = f"recvault-{uuid.uuid4().hex[:12]}"
    bao(
        setup,
        "POST",
        f"auth/approle/role/{role}",
        {"token_policies": ROLE_POLICIES, "token_ttl": ttl, "token_max_ttl": max_ttl},
    )
    role_id = bao(setup, "GET", f"auth/approle/role/{role}/role-id")["data"]["role_id"]
    secret_id = bao(setup, "POST", f"auth/approle/role/{role}/secret-id", {})["data"]["secret_id"]
    role_file, secret_file = directory / f"{role}.role-id", directory / f"{role}.secret-id"
    role_file.write_text(role_id + "\n")
    secret_file.write_text(secret_id + "\n")
    return role, role_file, secret_file


def revoke_role_tokens(setup: TransitSetup, role: str) -> int:
    """Revoke every token issued to ``role`` (what security does after a leak)."""
    accessors = bao(setup, "LIST", "auth/token/accessors")["data"]["keys"]
    revoked = 0
    for accessor in accessors:
        try:
            info = bao(setup, "POST", "auth/token/lookup-accessor", {"accessor": accessor})
        except urllib.error.HTTPError:
            continue  # expired meanwhile
        if ((info.get("data") or {}).get("meta") or {}).get("role_name") == role:
            bao(setup, "POST", "auth/token/revoke-accessor", {"accessor": accessor})
            revoked += 1
    return revoked


def keys_settings(setup: TransitSetup, **keys: Any) -> Settings:
    table = {"kind": "vault", "addr": setup.addr, "mount": "transit-jp", **keys}
    return Settings.load(
        None,
        regions={"JP": {"location": "ap-northeast-1", "keys": table}},
        limits={"dek_cache_entries": 0},  # every unwrap reaches the key service
    )


def region_provider(settings: Settings) -> TransitKeyProvider:
    provider = build_keys("JP", settings.regions["JP"].keys, settings)
    assert isinstance(provider, TransitKeyProvider)
    return provider


def fresh_key(setup: TransitSetup) -> str:
    name = subject_key_name(NAME_SECRET, f"auth-{uuid.uuid4()}")
    TransitKeyProvider(setup.addr, "transit-jp", token=setup.admin_token).ensure_key(name)
    return name


def round_trip(provider: TransitKeyProvider, name: str) -> None:
    key = dek()
    assert provider.unwrap(name, [provider.wrap(name, [key])[0].ciphertext]) == [key]


def steady_load(
    provider: TransitKeyProvider, name: str, seconds: float, threads: int = 2
) -> list[BaseException]:
    """Wrap and unwrap without pause from ``threads`` threads for ``seconds``; the errors met."""
    errors: list[BaseException] = []
    rounds = [0] * threads
    until = time.monotonic() + seconds

    def work(index: int) -> None:
        while time.monotonic() < until:
            try:
                round_trip(provider, name)
                rounds[index] += 1
            except Exception as exc:  # every error is the test's finding
                errors.append(exc)

    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert all(rounds), "a worker made no round trip"
    return errors


def approle_provider(
    setup: TransitSetup, tmp_path: Path, *, ttl: str = "4s", max_ttl: str = "12s"
) -> tuple[str, TransitKeyProvider]:
    role, role_file, secret_file = approle(setup, tmp_path, ttl=ttl, max_ttl=max_ttl)
    settings = keys_settings(
        setup, auth="approle", role_id_file=str(role_file), secret_id_file=str(secret_file)
    )
    return role, region_provider(settings)


@pytest.mark.parametrize(
    "seconds",
    [pytest.param(15.0, id="15s"), pytest.param(45.0, id="45s", marks=pytest.mark.slow)],
)
def test_short_lived_approle_tokens_never_fail_a_call(
    transit: TransitSetup, tmp_path: Path, seconds: float
) -> None:
    _role, provider = approle_provider(transit, tmp_path)
    name = fresh_key(transit)
    errors = steady_load(provider, name, seconds)
    assert errors == []
    auth: VaultAuth = provider.auth
    # longer than the 12 s maximum TTL: renewed, then replaced by a new login
    assert auth.renewals >= 1
    assert auth.logins >= 2


def test_a_token_that_lapsed_while_idle_is_replaced(transit: TransitSetup, tmp_path: Path) -> None:
    _role, provider = approle_provider(transit, tmp_path, ttl="2s", max_ttl="6s")
    name = fresh_key(transit)
    round_trip(provider, name)
    time.sleep(3)  # longer than the TTL: the token expired with no call to renew it
    round_trip(provider, name)
    assert provider.auth.logins == 2


def test_a_revoked_token_is_replaced_on_the_next_call(
    transit: TransitSetup, tmp_path: Path
) -> None:
    role, provider = approle_provider(transit, tmp_path, ttl="1h", max_ttl="2h")
    name = fresh_key(transit)
    round_trip(provider, name)
    assert revoke_role_tokens(transit, role) == 1
    round_trip(provider, name)
    assert provider.auth.logins == 2


def test_tokens_revoked_under_load_fail_no_call(transit: TransitSetup, tmp_path: Path) -> None:
    role, provider = approle_provider(transit, tmp_path, ttl="1h", max_ttl="2h")
    name = fresh_key(transit)
    revoker_done = threading.Event()

    def revoke_twice() -> None:
        for _ in range(2):
            time.sleep(1.5)
            revoke_role_tokens(transit, role)
        revoker_done.set()

    revoker = threading.Thread(target=revoke_twice)
    revoker.start()
    errors = steady_load(provider, name, 5.0)
    revoker.join()
    assert revoker_done.is_set()
    assert errors == []
    assert provider.auth.logins >= 3


def test_a_policy_refusal_is_not_mistaken_for_a_dead_token(transit: TransitSetup) -> None:
    provider = TransitKeyProvider(transit.addr, "transit-jp", token=transit.service_token)
    with pytest.raises(KeyAccessDenied):
        provider.rotate(fresh_key(transit))  # the service policy may not rotate
    assert provider.auth.logins == 1  # the token was kept: it still looks itself up


def test_a_revoked_given_token_is_refused_not_retried_forever(transit: TransitSetup) -> None:
    token = create_token(transit.addr, transit.root_token, ROLE_POLICIES)
    provider = TransitKeyProvider(transit.addr, "transit-jp", token=token)
    name = fresh_key(transit)
    round_trip(provider, name)
    bao(transit, "POST", "auth/token/revoke", {"token": token})
    with pytest.raises(KeyAccessDenied):
        round_trip(provider, name)


def test_token_file_is_read_again_when_it_changes(transit: TransitSetup, tmp_path: Path) -> None:
    first = create_token(transit.addr, transit.root_token, ROLE_POLICIES)
    token_file = tmp_path / "vault-token"
    token_file.write_text(first + "\n")
    provider = region_provider(keys_settings(transit, token_file=str(token_file)))
    name = fresh_key(transit)
    round_trip(provider, name)

    # an agent writes a new token, then the old one is revoked: no call notices
    second = create_token(transit.addr, transit.root_token, ROLE_POLICIES)
    replacement = tmp_path / "vault-token.new"
    replacement.write_text(second + "\n")
    replacement.replace(token_file)
    bao(transit, "POST", "auth/token/revoke", {"token": first})
    round_trip(provider, name)
    assert provider.auth.logins == 2

    # revoked with no new token in the file: refused, and said so
    bao(transit, "POST", "auth/token/revoke", {"token": second})
    with pytest.raises(KeyAccessDenied):
        round_trip(provider, name)


def test_renewable_given_token_is_renewed(transit: TransitSetup) -> None:
    token = create_token(transit.addr, transit.root_token, ROLE_POLICIES, ttl="3s")
    provider = TransitKeyProvider(transit.addr, "transit-jp", token=token)
    name = fresh_key(transit)
    until = time.monotonic() + 7
    while time.monotonic() < until:  # more than twice the TTL
        round_trip(provider, name)
    assert provider.auth.renewals >= 2
    assert provider.auth.logins == 1


def test_wrong_approle_secret_is_access_denied_at_first_call(
    transit: TransitSetup, tmp_path: Path
) -> None:
    _role, role_file, secret_file = approle(transit, tmp_path, ttl="1h", max_ttl="1h")
    secret_file.write_text("not-the-secret\n")
    provider = region_provider(
        keys_settings(
            transit, auth="approle", role_id_file=str(role_file), secret_id_file=str(secret_file)
        )
    )
    with pytest.raises(KeyAccessDenied):
        round_trip(provider, fresh_key(transit))


def test_approle_files_must_be_readable_at_start(transit: TransitSetup, tmp_path: Path) -> None:
    settings = keys_settings(
        transit,
        auth="approle",
        role_id_file=str(tmp_path / "absent"),
        secret_id_file=str(tmp_path / "absent-too"),
    )
    with pytest.raises(ConfigError, match=r"regions\.JP\.keys\.role_id_file: cannot read"):
        region_provider(settings)


def test_missing_token_names_the_setting(
    transit: TransitSetup, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RECVAULT_NO_SUCH_TOKEN", raising=False)
    monkeypatch.delenv("RECVAULT_NO_SUCH_TOKEN_FILE", raising=False)
    settings = keys_settings(transit, token_env="RECVAULT_NO_SUCH_TOKEN")
    with pytest.raises(ConfigError, match=r"regions\.JP\.keys\.token_env: RECVAULT_NO_SUCH_TOKEN"):
        region_provider(settings)
