"""Checkpoints: where they are written, refused over a tampered chain, checked offline."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.audit.conftest import fill, head
from tests.fixtures.settings import ROOT
from vault.audit.checkpoints import checkpoint_key, verify_offline
from vault.audit.schedule import CheckpointSchedule
from vault.domain import Actor, Role
from vault.errors import IntegrityError

AUDITOR = Actor("auditor-7", frozenset({Role.COMPLIANCE}))


def store_dir(vault, region: str = "JP") -> Path:
    return Path(vault.regions[region].store.root) / "audit" / "checkpoints"


def files(directory: Path) -> list[tuple[str, bytes]]:
    return [(p.name, p.read_bytes()) for p in sorted(directory.glob("*.json"))]


def test_checkpoint_is_signed_into_every_region(make_vault, sqlite_url, clock):
    vault = make_vault(sqlite_url)
    fill(vault, clock, 5)
    written = vault.audit_checkpoint(actor=AUDITOR)
    assert written is not None and written.key == "audit/checkpoints/000000000005.json"
    for region in ("JP", "PH"):
        envelope = json.loads((store_dir(vault, region) / "000000000005.json").read_bytes())
        doc = envelope["document"]
        assert doc["type"] == "recvault.audit-checkpoint" and doc["seq"] == 5
        assert doc["prev_seq"] is None and doc["prev_hash"] is None
        assert envelope["public_key"] == vault._ctx.signing_key.public_key_b64()
    [event] = [e for e in vault.audit_events(action="audit.checkpoint")]
    assert (event.actor, event.target, event.outcome) == ("auditor-7", "seq:5", "ok")


def test_checkpoints_link_and_idle_ones_are_skipped(make_vault, sqlite_url, clock):
    vault = make_vault(sqlite_url)
    fill(vault, clock, 5)
    first = vault.audit_checkpoint()
    assert first is not None
    # only the checkpoint's own event since: an idle deployment signs nothing new
    assert vault.audit_checkpoint(only_if_new=True) is None
    fill(vault, clock, 3)
    second = vault.audit_checkpoint(only_if_new=True)
    assert second is not None and second.seq == head(vault) - 1
    assert (second.prev_seq, second.prev_hash) == (first.seq, first.hash)


def test_checkpoint_refused_over_a_rewound_chain_even_after_restart(
    make_vault, attacker, db_url, clock
):
    vault = make_vault(db_url)
    fill(vault, clock, 60)
    vault.audit_checkpoint()
    fill(vault, clock, 10)
    attacker(db_url).rewind(head(vault) - 50)
    with pytest.raises(IntegrityError, match="no checkpoint signed"):
        vault.audit_checkpoint()
    restarted = make_vault(db_url, settings=vault.settings)
    with pytest.raises(IntegrityError):
        restarted.audit_checkpoint(only_if_new=True)
    assert [p.name for p in store_dir(vault).iterdir()] == ["000000000060.json"]
    refusals = [e for e in restarted.audit_events(action="audit.checkpoint")]
    assert [e.outcome for e in refusals] == ["refused:chain-broken"] * 2
    assert not restarted.verify_audit().ok


def test_schedule_reports_a_broken_chain_and_keeps_going(make_vault, attacker, sqlite_url, clock):
    vault = make_vault(sqlite_url)
    fill(vault, clock, 10)
    schedule = CheckpointSchedule(lambda: vault.audit_checkpoint(only_if_new=True), 300)
    assert schedule.run_once() == "ok"
    assert schedule.run_once() == "idle"
    attacker(sqlite_url).rewind(5)
    assert schedule.run_once() == "chain-broken"

    def explode() -> None:
        raise RuntimeError("boom")

    assert CheckpointSchedule(explode, 300).run_once() == "error"


def test_schedule_thread_starts_and_stops(make_vault, sqlite_url, clock):
    vault = make_vault(sqlite_url)
    fill(vault, clock, 3)
    schedule = CheckpointSchedule(lambda: vault.audit_checkpoint(only_if_new=True), 3600)
    schedule.start()
    schedule.stop()
    assert schedule.state == "ok"
    assert (store_dir(vault) / "000000000003.json").exists()


def three_checkpoints(vault, clock) -> Path:
    for _ in range(3):
        fill(vault, clock, 4)
        vault.audit_checkpoint()
    directory = store_dir(vault)
    assert len(list(directory.iterdir())) == 3
    return directory


def test_offline_verification(make_vault, sqlite_url, clock, tmp_path):
    vault = make_vault(sqlite_url)
    directory = three_checkpoints(vault, clock)
    public = vault._ctx.signing_key.public_key_b64()
    good = verify_offline(files(directory), public)
    assert good.ok and good.checkpoints == 3 and (good.first_seq, good.newest_seq) == (4, 14)

    names = [name for name, _ in files(directory)]
    without_middle = [f for f in files(directory) if f[0] != names[1]]
    missing = verify_offline(without_middle, public)
    assert not missing.ok and missing.file == names[2] and "not present" in (missing.reason or "")

    tampered = dict(files(directory))
    envelope = json.loads(tampered[names[1]])
    envelope["document"]["head_hash"] = "0" * 64
    tampered[names[1]] = json.dumps(envelope).encode()
    bad = verify_offline(sorted(tampered.items()), public)
    assert (
        not bad.ok and bad.file == names[1] and bad.reason == "checkpoint signature does not verify"
    )

    other = make_vault(f"sqlite:///{tmp_path / 'other.db'}")
    foreign = verify_offline(files(directory), other._ctx.signing_key.public_key_b64())
    assert not foreign.ok and foreign.file == names[0]


def run_recvault(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vault.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
    )


def test_offline_cli(make_vault, sqlite_url, clock, tmp_path):
    vault = make_vault(sqlite_url)
    directory = three_checkpoints(vault, clock)
    public = vault._ctx.signing_key.public_key_b64()
    ok = run_recvault(
        "audit", "verify", "--offline", str(directory), "--public-key", public, "--json"
    )
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["ok"] is True and json.loads(ok.stdout)["checkpoints"] == 3

    copy = tmp_path / "copy"
    copy.mkdir()
    for name, data in files(directory):
        if name != "000000000009.json":
            (copy / name).write_bytes(data)
    gap = run_recvault("audit", "verify", "--offline", str(copy), "--public-key", public)
    assert gap.returncode == 1
    assert gap.stderr.strip().splitlines() == [
        "error: audit checkpoints do not verify: 000000000014.json: "
        "links to checkpoint 9, not present [violation]"
    ]
    no_key = run_recvault("audit", "verify", "--offline", str(directory))
    assert no_key.returncode == 2


def test_residency_report_accounts_for_checkpoints(make_vault, sqlite_url, clock):
    vault = make_vault(sqlite_url)
    fill(vault, clock, 4)
    vault.audit_checkpoint()
    report = vault.residency_report()
    assert report.ok, report.summary()
    assert {r.name: r.audit_checkpoints for r in report.regions} == {"JP": 1, "PH": 1}
    assert {r.name: r.objects_listed for r in report.regions} == {"JP": 3, "PH": 0}
    # only the exact checkpoint name is accounted for: anything else there is a stray
    store = vault.regions["PH"].store
    store.put("audit/checkpoints/notes.json", [b"{}"])
    store.put(checkpoint_key(7).replace(".json", ".bak"), [b"{}"])
    strays = vault.residency_report()
    assert not strays.ok and strays.counts["stray_object"] == 2


def test_gc_leaves_checkpoints_alone(make_vault, sqlite_url, clock):
    vault = make_vault(sqlite_url)
    fill(vault, clock, 4)
    vault.audit_checkpoint()
    clock.advance(days=2)
    vault.gc()
    assert (store_dir(vault) / "000000000004.json").exists()


def test_worker_signs_a_checkpoint(tmp_path):
    from tests.fixtures.settings import secret_env, server_env, write_toml
    from vault import RecordVault, Settings
    from vault.metadata.migrate import upgrade

    config = write_toml(tmp_path)
    secrets = secret_env()
    settings = Settings.load(
        config, **{k.removeprefix("RECVAULT_").lower(): v for k, v in secrets.items()}
    )
    upgrade(settings.database.url)
    vault = RecordVault.from_settings(settings)
    vault.create_subject("p-worker", "JP")
    vault.close()
    done = subprocess.run(
        [sys.executable, "-m", "vault.cli", "worker", "--once"],
        env=server_env(config, secrets),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    for region in ("jp", "ph"):
        assert [p.name for p in (tmp_path / "objects" / region / "audit" / "checkpoints").iterdir()]
