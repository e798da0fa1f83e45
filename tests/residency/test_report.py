"""The residency report on two S3 regions and two Transit mounts: clean, then each violation."""

from __future__ import annotations

import json

import pytest
from sqlmodel import select

from tests.residency.conftest import TwoRegions
from vault.crypto.documents import verify_document
from vault.domain import SYSTEM, to_json
from vault.metadata import SubjectRow, session_scope
from vault.residency.report import ResidencyCheck, ViolationKind
from vault.residency.streams import Expected, ListingOutOfOrder, Presence, merge_sorted


def _seed(env: TwoRegions) -> tuple[str, list[str]]:
    """A JP subject with two records (one of two versions) and a PH subject with one."""
    vault = env.vault
    jp = vault.create_subject("clinic-a/patient-1", "JP")
    first = vault.put_record(jp.id, "xray", b"jp x-ray " * 100)
    vault.update_record(first.id, b"jp x-ray, rectified")
    vault.put_record(jp.id, "photo", b"jp photo")
    ph = vault.create_subject("clinic-b/patient-9", "PH")
    vault.put_record(ph.id, "impression", b"ph scan")
    return jp.id, [first.id]


def _kinds(report) -> dict[str, int]:
    return {kind: n for kind, n in report.counts.items() if n}


def _jp_object_keys(env: TwoRegions) -> list[str]:
    return [o.key for o in env.vault.regions["JP"].store.list("JP/")]


def test_clean_setup_gives_a_clean_signed_report(make_regions, sqlite_url) -> None:
    env = make_regions(sqlite_url)
    _seed(env)
    report = env.vault.residency_report(actor="compliance-officer")
    assert report.ok, report.summary()
    by_name = {r.name: r for r in report.regions}
    assert by_name["JP"].reported_location == "ap-northeast-1"
    assert by_name["PH"].reported_location == "ap-southeast-1"
    assert (by_name["JP"].objects_listed, by_name["JP"].objects_accounted) == (3, 3)
    assert (by_name["PH"].objects_listed, by_name["PH"].objects_accounted) == (1, 1)
    assert (by_name["JP"].keys_listed, by_name["PH"].keys_listed) == (1, 1)
    document = to_json(report)
    assert json.loads(json.dumps(document)) == document
    assert document["ok"] is True and document["violations"] == []
    assert "OK" in report.summary().splitlines()[0]
    envelope = report.signed()
    assert verify_document(envelope)
    assert envelope["document"]["type"] == "recvault.residency-report"
    tampered = json.loads(json.dumps(envelope))
    tampered["document"]["regions"][0]["objects_listed"] += 1
    assert not verify_document(tampered)
    events = list(env.vault.audit_events(action="residency.report"))
    assert [e.actor for e in events] == ["compliance-officer"]


def test_stray_copy_and_missing_object_are_flagged(make_regions, sqlite_url) -> None:
    env = make_regions(sqlite_url)
    _seed(env)
    jp, ph = env.vault.regions["JP"].store, env.vault.regions["PH"].store
    copied, deleted = _jp_object_keys(env)[:2]
    with jp.open(copied) as stream:
        ph.put(copied, [stream.read()])  # a copy of a JP object in the PH bucket
    jp.delete(deleted)
    ph.put("PH/zz/not-a-record", [b"junk"])  # an object no row accounts for

    report = env.vault.residency_report()
    assert not report.ok
    assert _kinds(report) == {"stray_object": 2, "missing_object": 1}
    strays = {v.target: v for v in report.violations if v.kind is ViolationKind.STRAY_OBJECT}
    assert strays[copied].region == "PH" and strays[copied].belongs_to == "JP"
    assert strays["PH/zz/not-a-record"].belongs_to == ""
    (missing,) = [v for v in report.violations if v.kind is ViolationKind.MISSING_OBJECT]
    assert (missing.region, missing.target) == ("JP", deleted)
    assert "stray_object: 2" in report.summary()
    assert to_json(report)["ok"] is False


def test_bucket_in_the_wrong_location_is_flagged(make_regions, sqlite_url) -> None:
    env = make_regions(sqlite_url, bucket_regions={"JP": "ap-southeast-1"})
    report = env.vault.residency_report()
    assert _kinds(report) == {"location_mismatch": 1}
    (violation,) = report.violations
    assert violation.region == "JP"
    assert "ap-southeast-1" in violation.detail
    jp = next(r for r in report.regions if r.name == "JP")
    assert (jp.expected_location, jp.reported_location, jp.location_ok) == (
        "ap-northeast-1",
        "ap-southeast-1",
        False,
    )


def test_subject_key_in_the_wrong_mount_is_flagged(make_regions, sqlite_url) -> None:
    env = make_regions(sqlite_url)
    _seed(env)
    jp_subject = next(s for s in _subjects(env) if s.region == "JP")
    env.vault.regions["PH"].keys.ensure_key(jp_subject.key_name)
    env.vault.regions["JP"].keys.ensure_key("subj-" + "0" * 64)  # no subject has it
    report = env.vault.residency_report()
    assert _kinds(report) == {"stray_key": 2}
    found = {v.target: v for v in report.violations}
    assert found[jp_subject.key_name].region == "PH"
    assert found[jp_subject.key_name].belongs_to == "JP"
    assert found["subj-" + "0" * 64].region == "JP"


def test_missing_key_and_detail_cap(make_regions, sqlite_url) -> None:
    env = make_regions(sqlite_url)
    _seed(env)
    ph = env.vault.regions["PH"].store
    for i in range(5):
        ph.put(f"PH/ff/stray-{i}", [b"x"])
    jp_subject = next(s for s in _subjects(env) if s.region == "JP")
    env.vault.regions["JP"].keys.destroy(jp_subject.key_name)
    report = ResidencyCheck(env.vault._ctx, detail_limit=2).run(SYSTEM)
    assert report.counts["stray_object"] == 5 and report.counts["missing_key"] == 1
    assert sum(v.kind is ViolationKind.STRAY_OBJECT for v in report.violations) == 2
    assert to_json(report)["truncated"] is True


def _subjects(env: TwoRegions) -> list[SubjectRow]:
    with session_scope(env.vault._ctx.engine) as session:
        return list(session.exec(select(SubjectRow)).all())


def test_merge_walks_both_sorted_streams_once() -> None:
    def exp(key: str, region: str = "JP", presence: Presence = Presence.LIVE) -> Expected:
        return Expected(key, region, presence, "a committed version")

    merged = list(merge_sorted(iter(["a", "c", "d"]), iter([exp("b"), exp("c"), exp("e")])))
    assert [(k, present, e is not None) for k, present, e in merged] == [
        ("a", True, False),
        ("b", False, True),
        ("c", True, True),
        ("d", True, False),
        ("e", False, True),
    ]
    with pytest.raises(ListingOutOfOrder):
        list(merge_sorted(iter(["b", "a"]), iter([])))
