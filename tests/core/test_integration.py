"""Acceptance of the records core with real OpenBao on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import os

import pytest

from keys.bootstrap import bootstrap_transit
from tests.fixtures.db import postgres_slow
from vault.errors import IntegrityError, Unavailable

MiB = 1 << 20
GiB = 1 << 30


def pattern_stream(total: int, seed: bytes = b"recvault"):
    """A deterministic, non-repeating-per-MiB byte source that never holds more than 1 MiB."""
    block = hashlib.sha256(seed).digest() * (MiB // 32)

    class Source:
        def __init__(self) -> None:
            self.sent = 0
            self.index = 0

        def read(self, n: int = -1) -> bytes:
            if self.sent >= total:
                return b""
            n = MiB if n is None or n < 0 else n
            n = min(n, total - self.sent, MiB)
            prefix = self.index.to_bytes(8, "big")
            chunk = (prefix + block)[:n]
            self.sent += n
            self.index += 1
            return chunk

    return Source()


def digest_source(total: int) -> str:
    h = hashlib.sha256()
    src = pattern_stream(total)
    while chunk := src.read(MiB):
        h.update(chunk)
    return h.hexdigest()


@pytest.fixture
def transit_vault(make_vault, db_url, transit):
    return make_vault(db_url, keys="transit", bao=transit)


def test_jp_records_stay_in_jp(transit_vault, transit):
    vault = transit_vault
    jp = vault.create_subject("jp-patient", "JP")
    ph = vault.create_subject("ph-patient", "PH")
    jp_info = vault.put_record(jp.id, "xray", os.urandom(MiB + 3))
    ph_info = vault.put_record(ph.id, "photo", b"ph")
    jp_keys = set(vault.regions["JP"].keys.list_keys())
    ph_keys = set(vault.regions["PH"].keys.list_keys())
    assert jp.key_name in jp_keys and jp.key_name not in ph_keys
    assert ph.key_name in ph_keys and ph.key_name not in jp_keys
    jp_objects = [o.key for o in vault.regions["JP"].store.list("")]
    ph_objects = [o.key for o in vault.regions["PH"].store.list("")]
    assert len(jp_objects) == 1 and jp_objects[0].startswith("JP/")
    assert len(ph_objects) == 1 and ph_objects[0].startswith("PH/")
    with vault.open_record(jp_info.id) as reader:
        assert len(reader.read()) == MiB + 3
    with vault.open_record(ph_info.id) as reader:
        assert reader.read() == b"ph"


@postgres_slow  # the same 1 GiB through Transit; the SQLite run stays in the default run
def test_one_gib_round_trip(transit_vault):
    vault = transit_vault
    subject = vault.create_subject("big-scan", "JP")
    info = vault.put_record(subject.id, "impression", pattern_stream(GiB), size=GiB)
    assert info.size == GiB
    h = hashlib.sha256()
    with vault.open_record(info.id) as reader:
        for chunk in reader.iter_chunks():
            h.update(chunk)
    assert h.hexdigest() == digest_source(GiB)


@postgres_slow
def test_tampered_object_with_transit(transit_vault):
    vault = transit_vault
    subject = vault.create_subject("tamper", "PH")
    info = vault.put_record(subject.id, "xray", b"A" * 5000)
    store = vault.regions["PH"].store
    [obj] = list(store.list(""))
    path = store.root / obj.key
    blob = bytearray(path.read_bytes())
    blob[-20] ^= 0x80
    path.write_bytes(bytes(blob))
    with pytest.raises(IntegrityError), vault.open_record(info.id) as reader:
        reader.read()
    assert not any(e.outcome == "ok" and e.action == "record.read" for e in vault.audit_events())


@postgres_slow
def test_edited_audit_row_is_caught_with_transit(transit_vault):
    from sqlalchemy import text

    vault = transit_vault
    subject = vault.create_subject("audited", "JP")
    info = vault.put_record(subject.id, "xray", b"X" * 3000)
    with vault.open_record(info.id) as reader:
        reader.read()
    assert vault.verify_audit().ok
    [read] = [e for e in vault.audit_events() if e.action == "record.read"]
    with vault._ctx.engine.begin() as conn:
        conn.execute(
            text("UPDATE audit_events SET actor = 'someone-else' WHERE seq = :seq"),
            {"seq": read.seq},
        )
    verdict = vault.verify_audit()
    assert not verdict.ok and verdict.first_broken_seq == read.seq


def test_key_service_down_is_unavailable(make_vault, sqlite_url, bao_factory):
    server = bao_factory()
    bootstrap_transit(server.addr, server.root_token, ["transit-jp", "transit-ph"])
    vault = make_vault(sqlite_url, keys="transit", bao=server, limits={"dek_cache_entries": 0})
    subject = vault.create_subject("down", "JP")
    info = vault.put_record(subject.id, "photo", b"before the outage")
    server.stop()
    with pytest.raises(Unavailable):
        vault.open_record(info.id)
    with pytest.raises(Unavailable):
        vault.put_record(subject.id, "photo", b"during the outage")
    assert [r.id for r in vault.list_records(subject.id)] == [info.id]
