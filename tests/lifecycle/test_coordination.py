"""Jobs that know about each other (ADR 0014), with a transfer held mid-copy.

While a subject is being transferred: a second transfer call is refused, a
key rotation defers its job and reports and audits that, an erasure request
is deferred with the reason, a sweep keeps the subject and its records, and
gc knows the copies. Once the transfer is done each job goes ahead, and
every subject key is destroyed exactly once.
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from typing import Any

import pytest
from sqlmodel import select

import vault.residency.transfer as transfer_module
from vault.domain import Actor, ErasureStatus, Role, TransferState
from vault.errors import Conflict
from vault.metadata import RecordVersionRow, TransferRow, session_scope
from vault.records.writes import RecordWriter

MOVER = Actor("mover", frozenset({Role.ADMIN, Role.COMPLIANCE}))
DPO = Actor("dpo", frozenset({Role.DPO}))


def count_destroys(vault: Any, monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Every key destruction the key providers are asked for, by key name."""
    destroyed: Counter[str] = Counter()
    for region in vault.regions.values():
        real = region.keys.destroy

        def destroy(name: str, real: Any = real) -> Any:
            destroyed[name] += 1
            return real(name)

        monkeypatch.setattr(region.keys, "destroy", destroy)
    return destroyed


def test_jobs_leave_a_subject_in_transfer_alone(make_vault, db_url, clock, monkeypatch):
    vault = make_vault(db_url, destruction={"waiting_period": "P1D"})
    moving = vault.create_subject("moving", "JP")
    staying = vault.create_subject("staying", "JP")
    kept = [vault.put_record(moving.id, "photo", bytes([n]) * 5000) for n in range(2)]
    vault.put_record(staying.id, "photo", b"s" * 3000)
    destroyed = count_destroys(vault, monkeypatch)

    copied, release = threading.Event(), threading.Event()
    real_copy = transfer_module.copy_version

    def held_copy(*args: Any, **kwargs: Any) -> Any:
        copy = real_copy(*args, **kwargs)  # the copy is written, not yet recorded
        copied.set()
        assert release.wait(60)
        return copy

    monkeypatch.setattr(transfer_module, "copy_version", held_copy)
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["result"] = vault.transfer_subject(
                moving.id, "PH", "consent", "consent form 17", actor=MOVER
            )
        except BaseException as exc:
            outcome["error"] = exc

    mover = threading.Thread(target=run)
    mover.start()
    try:
        assert copied.wait(60)
        # One process runs a transfer: a second call is refused while the first holds it.
        with pytest.raises(Conflict, match="running in another process"):
            vault.transfer_subject(moving.id, "PH", "consent", "consent form 17", actor=MOVER)

        rotated = vault.rotate_keys(region="JP")
        assert rotated.keys_rotated == 1  # the staying subject's key only
        assert [(s.subject_id, s.reason) for s in rotated.skipped] == [
            (moving.id, "transfer-in-progress")
        ]
        deferred = [
            e
            for e in vault.audit_events(action="key.rotate")
            if e.subject_id == moving.id and e.outcome == "deferred:transfer-in-progress"
        ]
        assert len(deferred) == 1

        decision = vault.request_erasure(moving.id, actor=DPO)
        assert decision.status == ErasureStatus.DEFERRED
        assert "transfer" in {r.kind for r in decision.reasons}

        clock.advance(days=366 * 11)  # every record is past retention
        gc = vault.gc(dry_run=True)
        assert gc.kept == ()  # the copy written so far belongs to the transfer
        plan = vault.plan_disposal()
        held = [i for i in plan.items if i.subject_id == moving.id]
        assert [(i.action, [r.kind for r in i.reasons]) for i in held] == [("keep", ["transfer"])]
        # the plan's pages and an approval naming the subject judge it the same way
        paged = vault.plan_disposal_page(limit=1000).items
        assert [i for i in paged if i.subject_id == moving.id] == held
        approved, named = vault.approve_disposal_items([moving.id, kept[0].id])
        assert approved == 0 and list(named.items) == held
        swept = vault.sweep()
        assert swept.subjects_in_transfer == 1
        assert swept.destructions_scheduled == 1  # the staying subject's key
        assert [r.retain_until for r in vault.list_records(moving.id)] == [
            r.retain_until for r in kept
        ]
    finally:
        release.set()
        mover.join(60)
    assert "error" not in outcome, outcome.get("error")
    result = outcome["result"]
    assert result.state == TransferState.DONE and result.versions == 2

    # Done: the deferred jobs go ahead, on the subject's new key.
    after = vault.rotate_keys(subject_id=moving.id)
    assert after.keys_rotated == 1 and after.skipped == ()
    assert vault.sweep().destructions_scheduled == 1  # the erasure request, now
    clock.advance(days=2)
    assert vault.sweep().destructions_executed == 2
    subject_keys = {moving.key_name, vault.get_subject(moving.id).key_name, staying.key_name}
    assert len(subject_keys) == 3  # the old JP key, the new PH key, the staying subject's
    assert destroyed == Counter({name: 1 for name in subject_keys})
    destroys = Counter(e.subject_id for e in vault.audit_events(action="subject.destroy"))
    assert destroys == Counter({moving.id: 1, staying.id: 1})
    assert vault.verify_audit().ok
    assert vault.residency_report().ok


def test_a_write_refused_at_commit_leaves_no_object(make_vault, sqlite_url, clock, monkeypatch):
    """A transfer that starts while a write's bytes are on their way: the write is refused
    at commit, and its object does not stay behind in the region the subject leaves."""
    vault = make_vault(sqlite_url)
    subject = vault.create_subject("in-flight", "JP")
    vault.put_record(subject.id, "photo", b"first")
    real_store = RecordWriter._store_object

    def store_then_transfer_begins(self: Any, p: Any, store: Any) -> None:
        real_store(self, p, store)
        with session_scope(vault._ctx.engine) as session:
            session.add(
                TransferRow(
                    id=uuid.uuid4().hex,
                    subject_id=subject.id,
                    from_region="JP",
                    to_region="PH",
                    legal_basis="consent",
                    evidence_ref="form",
                    new_key_name="subj-" + "0" * 64,
                    old_key_name=subject.key_name,
                    state=TransferState.COPYING,
                    requested_by="mover",
                    started_at=clock(),
                )
            )

    monkeypatch.setattr(RecordWriter, "_store_object", store_then_transfer_begins)
    with pytest.raises(Conflict, match="transferred"):
        vault.put_record(subject.id, "photo", b"second")
    stored = [o.key for o in vault.regions["JP"].store.list("JP/")]
    assert len(stored) == 1  # the first record's only
    with session_scope(vault._ctx.engine) as session:
        versions = session.exec(select(RecordVersionRow)).all()
    assert [(v.version, v.state) for v in versions] == [(1, "committed")]
