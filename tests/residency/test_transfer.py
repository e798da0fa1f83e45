"""Transfers JP → PH on S3 + Transit: complete, refused, held, and resumed after a failure."""

from __future__ import annotations

import hashlib

import pytest
from sqlmodel import select

from tests.residency.conftest import TwoRegions
from vault.domain import LegalBasis, TransferState, to_json
from vault.errors import Conflict, HeldByLegalHold, InvalidInput
from vault.metadata import SubjectRow, TransferItemRow, TransferRow, session_scope

BIG = bytes(range(256)) * 5000  # ~1.2 MiB: two segments


def _seed(env: TwoRegions) -> tuple[str, dict[tuple[str, int], bytes]]:
    vault = env.vault
    subject = vault.create_subject("clinic-a/patient-7", "JP")
    contents: dict[tuple[str, int], bytes] = {}
    xray = vault.put_record(subject.id, "xray", BIG)
    contents[(xray.id, 1)] = BIG
    fixed = vault.update_record(xray.id, BIG[::-1])
    contents[(xray.id, fixed.version)] = BIG[::-1]
    photo = vault.put_record(subject.id, "photo", b"smile, front view")
    contents[(photo.id, 1)] = b"smile, front view"
    return subject.id, contents


def _read(env: TwoRegions, record_id: str, version: int, byte_range=None) -> bytes:
    with env.vault.open_record(record_id, version, byte_range) as reader:
        return reader.read()


def _subject(env: TwoRegions, subject_id: str) -> SubjectRow:
    with session_scope(env.vault._ctx.engine) as session:
        row = session.get(SubjectRow, subject_id)
        assert row is not None
        return row


def _outcomes(env: TwoRegions, subject_id: str) -> list[tuple[str, str]]:
    events = env.vault.audit_events(subject_id=subject_id, action="subject.transfer")
    return [(e.outcome, e.purpose) for e in events]


def test_transfer_moves_objects_and_key_and_leaves_a_clean_report(make_regions, db_url) -> None:
    env = make_regions(db_url)
    subject_id, contents = _seed(env)
    old_key = _subject(env, subject_id).key_name
    jp, ph = env.vault.regions["JP"], env.vault.regions["PH"]

    result = env.vault.transfer_subject(
        subject_id, "PH", "consent", "consent form 2026-01, scan 17", actor="admin-1"
    )
    assert (result.state, result.from_region, result.to_region) == (TransferState.DONE, "JP", "PH")
    assert (result.versions, result.copied_now, result.resumed) == (3, 3, False)
    assert result.legal_basis is LegalBasis.CONSENT
    assert to_json(result)["legal_basis"] == "consent"

    for (record_id, version), data in contents.items():
        assert _read(env, record_id, version) == data
    record_id = next(iter(contents))[0]
    assert _read(env, record_id, 1, (1_048_570, 1_048_590)) == BIG[1_048_570:1_048_590]
    assert env.vault.record_info(record_id).region == "PH"

    subject = _subject(env, subject_id)
    assert subject.region == "PH" and subject.key_name != old_key
    assert not jp.keys.describe(old_key).exists
    assert old_key not in set(jp.keys.list_keys()) | set(ph.keys.list_keys())
    assert list(ph.keys.list_keys()) == [subject.key_name]
    assert list(jp.store.list("")) == []
    assert sorted(o.key[:3] for o in ph.store.list("")) == ["PH/"] * 3
    # the reference moved with the subject (ADR 0005): found in PH, free again in JP
    assert env.vault.create_subject("clinic-a/patient-7", "PH").id == subject_id
    assert env.vault.create_subject("clinic-a/patient-7", "JP").id != subject_id

    report = env.vault.residency_report()
    assert report.ok, report.summary()
    assert {r.name: r.objects_accounted for r in report.regions} == {"JP": 0, "PH": 3}

    purpose = "consent:consent form 2026-01, scan 17"
    assert _outcomes(env, subject_id) == [
        ("started", purpose),
        ("switched", purpose),
        ("ok", purpose),
    ]
    assert env.vault.verify_audit().ok
    after = env.vault.put_record(subject_id, "photo", b"after the move")
    assert after.region == "PH"
    assert env.vault.residency_report().ok


def test_refused_without_basis_or_evidence(make_regions, sqlite_url) -> None:
    env = make_regions(sqlite_url)
    subject_id, _ = _seed(env)
    for basis, evidence in (
        (None, "ref-1"),
        ("", "ref-1"),
        ("legitimate_interest", "ref-1"),
        ("adequacy", ""),
        ("adequacy", None),
    ):
        with pytest.raises(InvalidInput):
            env.vault.transfer_subject(subject_id, "PH", basis, evidence)
    with pytest.raises(Conflict):  # already there: the request conflicts with the state
        env.vault.transfer_subject(subject_id, "JP", "adequacy", "ref-1")
    with pytest.raises(InvalidInput):
        env.vault.transfer_subject(subject_id, "EU", "adequacy", "ref-1")
    # the subject's audit trail shows the refusal that was about it (the others name no
    # usable request: no basis, no evidence, no such region)
    assert {o for o, _ in _outcomes(env, subject_id)} == {"refused:conflict"}
    assert _subject(env, subject_id).region == "JP"
    with session_scope(env.vault._ctx.engine) as session:
        assert session.exec(select(TransferRow)).first() is None


def test_legal_hold_refuses_unless_an_admin_overrides(make_regions, sqlite_url) -> None:
    env = make_regions(sqlite_url)
    subject_id, contents = _seed(env)
    hold = env.vault.place_hold("subject", subject_id, "CASE-2026-004", "litigation", actor="adm")
    with pytest.raises(HeldByLegalHold):
        env.vault.transfer_subject(subject_id, "PH", "contractual_safeguards", "DPA-17")
    assert _subject(env, subject_id).region == "JP"
    assert _outcomes(env, subject_id) == [("refused:legal-hold", "")]

    result = env.vault.transfer_subject(
        subject_id, "PH", "contractual_safeguards", "DPA-17", actor="adm", override_hold=True
    )
    assert result.state is TransferState.DONE and result.hold_override
    outcomes = [o for o, _ in _outcomes(env, subject_id)]
    assert outcomes == [
        "refused:legal-hold",
        "started:hold-override",
        "switched",
        "ok:hold-override",
    ]
    assert [h.id for h in env.vault.list_holds(active_only=True)] == [hold.id]
    for (record_id, version), data in contents.items():
        assert _read(env, record_id, version) == data
    assert env.vault.residency_report().ok


def test_resumes_after_a_failure_mid_copy(make_regions, sqlite_url, monkeypatch) -> None:
    env = make_regions(sqlite_url)
    subject_id, contents = _seed(env)
    ph_store = env.vault.regions["PH"].store
    real_put = ph_store.put
    puts: list[str] = []
    calls = [0]

    def failing_put(key, chunks):
        puts.append(key)
        calls[0] += 1
        if calls[0] == 2:
            for _ in chunks:  # the store dies while the second copy is being written
                raise ConnectionError("store went away")
        return real_put(key, chunks)

    monkeypatch.setattr(ph_store, "put", failing_put)
    with pytest.raises(ConnectionError):
        env.vault.transfer_subject(subject_id, "PH", "adequacy", "adequacy decision 2026/3")

    with session_scope(env.vault._ctx.engine) as session:
        (transfer,) = session.exec(select(TransferRow)).all()
        items = session.exec(select(TransferItemRow)).all()
    assert transfer.state == TransferState.COPYING
    assert sorted(i.state for i in items) == ["copied", "copying"]
    copied_first = next(i for i in items if i.state == "copied")

    # Mid-transfer: the subject is still served from JP, writes are refused,
    # and the report accounts for the copy already made.
    record_id, version = next(iter(contents))
    assert _read(env, record_id, version) == contents[(record_id, version)]
    with pytest.raises(Conflict):
        env.vault.put_record(subject_id, "photo", b"new")
    with pytest.raises(Conflict):
        env.vault.update_record(record_id, b"new")
    with pytest.raises(Conflict):  # only the transfer in progress may be resumed
        env.vault.transfer_subject(subject_id, "JP", "adequacy", "x")
    report = env.vault.residency_report()
    assert report.ok, report.summary()
    assert next(r for r in report.regions if r.name == "PH").objects_in_transfer == 1

    puts.clear()
    result = env.vault.transfer_subject(subject_id, "PH", "adequacy", "adequacy decision 2026/3")
    assert result.state is TransferState.DONE and result.resumed
    assert (result.versions, result.copied_now) == (3, 2)
    assert len(puts) == 2 and copied_first.new_object_key not in puts
    for (rid, ver), data in contents.items():
        with env.vault.open_record(rid, ver) as reader:
            assert hashlib.sha256(reader.read()).digest() == hashlib.sha256(data).digest()
    outcomes = [o for o, _ in _outcomes(env, subject_id)]
    assert outcomes == [
        "started",
        "interrupted:ConnectionError",
        "refused:conflict",
        "resumed",
        "switched",
        "ok",
    ]
    assert env.vault.residency_report().ok
    assert list(env.vault.regions["JP"].store.list("")) == []


def test_a_rotation_racing_the_copy_waits_for_the_transfer(make_regions, sqlite_url) -> None:
    """The copy reads the version rows, a rotation of the subject's key comes before the
    copy unwraps the first DEK: unlike a read (``Records.open``, which reads the row again
    when the key version was retired under it), the copy needs no second read, because the
    rotation is deferred while the transfer runs (ADR 0014) and retires no version the copy
    still unwraps with. The deferred job is cancelled when the transfer replaces the key."""
    env = make_regions(sqlite_url, rotation={"keep_versions": 0})
    subject_id, contents = _seed(env)
    old_key = _subject(env, subject_id).key_name
    keys = env.vault.regions["JP"].keys
    unwrap = keys.unwrap
    raced = []

    def rotation_in_between(name, wrapped):  # type: ignore[no-untyped-def]
        if not raced:
            raced.append(env.vault.rotate_keys(subject_id=subject_id))
        return unwrap(name, wrapped)

    keys.unwrap = rotation_in_between  # type: ignore[method-assign]
    try:
        result = env.vault.transfer_subject(
            subject_id, "PH", "consent", "consent form 2026-01, scan 17", actor="admin-1"
        )
    finally:
        keys.unwrap = unwrap  # type: ignore[method-assign]
    [rotation] = raced
    assert rotation.keys_rotated == 0
    assert [(s.subject_id, s.reason) for s in rotation.skipped] == [
        (subject_id, "transfer-in-progress")
    ]
    assert (result.state, result.versions) == (TransferState.DONE, 3)
    for (record_id, version), data in contents.items():
        assert _read(env, record_id, version) == data
    assert not keys.describe(old_key).exists
    after = env.vault.rotate_keys(subject_id=subject_id)  # now on the new key, in PH
    assert after.keys_rotated == 1 and after.skipped == ()
