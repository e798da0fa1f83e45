"""Look-ups the console uses: a subject by clinic reference, the retention horizon.

Both stay inside the caller's regions (a PH-only principal learns nothing of
JP, not even that a reference exists there) and both are audited.
"""

from __future__ import annotations

import pytest

from vault import Actor, RecordVault, Role
from vault.errors import InvalidInput

SETUP = Actor("setup", frozenset(Role))
PH_DPO = Actor("ph-dpo", frozenset({Role.DPO, Role.COMPLIANCE}), frozenset({"PH"}))
DPO = Actor("dpo", frozenset({Role.DPO}))


def test_find_by_clinic_reference_in_granted_regions_only(make_vault, sqlite_url) -> None:
    vault: RecordVault = make_vault(sqlite_url)
    jp = vault.create_subject("CLINIC-7", "JP", actor=SETUP)
    ph = vault.create_subject("CLINIC-7", "PH", actor=SETUP)
    assert {s.id for s in vault.find_subjects("CLINIC-7", actor=DPO)} == {jp.id, ph.id}
    assert [s.id for s in vault.find_subjects("CLINIC-7", actor=PH_DPO)] == [ph.id]
    assert vault.find_subjects("CLINIC-8", actor=DPO) == []
    assert vault.find_subjects("CLINIC-8", actor=DPO) == []  # never creates
    found = list(vault.audit_events(principal="ph-dpo", action="subject.find"))
    assert [e.subject_id for e in found] == [ph.id]
    assert [e.outcome for e in vault.audit_events(principal="dpo", action="subject.find")][-1] == (
        "not-found"
    )
    with pytest.raises(InvalidInput):
        vault.find_subjects("  ", actor=DPO)


def test_retention_horizon_counts_per_region_and_year(make_vault, sqlite_url) -> None:
    vault: RecordVault = make_vault(sqlite_url, retention={"categories": {"usage": "P2Y"}})
    for region in ("JP", "PH"):
        subject = vault.create_subject(f"CLINIC-{region}", region, actor=SETUP)
        vault.put_record(subject.id, "xray", b"x", actor=SETUP)
        vault.put_record(subject.id, "usage", b"u", actor=SETUP)
    now = vault.clock()
    ten, two = now.year + 10, now.year + 2
    assert vault.retention_horizon(actor=DPO) == {"JP": {ten: 1, two: 1}, "PH": {ten: 1, two: 1}}
    assert vault.retention_horizon(actor=PH_DPO) == {"PH": {ten: 1, two: 1}}
    assert list(vault.audit_events(principal="ph-dpo", action="retention.horizon"))
