"""Configuration: invalid settings fail at start with the key named; secrets only from env."""

from __future__ import annotations

import pytest

from vault.errors import ConfigError
from vault.settings import Settings

SECRET = "ab" * 32


def test_toml_and_environment(tmp_path, monkeypatch):
    config = tmp_path / "recvault.toml"
    config.write_text(
        """
[database]
url = "sqlite:///meta.db"
[regions.JP]
location = "ap-northeast-1"
[regions.JP.store]
kind = "local"
path = "objects/jp"
[regions.JP.keys]
kind = "local"
[retention.categories]
xray = "P11Y"
[destruction]
waiting_period = "P14D"
"""
    )
    monkeypatch.setenv("RECVAULT_CONFIG", str(config))
    monkeypatch.setenv("RECVAULT_NAME_SECRET", SECRET)
    settings = Settings.load()
    assert settings.regions["JP"].location == "ap-northeast-1"
    assert str(settings.retention_for("xray")) == "P11Y"
    assert str(settings.retention_for("photo")) == "P10Y"
    assert str(settings.destruction.waiting_period) == "P14D"
    assert settings.secret_bytes("name_secret") == bytes.fromhex(SECRET)


def test_secret_from_file(tmp_path, monkeypatch):
    secret_file = tmp_path / "signing"
    secret_file.write_text(SECRET + "\n")
    monkeypatch.delenv("RECVAULT_SIGNING_KEY", raising=False)
    monkeypatch.setenv("RECVAULT_SIGNING_KEY_FILE", str(secret_file))
    assert Settings.load(None).secret_bytes("signing_key") == bytes.fromhex(SECRET)


def test_secret_in_toml_is_refused(tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text(f'name_secret = "{SECRET}"\n')
    with pytest.raises(ConfigError, match="name_secret"):
        Settings.load(config)


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"regions": {"jp": {"location": "x"}}}, "regions"),
        ({"retention": {"default": "ten years"}}, "retention.default"),
        ({"retention": {"categories": {"selfie": "P1Y"}}}, "retention.categories"),
        ({"limits": {"wrap_batch": 0}}, "limits.wrap_batch"),
        ({"regions": {"JP": {"location": "x", "store": {"kind": "ftp"}}}}, "regions.JP.store.kind"),
        ({"destruction": {"waiting_peroid": "P1D"}}, "destruction.waiting_peroid"),
    ],
)
def test_invalid_settings_name_the_key(overrides, named):
    with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
        Settings.load(None, **overrides)


def test_missing_config_file_and_bad_toml(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        Settings.load(tmp_path / "absent.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[database\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        Settings.load(broken)


def test_short_or_missing_secret(monkeypatch):
    monkeypatch.delenv("RECVAULT_MASTER_KEY", raising=False)
    monkeypatch.delenv("RECVAULT_MASTER_KEY_FILE", raising=False)
    with pytest.raises(ConfigError, match="RECVAULT_MASTER_KEY"):
        Settings.load(None).secret_bytes("master_key")
    with pytest.raises(ConfigError, match="at least 32 bytes"):
        Settings.load(None, master_key="abcd").secret_bytes("master_key")
