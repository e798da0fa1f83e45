"""The audit surface over HTTP: verify against checkpoints, the breach query, attribution."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import create_engine, text

from api.app import CHECKPOINTER
from vault.audit.schedule import CheckpointSchedule


def rewind(db_url: str, keep: int) -> None:
    """Delete every event after ``keep`` and point the head at the last one left (raw SQL)."""
    engine = create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_events WHERE seq > :s"), {"s": keep})
        last = conn.execute(text("SELECT hash FROM audit_events WHERE seq = :s"), {"s": keep})
        conn.execute(
            text("UPDATE audit_head SET seq = :s, hash = :h"), {"s": keep, "h": last.scalar_one()}
        )
    engine.dispose()


def busy(api, events: int) -> None:
    owner = api.auth("owner")
    for i in range(events):
        answer = api.client.post(
            "/v1/subjects", json={"external_ref": f"p-{i}", "region": "JP"}, headers=owner
        )
        assert answer.status_code == 201


def test_verify_answers_false_after_a_rewind_past_a_checkpoint(make_api, db_url):
    api = make_api(db_url)
    busy(api, 60)
    checkpoint = api.vault.audit_checkpoint(actor=CHECKPOINTER)
    assert checkpoint is not None
    compliance = api.auth("compliance-1", ["compliance"])
    good = api.client.get("/v1/audit/verify", headers=compliance).json()
    assert good["ok"] is True and good["checkpoint_seq"] == checkpoint.seq
    assert good["events_after_checkpoint"] >= 1 and good["checkpoint_status"] == "found"

    rewind(db_url, checkpoint.seq - 40)
    bad = api.client.get("/v1/audit/verify", headers=compliance)
    assert bad.status_code == 200
    body = bad.json()
    assert body["ok"] is False and body["checkpoint_seq"] == checkpoint.seq
    assert body["first_broken_seq"] == checkpoint.seq - 39
    assert "checkpointed events are gone" in body["reason"]


def test_readyz_says_when_a_checkpoint_was_refused(make_api, sqlite_url):
    api = make_api(sqlite_url)
    assert api.client.get("/readyz").json()["audit_checkpoint"] is None
    schedule = CheckpointSchedule(
        lambda: api.vault.audit_checkpoint(actor=CHECKPOINTER, only_if_new=True), 300
    )
    api.app.state.audit_checkpoints = schedule
    busy(api, 10)
    schedule.run_once()
    ready = api.client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["audit_checkpoint"] == "ok"
    rewind(sqlite_url, 5)
    schedule.run_once()
    ready = api.client.get("/readyz")
    # a detail for monitoring: the API itself stays in service
    assert ready.status_code == 200 and ready.json()["audit_checkpoint"] == "chain-broken"


def test_breach_query_is_one_request_and_is_audited(make_api, sqlite_url):
    api = make_api(sqlite_url)
    owner = api.auth("owner")
    ids = []
    for i in range(3):
        subject = api.client.post(
            "/v1/subjects", json={"external_ref": f"b-{i}", "region": "JP"}, headers=owner
        ).json()
        record = api.client.post(
            f"/v1/subjects/{subject['id']}/records?category=xray", content=b"scan", headers=owner
        ).json()
        ids.append((subject["id"], record["id"]))
    reader = api.auth("svc-x", ["service"])
    start = api.clock.now
    for _, record_id in ids:
        api.clock.advance(minutes=10)
        assert api.client.get(f"/v1/records/{record_id}/content", headers=reader).content == b"scan"
    params = {
        "actor": "svc-x",
        "since": (start + timedelta(minutes=15)).isoformat(),
        "until": (start + timedelta(minutes=30, seconds=1)).isoformat(),
        "action": "record.read",
    }
    answer = api.client.get("/v1/audit", params=params, headers=api.auth("dpo-c", ["compliance"]))
    assert answer.status_code == 200, answer.text
    events = answer.json()["items"]
    assert [e["subject_id"] for e in events] == [ids[1][0], ids[2][0]]
    assert {e["action"] for e in events} == {"record.read"}

    [query] = list(api.vault.audit_events(principal="dpo-c", action="audit.query"))
    assert query.role == "compliance" and "principal=svc-x" in query.target
    api.client.get("/v1/audit/verify", headers=api.auth("dpo-c", ["compliance"]))
    [verify] = list(api.vault.audit_events(principal="dpo-c", action="audit.verify"))
    assert verify.outcome == "ok"


def test_action_filter_is_validated(api):
    bad = api.client.get(
        "/v1/audit", params={"action": "read; drop"}, headers=api.auth("c", ["compliance"])
    )
    assert bad.status_code == 422


def test_an_event_about_no_subject_or_region_says_null(api):
    """An id an event gives is one a client can follow, or null: never an empty string
    (a client building /v1/subjects/{subject_id} from it would call another route)."""
    owner = api.auth("owner")
    subject = api.client.post(
        "/v1/subjects", json={"external_ref": "n-1", "region": "PH"}, headers=owner
    ).json()
    api.client.get("/v1/holds", headers=owner)  # hold.list: about no subject, no region
    answer = api.client.get("/v1/audit", headers=api.auth("c", ["compliance"]))
    assert answer.status_code == 200, answer.text
    events = {e["action"]: e for e in answer.json()["items"]}
    made, listed = events["subject.create"], events["hold.list"]
    assert (made["subject_id"], made["region"]) == (subject["id"], "PH")
    assert (listed["subject_id"], listed["region"]) == (None, None)
    for event in answer.json()["items"]:
        assert event["subject_id"] is None or re.fullmatch("[0-9a-f]{32}", event["subject_id"])
        assert event["region"] in (None, "JP", "PH")
    # the document says so: both are nullable in the schema of an event
    schema = api.client.get("/openapi.json").json()["components"]["schemas"]["AuditEvent"]
    for name in ("subject_id", "region"):
        kinds = [option.get("type") for option in schema["properties"][name]["anyOf"]]
        assert kinds == ["string", "null"], name
