"""Against a live API that signs a checkpoint every second: ``recvault audit checkpoint``,
then 50 events deleted and the head rewound; ``recvault audit verify`` exits 1, /readyz says so,
and ``recvault audit query --action read`` answers the breach question.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.cli.conftest import CLI_LOCATIONS, LiveApi, run_cli, run_cli_process
from tests.fixtures.settings import run_recvault, secret_env, serve, server_env, write_toml
from vault import RecordVault, Settings
from vault.domain import Actor, Role
from vault.metadata.migrate import upgrade


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveApi, dict[str, str]]]:
    home = tmp_path_factory.mktemp("api-checkpoints")
    secrets_env = secret_env()
    config = write_toml(home, CLI_LOCATIONS)
    config.write_text(config.read_text() + '\n[audit]\ncheckpoint_interval = "PT1S"\n')
    settings = Settings.load(
        config, **{k.removeprefix("RECVAULT_").lower(): v for k, v in secrets_env.items()}
    )
    upgrade(settings.database.url)
    vault = RecordVault.from_settings(settings)
    operator = Actor("test-operator", frozenset(Role))
    tokens = {
        role: vault.principals.add(f"cli-{role.lower()}", [role.lower()], None, operator)[1]
        for role in ("SERVICE", "COMPLIANCE")
    }
    vault.close()
    env = server_env(config, secrets_env)
    process, addr = serve(home, env)
    try:
        work = home / "work"
        work.mkdir()
        yield LiveApi(addr, tokens, work), env
    finally:
        process.terminate()
        process.wait(timeout=20)


def readyz_audit(addr: str, *want: str, within: float = 30) -> str:
    """Poll /readyz until its audit detail is one of ``want`` (the writer runs every second)."""
    deadline = time.monotonic() + within
    state = ""
    while time.monotonic() < deadline:
        state = httpx.get(f"{addr}/readyz", timeout=5).json().get("audit_checkpoint")
        if state in want:
            break
        time.sleep(0.2)
    return state


def test_checkpoint_then_rewind_is_reported(live):
    api, env = live
    service = {"Authorization": f"Bearer {api.tokens['SERVICE']}"}
    with httpx.Client(base_url=api.addr, headers=service) as http:
        subject = http.post("/v1/subjects", json={"external_ref": "B-0", "region": "JP"}).json()
        record = http.post(f"/v1/subjects/{subject['id']}/records?category=xray", content=b"x")
        for i in range(60):
            http.post("/v1/subjects", json={"external_ref": f"C-{i}", "region": "PH"})
        assert http.get(f"/v1/records/{record.json()['id']}/content").content == b"x"

    written = run_recvault(env, "audit", "checkpoint", "--json")
    assert written.returncode == 0, written.stderr
    checkpoint = json.loads(written.stdout)
    assert checkpoint["written"] is True or checkpoint["reason"]
    assert readyz_audit(api.addr, "ok", "idle") in ("ok", "idle")

    breach = run_cli(
        api, "COMPLIANCE", "audit", "query", "--actor", "cli-service",
        "--since", "2000-01-01T00:00:00Z", "--until", "2100-01-01T00:00:00Z",
        "--action", "read", "--json",
    )  # fmt: skip
    assert breach.code == 0, breach.err
    reads = json.loads(breach.out)["items"]
    assert [(e["action"], e["subject_id"]) for e in reads] == [("record.read", subject["id"])]
    table = run_cli_process(  # into a pipe, as `| grep` reads it
        api, "COMPLIANCE", "audit", "query", "--actor", "cli-service",
        "--since", "2000-01-01T00:00:00Z", "--until", "2100-01-01T00:00:00Z", "--action", "read",
    )  # fmt: skip
    assert table.code == 0, table.err
    # the table answers it too (one line per row into a pipe)
    [row] = [line for line in table.out.splitlines() if "record.read" in line]
    assert subject["id"] in row

    ok = run_cli(api, "COMPLIANCE", "audit", "verify", "--json")
    assert ok.code == 0 and json.loads(ok.out)["checkpoint_status"] == "found"

    db_path = Path(api.workdir.parent / "meta.db")
    with sqlite3.connect(db_path, timeout=30) as db:
        db.execute("BEGIN IMMEDIATE")
        (top,) = db.execute("SELECT seq FROM audit_head").fetchone()
        keep = top - 50
        db.execute("DELETE FROM audit_events WHERE seq > ?", (keep,))
        (last,) = db.execute("SELECT hash FROM audit_events WHERE seq = ?", (keep,)).fetchone()
        db.execute("UPDATE audit_head SET seq = ?, hash = ?", (keep, last))

    after = run_cli(api, "COMPLIANCE", "audit", "verify", "--json")
    assert after.code == 1
    report = json.loads(after.out)
    broken = report["first_broken_seq"]
    # The writer (every second) may have tried a checkpoint between the rewind and the
    # verify: refused, it appends its refusal on the rewound head, so the chain now ends a
    # little later; the checkpoint still proves the events after ``keep`` were cut.
    with sqlite3.connect(db_path, timeout=30) as db:
        (now,) = db.execute("SELECT seq FROM audit_head").fetchone()
    assert report["ok"] is False and keep + 1 <= broken <= now
    assert report["checkpoint_seq"] > keep and report["checkpoint_seq"] >= broken
    assert [json.loads(line)["detail"] for line in after.err.strip().splitlines()] == [
        f"the audit chain is broken at event {broken}"
    ]
    assert readyz_audit(api.addr, "chain-broken") == "chain-broken"
    refused = run_recvault(env, "audit", "checkpoint")
    assert refused.returncode == 1
    assert "no checkpoint signed" in refused.stderr and "Traceback" not in refused.stderr
