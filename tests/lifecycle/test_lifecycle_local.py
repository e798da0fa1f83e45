"""Retention, holds, subject rights and crypto-shredding with the embedded key provider."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import timedelta

import pytest
from sqlmodel import Session, select

from vault import Actor, Role
from vault.crypto.documents import verify_document
from vault.errors import (
    Conflict,
    Erased,
    InvalidCursor,
    InvalidInput,
    NotFound,
    PermissionDenied,
    ProcessingRestricted,
    RegionNotGranted,
)
from vault.metadata import RecordVersionRow

SHORT = {"retention": {"default": "PT3S"}, "destruction": {"waiting_period": "PT2S"}}
ADMIN_A = Actor("admin-a", frozenset({Role.ADMIN}))
ADMIN_B = Actor("admin-b", frozenset({Role.ADMIN}))
DPO = Actor("dpo", frozenset({Role.DPO}))
SECURITY = Actor("sec", frozenset({Role.SECURITY}))


@pytest.fixture
def vault(make_vault, sqlite_url):
    return make_vault(sqlite_url, **SHORT)


def test_deferred_erasure_names_date_and_reason(vault, clock):
    subject = vault.create_subject("p1", "JP")
    info = vault.put_record(subject.id, "photo", b"x")
    decision = vault.request_erasure(subject.id, actor=DPO)
    assert decision.status == "deferred"
    assert decision.earliest == info.retain_until
    assert [r.kind for r in decision.reasons] == ["retention"]


def test_erasure_of_subject_without_blocks_is_scheduled(vault, clock):
    subject = vault.create_subject("p1", "JP")
    vault.put_record(subject.id, "photo", b"x")
    clock.advance(seconds=4)
    decision = vault.request_erasure(subject.id, actor=DPO)
    assert decision.status == "scheduled"
    assert decision.destruction_id is not None
    assert decision.earliest == clock.now + timedelta(seconds=2)


def test_executed_erasure_names_its_destruction_and_no_reasons(vault, clock):
    """A deferred request the sweep carried out answers with the destruction that erased
    the subject (whose certificate is the proof), not the deferral's reasons of the day it
    was filed."""
    subject = vault.create_subject("p1", "JP")
    vault.put_record(subject.id, "photo", b"x")
    assert vault.request_erasure(subject.id, actor=DPO).status == "deferred"
    clock.advance(seconds=4)
    assert vault.sweep().destructions_scheduled == 1
    clock.advance(seconds=3)
    assert vault.sweep().destructions_executed == 1
    [done] = vault.list_destructions("done")
    status = vault.erasure_status(subject.id, actor=DPO)
    assert status.status == "executed"
    assert status.destruction_id == done.id
    assert status.reasons == ()
    assert verify_document(vault.destruction_certificate(status.destruction_id))


def test_hold_requires_case_and_reason_and_other_releaser(vault):
    subject = vault.create_subject("p1", "JP")
    with pytest.raises(InvalidInput):
        vault.place_hold("subject", subject.id, "", "reason", actor=ADMIN_A)
    with pytest.raises(InvalidInput):
        vault.place_hold("subject", subject.id, "CASE-1", " ", actor=ADMIN_A)
    with pytest.raises(InvalidInput):
        vault.place_hold("planet", subject.id, "CASE-1", "r", actor=ADMIN_A)
    with pytest.raises(NotFound):
        vault.place_hold("record", "0" * 32, "CASE-1", "r", actor=ADMIN_A)
    hold = vault.place_hold("subject", subject.id, "CASE-1", "litigation", actor=ADMIN_A)
    with pytest.raises(PermissionDenied):
        vault.release_hold(hold.id, "done", actor=ADMIN_A)
    released = vault.release_hold(hold.id, "case closed", actor=ADMIN_B)
    assert released.released_by == "admin-b" and not released.active
    with pytest.raises(Conflict):
        vault.release_hold(hold.id, "again", actor=ADMIN_B)
    assert [h.id for h in vault.list_holds()] == [hold.id]
    assert vault.list_holds(active_only=True) == []


def test_holds_page_narrowed_by_subject_and_case_reference(vault):
    jp, ph = vault.create_subject("p1", "JP"), vault.create_subject("p2", "PH")
    for n in range(3):
        vault.place_hold("subject", jp.id, f"Case-{n}", "inquiry", actor=ADMIN_A)
    vault.place_hold("subject", ph.id, "CASE_1", "inquiry", actor=ADMIN_A)
    first = vault.holds_page(subject_id=jp.id, limit=2, actor=ADMIN_A)
    rest = vault.holds_page(subject_id=jp.id, limit=2, cursor=first.next, actor=ADMIN_A)
    assert rest.next is None
    listed = vault.list_holds(actor=ADMIN_A)
    assert [h.id for h in first.items + rest.items] == [
        h.id for h in listed if h.subject_id == jp.id
    ]
    # a part of the reference, any case; LIKE's wildcards are plain characters here
    assert {h.case_ref for h in vault.holds_page(case_ref="case-", actor=ADMIN_A).items} == {
        "Case-0",
        "Case-1",
        "Case-2",
    }
    assert [h.case_ref for h in vault.holds_page(case_ref="e_1", actor=ADMIN_A).items] == ["CASE_1"]
    ph_only = Actor("admin-ph", frozenset({Role.ADMIN}), frozenset({"PH"}))
    assert vault.holds_page(subject_id=jp.id, actor=ph_only).items == ()
    # a cursor is bound to its filters
    with pytest.raises(InvalidCursor):
        vault.holds_page(subject_id=ph.id, limit=2, cursor=first.next, actor=ADMIN_A)
    with pytest.raises(InvalidCursor):
        vault.holds_page(limit=2, cursor=first.next, actor=ADMIN_A)


def test_hold_keeps_data_past_retention_and_plan_names_it(vault, clock):
    subject = vault.create_subject("p1", "JP")
    info = vault.put_record(subject.id, "photo", b"x")
    vault.place_hold("subject", subject.id, "CASE-9", "regulator inquiry", actor=ADMIN_A)
    clock.advance(seconds=10)
    plan = vault.plan_disposal()
    [item] = [i for i in plan.items if i.id == info.id]
    assert not item.disposable
    assert any(r.case_ref == "CASE-9" for r in item.reasons)
    result = vault.sweep()
    assert result.records_erased == 0 and result.destructions_scheduled == 0
    assert vault.record_info(info.id).state.value == "active"


def test_record_erased_alone_and_key_resealed(make_vault, sqlite_url, clock):
    vault = make_vault(
        sqlite_url,
        retention={"default": "P10Y", "categories": {"photo": "PT3S"}},
        destruction={"waiting_period": "PT2S"},
    )
    subject = vault.create_subject("p1", "JP")
    photo = vault.put_record(subject.id, "photo", b"short-lived photo")
    xray = vault.put_record(subject.id, "xray", b"long-lived xray")
    keys = vault.regions["JP"].keys
    with Session(vault._ctx.engine) as session:
        old_xray_dek = (
            session.exec(select(RecordVersionRow).where(RecordVersionRow.record_id == xray.id))
            .one()
            .wrapped_dek
        )
        photo_key = (
            session.exec(select(RecordVersionRow).where(RecordVersionRow.record_id == photo.id))
            .one()
            .object_key
        )
    clock.advance(seconds=4)
    result = vault.sweep()
    assert result.records_erased == 1 and result.destructions_scheduled == 0
    with pytest.raises(Erased):
        vault.open_record(photo.id)
    with vault.open_record(xray.id) as reader:
        assert reader.read() == b"long-lived xray"
    with pytest.raises(NotFound):
        vault.regions["JP"].store.head(photo_key)
    described = keys.describe(subject.key_name)
    assert described.latest_version == 2 and described.min_decryption_version == 2
    with pytest.raises(Exception) as refused:  # a stray copy of an older wrapped DEK is dead
        keys.unwrap(subject.key_name, [old_xray_dek])
    assert type(refused.value).__name__ in {"KeyVersionRetired", "KeyNotFound", "KeyBatchError"}


def test_record_hold_blocks_only_its_subject(vault, clock):
    held = vault.create_subject("held", "JP")
    free = vault.create_subject("free", "JP")
    held_record = vault.put_record(held.id, "photo", b"a")
    vault.put_record(free.id, "photo", b"b")
    vault.place_hold("record", held_record.id, "CASE-2", "dispute", actor=ADMIN_A)
    clock.advance(seconds=4)
    result = vault.sweep()
    assert result.destructions_scheduled == 1
    [scheduled] = vault.list_destructions("scheduled")
    assert scheduled.subject_id == free.id


def test_one_destruction_by_id_only_in_granted_regions(vault, clock):
    subject = vault.create_subject("by-id", "JP")
    vault.put_record(subject.id, "photo", b"x")
    clock.advance(seconds=4)
    vault.sweep()
    [scheduled] = vault.list_destructions("scheduled")
    got = vault.get_destruction(scheduled.id, actor=DPO)
    assert (got.id, got.subject_id, got.state) == (scheduled.id, subject.id, "scheduled")
    ph_dpo = Actor("dpo-ph", frozenset({Role.DPO}), frozenset({"PH"}))
    with pytest.raises(RegionNotGranted):
        vault.get_destruction(scheduled.id, actor=ph_dpo)
    with pytest.raises(NotFound):
        vault.get_destruction("0" * 32, actor=DPO)
    outcomes = [e.outcome for e in vault.audit_events(action="destruction.get")]
    assert outcomes[0] == "ok" and outcomes[1].startswith("refused")


def test_processing_event_cancels_pending_destruction(vault, clock):
    subject = vault.create_subject("p1", "JP")
    info = vault.put_record(subject.id, "photo", b"x")
    clock.advance(seconds=4)
    vault.sweep()
    assert len(vault.list_destructions("scheduled")) == 1
    clock.advance(seconds=1)
    with vault.open_record(info.id) as reader:  # a service reads: processing
        reader.read()
    assert vault.list_destructions("scheduled") == []
    assert [d.state for d in vault.list_destructions()] == ["cancelled"]
    clock.advance(seconds=5)
    assert vault.sweep().destructions_executed == 0


def test_hold_placed_during_waiting_blocks_destruction(vault, clock):
    subject = vault.create_subject("p1", "JP")
    info = vault.put_record(subject.id, "photo", b"x")
    clock.advance(seconds=4)
    vault.sweep()
    vault.place_hold("subject", subject.id, "CASE-3", "late inquiry", actor=ADMIN_A)
    clock.advance(seconds=3)
    result = vault.sweep()
    assert result.destructions_executed == 0 and result.destructions_blocked == 1
    with vault.open_record(info.id, actor=DPO) as reader:
        assert reader.read() == b"x"


def test_restriction_blocks_service_not_dpo_and_blocks_disposal(vault, clock):
    subject = vault.create_subject("p1", "JP")
    info = vault.put_record(subject.id, "photo", b"restricted content")
    vault.restrict(subject.id, actor=DPO)
    with pytest.raises(ProcessingRestricted):
        vault.open_record(info.id)
    with pytest.raises(ProcessingRestricted):
        vault.put_record(subject.id, "photo", b"y")
    with pytest.raises(ProcessingRestricted):  # a service may not even list it
        vault.list_records(subject.id)
    assert [r.id for r in vault.list_records(subject.id, actor=DPO)] == [info.id]
    buffer = io.BytesIO()
    vault.export_subject(subject.id, buffer, actor=DPO)
    clock.advance(seconds=10)
    plan = vault.plan_disposal()
    assert all(not i.disposable for i in plan.items)
    assert any(r.kind == "restriction" for i in plan.items for r in i.reasons)
    vault.unrestrict(subject.id, actor=DPO)
    with vault.open_record(info.id) as reader:
        assert reader.read() == b"restricted content"


def test_export_zip_has_every_version_and_manifest(vault):
    subject = vault.create_subject("p1", "JP")
    first = vault.put_record(subject.id, "xray", b"xray v1", content_type="image/png")
    vault.update_record(first.id, b"xray v2", content_type="image/png")
    second = vault.put_record(subject.id, "clinical_finding", b"finding", content_type="text/plain")
    buffer = io.BytesIO()
    vault.export_subject(subject.id, buffer, actor=DPO)
    with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        assert archive.read(f"records/{first.id}/v1.png") == b"xray v1"
        assert archive.read(f"records/{first.id}/v2.png") == b"xray v2"
        assert archive.read(f"records/{second.id}/v1.txt") == b"finding"
    assert manifest["subject_id"] == subject.id
    assert {r["id"] for r in manifest["records"]} == {first.id, second.id}
    assert "p1" not in json.dumps(manifest)


def test_review_mode_waits_for_approval(make_vault, sqlite_url, clock):
    vault = make_vault(
        sqlite_url,
        retention={"default": "PT3S"},
        destruction={"waiting_period": "PT2S", "review": True},
    )
    subject = vault.create_subject("p1", "JP")
    vault.put_record(subject.id, "photo", b"x")
    clock.advance(seconds=4)
    assert vault.sweep().awaiting_approval == 1
    assert vault.list_destructions() == []
    plan = vault.plan_disposal()
    assert (
        vault.approve_disposal(plan, actor=Actor("compliance", frozenset({Role.COMPLIANCE}))) == 1
    )
    assert vault.sweep().destructions_scheduled == 1


def test_approving_named_items_judges_their_subjects_as_the_whole_plan_does(
    make_vault, sqlite_url, clock
):
    """``approve_disposal_items(ids)`` plans only the subjects named, with the same verdicts."""
    vault = make_vault(
        sqlite_url,
        retention={"default": "PT3S", "categories": {"impression": "P1D"}},
        destruction={"waiting_period": "PT2S", "review": True},
    )
    whole = vault.create_subject("p-whole", "JP")  # its only record is due: the subject goes
    vault.put_record(whole.id, "photo", b"x")
    partly = vault.create_subject("p-partly", "JP")  # one record due, one kept a day
    due = vault.put_record(partly.id, "photo", b"y")
    vault.put_record(partly.id, "impression", b"z")
    held = vault.create_subject("p-held", "JP")
    held_record = vault.put_record(held.id, "photo", b"h")
    vault.place_hold("subject", held.id, "CASE-1", "litigation", actor=ADMIN_A)
    elsewhere = vault.create_subject("p-ph", "PH")
    vault.put_record(elsewhere.id, "photo", b"p")
    clock.advance(seconds=4)
    jp_compliance = Actor("comp-jp", frozenset({Role.COMPLIANCE}), regions=frozenset({"JP"}))
    named = [whole.id, due.id, held.id, held_record.id, elsewhere.id, "0" * 32]
    expected = {
        i.id: i
        for i in vault.plan_disposal(actor=jp_compliance).items
        if i.subject_id in {whole.id, partly.id, held.id}
    }
    count, plan = vault.approve_disposal_items(named, actor=jp_compliance)
    assert {i.id: i for i in plan.items} == expected  # the same items, the same verdicts
    assert plan.review and count == 2  # the whole subject and the due record
    approved = {i.id for i in vault.plan_disposal().items if i.approved}
    assert approved == {whole.id, due.id}
    # a PH-only principal approves nothing of JP's, and its call is audited
    ph_compliance = Actor("comp-ph", frozenset({Role.COMPLIANCE}), regions=frozenset({"PH"}))
    assert vault.approve_disposal_items([whole.id, due.id], actor=ph_compliance)[0] == 0
    plans = [e for e in vault.audit_events(actor="comp-ph") if e.action == "disposal.plan"]
    assert plans and plans[-1].outcome == "items:0"
    with pytest.raises(InvalidInput):  # as many as the API's body takes, no more
        vault.approve_disposal_items(["0" * 32] * 1001, actor=jp_compliance)


def test_destroyed_subject_reads_erased_and_reference_reusable(vault, clock):
    subject = vault.create_subject("p-reuse", "JP")
    info = vault.put_record(subject.id, "photo", b"x")
    clock.advance(seconds=4)
    vault.sweep()
    clock.advance(seconds=3)
    assert vault.sweep().destructions_executed == 1
    with pytest.raises(Erased):
        vault.open_record(info.id)
    with pytest.raises(Erased):
        vault.put_record(subject.id, "photo", b"y")
    [done] = vault.list_destructions("done")
    certificate = vault.destruction_certificate(done.id)
    assert verify_document(certificate)
    assert certificate["document"]["records"] == 1 and certificate["document"]["bytes"] == 1
    tampered = json.loads(json.dumps(certificate))
    tampered["document"]["records"] = 0
    assert not verify_document(tampered)
    again = vault.create_subject("p-reuse", "JP")
    assert again.id != subject.id and again.key_name != subject.key_name
    assert vault.verify_audit().ok


def test_cancel_only_scheduled(vault, clock):
    subject = vault.create_subject("p1", "JP")
    vault.put_record(subject.id, "photo", b"x")
    clock.advance(seconds=4)
    vault.sweep()
    [destruction] = vault.list_destructions("scheduled")
    cancelled = vault.cancel_destruction(destruction.id, actor=SECURITY)
    assert cancelled.state == "cancelled" and cancelled.cancelled_by == "sec"
    with pytest.raises(Conflict):
        vault.cancel_destruction(destruction.id, actor=SECURITY)
    with pytest.raises(NotFound):
        vault.cancel_destruction("0" * 32, actor=SECURITY)
