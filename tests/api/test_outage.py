"""OpenBao outage: reads and writes answer 503 + Retry-After, readiness says which part is
down, and the same app serves again once the key service is back (no restart)."""

from __future__ import annotations

from keys.bootstrap import bootstrap_transit
from tests.api.conftest import problem
from tests.fixtures.bao import TRANSIT_MOUNTS


def test_key_service_outage_and_recovery(make_api, sqlite_url, bao_factory):
    server = bao_factory()
    bootstrap_transit(server.addr, server.root_token, TRANSIT_MOUNTS)
    api = make_api(
        sqlite_url, keys="transit", bao=server, key_timeout=2.0, limits={"dek_cache_entries": 0}
    )
    h = api.auth("svc", ["service"])
    subject = api.client.post(
        "/v1/subjects", json={"external_ref": "p-1", "region": "JP"}, headers=h
    )
    assert subject.status_code == 201
    subject_id = subject.json()["id"]
    record = api.client.post(
        f"/v1/subjects/{subject_id}/records?category=xray", content=b"before", headers=h
    )
    assert record.status_code == 201
    assert api.client.get("/readyz").status_code == 200

    server.stop()
    read = api.client.get(f"/v1/records/{record.json()['id']}/content", headers=h)
    assert read.status_code == 503
    assert int(read.headers["retry-after"]) >= 1
    assert problem(read)["code"] == "key-unavailable"
    write = api.client.post(
        f"/v1/subjects/{subject_id}/records?category=xray", content=b"during", headers=h
    )
    assert write.status_code == 503
    ready = api.client.get("/readyz")
    assert ready.status_code == 503 and "retry-after" in ready.headers
    checks = ready.json()["checks"]
    assert checks["keys:JP"] == "key-unavailable" and checks["keys:PH"] == "key-unavailable"
    assert checks["database"] == "ok" and checks["store:JP"] == "ok"
    assert server.root_token not in ready.text

    # A dev server comes back with empty in-memory storage: bootstrap it again.
    server.start()
    bootstrap_transit(server.addr, server.root_token, TRANSIT_MOUNTS)
    assert api.client.get("/readyz").status_code == 200
    fresh = api.client.post("/v1/subjects", json={"external_ref": "p-2", "region": "PH"}, headers=h)
    assert fresh.status_code == 201
    after = api.client.post(
        f"/v1/subjects/{fresh.json()['id']}/records?category=photo", content=b"after", headers=h
    )
    assert after.status_code == 201
    back = api.client.get(f"/v1/records/{after.json()['id']}/content", headers=h)
    assert back.status_code == 200 and back.content == b"after"
    metrics = api.client.get("/metrics").text
    assert (
        'recvault_http_requests_total{method="GET",route="records.content",status="503"}' in metrics
    )
    assert 'recvault_key_service_call_seconds_count{op="encrypt",region="PH"}' in metrics
