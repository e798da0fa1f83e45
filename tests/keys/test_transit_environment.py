"""TransitKeyProvider's TLS and proxy settings, on real OpenBao dev servers.

The provider reads the proxy and CA variables of the environment once, when
it is built (keys/vault_transit.py, ``_session``), not on every call; these
tests pin down that the variables still mean what requests makes them mean.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from keys.base import KeyUnavailable
from keys.bootstrap import bootstrap_transit
from keys.transit import TransitAdmin, TransitKeyProvider
from tests.fixtures.bao import BaoServer, TransitSetup, start_bao_server
from tests.fixtures.settings import run_recvault, secret_env, server_env
from tests.keys.conformance import dek
from vault.cli.devbao import free_port

PROXY_VARIABLES = (
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "no_proxy",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def tls_bao(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BaoServer]:
    server = start_bao_server(tmp_path_factory.mktemp("bao-tls"), tls=True)
    try:
        bootstrap_transit(
            server.addr, server.root_token, ["transit-tls"], verify=str(server.ca_path)
        )
        yield server
    finally:
        server.stop()


def round_trip(provider: TransitKeyProvider, name: str) -> None:
    provider.ensure_key(name)
    key = dek()
    assert provider.unwrap(name, [provider.wrap(name, [key])[0].ciphertext]) == [key]


def tls_provider(server: BaoServer, verify: bool | str) -> TransitKeyProvider:
    return TransitKeyProvider(server.addr, "transit-tls", token=server.root_token, verify=verify)


def test_tls_with_the_configured_ca(tls_bao: BaoServer) -> None:
    round_trip(tls_provider(tls_bao, str(tls_bao.ca_path)), "subj-" + "1" * 64)


def test_tls_with_an_unknown_ca_is_unavailable(tls_bao: BaoServer) -> None:
    provider = tls_provider(tls_bao, True)
    with pytest.raises(KeyUnavailable):
        provider.health()


def test_tls_ca_from_requests_ca_bundle(
    tls_bao: BaoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tls_bao.ca_path))
    round_trip(tls_provider(tls_bao, True), "subj-" + "2" * 64)


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_tls_verification_off_still_encrypts(tls_bao: BaoServer) -> None:
    round_trip(tls_provider(tls_bao, False), "subj-" + "3" * 64)


def closed_proxy() -> str:
    return f"http://127.0.0.1:{free_port()}"


def test_proxy_variables_are_honoured(
    transit: TransitSetup, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", closed_proxy())
    provider = TransitKeyProvider(transit.addr, "transit-jp", token=transit.admin_token)
    with pytest.raises(KeyUnavailable):
        provider.health()


def test_no_proxy_is_honoured(transit: TransitSetup, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", closed_proxy())
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    provider = TransitKeyProvider(transit.addr, "transit-jp", token=transit.admin_token)
    round_trip(provider, "subj-" + "4" * 64)


def test_environment_is_read_when_the_provider_is_built(
    transit: TransitSetup, monkeypatch: pytest.MonkeyPatch
) -> None:
    provider = TransitKeyProvider(transit.addr, "transit-jp", token=transit.admin_token)
    monkeypatch.setenv("HTTP_PROXY", closed_proxy())
    round_trip(provider, "subj-" + "5" * 64)


def test_tls_settings_from_a_region_keys_table(
    tls_bao: BaoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ca_cert, client_cert and client_key reach the provider from the settings."""
    from vault.regions import build_keys
    from vault.settings import Settings

    assert tls_bao.tls_dir is not None
    # the dev server does not ask for a client certificate; its own pair stands in for one
    cert, key = tls_bao.tls_dir / "vault-cert.pem", tls_bao.tls_dir / "vault-key.pem"
    monkeypatch.setenv("RECVAULT_TLS_TEST_TOKEN", tls_bao.root_token)
    table = {
        "kind": "vault",
        "addr": tls_bao.addr,
        "mount": "transit-tls",
        "token_env": "RECVAULT_TLS_TEST_TOKEN",
        "ca_cert": str(tls_bao.ca_path),
        "client_cert": str(cert),
        "client_key": str(key),
    }
    settings = Settings.load(
        None,
        regions={"JP": {"location": "ap-northeast-1", "keys": table}},
        limits={"dek_cache_entries": 0},
    )
    provider = build_keys("JP", settings.regions["JP"].keys, settings)
    assert isinstance(provider, TransitKeyProvider)
    session = provider._transport.client.adapter.session
    assert session.verify == str(tls_bao.ca_path)
    assert session.cert == (str(cert), str(key))
    round_trip(provider, "subj-" + "5" * 64)


@pytest.mark.parametrize("ca_field", ["ca_cert", "verify"])
def test_keys_bootstrap_uses_the_region_tls_settings(
    tls_bao: BaoServer, tmp_path: Path, ca_field: str
) -> None:
    """`recvault keys bootstrap` reaches a TLS server through the region's CA (either
    spelling), as the deployed configuration gives it (docs/deploy/recvault.toml)."""
    mount = f"transit-boot-{ca_field.replace('_', '-')}"
    config = tmp_path / "recvault.toml"
    config.write_text(
        f'[regions.JP]\nlocation = "ap-northeast-1"\n'
        f'[regions.JP.store]\nkind = "local"\npath = "{tmp_path / "objects"}"\n'
        f'[regions.JP.keys]\nkind = "vault"\naddr = "{tls_bao.addr}"\nmount = "{mount}"\n'
        f'token_env = "RECVAULT_VAULT_TOKEN_JP"\n{ca_field} = "{tls_bao.ca_path}"\n'
    )
    env = server_env(config, secret_env())
    env["RECVAULT_VAULT_TOKEN_JP"] = tls_bao.root_token
    result = run_recvault(env, "keys", "bootstrap")
    assert result.returncode == 0, result.stderr
    assert f"region JP: transit mounts {mount} ready" in result.stdout
    admin = TransitAdmin(tls_bao.addr, tls_bao.root_token, verify=str(tls_bao.ca_path))
    assert mount in admin.mounts()
