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


def _vault_keys(**keys):
    return {"regions": {"JP": {"location": "x", "keys": {"kind": "vault", **keys}}}}


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ({"auth": "approle"}, 'regions.JP.keys.role_id_file: required with auth = "approle"'),
        (
            {"auth": "approle", "role_id_file": "/r"},
            'regions.JP.keys.secret_id_file: required with auth = "approle"',
        ),
        (
            {"auth": "approle", "role_id_file": "/r", "secret_id_file": "/s", "token_file": "/t"},
            'regions.JP.keys.token_file: not used with auth = "approle"',
        ),
        ({"role_id_file": "/r"}, 'regions.JP.keys.role_id_file: only used with auth = "approle"'),
        (
            {"client_cert": "/c.pem"},
            "regions.JP.keys.client_key: client_cert and client_key go together",
        ),
        (
            {"client_key": "/k.pem"},
            "regions.JP.keys.client_cert: client_cert and client_key go together",
        ),
        (
            {"ca_cert": "/ca.pem", "verify": False},
            "regions.JP.keys.ca_cert: give either ca_cert or verify, not both",
        ),
        ({"auth": "kerberos"}, "regions.JP.keys.auth: Input should be 'token' or 'approle'"),
        ({"role_id": "abc"}, "regions.JP.keys.role_id: Extra inputs are not permitted"),
    ],
)
def test_vault_auth_settings_fail_in_one_line_naming_the_field(keys, message):
    with pytest.raises(ConfigError) as caught:
        Settings.load(None, **_vault_keys(**keys))
    assert str(caught.value.message) == f"invalid setting {message}"
    assert "\n" not in caught.value.message


def test_vault_auth_and_tls_from_toml(tmp_path):
    config = tmp_path / "recvault.toml"
    config.write_text(
        """
[regions.JP]
location = "ap-northeast-1"
[regions.JP.keys]
kind = "vault"
addr = "https://bao-jp.internal:8200"
mount = "transit-jp"
auth = "approle"
role_id_file = "/run/secrets/role-id"
secret_id_file = "/run/secrets/secret-id"
approle_mount = "approle-recvault"
namespace = "clinics/jp"
ca_cert = "/etc/recvault/tls/ca.crt"
client_cert = "/etc/recvault/tls/client.crt"
client_key = "/etc/recvault/tls/client.key"
"""
    )
    keys = Settings.load(config).regions["JP"].keys
    assert keys.auth == "approle"
    assert keys.approle_mount == "approle-recvault"
    assert keys.namespace == "clinics/jp"
    assert keys.tls_verify() == "/etc/recvault/tls/ca.crt"
    assert keys.tls_client_cert() == (
        "/etc/recvault/tls/client.crt",
        "/etc/recvault/tls/client.key",
    )


def test_the_approle_example_of_the_operations_guide_is_valid():
    import re
    import tomllib
    from pathlib import Path

    from vault.settings import KeysConfig

    guide = (Path(__file__).resolve().parents[2] / "docs" / "operations.md").read_text()
    blocks = [b for b in re.findall(r"```toml\n(.*?)```", guide, re.DOTALL) if "approle" in b]
    assert blocks
    for block in blocks:
        keys = KeysConfig(**tomllib.loads(block)["regions"]["JP"]["keys"])
        assert keys.auth == "approle" and keys.tls_client_cert() is not None


@pytest.mark.parametrize(
    ("variable", "value", "read"),
    [
        ("RECVAULT_LIMITS__GC_GRACE", "PT5S", lambda s: str(s.limits.gc_grace)),
        ("RECVAULT_LIMITS__BODY_IDLE_TIMEOUT", "PT2S", lambda s: str(s.limits.body_idle_timeout)),
        ("RECVAULT_LIMITS__TUNE_ALLOCATOR", "no", lambda s: s.limits.tune_allocator),
        ("RECVAULT_DESTRUCTION__REVIEW", "true", lambda s: s.destruction.review),
        ("RECVAULT_RETENTION__CATEGORIES__XRAY", "P5Y", lambda s: str(s.retention_for("xray"))),
        ("RECVAULT_DATABASE__LOCK_TIMEOUT", "PT1S", lambda s: str(s.database.lock_timeout)),
        ("RECVAULT_LIMITS", '{"gc_grace": "PT7S"}', lambda s: str(s.limits.gc_grace)),
    ],
)
def test_environment_is_read_as_written(monkeypatch, variable, value, read):
    """Durations, booleans and nested values need no JSON quoting; JSON still works."""
    monkeypatch.setenv(variable, value)
    expected = {"no": False, "true": True}.get(value, value)
    if variable == "RECVAULT_LIMITS":
        expected = "PT7S"
    assert read(Settings.load()) == expected


def test_a_list_is_comma_separated():
    from vault.settings import KeysConfig, PlainEnvSource

    source = PlainEnvSource(Settings)
    field = KeysConfig.model_fields["mounts"]
    assert source.decode_complex_value("mounts", field, "transit-a, transit-b") == [
        "transit-a",
        "transit-b",
    ]
    assert source.decode_complex_value("mounts", field, '["x"]') == ["x"]


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("RECVAULT_LIMITS__GC_GRACE", "5 minutes"),
        ("RECVAULT_LIMITS__MAX_RECORD_BYTES", "lots"),
        ("RECVAULT_LIMITS", "{not json"),
    ],
)
def test_a_bad_value_is_one_line_naming_the_variable(monkeypatch, variable, value):
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as caught:
        Settings.load()
    assert variable in caught.value.message and "\n" not in caught.value.message


def test_a_region_setting_from_the_environment_joins_the_toml_region(tmp_path, monkeypatch):
    config = tmp_path / "recvault.toml"
    config.write_text(
        '[regions.JP]\nlocation = "ap-northeast-1"\n[regions.JP.keys]\nkind = "vault"\n'
    )
    monkeypatch.setenv("RECVAULT_CONFIG", str(config))
    monkeypatch.setenv("RECVAULT_REGIONS__JP__KEYS__MOUNTS", "transit-jp-a,transit-jp-b")
    monkeypatch.setenv("RECVAULT_REGIONS__JP__KEYS__TIMEOUT", "2.5")
    settings = Settings.load()
    assert list(settings.regions) == ["JP"]
    keys = settings.regions["JP"].keys
    assert keys.mount_list() == ["transit-jp-a", "transit-jp-b"] and keys.timeout == 2.5
    assert settings.regions["JP"].location == "ap-northeast-1"


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        (
            {"mount": "transit-jp", "mounts": ["transit-jp-1"]},
            "regions.JP.keys.mounts: give either mount or mounts, not both",
        ),
        (
            {"mounts": ["transit-jp-0", "transit-jp-0/"]},
            "regions.JP.keys.mounts: 'transit-jp-0' is listed twice",
        ),
        (
            {"mounts": ["transit-jp-0", "transit jp"]},
            "regions.JP.keys.mounts: 'transit jp' is not a mount path "
            "(letters, digits, '-', '_', '/')",
        ),
        (
            {"kind": "local", "mounts": ["transit-jp-0"]},
            'regions.JP.keys.mounts: only used with kind = "vault"',
        ),
    ],
)
def test_mount_lists_are_checked(keys, message):
    with pytest.raises(ConfigError) as caught:
        Settings.load(None, **_vault_keys(**keys))
    assert str(caught.value.message) == f"invalid setting {message}"


def test_a_region_of_several_mounts_from_toml(tmp_path):
    config = tmp_path / "recvault.toml"
    config.write_text(
        '[regions.JP]\nlocation = "ap-northeast-1"\n[regions.JP.keys]\n'
        'mounts = ["transit-jp-0", "transit-jp-1", "jp/transit-2"]\n'
    )
    keys = Settings.load(config).regions["JP"].keys
    assert keys.mount_list() == ["transit-jp-0", "transit-jp-1", "jp/transit-2"]


@pytest.mark.parametrize(("cores", "threads"), [(None, 0), (1, 0), (2, 2), (4, 4), (64, 8)])
def test_whole_record_reads_decrypt_on_one_thread_per_core_by_default(
    monkeypatch, cores, threads
) -> None:
    """A lane per read on a pool of one thread per core (docs/benchmarks.md, reads);
    none on a single core, where it would only add hand-offs."""
    from vault.settings import LimitsConfig

    monkeypatch.setattr("os.cpu_count", lambda: cores)
    assert LimitsConfig().decrypt_threads == threads
    assert LimitsConfig(decrypt_threads=0).decrypt_threads == 0
