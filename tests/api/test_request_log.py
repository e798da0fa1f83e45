"""Logs an operator can use: an X-Request-ID on every answer and in the audit events of
its request, and one JSON access line per request with no token, reference or file name."""

from __future__ import annotations

import json
import logging
import re

import httpx

from tests.api.test_serve import cli, write_config
from tests.fixtures.settings import serve


def _subject(api, headers: dict[str, str] | None = None) -> str:
    response = api.client.post(
        "/v1/subjects",
        json={"external_ref": "tanaka-hanako", "region": "JP"},
        headers={**api.auth("svc"), **(headers or {})},
    )
    assert response.status_code == 201
    return str(response.json()["id"])


def test_a_well_formed_request_id_is_kept_and_audited(api):
    subject_id = _subject(api)
    got = api.client.get(
        f"/v1/subjects/{subject_id}", headers={**api.auth("svc"), "X-Request-ID": "lb-7f3a.01_x"}
    )
    assert got.status_code == 200 and got.headers["x-request-id"] == "lb-7f3a.01_x"
    events = api.client.get("/v1/audit", headers=api.auth("comp", ["compliance"])).json()
    mine = [e for e in events["items"] if e["request_id"] == "lb-7f3a.01_x"]
    assert mine and all(e["subject_id"] == subject_id for e in mine)
    assert api.client.get("/v1/audit/verify", headers=api.auth("comp")).json()["ok"] is True


def test_a_malformed_request_id_is_replaced(api):
    for bad in ("has space", "x" * 129, "semi;colon", ""):
        got = api.client.get("/healthz", headers={"X-Request-ID": bad})
        made = got.headers["x-request-id"]
        assert made != bad and re.fullmatch(r"[0-9a-f]{32}", made)
    one, two = api.client.get("/healthz"), api.client.get("/healthz")
    assert one.headers["x-request-id"] != two.headers["x-request-id"]


def test_access_line_in_process(api, caplog):
    subject_id = _subject(api)
    token = api.tokens["svc"]
    with caplog.at_level(logging.INFO, logger="recvault.api.access"):
        api.client.get(
            f"/v1/subjects/{subject_id}/records?filename=tanaka.png",
            headers={**api.auth("svc"), "X-Request-ID": "rid-1"},
        )
    [line] = [r for r in caplog.records if r.name == "recvault.api.access"]
    assert line.request_id == "rid-1" and line.principal == "svc"
    assert line.route == "records.list" and line.status == 200 and line.method == "GET"
    assert line.bytes_out > 0 and isinstance(line.duration_ms, float)
    text = caplog.text + json.dumps(line.__dict__, default=str)
    assert token not in text and "tanaka" not in text and subject_id not in text


def test_serve_writes_json_lines(tmp_path):
    env = write_config(tmp_path)
    cli(env, "db", "upgrade")
    added = cli(env, "principals", "add", "intake", "--role", "service")
    [token] = re.findall(r"token: (rvt_\S+)", added)
    server, base = serve(tmp_path, env)
    headers = {"Authorization": f"Bearer {token}", "X-Request-ID": "req-serve-1"}
    try:
        created = httpx.post(
            f"{base}/v1/subjects?filename=tanaka.png",
            json={"external_ref": "tanaka-hanako", "region": "JP"},
            headers=headers,
        )
        assert created.status_code == 201
        subject_id = created.json()["id"]
        assert httpx.get(f"{base}/v1/subjects/{subject_id}", headers=headers).status_code == 200
        bad = httpx.get(f"{base}/v1/subjects/{subject_id}", headers={"Authorization": "Bearer x"})
        assert bad.status_code == 401
    finally:
        server.terminate()
        server.wait(timeout=20)
    raw = (tmp_path / "api.log").read_text()
    lines = [json.loads(line) for line in raw.splitlines() if line.strip()]  # every line is JSON
    access = [line for line in lines if line.get("logger") == "recvault.api.access"]
    mine = [line for line in access if line["request_id"] == "req-serve-1"]
    assert [line["route"] for line in mine] == ["subjects.create", "subjects.get"]
    for line in mine:
        assert line["principal"] == "intake" and line["status"] in (200, 201)
        assert {"ts", "level", "method", "bytes_in", "bytes_out", "duration_ms"} <= set(line)
    assert any(line["status"] == 401 and line["principal"] == "" for line in access)
    for secret in (token, "tanaka", subject_id):
        assert secret not in raw


def test_access_line_breaks_a_request_down_into_spans(api, caplog):
    subject_id = _subject(api)
    with caplog.at_level(logging.INFO, logger="recvault.api.access"):
        put = api.client.post(
            f"/v1/subjects/{subject_id}/records?category=photo",
            content=b"x" * 1000,
            headers={**api.auth("svc"), "Content-Type": "image/png", "X-Request-ID": "rid-put"},
        )
        assert put.status_code == 201
        got = api.client.get(
            f"/v1/records/{put.json()['id']}/content",
            headers={**api.auth("svc"), "X-Request-ID": "rid-get"},
        )
        assert got.content == b"x" * 1000
    lines = {r.request_id: r for r in caplog.records if r.name == "recvault.api.access"}
    for rid in ("rid-put", "rid-get"):
        spans = lines[rid].spans_ms
        # authentication, transactions, the audit event and the object, each timed
        assert {"auth", "db", "audit", "store"} <= set(spans), spans
        assert all(isinstance(v, float) and v >= 0 for v in spans.values())
        assert spans["audit"] <= spans["db"]  # the audit event is written inside a transaction
    metrics = api.client.get("/metrics").text
    assert (
        'recvault_request_span_seconds_total{method="POST",route="records.create",span="db"}'
        in (metrics)
    )
