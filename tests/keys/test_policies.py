"""The two recvault policies on a real OpenBao dev server: what each token may not do, and
that recvault still does all it needs with them.

Every refusal is checked twice: the call answers 403, and a root-token read shows
nothing changed (the key still non-exportable, the mount settings as bootstrapped).
Calls go over plain HTTP (``requests``) so the exact path, method and parameters are
the ones under test, not what the provider happens to send.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
import requests

from keys.base import KeyAccessDenied
from keys.bootstrap import bootstrap_transit, create_token
from keys.naming import subject_key_name
from keys.transit import TransitAdmin, TransitKeyProvider
from tests.fixtures.bao import BaoServer, TransitSetup
from tests.keys.conformance import NAME_SECRET, dek

MOUNT = "transit-jp"
KEY_SPEC = {"type": "aes256-gcm96", "exportable": False, "allow_plaintext_backup": False}


def fresh_name() -> str:
    return subject_key_name(NAME_SECRET, f"policies-{uuid.uuid4()}")


def call(
    addr: str, token: str, method: str, path: str, body: dict[str, Any] | None = None
) -> requests.Response:
    return requests.request(
        method,
        f"{addr}/v1/{path}",
        headers={"X-Vault-Token": token},
        json=body,
        timeout=10,
    )


def key_as_root(transit: TransitSetup, name: str) -> dict[str, Any] | None:
    """The key's settings as the root token sees them; None when there is no such key."""
    answer = call(transit.addr, transit.root_token, "GET", f"{MOUNT}/keys/{name}")
    if answer.status_code == 404:
        return None
    answer.raise_for_status()
    data: dict[str, Any] = answer.json()["data"]
    return data


def assert_sealed_in(key: dict[str, Any] | None) -> None:
    """The properties recvault relies on: the key material can never leave Transit."""
    assert key is not None
    assert key["type"] == "aes256-gcm96"
    assert key["exportable"] is False
    assert key["allow_plaintext_backup"] is False


@pytest.fixture
def admin(transit: TransitSetup) -> Callable[..., requests.Response]:
    return lambda method, path, body=None: call(
        transit.addr, transit.admin_token, method, path, body
    )


@pytest.fixture
def service(transit: TransitSetup) -> Callable[..., requests.Response]:
    return lambda method, path, body=None: call(
        transit.addr, transit.service_token, method, path, body
    )


@pytest.fixture
def existing_key(transit: TransitSetup) -> str:
    """A subject key made by recvault's own call, with the key-admin token."""
    name = fresh_name()
    TransitKeyProvider(transit.addr, MOUNT, token=transit.admin_token).ensure_key(name)
    return name


# -- key admin: creation -----------------------------------------------------------------


@pytest.mark.parametrize(
    "spec",
    [
        {**KEY_SPEC, "exportable": True},
        {**KEY_SPEC, "allow_plaintext_backup": True},
        {"type": "aes256-gcm96", "exportable": True, "allow_plaintext_backup": True},
        {"exportable": True},
        {"allow_plaintext_backup": True},
        {**KEY_SPEC, "exportable": "true"},  # the value's JSON type is part of the match
        {**KEY_SPEC, "exportable": "false"},
        {**KEY_SPEC, "type": "chacha20-poly1305"},
        {**KEY_SPEC, "derived": True},
        {**KEY_SPEC, "convergent_encryption": True},
        {**KEY_SPEC, "auto_rotate_period": "1h"},
    ],
    ids=lambda spec: ",".join(f"{k}={v}" for k, v in spec.items()),
)
def test_admin_cannot_create_a_key_other_than_recvaults(
    admin: Callable[..., requests.Response], transit: TransitSetup, spec: dict[str, Any]
) -> None:
    name = fresh_name()
    assert admin("POST", f"{MOUNT}/keys/{name}", spec).status_code == 403
    assert key_as_root(transit, name) is None


def test_admin_creates_exactly_recvaults_key(
    admin: Callable[..., requests.Response], transit: TransitSetup
) -> None:
    name = fresh_name()
    assert admin("POST", f"{MOUNT}/keys/{name}", KEY_SPEC).status_code == 200
    assert_sealed_in(key_as_root(transit, name))


# -- key admin: an existing key ----------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        # "create" again on an existing key is an update of it
        ("POST", "", {**KEY_SPEC, "exportable": True}),
        ("POST", "", {**KEY_SPEC, "allow_plaintext_backup": True}),
        ("POST", "/config", {"exportable": True}),
        ("POST", "/config", {"allow_plaintext_backup": True}),
        ("POST", "/config", {"min_decryption_version": 1, "exportable": True}),
        ("POST", "/config", {"auto_rotate_period": "1h"}),
        ("POST", "/config", {"deletion_allowed": False}),
        ("POST", "/rotate", {"external_key_ref": "elsewhere"}),
        ("POST", "/trim", {"min_available_version": 1, "exportable": True}),
        ("POST", "/import", {"ciphertext": "eA==", "type": "aes256-gcm96"}),
        ("POST", "/import_version", {"ciphertext": "eA=="}),
        ("POST", "/csr", None),
        ("POST", "/set-certificate", {"certificate_chain": "x"}),
        ("DELETE", "/soft-delete", None),
        ("POST", "/soft-delete-restore", None),
    ],
    ids=lambda part: (
        ",".join(f"{k}={v}" for k, v in part.items())
        if isinstance(part, dict)
        else str(part or "-")
    ),
)
def test_admin_cannot_change_a_key_beyond_recvaults_calls(
    admin: Callable[..., requests.Response],
    transit: TransitSetup,
    existing_key: str,
    method: str,
    suffix: str,
    body: dict[str, Any] | None,
) -> None:
    before = key_as_root(transit, existing_key)
    assert admin(method, f"{MOUNT}/keys/{existing_key}{suffix}", body).status_code == 403
    after = key_as_root(transit, existing_key)
    assert_sealed_in(after)
    assert after == before


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "export/encryption-key/{name}", None),
        ("GET", "export/encryption-key/{name}/1", None),
        ("GET", "export/hmac-key/{name}", None),
        ("GET", "byok-export/{name}/{name}", None),
        ("GET", "backup/{name}", None),
        ("POST", "restore/{name}", {"backup": "eA=="}),
        ("POST", "restore", {"backup": "eA==", "name": "{name}"}),
        ("POST", "datakey/plaintext/{name}", None),
        ("GET", "wrapping_key", None),
    ],
)
def test_admin_cannot_take_key_material_out_or_bring_it_in(
    admin: Callable[..., requests.Response],
    transit: TransitSetup,
    existing_key: str,
    method: str,
    path: str,
    body: dict[str, Any] | None,
) -> None:
    before = key_as_root(transit, existing_key)
    path = path.replace("{name}", existing_key)
    if body is not None:
        body = {k: v.replace("{name}", existing_key) for k, v in body.items()}
    answer = admin(method, f"{MOUNT}/{path}", body)
    assert answer.status_code == 403
    assert "keys" not in answer.text  # no key material in the refusal either
    assert key_as_root(transit, existing_key) == before


def test_admin_cannot_change_the_mounts(bao_factory: Callable[[], BaoServer]) -> None:
    """On a server of its own: a policy that let these through would break the shared one."""
    server = bao_factory()
    bootstrap_transit(server.addr, server.root_token, [MOUNT])
    token = create_token(server.addr, server.root_token, ["recvault-key-admin"])
    refused = [
        ("POST", f"{MOUNT}/config/keys", {"disable_upsert": False}),
        ("POST", f"{MOUNT}/cache-config", {"size": 0}),
        ("POST", f"sys/mounts/{MOUNT}/tune", {"max_lease_ttl": "1h"}),
        ("POST", f"sys/mounts/{MOUNT}", {"type": "transit"}),
        ("DELETE", f"sys/mounts/{MOUNT}", None),
        ("POST", "sys/remount", {"from": MOUNT, "to": "transit-moved"}),
        ("POST", "sys/mounts/transit-other", {"type": "transit"}),
        ("POST", "sys/policies/acl/recvault-key-admin", {"policy": 'path "*" {}'}),
    ]
    for method, path, body in refused:
        assert call(server.addr, token, method, path, body).status_code == 403, (method, path)
    root = TransitAdmin(server.addr, server.root_token)
    assert root.transit_settings(MOUNT) == {"disable_upsert": True, "cache_size": 10000}
    assert root.mounts() >= {MOUNT}
    assert "transit-moved" not in root.mounts() and "transit-other" not in root.mounts()


def test_bootstrap_narrows_tokens_issued_under_an_older_policy(
    bao_factory: Callable[[], BaoServer],
) -> None:
    """An upgrade: ``recvault keys bootstrap`` rewrites the policy, and a running token follows."""
    server = bao_factory()
    bootstrap_transit(server.addr, server.root_token, [MOUNT])
    older = f'path "{MOUNT}/keys/subj-*" {{\n  capabilities = ["create", "read", "update"]\n}}\n'
    TransitAdmin(server.addr, server.root_token).write_policy("recvault-key-admin", older)
    token = create_token(server.addr, server.root_token, ["recvault-key-admin"])
    loose = fresh_name()
    assert call(server.addr, token, "POST", f"{MOUNT}/keys/{loose}", {"exportable": True}).ok

    bootstrap_transit(server.addr, server.root_token, [MOUNT])
    name = fresh_name()
    refused = call(server.addr, token, "POST", f"{MOUNT}/keys/{name}", {"exportable": True})
    assert refused.status_code == 403
    assert call(server.addr, token, "POST", f"{MOUNT}/keys/{name}", KEY_SPEC).ok


# -- service ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "keys/{name}", KEY_SPEC),
        ("POST", "keys/{name}/rotate", None),
        ("POST", "keys/{name}/config", {"min_decryption_version": 1}),
        ("POST", "keys/{name}/config", {"deletion_allowed": True}),
        ("POST", "keys/{name}/config", {"exportable": True}),
        ("POST", "keys/{name}/trim", {"min_available_version": 1}),
        ("DELETE", "keys/{name}", None),
        ("DELETE", "keys/{name}/soft-delete", None),
        ("GET", "export/encryption-key/{name}", None),
        ("GET", "backup/{name}", None),
        ("POST", "restore/{name}", {"backup": "eA=="}),
        ("POST", "datakey/plaintext/{name}", None),
        ("POST", "config/keys", {"disable_upsert": False}),
        ("POST", "cache-config", {"size": 0}),
    ],
)
def test_service_cannot_create_configure_export_back_up_or_delete(
    service: Callable[..., requests.Response],
    transit: TransitSetup,
    existing_key: str,
    method: str,
    path: str,
    body: dict[str, Any] | None,
) -> None:
    before = key_as_root(transit, existing_key)
    path = path.replace("{name}", existing_key)
    assert service(method, f"{MOUNT}/{path}", body).status_code == 403
    assert key_as_root(transit, existing_key) == before
    assert_sealed_in(before)


def test_service_cannot_create_a_new_key(
    service: Callable[..., requests.Response], transit: TransitSetup
) -> None:
    name = fresh_name()
    assert service("POST", f"{MOUNT}/keys/{name}", KEY_SPEC).status_code == 403
    assert service("POST", f"{MOUNT}/encrypt/{name}", {"plaintext": "eA=="}).status_code == 403
    assert key_as_root(transit, name) is None


# -- recvault still works ------------------------------------------------------------------


def test_every_lifecycle_call_of_recvault_passes_the_key_admin_policy(
    transit: TransitSetup,
) -> None:
    provider = TransitKeyProvider(transit.addr, MOUNT, token=transit.admin_token)
    name = fresh_name()
    assert provider.ensure_key(name).latest_version == 1
    assert provider.ensure_key(name).latest_version == 1  # idempotent: an update of the key
    assert_sealed_in(key_as_root(transit, name))
    old, erased = dek(), dek()
    wrapped_old = provider.wrap(name, [old, erased])
    assert provider.unwrap(name, [w.ciphertext for w in wrapped_old]) == [old, erased]

    assert provider.rotate(name) == 2
    [rewrapped] = provider.rewrap(name, [wrapped_old[0].ciphertext])
    assert rewrapped.key_version == 2
    provider.set_min_encryption_version(name, 2)
    provider.set_min_decryption_version(name, 2)
    provider.trim(name, 2)
    description = provider.describe(name)
    assert (description.min_decryption_version, description.min_available_version) == (2, 2)
    assert provider.unwrap(name, [rewrapped.ciphertext]) == [old]
    assert name in list(provider.list_keys())
    assert_sealed_in(key_as_root(transit, name))

    provider.destroy(name)
    assert provider.describe(name).exists is False
    assert key_as_root(transit, name) is None


def test_the_read_path_of_recvault_passes_the_service_policy(
    transit: TransitSetup, existing_key: str
) -> None:
    provider = TransitKeyProvider(transit.addr, MOUNT, token=transit.service_token)
    key = dek()
    wrapped = provider.wrap(existing_key, [key])
    assert provider.unwrap(existing_key, [w.ciphertext for w in wrapped]) == [key]
    [rewrapped] = provider.rewrap(existing_key, [w.ciphertext for w in wrapped])
    assert provider.unwrap(existing_key, [rewrapped.ciphertext]) == [key]
    assert provider.describe(existing_key).latest_version == 1
    assert provider.ensure_key(existing_key).exists  # reads, does not create
    assert existing_key in list(provider.list_keys())
    with pytest.raises(KeyAccessDenied):
        provider.ensure_key(fresh_name())


# -- why the lifecycle rules are written with "+" -----------------------------------------


def test_a_subject_prefix_glob_would_swallow_the_config_rule(transit: TransitSetup) -> None:
    """The shape the key-admin policy avoids (see the comment in keys/policy-key-admin.hcl).

    ``keys/subj-*`` also matches ``keys/subj-x/config``; next to it neither a literal
    ``keys/subj-*/config`` nor ``keys/+/config`` takes effect, so recvault's own
    minimum-version call would be refused. If OpenBao ever changes this, the policy can
    go back to naming the subject prefix.
    """
    hcl = (
        f'path "{MOUNT}/keys/subj-*" {{\n'
        '  capabilities = ["create", "read", "update", "delete"]\n'
        '  allowed_parameters = { "type" = ["aes256-gcm96"], "exportable" = [false] }\n}\n'
    )
    for config_path in (f"{MOUNT}/keys/subj-*/config", f"{MOUNT}/keys/+/config"):
        hcl += (
            f'path "{config_path}" {{\n  capabilities = ["update"]\n'
            '  allowed_parameters = { "min_decryption_version" = [] }\n}\n'
        )
    policy = f"recvault-test-prefix-glob-{uuid.uuid4().hex[:8]}"
    TransitAdmin(transit.addr, transit.root_token).write_policy(policy, hcl)
    token = create_token(transit.addr, transit.root_token, [policy])
    name = fresh_name()
    spec = {"type": "aes256-gcm96", "exportable": False}
    assert call(transit.addr, token, "POST", f"{MOUNT}/keys/{name}", spec).status_code == 200
    answer = call(
        transit.addr, token, "POST", f"{MOUNT}/keys/{name}/config", {"min_decryption_version": 1}
    )
    assert answer.status_code == 403
