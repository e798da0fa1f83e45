"""A check that finds a violation exits 1 after showing what it found."""

from __future__ import annotations

import json
import sqlite3

from tests.cli.conftest import run_cli


def test_audit_verify_exits_1_on_a_broken_chain(live_api):
    created = run_cli(live_api, "SERVICE", "subjects", "create", "CLINIC-9", "--region", "PH")
    assert created.code == 0, created.err
    before = run_cli(live_api, "COMPLIANCE", "audit", "verify", "--json")
    assert before.code == 0 and json.loads(before.out)["ok"] is True
    with sqlite3.connect(live_api.workdir.parent / "meta.db") as db:
        db.execute("UPDATE audit_events SET actor = 'someone-else' WHERE seq = 1")
    after = run_cli(live_api, "COMPLIANCE", "audit", "verify", "--json")
    assert after.code == 1
    report = json.loads(after.out)
    assert report["ok"] is False and report["first_broken_seq"] == 1
    assert json.loads(after.err) == {  # with --json the error is JSON too
        "code": "violation",
        "detail": "the audit chain is broken at event 1",
        "exit_code": 1,
        "status": None,
    }
    human = run_cli(live_api, "COMPLIANCE", "audit", "verify")
    assert human.code == 1 and "Traceback" not in human.err
    assert human.err.strip().splitlines() == [
        "error: the audit chain is broken at event 1 [violation]"
    ]
