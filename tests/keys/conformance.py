"""The one conformance suite every KeyProvider runs (Transit on real OpenBao, and local).

A subclass supplies the ``provider`` fixture; everything here must hold for both.
"""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from keys.base import (
    KeyAccessDenied,
    KeyBatchError,
    KeyDestroyed,
    KeyError_,
    KeyNotFound,
    KeyProvider,
    KeyVersionRetired,
)
from keys.naming import PREFIX, subject_key_name
from vault.crypto import random_bytes
from vault.errors import IntegrityError

NAME_SECRET = b"recvault conformance name secret"


def dek() -> bytes:
    return random_bytes(32)


class KeyProviderConformance:
    @pytest.fixture
    def provider(self) -> KeyProvider:
        raise NotImplementedError("a subclass supplies the provider")

    @pytest.fixture
    def subject_id(self) -> str:
        return f"subject-{uuid.uuid4()}"

    @pytest.fixture
    def name(self, subject_id: str) -> str:
        return subject_key_name(NAME_SECRET, subject_id)

    # -- creation -------------------------------------------------------------------

    def test_provider_satisfies_the_protocol(self, provider: KeyProvider) -> None:
        assert isinstance(provider, KeyProvider)
        assert provider.label

    def test_ensure_key_is_idempotent(self, provider: KeyProvider, name: str) -> None:
        first = provider.ensure_key(name)
        second = provider.ensure_key(name)
        assert first.exists and second.exists
        assert first.latest_version == second.latest_version == 1
        assert first.versions == second.versions
        assert list(provider.list_keys()).count(name) == 1

    def test_concurrent_ensure_key_makes_one_key(self, provider: KeyProvider, name: str) -> None:
        barrier = threading.Barrier(8)

        def create(_: int) -> tuple[int, tuple[int, ...]]:
            barrier.wait()
            description = provider.ensure_key(name)
            return description.latest_version, tuple(sorted(description.versions))

        with ThreadPoolExecutor(max_workers=8) as pool:
            outcomes = set(pool.map(create, range(8)))
        assert outcomes == {(1, (1,))}
        wrapped = provider.wrap(name, [b"\x01" * 32])
        assert provider.unwrap(name, [wrapped[0].ciphertext]) == [b"\x01" * 32]

    def test_key_names_do_not_reveal_the_subject(
        self, provider: KeyProvider, name: str, subject_id: str
    ) -> None:
        provider.ensure_key(name)
        listed = list(provider.list_keys())
        assert name in listed
        assert all(key.startswith(PREFIX) for key in listed)
        assert not any(subject_id in key for key in listed)

    # -- record path ----------------------------------------------------------------

    def test_wrap_unwrap_round_trip_single(self, provider: KeyProvider, name: str) -> None:
        provider.ensure_key(name)
        key = dek()
        [wrapped] = provider.wrap(name, [key])
        assert wrapped.key_name == name
        assert wrapped.key_version == 1
        assert key.hex() not in wrapped.ciphertext
        assert provider.unwrap(name, [wrapped.ciphertext]) == [key]

    def test_wrap_unwrap_round_trip_across_batches(self, provider: KeyProvider, name: str) -> None:
        provider.ensure_key(name)
        keys = [dek() for _ in range(600)]
        wrapped = provider.wrap(name, keys)
        assert len(wrapped) == 600
        assert len({w.ciphertext for w in wrapped}) == 600
        assert provider.unwrap(name, [w.ciphertext for w in wrapped]) == keys

    def test_empty_batches(self, provider: KeyProvider, name: str) -> None:
        provider.ensure_key(name)
        assert provider.wrap(name, []) == []
        assert provider.unwrap(name, []) == []
        assert provider.rewrap(name, []) == []

    def test_rewrap_after_rotate_moves_to_the_new_version(
        self, provider: KeyProvider, name: str
    ) -> None:
        provider.ensure_key(name)
        keys = [dek() for _ in range(5)]
        old = provider.wrap(name, keys)
        assert provider.rotate(name) == 2
        new = provider.rewrap(name, [w.ciphertext for w in old])
        assert {w.key_version for w in new} == {2}
        assert [w.ciphertext for w in new] != [w.ciphertext for w in old]
        assert provider.unwrap(name, [w.ciphertext for w in new]) == keys
        assert provider.wrap(name, [dek()])[0].key_version == 2

    def test_min_decryption_version_retires_old_wrapped_deks(
        self, provider: KeyProvider, name: str
    ) -> None:
        provider.ensure_key(name)
        old = provider.wrap(name, [dek(), dek()])
        provider.rotate(name)
        fresh_key = dek()
        [fresh] = provider.wrap(name, [fresh_key])
        provider.set_min_decryption_version(name, 2)
        with pytest.raises(KeyVersionRetired):
            provider.unwrap(name, [w.ciphertext for w in old])
        with pytest.raises(KeyVersionRetired):
            provider.rewrap(name, [w.ciphertext for w in old])
        with pytest.raises(KeyBatchError) as caught:
            provider.unwrap(name, [old[0].ciphertext, fresh.ciphertext])
        assert set(caught.value.failures) == {0}
        assert isinstance(caught.value.failures[0], KeyVersionRetired)
        assert provider.unwrap(name, [fresh.ciphertext]) == [fresh_key]

    def test_tampered_wrapped_dek_fails_integrity(self, provider: KeyProvider, name: str) -> None:
        provider.ensure_key(name)
        [wrapped] = provider.wrap(name, [dek()])
        text = wrapped.ciphertext
        flipped = text[:-6] + ("A" if text[-6] != "A" else "B") + text[-5:]
        with pytest.raises(IntegrityError):
            provider.unwrap(name, [flipped])

    def test_wrapped_dek_of_another_key_does_not_unwrap(
        self, provider: KeyProvider, name: str
    ) -> None:
        provider.ensure_key(name)
        # the name ensure_key answers is the one to use (a sharded provider adds the mount)
        other = provider.ensure_key(subject_key_name(NAME_SECRET, f"other-{uuid.uuid4()}")).name
        [wrapped] = provider.wrap(other, [dek()])
        with pytest.raises(IntegrityError):
            provider.unwrap(name, [wrapped.ciphertext])

    # -- versions -------------------------------------------------------------------

    def test_describe_reports_versions_and_minimums(self, provider: KeyProvider, name: str) -> None:
        assert provider.describe(name).exists is False
        provider.ensure_key(name)
        provider.rotate(name)
        provider.rotate(name)
        provider.set_min_encryption_version(name, 2)
        provider.set_min_decryption_version(name, 2)
        described = provider.describe(name)
        assert described.exists
        assert described.latest_version == 3
        assert described.min_encryption_version == 2
        assert described.min_decryption_version == 2
        assert described.min_available_version == 0
        assert sorted(described.versions) == [2, 3]

    def test_trim_deletes_old_versions_for_good(self, provider: KeyProvider, name: str) -> None:
        provider.ensure_key(name)
        old = provider.wrap(name, [dek()])
        provider.rotate(name)
        provider.rotate(name)
        with pytest.raises(KeyError_):
            provider.trim(name, 3)  # no minimum encryption version yet
        provider.set_min_encryption_version(name, 3)
        provider.set_min_decryption_version(name, 3)
        provider.trim(name, 3)
        described = provider.describe(name)
        assert described.min_available_version == 3
        assert sorted(described.versions) == [3]
        with pytest.raises(KeyError_):
            provider.set_min_decryption_version(name, 1)  # trimmed versions stay gone
        with pytest.raises(KeyVersionRetired):
            provider.unwrap(name, [old[0].ciphertext])
        key = dek()
        assert provider.unwrap(name, [w.ciphertext for w in provider.wrap(name, [key])]) == [key]

    # -- destruction ----------------------------------------------------------------

    def test_destroy_makes_wrapped_deks_unrecoverable(
        self, provider: KeyProvider, name: str
    ) -> None:
        provider.ensure_key(name)
        wrapped = [w.ciphertext for w in provider.wrap(name, [dek(), dek()])]
        provider.destroy(name)
        with pytest.raises((KeyNotFound, KeyDestroyed)):
            provider.unwrap(name, wrapped)
        with pytest.raises((KeyNotFound, KeyDestroyed)):
            provider.rewrap(name, wrapped)
        with pytest.raises((KeyNotFound, KeyDestroyed)):
            provider.rotate(name)
        assert provider.describe(name).exists is False
        assert name not in list(provider.list_keys())
        provider.destroy(name)  # a second destroy is a no-op

    def test_wrap_to_a_destroyed_key_does_not_recreate_it(
        self, provider: KeyProvider, name: str
    ) -> None:
        provider.ensure_key(name)
        provider.destroy(name)
        with pytest.raises((KeyNotFound, KeyDestroyed, KeyAccessDenied)):
            provider.wrap(name, [dek()])
        assert provider.describe(name).exists is False
        assert name not in list(provider.list_keys())

    def test_destroying_a_missing_key_is_a_no_op(self, provider: KeyProvider, name: str) -> None:
        provider.destroy(name)
        assert provider.describe(name).exists is False

    def test_unknown_key(self, provider: KeyProvider, name: str) -> None:
        with pytest.raises(KeyNotFound):
            provider.wrap(name, [dek()])
        with pytest.raises(KeyNotFound):
            provider.rotate(name)

    def test_health(self, provider: KeyProvider) -> None:
        provider.health()
