"""A rotation stopped half-way (crash, OpenBao sealed or stopped) loses no DEK and resumes."""

from __future__ import annotations

import pytest

from keys.bootstrap import bootstrap_transit
from keys.transit import TransitKeyProvider
from tests.fixtures.bao import TRANSIT_MOUNTS
from tests.rotation.conftest import FaultyKeys, install, read, seed, unseal, wrapped_rows
from vault.errors import Unavailable


def test_crash_after_the_rotate_call_does_not_rotate_again(make_vault, sqlite_url, transit):
    vault = make_vault(sqlite_url, keys="transit", bao=transit)
    contents = seed(vault, "JP", subjects=1, records=3)
    real = vault.regions["JP"].keys
    install(vault, "JP", FaultyKeys(real, fail_after_rotate=True))
    with pytest.raises(Unavailable, match="Run the rotation again"):
        vault.rotate_keys(region="JP")
    [job] = vault.key_status().regions["JP"].open_rotations
    assert job.state == "rotating" and not job.claimed

    report = vault.rotate_keys(region="JP")
    assert report.jobs_resumed == 1 and report.keys_rotated == 1 and report.deks_rewrapped == 3
    name = next(iter(wrapped_rows(vault).values())).key_name
    described = real.describe(name)
    assert described.latest_version == 2 and described.min_decryption_version == 2
    assert vault.key_status().keys_half_rotated == 0
    for record_id, content in contents.items():
        assert read(vault, record_id) == content


@pytest.fixture
def own_bao(bao_factory):
    server = bao_factory()
    bootstrap_transit(server.addr, server.root_token, TRANSIT_MOUNTS)
    return server


def test_sealed_openbao_mid_rewrap_then_resume(make_vault, sqlite_url, own_bao):
    # wrap_batch 1: pages of 4 DEKs (4 key-service calls each), committed page by page.
    vault = make_vault(sqlite_url, keys="transit", bao=own_bao, limits={"wrap_batch": 1})
    contents = seed(vault, "JP", subjects=1, records=10)
    before = wrapped_rows(vault)
    name = next(iter(before.values())).key_name
    real = vault.regions["JP"].keys

    def seal_in_second_page(call: int) -> None:
        if call == 6:
            own_bao.seal()

    install(vault, "JP", FaultyKeys(real, on_rewrap=seal_in_second_page))
    with pytest.raises(Unavailable, match="no DEK was lost") as stopped:
        vault.rotate_keys(region="JP")
    assert "4 DEKs rewrapped" in stopped.value.message
    status = vault.key_status().regions["JP"]
    [job] = status.open_rotations
    assert (job.state, job.target_version, job.rewrapped) == ("rewrapping", 2, 4)
    assert status.deks_awaiting_rewrap == 6 and status.versions_in_use == {1: 6, 2: 4}
    unseal(own_bao)
    # Minimums were not raised: the 6 rows left are still the valid pre-rotation DEKs.
    admin = TransitKeyProvider(own_bao.addr, "transit-jp", token=own_bao.root_token)
    assert admin.describe(name).min_decryption_version == 1
    for row in wrapped_rows(vault).values():
        assert len(admin.unwrap(name, [row.wrapped_dek])) == 1

    install(vault, "JP", real)
    report = vault.rotate_keys(region="JP")
    assert (report.jobs_resumed, report.keys_rotated, report.deks_rewrapped) == (1, 1, 6)
    described = admin.describe(name)
    assert described.latest_version == 2 and described.min_decryption_version == 2
    status = vault.key_status()
    assert status.keys_half_rotated == 0 and status.regions["JP"].versions_in_use == {2: 10}
    for record_id, content in contents.items():
        assert read(vault, record_id) == content


def test_stopped_openbao_mid_rewrap_is_a_clear_error(make_vault, sqlite_url, own_bao):
    vault = make_vault(sqlite_url, keys="transit", bao=own_bao, limits={"wrap_batch": 1})
    seed(vault, "JP", subjects=1, records=10)
    before = wrapped_rows(vault)

    def stop_in_third_page(call: int) -> None:
        if call == 9:
            own_bao.stop()

    install(vault, "JP", FaultyKeys(vault.regions["JP"].keys, on_rewrap=stop_in_third_page))
    with pytest.raises(Unavailable) as stopped:
        vault.rotate_keys(region="JP")
    assert "key service unreachable" in stopped.value.message
    assert "8 DEKs rewrapped" in stopped.value.message
    after = wrapped_rows(vault)
    moved = [k for k in before if after[k].key_version == 2]
    left = [k for k in before if after[k].key_version == 1]
    assert len(moved) == 8 and len(left) == 2
    # Unfinished rows still hold the very wrapped DEKs version 1 (not retired) opens.
    assert all(after[k].wrapped_dek == before[k].wrapped_dek for k in left)
    [job] = vault.key_status().regions["JP"].open_rotations
    assert job.state == "rewrapping" and job.rewrapped == 8 and not job.claimed
    events = list(vault.audit_events(action="key.rotate"))
    assert [e.outcome for e in events] == ["stopped:key-unavailable"]


def test_record_erasure_during_an_open_rotation_reseals_past_it(
    make_vault, sqlite_url, transit, clock
):
    vault = make_vault(
        sqlite_url,
        keys="transit",
        bao=transit,
        retention={"default": "P10Y", "categories": {"photo": "PT3S"}},
        limits={"wrap_batch": 2},
    )
    subject = vault.create_subject("p1", "JP")
    photo = vault.put_record(subject.id, "photo", b"short-lived photo")
    xrays = {
        vault.put_record(subject.id, "xray", bytes([i]) * 50).id: bytes([i]) * 50 for i in range(4)
    }
    real = vault.regions["JP"].keys
    install(vault, "JP", FaultyKeys(real, fail_min_encryption=True))
    with pytest.raises(Unavailable):
        vault.rotate_keys(subject_id=subject.id)
    # Every DEK sits under version 2, the job is open: the photo's copy under v2 is a stray.
    stray = wrapped_rows(vault)[(photo.id, 1)].wrapped_dek
    assert stray.startswith("vault:v2:")

    clock.advance(seconds=4)
    assert vault.sweep().records_erased == 1
    admin = TransitKeyProvider(transit.addr, "transit-jp", token=transit.admin_token)
    described = admin.describe(subject.key_name)
    assert described.latest_version == 3 and described.min_available_version == 3
    with pytest.raises(Exception) as refused:
        admin.unwrap(subject.key_name, [stray])
    assert type(refused.value).__name__ in {"KeyVersionRetired", "KeyNotFound"}
    for record_id, content in xrays.items():
        assert read(vault, record_id) == content
    status = vault.key_status()
    assert status.keys_half_rotated == 0 and status.regions["JP"].versions_in_use == {3: 4}
