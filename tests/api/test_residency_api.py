"""Residency and rotation over HTTP: the report is signed; rotation answers its report."""

from __future__ import annotations

import copy

from vault.crypto.documents import verify_document


def test_residency_report_is_signed(api):
    service = api.auth("svc", ["service"])
    subject = api.client.post(
        "/v1/subjects", json={"external_ref": "res-1", "region": "JP"}, headers=service
    ).json()
    api.client.post(
        f"/v1/subjects/{subject['id']}/records?category=xray", content=b"x" * 3000, headers=service
    )
    answer = api.client.get("/v1/residency/report", headers=api.auth("co", ["compliance"]))
    assert answer.status_code == 200
    signed = answer.json()
    assert signed["document"]["ok"] is True
    assert verify_document(signed)
    forged = copy.deepcopy(signed)
    forged["document"]["ok"] = not forged["document"]["ok"]
    assert not verify_document(forged)


def test_rotation_over_http(api):
    service = api.auth("svc", ["service"])
    subject = api.client.post(
        "/v1/subjects", json={"external_ref": "rot-1", "region": "PH"}, headers=service
    ).json()
    record = api.client.post(
        f"/v1/subjects/{subject['id']}/records?category=photo", content=b"before", headers=service
    ).json()
    security = api.auth("sec", ["security"])
    rotated = api.client.post("/v1/keys/rotate", json={"region": "PH"}, headers=security)
    assert rotated.status_code == 200 and rotated.json()["keys_rotated"] >= 1
    status = api.client.get("/v1/keys/status", headers=security)
    assert status.status_code == 200
    content = api.client.get(f"/v1/records/{record['id']}/content", headers=service)
    assert content.content == b"before"
