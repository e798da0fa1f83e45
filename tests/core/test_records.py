"""RecordVault over real parts: subjects, records, versions, ranges, errors, processing clock."""

from __future__ import annotations

import io
import os
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from vault import Actor, RecordInput, Role
from vault.domain import RecordState
from vault.errors import (
    Erased,
    IntegrityError,
    InvalidInput,
    LengthRequired,
    NotFound,
    PermissionDenied,
    RangeNotSatisfiable,
    TooLarge,
)
from vault.pools import Lane

MiB = 1 << 20


def read_all(vault, record_id, **kwargs) -> bytes:
    with vault.open_record(record_id, **kwargs) as reader:
        return reader.read()


@pytest.fixture
def vault(make_vault, sqlite_url):
    return make_vault(sqlite_url)


def test_subject_is_idempotent_per_reference_and_pinned(vault):
    first = vault.create_subject("clinic-7/patient-0042", "JP")
    again = vault.create_subject("clinic-7/patient-0042", "JP")
    assert first.id == again.id and first.region == "JP"
    # References are scoped by region (ADR 0005): PH has its own namespace, so the same
    # string there is another subject, and nothing tells PH that JP uses it.
    in_ph = vault.create_subject("clinic-7/patient-0042", "PH")
    assert in_ph.id != first.id and in_ph.region == "PH"
    assert vault.create_subject("clinic-7/patient-0042", "PH").id == in_ph.id
    assert vault.create_subject("clinic-7/patient-0042", "JP").id == first.id
    other = vault.create_subject("clinic-7/patient-0043", "JP")
    assert other.id != first.id and other.key_name != first.key_name


def test_subjects_from_before_region_scoped_references_are_still_found(vault):
    subject = vault.create_subject("clinic-7/patient-0099", "JP")
    base = vault._ctx.ref_base("clinic-7/patient-0099")
    with vault._ctx.engine.begin() as conn:  # as a row written before ADR 0005 looks
        conn.execute(
            text("UPDATE subjects SET ref_hmac = :base, ref_base = NULL WHERE id = :id"),
            {"base": base, "id": subject.id},
        )
    assert vault.create_subject("clinic-7/patient-0099", "JP").id == subject.id
    assert vault.create_subject("clinic-7/patient-0099", "PH").id != subject.id


def test_reference_and_subject_id_not_in_key_name(vault):
    subject = vault.create_subject("patient-tanaka-0042", "JP")
    assert subject.key_name.startswith("subj-")
    assert "tanaka" not in subject.key_name and subject.id not in subject.key_name


def test_unknown_region_refused(vault):
    with pytest.raises(InvalidInput):
        vault.create_subject("p-1", "EU")


@pytest.mark.parametrize("size", [1, MiB - 1, MiB, MiB + 1, 3 * MiB + 17])
def test_put_and_read_round_trip(vault, size):
    subject = vault.create_subject("p-roundtrip", "JP")
    data = os.urandom(size)
    info = vault.put_record(subject.id, "xray", data, content_type="image/png")
    assert (info.version, info.size, info.region) == (1, size, "JP")
    assert read_all(vault, info.id) == data


@pytest.mark.parametrize("threads", [0, 2])
def test_whole_reads_with_and_without_a_decryption_pool(
    make_vault, sqlite_url, threads, monkeypatch
):
    """``[limits] decrypt_threads``: 0 decrypts on the reading thread, N in a lane of the
    shared pool of N."""
    from vault.records import reads

    chosen = []
    shipped = reads._decrypt
    monkeypatch.setattr(reads, "_decrypt", lambda n: chosen.append(shipped(n)) or chosen[-1])
    vault = make_vault(sqlite_url, limits={"decrypt_threads": threads})
    subject = vault.create_subject("p-pool", "JP")
    data = os.urandom(5 * MiB + 3)
    info = vault.put_record(subject.id, "impression", data)
    assert read_all(vault, info.id) == data
    assert len(chosen) == 1
    if threads:
        assert isinstance(chosen[0], Lane) and chosen[0]._pool._max_workers == threads
    else:
        assert chosen[0] is None


def test_concurrent_whole_reads_share_the_decryption_lanes(make_vault, sqlite_url):
    """Eight readers at once on one decrypting thread: each read's lane takes the thread
    only while it has segments waiting, so every read completes, in order, and a reader
    that stopped half-way (a slow client) does not keep the thread from the others."""
    from concurrent.futures import ThreadPoolExecutor

    vault = make_vault(sqlite_url, limits={"decrypt_threads": 1})
    subject = vault.create_subject("p-lanes", "JP")
    records = {}
    for i in range(4):
        data = os.urandom(6 * MiB + i)
        records[vault.put_record(subject.id, "impression", data).id] = data
    stalled = vault.open_record(next(iter(records)))
    try:
        assert stalled.read(MiB) == records[next(iter(records))][:MiB]  # its first segment
        with ThreadPoolExecutor(8) as readers:
            ids = [*records] * 2
            reads = [readers.submit(read_all, vault, record_id) for record_id in ids]
            got = [read.result(timeout=120) for read in reads]  # a held thread: TimeoutError
        assert got == [records[record_id] for record_id in ids]
    finally:
        stalled.close()


def test_put_from_path_and_stream(vault, tmp_path):
    subject = vault.create_subject("p-sources", "PH")
    data = os.urandom(2 * MiB + 5)
    path = tmp_path / "scan.stl"
    path.write_bytes(data)
    from_path = vault.put_record(subject.id, "impression", path)
    from_stream = vault.put_record(subject.id, "impression", io.BytesIO(data))
    assert read_all(vault, from_path.id) == data == read_all(vault, from_stream.id)


def test_non_seekable_stream_needs_size(vault):
    subject = vault.create_subject("p-pipe", "JP")
    read_fd, write_fd = os.pipe()
    os.write(write_fd, b"abc")
    os.close(write_fd)
    with os.fdopen(read_fd, "rb", buffering=0) as pipe:
        with pytest.raises(LengthRequired):
            vault.put_record(subject.id, "photo", pipe)
        info = vault.put_record(subject.id, "photo", pipe, size=3)
    assert read_all(vault, info.id) == b"abc"


def test_short_stream_leaves_nothing(vault):
    subject = vault.create_subject("p-short", "JP")
    with pytest.raises(InvalidInput):
        vault.put_record(subject.id, "photo", io.BytesIO(b"x" * 100), size=200)
    assert vault.list_records(subject.id) == []
    assert list(vault.regions["JP"].store.list("JP/")) == []


def test_versions_keep_history(vault):
    subject = vault.create_subject("p-versions", "JP")
    first = vault.put_record(subject.id, "clinical_finding", b"finding v1")
    second = vault.update_record(first.id, b"finding v2, rectified")
    assert second.version == 2 and second.id == first.id
    assert read_all(vault, first.id) == b"finding v2, rectified"
    assert read_all(vault, first.id, version=1) == b"finding v1"
    info = vault.record_info(first.id)
    assert [v.version for v in info.versions] == [1, 2]


def test_ranges(vault):
    subject = vault.create_subject("p-range", "JP")
    data = os.urandom(3 * MiB + 100)
    info = vault.put_record(subject.id, "xray", data)
    for start, stop in [(0, 10), (MiB - 5, MiB + 5), (2 * MiB, 3 * MiB + 100), (5, 5 * MiB)]:
        assert read_all(vault, info.id, byte_range=(start, stop)) == data[start:stop]
    with pytest.raises(RangeNotSatisfiable):
        vault.open_record(info.id, byte_range=(len(data) + 1, len(data) + 2))
    with pytest.raises(InvalidInput):
        vault.open_record(info.id, byte_range=(10, 5))


def test_bulk_put(vault):
    a = vault.create_subject("p-bulk-a", "JP")
    b = vault.create_subject("p-bulk-b", "PH")
    items = [RecordInput(s.id, "photo", os.urandom(4096)) for s in (a, b) for _ in range(30)]
    infos = vault.put_records(items)
    assert len(infos) == 60
    for item, info in zip(items, infos, strict=True):
        assert read_all(vault, info.id) == item.content
        assert info.region == ("JP" if item.subject_id == a.id else "PH")


def test_unknown_ids(vault):
    with pytest.raises(NotFound):
        vault.record_info("0" * 32)
    with pytest.raises(NotFound):
        vault.open_record("0" * 32)
    with pytest.raises(NotFound):
        vault.put_record("0" * 32, "photo", b"x")
    subject = vault.create_subject("p-unknown-version", "JP")
    info = vault.put_record(subject.id, "photo", b"x")
    with pytest.raises(NotFound):
        vault.open_record(info.id, version=9)


def test_empty_content_is_refused_unless_allowed(make_vault, sqlite_url):
    vault = make_vault(sqlite_url)
    subject = vault.create_subject("p-empty", "JP")
    with pytest.raises(InvalidInput, match="empty record is refused"):
        vault.put_record(subject.id, "xray", b"", content_type="image/png")
    with pytest.raises(InvalidInput, match="empty record is refused"):
        vault.put_record(subject.id, "xray", io.BytesIO(b""), size=0)
    kept = vault.put_record(subject.id, "xray", b"x")
    with pytest.raises(InvalidInput, match="empty record is refused"):
        vault.update_record(kept.id, b"")
    assert [r.id for r in vault.list_records(subject.id)] == [kept.id]
    assert vault.record_info(kept.id).version == 1

    lenient = make_vault(sqlite_url, limits={"allow_empty_records": True})
    other = lenient.create_subject("p-empty-allowed", "JP")
    empty = lenient.put_record(other.id, "xray", b"", content_type="image/png")
    assert empty.size == 0 and read_all(lenient, empty.id) == b""


def test_bad_category_and_oversize(make_vault, sqlite_url):
    vault = make_vault(sqlite_url, limits={"max_record_bytes": 1000})
    subject = vault.create_subject("p-limits", "JP")
    with pytest.raises(InvalidInput):
        vault.put_record(subject.id, "selfie", b"x")
    with pytest.raises(TooLarge):
        vault.put_record(subject.id, "photo", b"x" * 1001)
    assert vault.list_records(subject.id) == []


def test_region_not_granted(vault):
    subject = vault.create_subject("p-jp-only", "JP")
    info = vault.put_record(subject.id, "photo", b"jp data")
    ph_service = Actor("svc-ph", frozenset({Role.SERVICE}), frozenset({"PH"}))
    with pytest.raises(PermissionDenied):
        vault.open_record(info.id, actor=ph_service)
    with pytest.raises(PermissionDenied):
        vault.put_record(subject.id, "photo", b"x", actor=ph_service)
    with pytest.raises(PermissionDenied):
        vault.create_subject("p-new", "JP", actor=ph_service)
    refused = [e for e in vault.audit_events(principal="svc-ph")]
    assert len(refused) == 3 and all(e.outcome.startswith("refused:") for e in refused)


def test_tampered_object_raises_integrity_error(vault):
    subject = vault.create_subject("p-tamper", "JP")
    info = vault.put_record(subject.id, "xray", os.urandom(2 * MiB))
    store = vault.regions["JP"].store
    [obj] = list(store.list("JP/"))
    path = store.root / obj.key  # LocalStore keeps objects as plain files
    blob = bytearray(path.read_bytes())
    blob[len(blob) - 100] ^= 0x01
    path.write_bytes(bytes(blob))
    with pytest.raises(IntegrityError), vault.open_record(info.id) as reader:
        reader.read()


def test_processing_clock(vault, clock):
    subject = vault.create_subject("p-clock", "JP")
    created = vault.put_record(subject.id, "xray", b"image")
    assert created.last_processed_at == clock.now
    assert created.retain_until == datetime(2036, 1, 15, 9, 0, tzinfo=UTC)
    clock.advance(days=400)
    vault.record_info(created.id)  # metadata read: not processing
    vault.list_records(subject.id)
    assert vault.record_info(created.id).last_processed_at == created.last_processed_at
    read_all(vault, created.id)  # content read by a service: processing
    after_read = vault.record_info(created.id)
    assert after_read.last_processed_at == clock.now
    assert after_read.retain_until == datetime(2037, 2, 19, 9, 0, tzinfo=UTC)
    clock.advance(days=1)
    updated = vault.update_record(created.id, b"image v2")
    assert updated.last_processed_at == clock.now


def test_leap_day_record(vault, clock):
    clock.now = datetime(2028, 2, 29, 23, 0, tzinfo=UTC)
    subject = vault.create_subject("p-leap", "PH")
    info = vault.put_record(subject.id, "photo", b"x")
    assert info.retain_until == datetime(2038, 2, 28, 23, 0, tzinfo=UTC)


def test_audit_chain_catches_an_edited_row(vault):
    from sqlalchemy import text

    subject = vault.create_subject("p-audit", "JP")
    info = vault.put_record(subject.id, "photo", b"x")
    read_all(vault, info.id)
    assert vault.verify_audit().ok
    with vault._ctx.engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET actor = 'someone-else' WHERE seq = 2"))
    verdict = vault.verify_audit()
    assert not verdict.ok and verdict.first_broken_seq == 2


def test_audit_chain_catches_a_deleted_row(vault):
    from sqlalchemy import text

    subject = vault.create_subject("p-audit-del", "JP")
    for _ in range(3):
        vault.put_record(subject.id, "photo", b"x")
    with vault._ctx.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_events WHERE seq = 3"))
    verdict = vault.verify_audit()
    assert not verdict.ok and verdict.first_broken_seq == 3


def test_audit_and_objects_hold_no_reference(vault):
    subject = vault.create_subject("patient-suzuki-hanako", "JP")
    vault.put_record(subject.id, "photo", b"x")
    for event in vault.audit_events():
        assert "suzuki" not in repr(event)
    for obj in vault.regions["JP"].store.list(""):
        assert "suzuki" not in obj.key and subject.id not in obj.key


def test_records_listing_states(vault, clock):
    subject = vault.create_subject("p-list", "JP")
    infos = []
    for i in range(3):
        clock.advance(seconds=1)
        infos.append(vault.put_record(subject.id, "photo", bytes([i])))
    listed = vault.list_records(subject.id)
    assert [r.id for r in listed] == [i.id for i in infos]
    assert all(r.state is RecordState.ACTIVE for r in listed)


def test_erased_version_reads_as_erased(vault):
    from sqlalchemy import text

    subject = vault.create_subject("p-erased", "JP")
    info = vault.put_record(subject.id, "photo", b"x")
    with vault._ctx.engine.begin() as conn:
        conn.execute(text("UPDATE records SET state = 'erased'"))
    with pytest.raises(Erased):
        vault.open_record(info.id)


def test_bulk_put_whose_flush_fails_leaves_nothing(vault, monkeypatch):
    from vault.storage import StoreUnavailable
    from vault.storage import local as local_module

    subject = vault.create_subject("p-bulk-flush", "JP")

    def failing(directory):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(local_module, "_syncfs", failing)
    items = [RecordInput(subject.id, "photo", os.urandom(4096)) for _ in range(20)]
    with pytest.raises(StoreUnavailable, match="EIO while flushing a batch of objects"):
        vault.put_records(items)
    assert vault.list_records(subject.id) == []
    assert list(vault.regions["JP"].store.list("")) == []
    monkeypatch.undo()
    infos = vault.put_records(items)  # the same items go in once the store flushes again
    assert [read_all(vault, i.id) for i in infos] == [item.content for item in items]
