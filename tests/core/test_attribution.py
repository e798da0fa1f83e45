"""Every public RecordVault operation leaves an audit event that names its caller.

Each method is called by its own principal (``caller-<method>``) on a small
deployment (JP and PH, local keys, SQLite); afterwards the audit log must
hold at least one event by that principal, and the chain must verify.
"""

from __future__ import annotations

import inspect
import io
from collections.abc import Callable
from typing import Any

import pytest

from vault import Actor, RecordInput, RecordVault, Role
from vault.durations import Duration
from vault.errors import InvalidInput

#: not operations of a principal: construction, configuration, the clock, shutdown, the
#: edge's own refusal and session records (themselves audit writes) and the readiness probe
EXEMPT = {
    "from_settings",
    "settings",
    "regions",
    "close",
    "audit_refusal",
    "audit_session",
    "clock",
    "readiness",
    "readiness_checks",
}


def caller(name: str) -> Actor:
    return Actor(f"caller-{name}", frozenset(Role))


@pytest.fixture
def world(make_vault, sqlite_url, clock) -> dict[str, Any]:
    vault: RecordVault = make_vault(
        sqlite_url, destruction={"waiting_period": "PT1S"}, retention={"default": "PT1S"}
    )
    setup = Actor("setup", frozenset(Role))
    subject = vault.create_subject("ref-attr-1", "JP", actor=setup)
    record = vault.put_record(subject.id, "xray", b"scan", actor=setup)
    hold = vault.place_hold("record", record.id, "CASE-1", "kept", actor=setup)
    done = vault.create_subject("ref-attr-2", "JP", actor=setup)
    vault.request_erasure(done.id, actor=setup)
    clock.advance(seconds=5)
    vault.sweep(actor=setup)
    [executed] = vault.list_destructions("done", actor=setup)
    waiting = vault.create_subject("ref-attr-3", "PH", actor=setup)
    scheduled = vault.request_erasure(waiting.id, actor=setup)
    movable = vault.create_subject("ref-attr-4", "JP", actor=setup)
    vault.put_record(movable.id, "photo", b"p", actor=setup)
    return {
        "vault": vault,
        "subject": subject.id,
        "record": record.id,
        "hold": hold.id,
        "executed": executed.id,
        "scheduled": scheduled.destruction_id,
        "movable": movable.id,
    }


def refused(error: type[Exception], call: Callable[[], object]) -> None:
    """A refusal is an operation too: it must leave its event (SQLite has no partitions)."""
    with pytest.raises(error):
        call()


def calls(w: dict[str, Any]) -> dict[str, Callable[[Actor], object]]:
    v: RecordVault = w["vault"]

    def read(a: Actor) -> None:
        with v.open_record(w["record"], actor=a) as reader:
            reader.read()

    return {
        "create_subject": lambda a: v.create_subject("ref-new", "PH", actor=a),
        "create_subject_ex": lambda a: v.create_subject_ex("ref-new-2", "PH", actor=a),
        "get_subject": lambda a: v.get_subject(w["subject"], actor=a),
        "find_subjects": lambda a: v.find_subjects("ref-attr-1", actor=a),
        "record_sign_in": lambda a: v.record_sign_in(a, "oidc"),
        "put_record": lambda a: v.put_record(w["subject"], "photo", b"x", actor=a),
        "put_records": lambda a: v.put_records([RecordInput(w["subject"], "photo", b"y")], actor=a),
        "update_record": lambda a: v.update_record(w["record"], b"scan2", actor=a),
        "open_record": read,
        "list_records": lambda a: v.list_records(w["subject"], actor=a),
        "records_page": lambda a: v.records_page(w["subject"], limit=1, actor=a),
        "record_info": lambda a: v.record_info(w["record"], actor=a),
        "place_hold": lambda a: v.place_hold("subject", w["subject"], "C-2", "r", actor=a),
        "release_hold": lambda a: v.release_hold(w["hold"], "over", actor=a),
        "list_holds": lambda a: v.list_holds(actor=a),
        "holds_page": lambda a: v.holds_page(limit=1, actor=a),
        "request_erasure": lambda a: v.request_erasure(w["subject"], actor=a),
        "erasure_status": lambda a: v.erasure_status(w["subject"], actor=a),
        "restrict": lambda a: v.restrict(w["subject"], actor=a),
        "unrestrict": lambda a: v.unrestrict(w["subject"], actor=a),
        "export_subject": lambda a: v.export_subject(w["subject"], io.BytesIO(), actor=a),
        "plan_disposal": lambda a: v.plan_disposal(actor=a),
        "retention_horizon": lambda a: v.retention_horizon(actor=a),
        "plan_disposal_page": lambda a: v.plan_disposal_page(limit=1, actor=a),
        "approve_disposal": lambda a: v.approve_disposal(v.plan_disposal(actor=a), actor=a),
        "approve_disposal_items": lambda a: v.approve_disposal_items([w["subject"]], actor=a),
        "sweep": lambda a: v.sweep(actor=a),
        "get_destruction": lambda a: v.get_destruction(w["scheduled"], actor=a),
        "list_destructions": lambda a: v.list_destructions(actor=a),
        "destructions_page": lambda a: v.destructions_page(limit=1, actor=a),
        "cancel_destruction": lambda a: v.cancel_destruction(w["scheduled"], actor=a),
        "destruction_certificate": lambda a: v.destruction_certificate(w["executed"], actor=a),
        "residency_report": lambda a: v.residency_report(actor=a),
        "residency_objects": lambda a: v.residency_objects("JP", limit=1, actor=a),
        "residency_keys": lambda a: v.residency_keys("PH", limit=1, actor=a),
        "transfer_subject": lambda a: v.transfer_subject(
            w["movable"], "PH", "consent", "E-1", actor=a
        ),
        "rotate_keys": lambda a: v.rotate_keys("JP", actor=a),
        "key_status": lambda a: v.key_status(actor=a),
        "verify_audit": lambda a: v.verify_audit(actor=a),
        "audit_events": lambda a: list(v.audit_events(action="record.read", actor=a)),
        "audit_page": lambda a: v.audit_page(action="record.read", limit=1, actor=a),
        "audit_checkpoint": lambda a: v.audit_checkpoint(actor=a),
        "audit_partitions": lambda a: v.audit_partitions(actor=a),
        "detach_audit_partition": lambda a: refused(
            InvalidInput, lambda: v.detach_audit_partition("2026-01", actor=a)
        ),
        "gc": lambda a: v.gc(Duration.parse("PT0S"), actor=a),
    }


def public_methods() -> set[str]:
    return {
        name
        for name, _ in inspect.getmembers(RecordVault)
        if not name.startswith("_") and name != "principals"
    }


def test_every_public_method_is_covered_here(world: dict[str, Any]) -> None:
    assert set(calls(world)) | EXEMPT == public_methods()


def test_every_public_method_leaves_an_event_naming_its_caller(world: dict[str, Any]) -> None:
    vault: RecordVault = world["vault"]
    silent = []
    for name, call in calls(world).items():
        actor = caller(name)
        call(actor)
        if not list(vault.audit_events(principal=actor.name)):
            silent.append(name)
    assert silent == []
    assert vault.verify_audit().ok
