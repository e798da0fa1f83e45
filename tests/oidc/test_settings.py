"""``[auth.oidc]`` in the TOML file: read as written, and refused with the key named."""

from __future__ import annotations

import pytest

from vault.errors import ConfigError
from vault.settings import Settings

OIDC = """
[auth]
console_token_sign_in = false

[auth.oidc]
issuer = "https://login.example.org/realms/clinics"
audience = "recvault"
client_id = "recvault-console"
roles_claim = ""
groups_claim = "roles"
clock_skew = "PT30S"
{extra}
[auth.oidc.groups."compliance.PH"]
roles = ["compliance"]
regions = ["PH"]
"""


def load(tmp_path, extra: str = "") -> Settings:
    path = tmp_path / "recvault.toml"
    path.write_text(OIDC.format(extra=extra))
    return Settings.load(path)


def test_oidc_settings_are_read_from_the_toml_file(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("RECVAULT_OIDC_CLIENT_SECRET", "s3cret")
    settings = load(tmp_path)
    oidc = settings.auth.oidc
    assert oidc is not None and settings.auth.console_token_sign_in is False
    assert oidc.groups["compliance.PH"].regions == ["PH"]
    assert oidc.clock_skew.approx_timedelta().total_seconds() == 30
    assert oidc.principal_claim == "sub" and "RS256" in oidc.algorithms
    assert oidc.client_secret() == "s3cret"


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ('algorithms = ["HS256"]', "auth.oidc.algorithms"),
        ('algorithms = ["none"]', "auth.oidc.algorithms"),
        ('client_secret = "in the file"', "auth.oidc.client_secret"),
    ],
)
def test_bad_oidc_settings_are_refused_with_the_key_named(tmp_path, extra, named) -> None:
    with pytest.raises(ConfigError, match=named):
        load(tmp_path, extra)


def test_some_way_to_grant_roles_is_required(tmp_path) -> None:
    path = tmp_path / "recvault.toml"
    path.write_text('[auth.oidc]\nissuer = "https://i"\naudience = "a"\nroles_claim = ""\n')
    with pytest.raises(ConfigError, match="roles_claim"):
        Settings.load(path)
