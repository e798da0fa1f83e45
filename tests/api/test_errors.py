"""Error mapping over HTTP: each status of DESIGN section 9 as application/problem+json."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.api.conftest import problem

SHORT = {"retention": {"default": "PT3S"}, "destruction": {"waiting_period": "PT2S"}}


def new_subject(api, ref: str = "p-1", region: str = "JP") -> str:
    response = api.client.post(
        "/v1/subjects", json={"external_ref": ref, "region": region}, headers=api.auth("svc")
    )
    assert response.status_code in (200, 201), response.text
    return str(response.json()["id"])


def new_record(api, subject_id: str, data: bytes = b"scan", ctype: str = "image/png") -> str:
    response = api.client.post(
        f"/v1/subjects/{subject_id}/records?category=xray&filename=tanaka.png",
        content=data,
        headers={**api.auth("svc"), "Content-Type": ctype},
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def test_create_subject_201_then_200(api):
    h = api.auth("svc")
    first = api.client.post("/v1/subjects", json={"external_ref": "p-9", "region": "JP"}, headers=h)
    again = api.client.post("/v1/subjects", json={"external_ref": "p-9", "region": "JP"}, headers=h)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    # scoped by region (ADR 0005): the same reference in PH is PH's own subject
    other = api.client.post("/v1/subjects", json={"external_ref": "p-9", "region": "PH"}, headers=h)
    assert other.status_code == 201 and other.json()["id"] != first.json()["id"]
    unknown = api.client.post(
        "/v1/subjects", json={"external_ref": "p-8", "region": "EU"}, headers=h
    )
    assert unknown.status_code == 400 and problem(unknown)["code"] == "invalid-input"


def test_not_found_and_schema_errors(api):
    h = api.auth("svc")
    missing = api.client.get(f"/v1/records/{'a' * 32}", headers=h)
    assert missing.status_code == 404 and problem(missing)["code"] == "not-found"
    bad_id = api.client.get("/v1/records/not-an-id", headers=h)
    assert bad_id.status_code == 404 and problem(bad_id)["code"] == "malformed-id"
    bad_query = api.client.get("/v1/audit?limit=0", headers=api.auth("comp", ["compliance"]))
    body = problem(bad_query)
    assert bad_query.status_code == 422 and body["code"] == "schema"
    assert body["errors"] and all(set(e) == {"loc", "msg"} for e in body["errors"])
    secret = "Tanaka Hanako 1985-02-03"
    leaked = api.client.post("/v1/subjects", json={"external_ref": secret, "region": 7}, headers=h)
    assert leaked.status_code == 422 and secret not in leaked.text
    assert api.client.get("/v1/nothing-here", headers=h).status_code == 404
    wrong_method = api.client.patch("/v1/holds", headers=h)
    assert wrong_method.status_code == 405 and problem(wrong_method)["status"] == 405
    # an empty id collapses the path onto another route: a 405 there would mislead
    assert api.client.delete("/v1/subjects//restriction", headers=h).status_code == 404
    empty = api.client.delete("/v1/subjects/restriction", headers=h)
    assert empty.status_code == 404 and problem(empty)["code"] == "malformed-id"
    real = api.client.delete(f"/v1/subjects/{'a' * 32}", headers=h)  # an id, a wrong method
    assert real.status_code == 405


def test_a_405_names_every_method_of_the_path(api):
    """RFC 9110: a 405 carries Allow with the methods the target resource supports."""
    h = api.auth("svc")
    asked = {
        ("PATCH", "/v1/holds"): "GET, POST",  # two routes on one path
        ("GET", "/v1/subjects"): "POST",
        ("DELETE", f"/v1/subjects/{'a' * 32}"): "GET",
        ("PUT", "/v1/audit/verify"): "GET",
        ("POST", "/healthz"): "GET",
        ("POST", "/openapi.json"): "GET, HEAD",
        ("POST", "/console/static/console.css"): "GET, HEAD",  # a mounted directory
    }
    answered = {}
    for (method, path), _ in asked.items():
        response = api.client.request(method, path, headers=h)
        assert response.status_code == 405, (method, path, response.status_code)
        answered[method, path] = response.headers.get("allow")
    assert answered == asked


def test_erased_is_410_and_certificate_follows(make_api, sqlite_url, clock):
    api = make_api(sqlite_url, **SHORT)
    subject_id = new_subject(api)
    record_id = new_record(api, subject_id)
    dpo = api.auth("dpo", ["dpo"])
    deferred = api.client.post(f"/v1/subjects/{subject_id}/erasure", headers=dpo)
    assert deferred.status_code == 202 and deferred.json()["status"] == "deferred"
    assert deferred.json()["reasons"][0]["kind"] == "retention"
    clock.advance(seconds=4)
    scheduled = api.client.post(f"/v1/subjects/{subject_id}/erasure", headers=dpo)
    assert scheduled.status_code == 202 and scheduled.json()["status"] == "scheduled"
    clock.advance(seconds=3)
    sweep = api.client.post("/v1/retention/sweep", headers=api.auth("comp", ["compliance"]))
    assert sweep.status_code == 200 and sweep.json()["destructions_executed"] == 1
    for method in ("GET", "PUT"):
        response = api.client.request(
            method,
            f"/v1/records/{record_id}/content",
            content=b"x" if method == "PUT" else None,
            headers=api.auth("svc"),
        )
        assert response.status_code == 410, (method, response.text)
        assert problem(response)["code"] == "erased"
    destruction_id = scheduled.json()["destruction_id"]
    certificate = api.client.get(
        f"/v1/keys/destructions/{destruction_id}/certificate", headers=api.auth("sec", ["security"])
    )
    assert certificate.status_code == 200 and certificate.json()
    metrics = api.client.get("/metrics").text
    assert 'recvault_retention_sweep_items_total{kind="destructions_executed"} 1.0' in metrics


def test_too_large_413_and_length_required_411(make_api, sqlite_url):
    api = make_api(sqlite_url, limits={"max_record_bytes": 1024})
    subject_id = new_subject(api)
    h = api.auth("svc")
    big = api.client.post(
        f"/v1/subjects/{subject_id}/records?category=photo", content=b"x" * 1025, headers=h
    )
    assert big.status_code == 413 and problem(big)["code"] == "too-large"

    def chunked():
        yield b"abc"
        yield b"def"

    no_length = api.client.post(
        f"/v1/subjects/{subject_id}/records?category=photo", content=chunked(), headers=h
    )
    assert no_length.status_code == 411 and problem(no_length)["code"] == "length-required"
    assert api.client.get(f"/v1/subjects/{subject_id}/records", headers=h).json()["items"] == []
    exact = api.client.post(
        f"/v1/subjects/{subject_id}/records?category=photo", content=b"x" * 1024, headers=h
    )
    assert exact.status_code == 201 and exact.json()["size"] == 1024


def test_ranges_206_416_and_multi_range_200(api):
    data = bytes(range(256)) * 40
    subject_id = new_subject(api)
    record_id = new_record(api, subject_id, data)
    h = api.auth("svc")
    url = f"/v1/records/{record_id}/content"

    def get(spec: str):
        return api.client.get(url, headers={**h, "Range": spec})

    part = get("bytes=100-199")
    assert part.status_code == 206 and part.content == data[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(data)}"
    assert part.headers["content-length"] == "100"
    assert get("bytes=10000-").content == data[10000:]
    suffix = get("bytes=-7")
    assert suffix.status_code == 206 and suffix.content == data[-7:]
    assert get("bytes=-999999").content == data
    assert get(f"bytes=0-{len(data) * 2}").content == data
    for spec in (f"bytes={len(data)}-", "bytes=5-2", "bytes=-0", "bytes=abc"):
        refused = get(spec)
        assert refused.status_code == 416, spec
        assert refused.headers["content-range"] == f"bytes */{len(data)}"
        assert problem(refused)["code"] == "range-not-satisfiable"
    multi = get("bytes=0-1,5-6")
    assert multi.status_code == 200 and multi.content == data
    other_unit = get("items=0-1")
    assert other_unit.status_code == 200 and other_unit.content == data
    full = api.client.get(url, headers=h)
    assert full.headers["accept-ranges"] == "bytes" and full.headers["etag"].startswith('"')
    assert full.headers["content-type"] == "image/png"


def test_as_of_without_zone_is_400(api):
    h = api.auth("comp", ["compliance"])
    for value in ("2026-01-01", "2026-01-01T00:00:00", "yesterday"):
        response = api.client.get("/v1/retention/plan", params={"as_of": value}, headers=h)
        assert response.status_code == 400, value
        assert problem(response)["code"] == "invalid-input"
    ok = api.client.get(
        "/v1/retention/plan", params={"as_of": "2026-01-01T00:00:00+09:00"}, headers=h
    )
    assert ok.status_code == 200 and ok.json()["items"] == []
    naive = api.client.get("/v1/audit", params={"since": "2026-01-01T00:00:00"}, headers=h)
    assert naive.status_code == 400


def test_hold_conflict_409_and_restriction_403(api):
    subject_id = new_subject(api)
    record_id = new_record(api, subject_id)
    a, b = api.auth("admin-a", ["admin"]), api.auth("admin-b", ["admin"])
    hold = api.client.post(
        "/v1/holds",
        json={"scope": "record", "target_id": record_id, "case_ref": "C-7", "reason": "dispute"},
        headers=a,
    )
    assert hold.status_code == 201
    path = f"/v1/holds/{hold.json()['id']}/release"
    assert api.client.post(path, json={"reason": "closed"}, headers=b).status_code == 200
    again = api.client.post(path, json={"reason": "closed"}, headers=b)
    assert again.status_code == 409 and problem(again)["code"] == "conflict"
    dpo = api.auth("dpo", ["dpo"])
    assert api.client.post(f"/v1/subjects/{subject_id}/restriction", headers=dpo).status_code == 204
    svc_only = api.auth("svc-only", ["service"])
    refused = api.client.get(f"/v1/records/{record_id}/content", headers=svc_only)
    assert refused.status_code == 403 and problem(refused)["code"] == "restricted"
    export = api.client.get(f"/v1/subjects/{subject_id}/export", headers=dpo)
    assert export.status_code == 200 and export.content[:2] == b"PK"
    assert (
        api.client.delete(f"/v1/subjects/{subject_id}/restriction", headers=dpo).status_code == 204
    )
    assert api.client.get(f"/v1/records/{record_id}/content", headers=svc_only).status_code == 200


def test_tampered_object_is_500_integrity_without_detail(api, tmp_path: Path):
    subject_id = new_subject(api)
    record_id = new_record(api, subject_id, b"x" * 5000)
    [stored] = [p for p in (tmp_path / "objects" / "jp").rglob("*") if p.is_file()]
    raw = bytearray(stored.read_bytes())
    raw[-20] ^= 0x01
    stored.write_bytes(bytes(raw))
    response = api.client.get(f"/v1/records/{record_id}/content", headers=api.auth("svc"))
    body = problem(response)
    assert response.status_code == 500 and body["type"] == "urn:recvault:problem:integrity"
    assert stored.name not in response.text


def test_unexpected_failure_is_a_bare_500(api, monkeypatch: pytest.MonkeyPatch):
    def explode(**_: object) -> None:
        raise RuntimeError("Tanaka Hanako")

    monkeypatch.setattr(api.vault, "holds_page", explode)
    headers = {**api.auth("adm", ["admin"]), "X-Request-ID": "unexpected-1"}
    response = api.client.get("/v1/holds", headers=headers)
    body = problem(response)
    assert response.status_code == 500 and body["code"] == "internal"
    assert "Tanaka" not in response.text and "Traceback" not in response.text
    # answered inside the middleware, like any other answer: its request id and headers
    assert response.headers["x-request-id"] == "unexpected-1"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-content-type-options"] == "nosniff"


def test_oversized_json_body_is_413(api):
    response = api.client.post(
        "/v1/holds",
        content=b'{"reason": "' + b"x" * 100_000 + b'"}',
        headers={**api.auth("adm", ["admin"]), "Content-Type": "application/json"},
    )
    assert response.status_code == 413 and problem(response)["code"] == "too-large"


def test_oversized_json_body_without_a_length_is_413(api):
    """Sent chunked, the size is known only as the body arrives: still 413, not 400."""

    def chunks():
        yield b'{"reason": "'
        for _ in range(100):
            yield b"x" * 1000
        yield b'"}'

    response = api.client.post(
        "/v1/holds",
        content=chunks(),
        headers={**api.auth("adm", ["admin"]), "Content-Type": "application/json"},
    )
    assert "content-length" not in response.request.headers
    assert response.status_code == 413 and problem(response)["code"] == "too-large"


def _subject(ref: str, region: str = '"JP"') -> str:
    return f'{{"external_ref": "{ref}", "region": {region}}}'


@pytest.mark.parametrize(
    ("ref", "body", "detail"),
    [
        ("CLINIC-X1", _subject("CLINIC-X1").encode("utf-16"), "UTF-8"),
        ("CLINIC-X2", _subject("CLINIC-X2").encode("utf-32-le"), "UTF-8"),
        ("CLINIC-X3", _subject("CLINIC-X3", '"JP", "region": "PH"').encode(), "same key twice"),
        ("CLINIC-X4", _subject("CLINIC-X4").encode()[:-3] + b'\xff"}', "UTF-8"),
    ],
    ids=["utf-16", "utf-32", "a key twice", "not utf-8"],
)
def test_a_json_body_is_utf8_and_names_each_key_once(api, ref, body, detail):
    """Python's parser takes UTF-16 and keeps the last of two keys: a proxy that read
    ``region`` first saw JP where the subject would have been made in PH."""
    headers = {**api.auth("svc", ["service"])}
    for declared in ("application/json", "application/merge-patch+json; charset=utf-8"):
        headers["Content-Type"] = declared
        response = api.client.post("/v1/subjects", content=body, headers=headers)
        assert response.status_code == 400, response.text
        assert problem(response)["code"] == "invalid-input"
        assert detail in problem(response)["detail"]
    assert api.vault.find_subjects(ref) == []
    accepted = api.client.post("/v1/subjects", content=_subject(ref), headers=headers)
    assert accepted.status_code == 201 and api.vault.find_subjects(ref) != []


def test_a_json_body_that_is_not_json_still_gets_the_routes_answer(api):
    response = api.client.post(
        "/v1/subjects",
        content=b'{"external_ref": "CLINIC-X5", ',
        headers={**api.auth("svc", ["service"]), "Content-Type": "application/json"},
    )
    assert response.status_code in (400, 422) and problem(response)["code"] != "invalid-input"


def test_two_authorization_headers_are_refused(api):
    """Which of two tokens counts would be a guess: a proxy may check the first, the API
    use another. Both valid here, and still 401."""
    first, second = api.auth("svc", ["service"]), api.auth("dpo", ["dpo"])
    response = api.client.get(
        "/v1/keys/status",
        headers=[
            ("Authorization", first["Authorization"]),
            ("Authorization", second["Authorization"]),
        ],
    )
    assert response.status_code == 401 and problem(response)["code"] == "unauthenticated"
    assert "one Authorization header" in problem(response)["detail"]
    alone = api.client.get("/v1/keys/status", headers=api.auth("sec", ["security"]))
    assert alone.status_code == 200
