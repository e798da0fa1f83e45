"""Issue acceptance: the whole lifecycle on real OpenBao, moto S3 (Object Lock) and PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.core.conftest import vault_settings
from vault import Actor, RecordVault, Role
from vault.crypto.documents import verify_document
from vault.errors import Erased, NotFound, VaultError
from vault.format.envelope import parse_header
from vault.metadata.migrate import upgrade

ADMIN_A = Actor("admin-a", frozenset({Role.ADMIN}))
ADMIN_B = Actor("admin-b", frozenset({Role.ADMIN}))
DPO = Actor("dpo", frozenset({Role.DPO}))
SECURITY = Actor("security", frozenset({Role.SECURITY}))
ROOT = Path(__file__).resolve().parents[2]


def real_now() -> datetime:
    return datetime.now(UTC)


def sleep_until(moment: datetime, margin: float = 0.3) -> None:
    delay = (moment - real_now()).total_seconds() + margin
    if delay > 0:
        time.sleep(delay)


@pytest.fixture
def s3_stores(moto_server, server_bucket):
    return {
        name: {
            "kind": "s3",
            "endpoint_url": moto_server,
            "bucket": server_bucket(location, object_lock=True),
            "region_name": location,
        }
        for name, location in (("JP", "ap-northeast-1"), ("PH", "ap-southeast-1"))
    }


def test_whole_lifecycle_in_seconds(make_vault, pg_url, transit, s3_stores):
    vault = make_vault(
        pg_url,
        keys="transit",
        bao=transit,
        stores=s3_stores,
        clock_fn=real_now,
        retention={"default": "PT3S"},
        destruction={"waiting_period": "PT2S"},
    )
    store, keys = vault.regions["JP"].store, vault.regions["JP"].keys
    subject = vault.create_subject("lifecycle-patient-0001", "JP")
    content = os.urandom(3 * 1024 * 1024 + 11)
    info = vault.put_record(subject.id, "xray", content, content_type="image/png")
    [obj] = list(store.list("JP/"))
    with store.open(obj.key) as stream:
        earlier_copy = stream.read()
    assert store.protection(obj.key).retain_until is not None

    decision = vault.request_erasure(subject.id, actor=DPO)
    assert decision.status == "deferred"
    assert decision.earliest == info.retain_until
    assert [r.kind for r in decision.reasons] == ["retention"]

    hold = vault.place_hold(
        "subject", subject.id, "CASE-2026-017", "regulator inquiry", actor=ADMIN_A
    )
    assert store.protection(obj.key).legal_hold

    sleep_until(info.retain_until)
    plan = vault.plan_disposal()
    [item] = [i for i in plan.items if i.kind == "subject"]
    assert not item.disposable
    assert any(r.kind == "legal_hold" and r.case_ref == "CASE-2026-017" for r in item.reasons)
    assert vault.sweep().destructions_scheduled == 0
    with vault.open_record(info.id, actor=DPO) as reader:
        assert reader.read() == content

    vault.release_hold(hold.id, "inquiry closed", actor=ADMIN_B)
    assert not store.protection(obj.key).legal_hold
    assert vault.sweep().destructions_scheduled == 1
    status = vault.erasure_status(subject.id, actor=DPO)
    assert status.status == "scheduled" and status.destruction_id is not None

    cancelled = vault.cancel_destruction(status.destruction_id, actor=SECURITY)
    assert cancelled.state == "cancelled"
    assert vault.sweep().destructions_scheduled == 1  # rescheduled
    [scheduled] = vault.list_destructions("scheduled")

    sleep_until(scheduled.not_before)
    assert vault.sweep().destructions_executed == 1

    assert not keys.describe(subject.key_name).exists
    assert subject.key_name not in set(keys.list_keys())
    assert list(store.list("JP/")) == []
    with pytest.raises(NotFound):
        store.head(obj.key)
    header = parse_header(earlier_copy)
    with pytest.raises(VaultError):  # the copy's wrapped DEK can no longer be unwrapped
        keys.unwrap(header.key_block.key_name, [header.key_block.wrapped_dek.decode()])
    with pytest.raises(Erased):
        vault.open_record(info.id, actor=DPO)
    assert vault.erasure_status(subject.id, actor=DPO).status == "executed"

    [done] = vault.list_destructions("done")
    certificate = vault.destruction_certificate(done.id)
    assert verify_document(certificate)
    document = certificate["document"]
    assert document["subject_key"] == subject.key_name
    assert (document["records"], document["bytes"]) == (1, len(content))
    assert document["snapshot_horizon"] > document["executed_at"]
    assert vault.verify_audit().ok


def test_concurrent_sweeps_destroy_each_subject_once(pg_url, transit, tmp_path, monkeypatch):
    monkeypatch.setenv("RECVAULT_TEST_VAULT_TOKEN", transit.admin_token)
    settings = vault_settings(
        pg_url,
        tmp_path,
        "transit",
        transit,
        retention={"default": "PT1S"},
        destruction={"waiting_period": "PT1S"},
    )
    upgrade(settings.database.url)
    vault = RecordVault.from_settings(settings)
    subjects = [vault.create_subject(f"concurrent-{i}", "JP") for i in range(8)]
    for subject in subjects:
        vault.put_record(subject.id, "photo", os.urandom(2000))
    time.sleep(1.3)
    assert vault.sweep().destructions_scheduled == len(subjects)
    time.sleep(1.3)
    overrides = json.loads(settings.model_dump_json())
    for name in ("name_secret", "signing_key", "master_key"):
        overrides[name] = getattr(settings, name).get_secret_value()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.lifecycle.sweep_worker", json.dumps(overrides), f"w{i}"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
        )
        for i in range(2)
    ]
    results = [json.loads(w.communicate(timeout=120)[0]) for w in workers]
    assert all(w.returncode == 0 for w in workers)
    assert sum(r["destructions_executed"] for r in results) == len(subjects)
    destroyed = Counter(e.subject_id for e in vault.audit_events(action="subject.destroy"))
    assert destroyed == Counter({s.id: 1 for s in subjects})
    assert len(vault.list_destructions("done")) == len(subjects)
    assert vault.verify_audit().ok
    vault.close()
