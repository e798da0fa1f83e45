"""Uploads over HTTP: an empty body is refused, a bad category before the body, full answers."""

from __future__ import annotations

import socket

import httpx
import pytest

from tests.api.conftest import problem


@pytest.fixture
def served(api, serve):
    server = serve(api.app)
    client = httpx.Client(base_url=server.url, headers=api.auth("svc"), timeout=30)
    subject = client.post("/v1/subjects", json={"external_ref": "p-up", "region": "JP"}).json()
    yield server, client, subject["id"]
    client.close()


def test_empty_upload_is_refused_with_400(served):
    _, client, subject = served
    created = client.post(f"/v1/subjects/{subject}/records", params={"category": "xray"})
    assert created.request.headers["content-length"] == "0"
    body = problem(created)
    assert created.status_code == 400 and body["code"] == "invalid-input"
    assert "empty record is refused" in body["detail"]
    explicit = client.post(
        f"/v1/subjects/{subject}/records",
        params={"category": "xray"},
        content=b"",
        headers={"Content-Length": "0", "Content-Type": "image/png"},
    )
    assert explicit.status_code == 400
    assert client.get(f"/v1/subjects/{subject}/records").json()["items"] == []
    record = client.post(
        f"/v1/subjects/{subject}/records", params={"category": "xray"}, content=b"x"
    ).json()
    emptied = client.put(f"/v1/records/{record['id']}/content", content=b"")
    assert emptied.status_code == 400 and problem(emptied)["code"] == "invalid-input"
    assert client.get(f"/v1/records/{record['id']}").json()["version"] == 1


def test_empty_upload_is_stored_when_the_setting_allows_it(make_api, sqlite_url, serve):
    lenient = make_api(sqlite_url, limits={"allow_empty_records": True})
    server = serve(lenient.app)
    with httpx.Client(base_url=server.url, headers=lenient.auth("svc"), timeout=30) as client:
        subject = client.post("/v1/subjects", json={"external_ref": "p-0", "region": "JP"}).json()
        created = client.post(f"/v1/subjects/{subject['id']}/records", params={"category": "xray"})
        assert created.status_code == 201 and created.json()["size"] == 0


def test_unknown_category_is_refused_before_the_body_is_sent(served, api):
    server, _, subject = served
    with socket.create_connection(("127.0.0.1", server.port), timeout=20) as sock:
        head = (
            f"POST /v1/subjects/{subject}/records?category=scan HTTP/1.1\r\n"
            f"Host: 127.0.0.1\r\nAuthorization: {api.auth('svc')['Authorization']}\r\n"
            "Content-Type: image/png\r\nContent-Length: 50000000\r\n\r\n"
        )
        sock.sendall(head.encode())  # and not one byte of the 50 MB
        answer = b""
        while b"category" not in answer and (chunk := sock.recv(65536)):
            answer += chunk
    status_line = answer.split(b"\r\n", 1)[0]
    assert status_line.split()[1] in (b"400", b"422"), answer[:300]
    assert b"category" in answer


def test_create_and_update_answers_list_every_version(served):
    _, client, subject = served
    created = client.post(
        f"/v1/subjects/{subject}/records", params={"category": "xray"}, content=b"v1"
    ).json()
    assert [v["version"] for v in created["versions"]] == [1]
    updated = client.put(f"/v1/records/{created['id']}/content", content=b"version 2").json()
    assert [v["version"] for v in updated["versions"]] == [1, 2]
    assert [v["size"] for v in updated["versions"]] == [2, 9]
    assert updated == client.get(f"/v1/records/{created['id']}").json() | {
        "retain_until": updated["retain_until"]
    }
