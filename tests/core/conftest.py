"""Fixtures to build a RecordVault over real parts: migrated DB, stores, key providers."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.fixtures.settings import TOKEN_ENV, region_configs
from tests.fixtures.settings import vault_settings as fixture_settings
from vault import RecordVault, Settings
from vault.metadata.migrate import upgrade


def vault_settings(
    db_url: str, tmp_path, keys: str = "local", bao=None, stores=None, **extra
) -> Settings:
    """Settings for JP and PH; ``stores`` maps a region to a store config (default local)."""
    regions = region_configs(
        tmp_path, keys=keys, bao_addr=bao.addr if bao is not None else None, stores=stores
    )
    return fixture_settings(db_url, regions, **extra)


@pytest.fixture
def make_vault(tmp_path, clock, monkeypatch) -> Iterator[Callable[..., RecordVault]]:
    built: list[RecordVault] = []

    def factory(
        db_url: str, keys: str = "local", bao=None, stores=None, clock_fn=None, **extra
    ) -> RecordVault:
        if bao is not None:
            monkeypatch.setenv(TOKEN_ENV, getattr(bao, "admin_token", bao.root_token))
        settings = vault_settings(db_url, tmp_path, keys, bao, stores, **extra)
        upgrade(settings.database.url)
        vault = RecordVault.from_settings(settings, clock=clock_fn or clock)
        built.append(vault)
        return vault

    yield factory
    for vault in built:
        vault.close()
