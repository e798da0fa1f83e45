"""TransitKeyProvider on a real OpenBao dev server: conformance, batching, outages, policies."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Callable

import pytest

from keys.base import (
    KeyAccessDenied,
    KeyBatchError,
    KeyError_,
    KeyNotFound,
    KeyProvider,
    KeyUnavailable,
    KeyVersionRetired,
)
from keys.bootstrap import bootstrap_transit, create_token, policy_hcl
from keys.naming import subject_key_name
from keys.transit import TransitAdmin, TransitKeyProvider, map_transit_error
from tests.fixtures.bao import TRANSIT_MOUNTS, BaoServer, TransitSetup
from tests.keys.conformance import NAME_SECRET, KeyProviderConformance, dek
from vault.errors import IntegrityError


def fresh_name() -> str:
    return subject_key_name(NAME_SECRET, f"transit-{uuid.uuid4()}")


@pytest.fixture
def admin_provider(transit: TransitSetup) -> TransitKeyProvider:
    return TransitKeyProvider(transit.addr, "transit-jp", token=transit.admin_token)


@pytest.fixture
def service_provider(transit: TransitSetup) -> TransitKeyProvider:
    return TransitKeyProvider(transit.addr, "transit-jp", token=transit.service_token)


class TestTransitConformance(KeyProviderConformance):
    @pytest.fixture
    def provider(self, admin_provider: TransitKeyProvider) -> KeyProvider:
        return admin_provider


# -- batching ---------------------------------------------------------------------------


def test_batches_are_split_below_the_server_limit(transit: TransitSetup) -> None:
    name = fresh_name()
    split = TransitKeyProvider(transit.addr, "transit-ph", token=transit.admin_token)
    split.ensure_key(name)
    keys = [dek() for _ in range(1000)]
    before = split.calls
    wrapped = split.wrap(name, keys)
    assert split.calls - before == 4
    assert split.unwrap(name, [w.ciphertext for w in wrapped]) == keys

    unsplit = TransitKeyProvider(
        transit.addr, "transit-ph", token=transit.admin_token, batch_size=1000
    )
    before = unsplit.calls
    try:
        unsplit.wrap(name, keys)
    except KeyError_ as refused:
        assert "complexity" in refused.message  # the server's JSON limit: the split matters
    else:  # a server with higher limits accepts it; then the single call is what we check
        assert unsplit.calls - before == 1


def test_ten_thousand_deks_take_at_most_fifty_calls(admin_provider: TransitKeyProvider) -> None:
    name = fresh_name()
    admin_provider.ensure_key(name)
    admin_provider.rotate(name)
    keys = [dek() for _ in range(10_000)]
    for operation in ("wrap", "unwrap", "rewrap"):
        before = admin_provider.calls
        if operation == "wrap":
            wrapped = [w.ciphertext for w in admin_provider.wrap(name, keys)]
        elif operation == "unwrap":
            assert admin_provider.unwrap(name, wrapped) == keys
        else:
            assert len(admin_provider.rewrap(name, wrapped)) == 10_000
        assert admin_provider.calls - before <= 50, operation


def test_mixed_failures_in_one_batch_are_reported_by_index(
    admin_provider: TransitKeyProvider,
) -> None:
    name = fresh_name()
    admin_provider.ensure_key(name)
    [old] = admin_provider.wrap(name, [dek()])
    admin_provider.rotate(name)
    [good] = admin_provider.wrap(name, [dek()])
    admin_provider.set_min_decryption_version(name, 2)
    with pytest.raises(KeyBatchError) as caught:
        admin_provider.unwrap(name, [good.ciphertext, "vault:v2:bm90IGEgREVL", old.ciphertext])
    failures = caught.value.failures
    assert set(failures) == {1, 2}
    assert isinstance(failures[1], IntegrityError)
    assert isinstance(failures[2], KeyVersionRetired)


def test_calls_are_counted_and_timed(transit: TransitSetup) -> None:
    seen: list[tuple[str, float]] = []
    provider = TransitKeyProvider(
        transit.addr,
        "transit-jp",
        token=transit.admin_token,
        on_call=lambda op, seconds: seen.append((op, seconds)),
    )
    name = fresh_name()
    provider.ensure_key(name)
    provider.unwrap(name, [w.ciphertext for w in provider.wrap(name, [dek()] * 300)])
    assert [op for op, _ in seen] == ["keys.create", "encrypt", "encrypt", "decrypt", "decrypt"]
    assert all(isinstance(seconds, float) for _, seconds in seen)  # a duration is reported
    assert provider.calls == len(seen)
    assert provider.label == f"vault:{transit.addr}/transit-jp"


# -- error mapping ----------------------------------------------------------------------


def test_a_destroyed_key_is_gone_and_wrap_does_not_recreate_it(transit: TransitSetup) -> None:
    """Transit answers a destroyed key like an unknown one; the DB says "erased" (records layer)."""
    provider = TransitKeyProvider(transit.addr, "transit-jp", token=transit.admin_token)
    name = fresh_name()
    provider.ensure_key(name)
    [wrapped] = provider.wrap(name, [dek()])
    provider.destroy(name)
    with pytest.raises(KeyNotFound):
        provider.unwrap(name, [wrapped.ciphertext])
    with pytest.raises(KeyNotFound):
        provider.wrap(name, [dek()])  # disable_upsert: encrypt never re-creates the key
    assert provider.describe(name).exists is False


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("encryption key not found", KeyNotFound),
        ("ciphertext or signature version is disallowed by policy (too old)", KeyVersionRetired),
        ("cipher: message authentication failed", IntegrityError),
        ("invalid ciphertext: version is too new", IntegrityError),
        ("something new", KeyError_),
    ],
)
def test_item_messages_map_to_typed_errors(message: str, expected: type[Exception]) -> None:
    assert type(map_transit_error(message, "subj-x")) is expected


def test_wrong_token_is_access_denied(transit: TransitSetup) -> None:
    provider = TransitKeyProvider(transit.addr, "transit-jp", token="not-a-token")
    with pytest.raises(KeyAccessDenied):
        provider.wrap(fresh_name(), [dek()])


def test_a_server_that_never_answers_is_unavailable_within_the_timeout() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # accepts connections into the backlog, never answers
        addr = f"http://127.0.0.1:{silent.getsockname()[1]}"
        provider = TransitKeyProvider(addr, "transit-jp", token="t", timeout=0.5)
        with pytest.raises(KeyUnavailable) as refused:
            provider.wrap(fresh_name(), [dek()])
        assert "Timeout" in str(refused.value)  # the configured read timeout fired


# -- outages ----------------------------------------------------------------------------


def test_server_stopped_mid_test_then_recovered(
    bao_factory: Callable[[], BaoServer],
) -> None:
    server = bao_factory()
    bootstrap_transit(server.addr, server.root_token, ["transit-jp"])
    timeout = 1.0
    provider = TransitKeyProvider(
        server.addr, "transit-jp", token=server.root_token, timeout=timeout
    )
    name = fresh_name()
    provider.ensure_key(name)
    [wrapped] = provider.wrap(name, [dek()])

    server.seal()
    with pytest.raises(KeyUnavailable):
        provider.health()
    with pytest.raises(KeyUnavailable):
        provider.unwrap(name, [wrapped.ciphertext])

    server.kill()
    for call in (
        lambda: provider.unwrap(name, [wrapped.ciphertext]),
        lambda: provider.wrap(name, [dek()]),
        provider.health,
    ):
        with pytest.raises(KeyUnavailable) as refused:
            call()
        assert "ConnectionError" in str(refused.value)  # refused at once, not a hang

    server.start()  # same port and root token; a dev server starts with empty storage
    provider.health()
    bootstrap_transit(server.addr, server.root_token, ["transit-jp"])
    again = fresh_name()
    provider.ensure_key(again)
    key = dek()
    assert provider.unwrap(again, [w.ciphertext for w in provider.wrap(again, [key])]) == [key]


# -- bootstrap and policies -------------------------------------------------------------


def test_bootstrap_is_idempotent(transit: TransitSetup) -> None:
    report = bootstrap_transit(transit.addr, transit.root_token, TRANSIT_MOUNTS)
    assert report.mounts_enabled == ()
    assert report.mounts_present == tuple(TRANSIT_MOUNTS)
    admin = TransitAdmin(transit.addr, transit.root_token)
    for mount in TRANSIT_MOUNTS:
        assert admin.transit_settings(mount) == {"disable_upsert": True, "cache_size": 10000}
    assert admin.read_policy("recvault-service") == policy_hcl("policy-service.hcl", TRANSIT_MOUNTS)
    assert "transit-ph/decrypt/subj-*" in admin.read_policy("recvault-service")
    assert "delete" in admin.read_policy("recvault-key-admin")
    assert transit.root_token not in repr(report)


def test_service_policy_reads_but_cannot_create_or_delete(
    admin_provider: TransitKeyProvider, service_provider: TransitKeyProvider
) -> None:
    name = fresh_name()
    with pytest.raises(KeyAccessDenied):
        service_provider.ensure_key(name)
    assert admin_provider.describe(name).exists is False

    admin_provider.ensure_key(name)
    assert service_provider.ensure_key(name).exists  # confirms, does not create
    key = dek()
    wrapped = service_provider.wrap(name, [key])
    assert service_provider.unwrap(name, [w.ciphertext for w in wrapped]) == [key]
    admin_provider.rotate(name)
    rewrapped = service_provider.rewrap(name, [w.ciphertext for w in wrapped])
    assert rewrapped[0].key_version == 2
    assert name in list(service_provider.list_keys())

    with pytest.raises(KeyAccessDenied):
        service_provider.destroy(name)
    with pytest.raises(KeyAccessDenied):
        service_provider.rotate(name)
    with pytest.raises(KeyAccessDenied):
        service_provider.set_min_decryption_version(name, 2)
    assert admin_provider.describe(name).latest_version == 2


def test_service_policy_cannot_wrap_to_a_missing_key(
    admin_provider: TransitKeyProvider, service_provider: TransitKeyProvider
) -> None:
    name = fresh_name()
    admin_provider.ensure_key(name)
    admin_provider.destroy(name)
    with pytest.raises(KeyNotFound):
        service_provider.wrap(name, [dek()])
    assert admin_provider.describe(name).exists is False


def test_service_policy_is_bound_to_its_mounts(transit: TransitSetup) -> None:
    token = create_token(transit.addr, transit.root_token, ["recvault-service"])
    elsewhere = TransitKeyProvider(transit.addr, "transit-other", token=token)
    with pytest.raises(KeyAccessDenied):
        elsewhere.wrap(fresh_name(), [dek()])


def test_approle_login(transit: TransitSetup, bao_server: BaoServer) -> None:
    role_id, secret_id = _approle(bao_server)
    provider = TransitKeyProvider(transit.addr, "transit-jp", approle=(role_id, secret_id))
    name = fresh_name()
    TransitKeyProvider(transit.addr, "transit-jp", token=transit.admin_token).ensure_key(name)
    key = dek()
    assert provider.unwrap(name, [w.ciphertext for w in provider.wrap(name, [key])]) == [key]
    # the login happens at the first call, so a provider can be built while Vault is down
    refused = TransitKeyProvider(transit.addr, "transit-jp", approle=(role_id, "wrong-secret"))
    with pytest.raises(KeyAccessDenied):
        refused.wrap(name, [key])


def _approle(server: BaoServer) -> tuple[str, str]:
    import json
    import urllib.request

    def call(method: str, path: str, body: dict[str, object] | None = None) -> dict[str, object]:
        request = urllib.request.Request(
            f"{server.addr}/v1/{path}",
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"X-Vault-Token": server.root_token},
        )
        with urllib.request.urlopen(request, timeout=5) as answer:
            text = answer.read()
        return dict(json.loads(text)) if text else {}

    mounts = call("GET", "sys/auth")
    if "approle/" not in (mounts.get("data") or mounts):  # type: ignore[operator]
        call("POST", "sys/auth/approle", {"type": "approle"})
    call("POST", "auth/approle/role/recvault-test", {"token_policies": ["recvault-service"]})
    role = call("GET", "auth/approle/role/recvault-test/role-id")
    secret = call("POST", "auth/approle/role/recvault-test/secret-id", {})
    return str(role["data"]["role_id"]), str(secret["data"]["secret_id"])  # type: ignore[index]
