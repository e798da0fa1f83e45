"""Scheduled rotation (rotation.max_age) and the key inventory's lifecycle figures."""

from __future__ import annotations

from keys.transit import TransitKeyProvider
from tests.rotation.conftest import read
from vault.domain import to_json


def test_sweep_rotates_keys_past_max_age(make_vault, sqlite_url, transit, clock):
    vault = make_vault(sqlite_url, keys="transit", bao=transit, rotation={"max_age": "P30D"})
    keys = TransitKeyProvider(transit.addr, "transit-jp", token=transit.admin_token)
    old = vault.create_subject("old", "JP")
    record = vault.put_record(old.id, "xray", b"panoramic")
    clock.advance(days=20)
    young = vault.create_subject("young", "JP")
    assert vault.key_status().regions["JP"].keys_past_max_age == 0
    clock.advance(days=15)

    status = vault.key_status().regions["JP"]
    assert [d.subject_id for d in status.due] == [old.id] and status.keys_past_max_age == 1
    assert status.oldest_version_in_use_age_days == 35
    result = vault.sweep()
    assert result.keys_rotated == 1
    assert keys.describe(old.key_name).latest_version == 2
    assert keys.describe(young.key_name).latest_version == 1
    assert read(vault, record.id) == b"panoramic"
    status = vault.key_status().regions["JP"]
    assert status.due == () and status.oldest_version_in_use_age_days == 0
    assert vault.sweep().keys_rotated == 0

    clock.advance(days=20)  # young: 40 days; old: 20 days since its rotation
    assert [d.subject_id for d in vault.key_status().regions["JP"].due] == [young.id]
    assert vault.sweep().keys_rotated == 1
    assert keys.describe(young.key_name).latest_version == 2
    assert keys.describe(old.key_name).latest_version == 2
    purposes = [e.purpose for e in vault.audit_events(action="key.rotate")]
    assert [p.split(":")[0] for p in purposes] == ["scheduled", "scheduled"]


def test_inventory_shows_pending_and_destroyed_keys(make_vault, sqlite_url, clock):
    vault = make_vault(
        sqlite_url, retention={"default": "PT3S"}, destruction={"waiting_period": "PT2S"}
    )
    gone = vault.create_subject("gone", "PH")
    vault.put_record(gone.id, "photo", b"x")
    vault.create_subject("stays", "PH")
    clock.advance(seconds=4)
    assert vault.sweep().destructions_scheduled == 1
    status = vault.key_status().regions["PH"]
    [pending] = status.pending_destruction
    assert pending.subject_id == gone.id and pending.state == "scheduled"
    assert pending.scheduled_at == clock.now
    assert (pending.not_before - pending.scheduled_at).total_seconds() == 2
    assert status.subject_keys == 2 and status.keys_destroyed == 0
    clock.advance(seconds=3)
    assert vault.sweep().destructions_executed == 1
    status = vault.key_status().regions["PH"]
    assert status.pending_destruction == () and status.keys_destroyed == 1
    assert status.subject_keys == 1 and status.versions_in_use == {}
    assert to_json(vault.key_status())["regions"]["JP"]["subject_keys"] == 0
