"""WORM stores: objects kept under Object Lock COMPLIANCE after their key is destroyed.

Buckets on moto's S3 server have Object Lock and a COMPLIANCE default
retention of one day; recvault adds each record's retention. moto refuses
deletes before retain-until by its own clock, which these tests move with
the vault's (``moto_follows``), so "past the lock" holds for both.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlmodel import select

from api.app import create_app
from tests.api.conftest import OPERATOR, Served
from tests.cli.conftest import run_cli
from tests.fixtures.clock import FakeClock
from tests.fixtures.db import postgres_slow
from tests.fixtures.s3 import moto_follows
from tests.residency.conftest import TwoRegions
from vault.crypto.documents import verify_document
from vault.domain import (
    Actor,
    RemnantReason,
    RemnantState,
    Role,
    SubjectState,
    TransferState,
    to_json,
)
from vault.durations import Duration
from vault.erasure.remnants import RemnantOrigin, delete_or_keep
from vault.errors import Erased
from vault.metadata import ShreddedRemnantRow, SubjectRow, session_scope
from vault.storage import ObjectLocked, RetentionMode

COMPLIANCE = Actor("co-both", frozenset({Role.COMPLIANCE}))
COMPLIANCE_PH = Actor("co-ph", frozenset({Role.COMPLIANCE}), frozenset({"PH"}))
COMPLIANCE_JP = Actor("co-jp", frozenset({Role.COMPLIANCE}), frozenset({"JP"}))


@pytest.fixture
def clock(monkeypatch) -> FakeClock:
    """The vault's clock, from now on; moto's S3 follows it."""
    fake = FakeClock(datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=1))
    moto_follows(fake, monkeypatch)
    return fake


def _rows(env: TwoRegions) -> list[ShreddedRemnantRow]:
    with session_scope(env.vault._ctx.engine) as session:
        return list(session.exec(select(ShreddedRemnantRow)).all())


def _keys(env: TwoRegions, region: str) -> list[str]:
    return sorted(o.key for o in env.vault.regions[region].store.list(""))


def _events(env: TwoRegions, action: str) -> list[str]:
    return [e.outcome for e in env.vault.audit_events(action=action)]


def _key_name(env: TwoRegions, subject_id: str) -> str:
    with session_scope(env.vault._ctx.engine) as session:
        row = session.get(SubjectRow, subject_id)
        assert row is not None
        return row.key_name


@postgres_slow  # a transfer on PostgreSQL stays in the default run: test_transfer.py
def test_transfer_on_worm_ends_done_and_the_sweep_deletes_remnants_after_the_lock(
    make_regions, db_url, clock
) -> None:
    env = make_regions(db_url, object_lock=True)
    vault = env.vault
    subject = vault.create_subject("clinic-w/patient-1", "JP")
    xray = vault.put_record(subject.id, "xray", b"x-ray, panoramic" * 1000)
    vault.update_record(xray.id, b"x-ray, corrected" * 1000)
    photo = vault.put_record(subject.id, "photo", b"smile, front view")
    old_key, old_objects = _key_name(env, subject.id), _keys(env, "JP")
    jp = vault.regions["JP"]
    assert len(old_objects) == 3
    assert jp.store.protection(old_objects[0]).mode is RetentionMode.COMPLIANCE

    result = vault.transfer_subject(subject.id, "PH", "consent", "consent form W-1", actor="adm")

    assert (result.state, result.remnants) == (TransferState.DONE, 3)
    assert not jp.keys.describe(old_key).exists
    assert _keys(env, "JP") == old_objects  # the store keeps them: COMPLIANCE
    with vault.open_record(photo.id) as reader:
        assert reader.read() == b"smile, front view"

    report = vault.residency_report(actor=COMPLIANCE)
    assert report.ok, report.summary()
    assert sum(report.counts.values()) == 0
    assert report.remnants_total == 3
    assert {r.object_key for r in report.remnants} == set(old_objects)
    retain_until = vault.record_info(xray.id).retain_until
    for remnant in report.remnants:
        assert (remnant.region, remnant.reason) == ("JP", RemnantReason.TRANSFER)
        assert (remnant.destroyed_key, remnant.key_version) == (old_key, None)
        assert remnant.deletable_from is not None and remnant.deletable_from >= retain_until
    by_region = {r.name: r for r in report.regions}
    assert (by_region["JP"].objects_remnant, by_region["JP"].objects_accounted) == (3, 3)
    assert (by_region["PH"].objects_remnant, by_region["PH"].objects_accounted) == (0, 3)
    signed = report.signed()
    assert verify_document(signed)
    section = signed["document"]["remnants"]
    assert {(r["object_key"], r["reason"]) for r in section} == {
        (k, "transfer") for k in old_objects
    }
    assert all(r["deletable_from"] == r["retain_until"] for r in section)
    assert "shredded remnants" in report.summary()
    assert _events(env, "remnant.record") == ["shredded"] * 3

    # A principal of PH only sees nothing of JP's remnants and cannot sweep them.
    ph_report = vault.residency_report(actor=COMPLIANCE_PH)
    assert (ph_report.remnants, ph_report.remnants_total) == ((), 0)
    assert "JP/" not in str(to_json(ph_report))

    # Before the lock lapses the sweep leaves them.
    early = vault.sweep(actor=COMPLIANCE)
    assert (early.remnants_deleted, early.remnants_locked) == (0, 3)
    assert _keys(env, "JP") == old_objects
    # gc knows them too: not "objects the DB does not know" (a restored DB's sign)
    clock.advance(hours=1)
    gc = vault.gc(Duration.parse("PT1M"), dry_run=True)
    assert (gc.unknown_objects_kept, gc.kept) == (0, ())

    clock.now = max(r.retain_until for r in report.remnants if r.retain_until) + timedelta(days=1)
    assert vault.sweep(actor=COMPLIANCE_PH).remnants_deleted == 0
    assert _keys(env, "JP") == old_objects and len(_rows(env)) == 3

    swept = vault.sweep(actor=COMPLIANCE)
    assert (swept.remnants_deleted, swept.remnants_locked) == (3, 0)
    assert _keys(env, "JP") == [] and _rows(env) == []
    assert _events(env, "remnant.delete") == ["ok"] * 3
    after = vault.residency_report(actor=COMPLIANCE)
    assert after.ok, after.summary()
    assert (after.remnants, after.remnants_total) == ((), 0)
    assert vault.verify_audit().ok


def test_erasure_on_worm_completes_and_the_certificate_lists_remnants(
    make_regions, sqlite_url, clock
) -> None:
    env = make_regions(
        sqlite_url,
        object_lock=True,
        retention={"default": "PT1H"},
        destruction={"waiting_period": "PT1M"},
    )
    vault = env.vault
    subject = vault.create_subject("clinic-w/patient-2", "JP")
    record = vault.put_record(subject.id, "xray", b"x-ray, lateral ceph")
    vault.put_record(subject.id, "photo", b"smile, side view")
    objects = _keys(env, "JP")
    key_name = _key_name(env, subject.id)

    clock.advance(hours=2)  # retention passed; the store's one-day lock holds
    assert vault.sweep().destructions_scheduled == 1
    clock.advance(minutes=2)
    swept = vault.sweep()
    assert swept.destructions_executed == 1
    assert (swept.remnants_deleted, swept.remnants_locked) == (0, 2)

    with session_scope(vault._ctx.engine) as session:
        row = session.get(SubjectRow, subject.id)
        assert row is not None and row.state == SubjectState.DESTROYED
    with pytest.raises(Erased):
        vault.open_record(record.id)
    assert not vault.regions["JP"].keys.describe(key_name).exists
    destruction = vault.list_destructions(actor=COMPLIANCE_JP)[0]
    certificate = vault.destruction_certificate(destruction.id, actor=COMPLIANCE_JP)
    assert verify_document(certificate)
    listed = certificate["document"]["remnants"]
    assert sorted(r["object_key"] for r in listed) == objects
    assert all(r["reason"] == "erasure" and r["retain_until"] for r in listed)
    assert "remnants" in certificate["document"]["statement"]

    report = vault.residency_report(actor=COMPLIANCE)
    assert report.ok, report.summary()
    assert {(r.object_key, r.reason) for r in report.remnants} == {
        (k, RemnantReason.ERASURE) for k in objects
    }

    clock.advance(days=2)
    assert vault.sweep().remnants_deleted == 2
    assert _keys(env, "JP") == [] and _rows(env) == []


def test_record_erasure_on_worm_becomes_a_remnant_once_the_reseal_trims_the_key(
    make_regions, sqlite_url, clock
) -> None:
    env = make_regions(sqlite_url, object_lock=True, retention={"categories": {"photo": "PT1H"}})
    vault = env.vault
    subject = vault.create_subject("clinic-w/patient-3", "JP")
    kept = vault.put_record(subject.id, "xray", b"x-ray, kept ten years")
    photo = vault.put_record(subject.id, "photo", b"smile, erased after an hour")
    key_name = _key_name(env, subject.id)

    clock.advance(hours=2)
    assert vault.sweep().records_erased == 1

    (row,) = _rows(env)
    assert (row.state, row.reason, row.key_name) == (
        RemnantState.SHREDDED,
        RemnantReason.RECORD_ERASURE,
        key_name,
    )
    assert row.key_version == 1 and row.source_id == photo.id
    assert vault.regions["JP"].keys.describe(key_name).min_available_version > 1
    assert _events(env, "remnant.record") == ["awaiting-shred", "shredded"]
    with vault.open_record(kept.id) as reader:
        assert reader.read() == b"x-ray, kept ten years"
    report = vault.residency_report()
    assert report.ok, report.summary()
    assert [r.object_key for r in report.remnants] == [row.object_key]


def test_a_locked_object_whose_key_still_exists_is_not_a_remnant(
    make_regions, sqlite_url, clock
) -> None:
    env = make_regions(sqlite_url, object_lock=True)
    vault = env.vault
    subject = vault.create_subject("clinic-w/patient-4", "JP")
    vault.put_record(subject.id, "xray", b"x-ray, still readable")
    (object_key,) = _keys(env, "JP")
    origin = RemnantOrigin(
        subject.id, RemnantReason.ERASURE, subject.id, _key_name(env, subject.id)
    )

    with pytest.raises(ObjectLocked) as refused:
        delete_or_keep(vault._ctx, vault.regions["JP"], object_key, origin, Actor("sweeper"))

    assert refused.value.retain_until is not None
    assert _rows(env) == [] and _keys(env, "JP") == [object_key]
    assert vault.residency_report().ok


class _Shell:
    """What ``run_cli`` needs of a live API: a working directory and the user's shell."""

    def __init__(self, addr: str, tokens: dict[str, str], workdir: Path) -> None:
        self.addr, self.tokens, self.workdir = addr, tokens, workdir

    def env(self, role: str | None = None) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith("RECVAULT_")}
        return {**base, "RECVAULT_ADDR": self.addr, "RECVAULT_TOKEN": self.tokens[role or ""]}


def test_report_over_http_and_cli_shows_remnants_to_their_region_only(
    make_regions, sqlite_url, clock, tmp_path
) -> None:
    env = make_regions(sqlite_url, object_lock=True)
    vault = env.vault
    subject = vault.create_subject("clinic-w/patient-5", "JP")
    vault.put_record(subject.id, "photo", b"smile, before the move")
    (old_object,) = _keys(env, "JP")
    vault.transfer_subject(subject.id, "PH", "adequacy", "decision 2026/7", actor="adm")
    tokens = {
        who: vault.principals.add(f"co-{who.lower()}", ["compliance"], regions, OPERATOR)[1]
        for who, regions in (("BOTH", None), ("PH", ["PH"]))
    }
    served = Served(create_app(vault))
    served.start()
    try:
        shell = _Shell(served.url, tokens, tmp_path)
        table = run_cli(shell, "BOTH", "residency", "report")
        assert table.code == 0, table.err
        assert "shredded remnants (not violations)" in table.out and old_object in table.out
        signed = json.loads(run_cli(shell, "BOTH", "residency", "report", "--json").out)
        assert verify_document(signed) and signed["document"]["ok"] is True
        assert [r["object_key"] for r in signed["document"]["remnants"]] == [old_object]

        ph_only = run_cli(shell, "PH", "residency", "report", "--json")
        assert ph_only.code == 0, ph_only.err
        document = json.loads(ph_only.out)["document"]
        assert (document["remnants"], document["remnants_total"]) == ([], 0)
        assert old_object not in ph_only.out
        assert "shredded remnants" not in run_cli(shell, "PH", "residency", "report").out
        answer = httpx.get(
            f"{served.url}/v1/residency/report",
            headers={"Authorization": f"Bearer {tokens['PH']}"},
        )
        assert answer.status_code == 200 and old_object not in answer.text
    finally:
        served.stop()


def test_override_transfer_lifts_the_hold_mirror_on_remnants_and_keeps_it_on_copies(
    make_regions, sqlite_url, clock
) -> None:
    env = make_regions(sqlite_url, object_lock=True)
    vault = env.vault
    subject = vault.create_subject("clinic-w/patient-6", "JP")
    vault.put_record(subject.id, "xray", b"x-ray under a legal hold")
    vault.place_hold("subject", subject.id, "CASE-2026-9", "litigation", actor="adm")
    (old_object,) = _keys(env, "JP")
    jp, ph = vault.regions["JP"].store, vault.regions["PH"].store
    assert jp.protection(old_object).legal_hold is True

    result = vault.transfer_subject(
        subject.id, "PH", "consent", "consent form W-6", actor="adm", override_hold=True
    )

    assert (result.state, result.remnants) == (TransferState.DONE, 1)
    (row,) = _rows(env)
    assert row.object_key == old_object and row.retain_until is not None
    assert jp.protection(old_object).legal_hold is False  # unreadable bytes need no hold
    (copy,) = _keys(env, "PH")
    assert ph.protection(copy).legal_hold is True  # the hold protects the data, now here
    assert vault.residency_report().ok
