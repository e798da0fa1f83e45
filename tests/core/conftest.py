"""Fixtures to build a RecordVault over real parts: migrated DB, stores, key providers."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator

import pytest

from vault import RecordVault, Settings
from vault.metadata.migrate import upgrade


def vault_settings(
    db_url: str, tmp_path, keys: str = "local", bao=None, stores=None, **extra
) -> Settings:
    """Settings for JP and PH; ``stores`` maps a region to a store config (default local)."""
    regions = {}
    for name, location in (("JP", "ap-northeast-1"), ("PH", "ap-southeast-1")):
        if keys == "local":
            key_cfg = {"kind": "local", "path": str(tmp_path / f"keys-{name}.db")}
        else:
            key_cfg = {
                "kind": "vault",
                "addr": bao.addr,
                "mount": f"transit-{name.lower()}",
                "token_env": "RECVAULT_TEST_VAULT_TOKEN",
            }
        regions[name] = {
            "location": location,
            "store": (stores or {}).get(
                name, {"kind": "local", "path": str(tmp_path / "objects" / name.lower())}
            ),
            "keys": key_cfg,
        }
    return Settings.load(
        None,
        database={"url": db_url},
        regions=regions,
        name_secret=secrets.token_hex(32),
        signing_key=secrets.token_hex(32),
        master_key=secrets.token_hex(32),
        **extra,
    )


@pytest.fixture
def make_vault(tmp_path, clock, monkeypatch) -> Iterator[Callable[..., RecordVault]]:
    built: list[RecordVault] = []

    def factory(
        db_url: str, keys: str = "local", bao=None, stores=None, clock_fn=None, **extra
    ) -> RecordVault:
        if bao is not None:
            monkeypatch.setenv(
                "RECVAULT_TEST_VAULT_TOKEN", getattr(bao, "admin_token", bao.root_token)
            )
        settings = vault_settings(db_url, tmp_path, keys, bao, stores, **extra)
        upgrade(settings.database.url)
        vault = RecordVault.from_settings(settings, clock=clock_fn or clock)
        built.append(vault)
        return vault

    yield factory
    for vault in built:
        vault.close()
