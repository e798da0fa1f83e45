"""recvault gc: incomplete writes go, stored objects the DB does not know stay and are reported.

The restore drill of docs/operations.md runs here on PostgreSQL: dump the
metadata DB, write more and erase a subject, restore the dump, run gc.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlparse

import pytest
from sqlalchemy import create_engine, text
from sqlmodel import Session

from tests.core.conftest import vault_settings
from tests.fixtures.clock import FakeClock
from tests.fixtures.db import PG_BASE
from tests.fixtures.settings import run_recvault, secret_env, server_env, write_toml
from vault import Actor, RecordVault, Role, Settings
from vault.domain import KeptReason
from vault.durations import Duration
from vault.errors import Erased, NotFound
from vault.format.envelope import ObjectContext, open_stream, read_header
from vault.metadata import RecordVersionRow
from vault.metadata.migrate import upgrade
from vault.storage.local import TEMP_PREFIX, LocalStore

NOW = Duration.parse("PT0S")
DPO = Actor("dpo", frozenset({Role.DPO}))
#: contact details may go after 3 s, every other category is kept for ten years
RULES = {
    "retention": {"default": "P10Y", "categories": {"contact": "PT3S"}},
    "destruction": {"waiting_period": "PT2S"},
}


def build(settings: Settings, clock: FakeClock) -> RecordVault:
    return RecordVault.from_settings(settings, clock=clock)


@pytest.fixture
def real_time_clock() -> FakeClock:
    """Starts at the wall clock, as file times do, and moves only when told."""
    return FakeClock(datetime.now(UTC))


@pytest.fixture
def vault(sqlite_url, tmp_path, real_time_clock) -> Iterator[RecordVault]:
    """A vault on SQLite with local stores, the disposal rules above and a real-time clock."""
    settings = vault_settings(sqlite_url, tmp_path, **RULES)
    upgrade(settings.database.url)
    built = build(settings, real_time_clock)
    yield built
    built.close()


def past_file_times(clock: FakeClock) -> None:
    """Move the clock past every file time written so far (a loaded machine writes late)."""
    clock.now = max(clock.now, datetime.now(UTC)) + timedelta(seconds=1)


def object_key(vault: RecordVault, record_id: str, version: int) -> str:
    with Session(vault._ctx.engine) as session:
        row = session.get(RecordVersionRow, (record_id, version))
        assert row is not None
        return row.object_key


def mark_pending(vault: RecordVault, record_id: str, version: int) -> None:
    """A committed version set back to pending: a write in flight, or one killed mid-way."""
    with Session(vault._ctx.engine) as session:
        row = session.get(RecordVersionRow, (record_id, version))
        assert row is not None
        row.state = "pending"
        session.add(row)
        session.commit()


def forget_version(vault: RecordVault, record_id: str, version: int) -> str:
    """Drop a committed version's row, as a restore to an older DB would; return its object."""
    with Session(vault._ctx.engine) as session:
        row = session.get(RecordVersionRow, (record_id, version))
        assert row is not None
        key = row.object_key
        session.delete(row)
        session.commit()
    return key


def test_objects_the_db_does_not_know_are_kept_and_reported(vault: RecordVault, real_time_clock):
    subject = vault.create_subject("gc-1", "JP")
    first = vault.put_record(subject.id, "photo", b"kept through a restore")
    vault.update_record(first.id, b"second version")
    complete = forget_version(vault, first.id, 2)
    store = vault.regions["JP"].store
    assert isinstance(store, LocalStore)
    # a truncated copy and bytes that are no recvault object at all
    whole = store.get_range(complete, 0, 1 << 30)
    store.put("JP/ab/truncated", [whole[:-1]])
    store.put("JP/ab/not-an-object", [b"hello, this is no recvault object"])
    # what a crashed put leaves: a temp file
    temp = store.root / "JP" / f"{TEMP_PREFIX}crashed"
    temp.write_bytes(b"half")
    old = (datetime.now(UTC) - timedelta(hours=2)).timestamp()
    os.utime(temp, (old, old))
    past_file_times(real_time_clock)

    report = vault.gc(NOW, dry_run=True)
    assert report.dry_run and report.temp_files_removed == 1 and temp.exists()
    result = vault.gc(NOW)

    assert not temp.exists() and result.temp_files_removed == 1
    assert result.unknown_objects_kept == 1
    assert result.unreadable_objects_kept == 2
    kept = {k.object_key: k for k in result.kept}
    assert set(kept) == {complete, "JP/ab/truncated", "JP/ab/not-an-object"}
    assert kept[complete].reason == KeptReason.UNKNOWN
    assert (kept[complete].record_id, kept[complete].record_version) == (first.id, 2)
    assert kept[complete].record_known
    assert kept[complete].key_name == subject.key_name
    assert kept["JP/ab/truncated"].reason == KeptReason.SIZE_MISMATCH
    assert kept["JP/ab/not-an-object"].reason == KeptReason.UNPARSABLE
    assert "magic" in kept["JP/ab/not-an-object"].detail
    stored = {o.key for o in store.list("JP/")}
    assert {complete, "JP/ab/truncated", "JP/ab/not-an-object"} <= stored
    assert report.kept == result.kept
    # the kept object stays readable with the key its header names
    assert read_back(vault, complete, subject.id) == b"second version"


def test_objects_younger_than_the_grace_are_reported_too(vault: RecordVault, real_time_clock):
    """A restore usually follows the loss within the hour: the objects written since the
    dump are minutes old, and `recvault gc --report` (grace PT1H) must still list them.
    The grace only holds back removing pending versions; a write in flight is not listed."""
    subject = vault.create_subject("gc-young", "JP")
    first = vault.put_record(subject.id, "photo", b"written before the dump")
    vault.update_record(first.id, b"written after the dump")
    young = forget_version(vault, first.id, 2)
    in_flight = vault.put_record(subject.id, "photo", b"a write not yet committed")
    mark_pending(vault, in_flight.id, 1)

    for outcome in (vault.gc(dry_run=True), vault.gc()):
        assert outcome.pending_versions_removed == 0
        assert [(k.object_key, k.reason) for k in outcome.kept] == [(young, KeptReason.UNKNOWN)]
        assert outcome.unknown_objects_kept == 1
    assert young in {o.key for o in vault.regions["JP"].store.list("JP/")}


def test_gc_report_into_a_pipe_prints_whole_ids(tmp_path, monkeypatch):
    """`recvault gc --report > file`: each kept object on one line, with its object key,
    record id and key name whole, so that an operator can look each one up."""
    config = write_toml(tmp_path)
    env = server_env(config, secret_env())
    for name, value in env.items():
        if name.startswith("RECVAULT_"):
            monkeypatch.setenv(name, value)
    settings = Settings.load(str(config))
    upgrade(settings.database.url)
    vault = RecordVault.from_settings(settings)
    try:
        subject = vault.create_subject("gc-pipe", "JP")
        record = vault.put_record(subject.id, "photo", b"written after the dump")
        key = forget_version(vault, record.id, 1)
    finally:
        vault.close()
    env.pop("COLUMNS", None)
    done = run_recvault(env, "gc", "--report")
    assert done.returncode == 1, done.stderr
    [line] = [line for line in done.stdout.splitlines() if key in line]
    assert record.id in line and subject.key_name in line and "unknown" in line


def read_back(vault: RecordVault, key: str, subject_id: str) -> bytes:
    """Open a stored object from its own header and the subject key, as a recovery would."""
    store = vault.regions["JP"].store
    header = read_header(lambda start, stop: store.get_range(key, start, stop))
    block = header.key_block
    [dek] = vault.regions["JP"].keys.unwrap(block.key_name, [block.wrapped_dek.decode()])
    context = ObjectContext(header.record_id, header.record_version, subject_id, header.region)
    with store.open(key) as stream:
        return b"".join(open_stream(stream, dek=dek, context=context))


def test_pending_versions_still_go(vault: RecordVault, real_time_clock):
    subject = vault.create_subject("gc-2", "JP")
    info = vault.put_record(subject.id, "photo", b"x")
    key = object_key(vault, info.id, 1)
    mark_pending(vault, info.id, 1)  # as a write killed before its commit
    past_file_times(real_time_clock)
    assert vault.gc(Duration.parse("PT1H")).pending_versions_removed == 0  # within grace
    result = vault.gc(NOW)
    assert result.pending_versions_removed == 1 and result.kept == ()
    assert not list(vault.regions["JP"].store.list("JP/"))
    assert key not in {o.key for o in vault.regions["JP"].store.list("")}


# -- the restore drill ------------------------------------------------------------------


def _schema(pg_url: str) -> str:
    options = parse_qs(urlparse(pg_url).query)["options"][0]
    return options.split("search_path=", 1)[1]


def _libpq(url: str) -> list[str]:
    parsed = urlparse(url)
    return [
        "-h",
        parsed.hostname or "127.0.0.1",
        "-p",
        str(parsed.port or 5432),
        "-U",
        parsed.username or "postgres",
        "-d",
        parsed.path.lstrip("/"),
    ]


@pytest.mark.postgres
def test_restore_drill_on_postgres(pg_url, tmp_path, real_time_clock):
    if not (shutil.which("pg_dump") and shutil.which("pg_restore")):
        pytest.skip("pg_dump and pg_restore are needed for the restore drill")
    schema = _schema(pg_url)
    settings = vault_settings(pg_url, tmp_path, **RULES)
    upgrade(settings.database.url)
    clock = real_time_clock
    vault = build(settings, clock)
    try:
        kept_subject = vault.create_subject("drill-kept", "JP")
        before = vault.put_record(kept_subject.id, "photo", b"written before the dump")
        erased = vault.create_subject("drill-erased", "JP")
        erased_record = vault.put_record(erased.id, "contact", b"erased after the dump")
        erased_keys = [object_key(vault, erased_record.id, 1)]
    finally:
        vault.close()

    # 1. the nightly dump of the metadata DB
    dump = tmp_path / "meta.dump"
    subprocess.run(
        ["pg_dump", *_libpq(PG_BASE), "-n", schema, "-Fc", "--no-owner", "-f", str(dump)],
        check=True,
    )

    # 2. the day goes on: new records, a new version, a new subject, an erasure
    vault = build(settings, clock)
    try:
        after = vault.put_record(kept_subject.id, "xray", b"written after the dump")
        vault.update_record(before.id, b"second version, after the dump")
        newcomer = vault.create_subject("drill-new", "PH")
        new_subject_record = vault.put_record(newcomer.id, "photo", b"new subject")
        clock.advance(seconds=4)
        assert vault.request_erasure(erased.id, actor=DPO).status == "scheduled"
        clock.advance(seconds=3)
        assert vault.sweep().destructions_executed == 1
        newer_objects = {
            object_key(vault, after.id, 1): ("JP", after.id, 1),
            object_key(vault, before.id, 2): ("JP", before.id, 2),
            object_key(vault, new_subject_record.id, 1): ("PH", new_subject_record.id, 1),
        }
    finally:
        vault.close()

    # 3. restore last night's dump over the live schema (the service is stopped)
    admin = create_engine(PG_BASE, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()
    subprocess.run(["pg_restore", *_libpq(PG_BASE), "--no-owner", str(dump)], check=True)

    # 4. gc after the restore: the newer objects are reported, not deleted
    clock.advance(seconds=1)
    vault = build(settings, clock)
    try:
        report = vault.gc(NOW, dry_run=True)
        result = vault.gc(NOW)
        for outcome in (report, result):
            assert outcome.unreadable_objects_kept == 0
            assert outcome.unknown_objects_kept == 3
            found = {k.object_key: k for k in outcome.kept}
            assert set(found) == set(newer_objects)
            for key, (region, record_id, version) in newer_objects.items():
                assert found[key].reason == KeptReason.UNKNOWN
                assert (found[key].region, found[key].record_id) == (region, record_id)
                assert found[key].record_version == version
            assert found[object_key_of(newer_objects, before.id)].record_known
            assert not found[object_key_of(newer_objects, after.id)].record_known
        for key, (region, _record, _version) in newer_objects.items():
            assert key in {o.key for o in vault.regions[region].store.list(f"{region}/")}
        # the newer version of a record the DB knows is readable with its subject key
        assert (
            read_back(vault, object_key_of(newer_objects, before.id), kept_subject.id)
            == b"second version, after the dump"
        )
        # records from before the dump read as they did
        with vault.open_record(before.id, version=1) as reader:
            assert reader.read() == b"written before the dump"
        # the erased subject stays erased: key destroyed, objects gone, nothing readable
        assert not vault.regions["JP"].keys.describe(erased.key_name).exists
        stored = {o.key for o in vault.regions["JP"].store.list("JP/")}
        assert not set(erased_keys) & stored
        with pytest.raises((Erased, NotFound)):
            vault.open_record(erased_record.id).read()
    finally:
        vault.close()


def object_key_of(objects: dict[str, tuple[str, str, int]], record_id: str) -> str:
    """The newest object of ``record_id`` among ``objects``."""
    return max(
        (item for item in objects.items() if item[1][1] == record_id), key=lambda i: i[1][2]
    )[0]


def test_gc_report_from_the_command_line(tmp_path, monkeypatch):
    """``recvault gc --report`` lists the object and exits 1; ``recvault gc`` keeps it."""
    import sys

    from tests.fixtures.settings import ROOT, secret_env, server_env, write_toml

    config = write_toml(tmp_path)
    with config.open("a") as toml:
        toml.write('\n[limits]\ngc_grace = "PT0S"\n')
    env = server_env(config, secret_env())
    for name, value in env.items():
        if name.startswith("RECVAULT_"):
            monkeypatch.setenv(name, value)
    settings = Settings.load(config)
    upgrade(settings.database.url)
    vault = RecordVault.from_settings(settings)
    try:
        subject = vault.create_subject("gc-cli", "JP")
        info = vault.put_record(subject.id, "photo", b"x")
        key = forget_version(vault, info.id, 1)
    finally:
        vault.close()

    def recvault(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "vault.cli", *args],
            env={**env, "COLUMNS": "200"},
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )

    report = recvault("gc", "--report")
    assert report.returncode == 1, report.stderr
    assert key in report.stdout and "unknown" in report.stdout
    as_json = recvault("gc", "--report", "--json")
    assert [k["object_key"] for k in json.loads(as_json.stdout)["kept"]] == [key]
    plain = recvault("gc")
    assert plain.returncode == 0, plain.stderr
    assert "kept 1 complete objects" in plain.stdout
    assert key in {
        o.key for o in LocalStore(tmp_path / "objects" / "jp", location_label="x").list("")
    }
