"""Streaming over real HTTP (uvicorn on loopback): multi-MiB uploads, downloads, ranges, export."""

from __future__ import annotations

import hashlib
import io
import json
import os
import threading
import time
import zipfile

import httpx
import pytest

MIB = 1024 * 1024


def body(size: int, seed: bytes = b"recvault"):
    """A deterministic pseudo-random body, generated 256 KiB at a time (never held whole)."""
    block = hashlib.sha256(seed).digest() * (256 * 1024 // 32)
    sent = 0
    while sent < size:
        piece = block[: min(len(block), size - sent)]
        sent += len(piece)
        yield piece


def digest(chunks) -> str:
    h = hashlib.sha256()
    for chunk in chunks:
        h.update(chunk)
    return h.hexdigest()


def test_multi_mib_upload_download_ranges_and_export(api, serve):
    served = serve(api.app)
    size = 6 * MIB + 12345
    headers = api.auth("svc")
    with httpx.Client(base_url=served.url, headers=headers, timeout=60) as client:
        subject = client.post("/v1/subjects", json={"external_ref": "p-1", "region": "JP"}).json()
        created = client.post(
            f"/v1/subjects/{subject['id']}/records",
            params={"category": "impression", "filename": "tanaka_scan.stl"},
            content=body(size),
            headers={"Content-Length": str(size), "Content-Type": "model/stl"},
        )
        assert created.status_code == 201, created.text
        record_id = created.json()["id"]
        assert created.json()["size"] == size
        with client.stream("GET", f"/v1/records/{record_id}/content") as response:
            assert response.status_code == 200
            assert response.headers["content-length"] == str(size)
            assert response.headers["content-type"] == "model/stl"
            assert digest(response.iter_bytes()) == digest(body(size))
        whole = b"".join(body(size))
        for spec, start, stop in (
            ("bytes=1048570-1048600", 1048570, 1048601),  # across a segment boundary
            (f"bytes={size - 10}-", size - 10, size),
            ("bytes=-3000000", size - 3000000, size),
        ):
            part = client.get(f"/v1/records/{record_id}/content", headers={"Range": spec})
            assert part.status_code == 206
            assert part.content == whole[start:stop]
            assert part.headers["content-range"] == f"bytes {start}-{stop - 1}/{size}"
        updated = client.put(
            f"/v1/records/{record_id}/content",
            content=body(MIB, b"v2"),
            headers={"Content-Length": str(MIB), "Content-Type": "model/stl"},
        )
        assert updated.status_code == 200 and updated.json()["version"] == 2
        dpo = api.auth("dpo", ["dpo"])
        with client.stream("GET", f"/v1/subjects/{subject['id']}/export", headers=dpo) as export:
            assert export.status_code == 200
            archive = zipfile.ZipFile(io.BytesIO(export.read()))
        manifest = json.loads(archive.read("manifest.json"))
        [entry] = manifest["records"]
        paths = {v["version"]: v["path"] for v in entry["versions"]}
        assert digest([archive.read(paths[1])]) == digest(body(size))
        assert archive.read(paths[2]) == b"".join(body(MIB, b"v2"))
        assert "tanaka" not in json.dumps(manifest)


def test_chunked_upload_over_http_is_411(api, serve):
    served = serve(api.app)
    with httpx.Client(base_url=served.url, headers=api.auth("svc"), timeout=30) as client:
        subject = client.post("/v1/subjects", json={"external_ref": "p-1", "region": "JP"}).json()
        response = client.post(
            f"/v1/subjects/{subject['id']}/records",
            params={"category": "photo"},
            content=body(3 * MIB),  # no Content-Length: httpx sends it chunked
        )
        assert response.status_code == 411
        assert response.headers["content-type"].startswith("application/problem+json")
        assert client.get(f"/v1/subjects/{subject['id']}/records").json()["items"] == []


def test_export_of_unknown_subject_is_404_not_a_broken_200(api, serve):
    served = serve(api.app)
    with httpx.Client(base_url=served.url, headers=api.auth("dpo", ["dpo"]), timeout=30) as c:
        response = c.get(f"/v1/subjects/{os.urandom(16).hex()}/export")
        assert response.status_code == 404


def _store_impression(client: httpx.Client, ref: str, size: int) -> dict:
    """A new JP subject and one impression record of ``size`` bytes; the record's JSON."""
    subject = client.post("/v1/subjects", json={"external_ref": ref, "region": "JP"}).json()
    created = client.post(
        f"/v1/subjects/{subject['id']}/records",
        params={"category": "impression"},
        content=body(size),
        headers={"Content-Length": str(size)},
    )
    assert created.status_code == 201, created.text
    return dict(created.json())


def _download_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "recvault-download"]


def _wait_for_no_download_threads() -> None:
    deadline = time.monotonic() + 20
    while _download_threads() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _download_threads()


def test_download_cut_short_when_a_later_segment_fails_to_verify(api, serve, tmp_path):
    served = serve(api.app)
    size = 5 * MIB
    with httpx.Client(base_url=served.url, headers=api.auth("svc"), timeout=60) as client:
        created = _store_impression(client, "p-2", size)
        [stored] = [p for p in (tmp_path / "objects").rglob("*") if p.is_file()]
        with stored.open("r+b") as f:  # flip one byte in the last segment
            f.seek(stored.stat().st_size - MIB)
            byte = f.read(1)
            f.seek(-1, os.SEEK_CUR)
            f.write(bytes([byte[0] ^ 1]))
        got = 0
        with client.stream("GET", f"/v1/records/{created['id']}/content") as response:
            assert response.status_code == 200
            with pytest.raises(httpx.RemoteProtocolError):
                for chunk in response.iter_raw():
                    got += len(chunk)
        assert got <= size - MIB
        assert client.get("/healthz").status_code == 200
    _wait_for_no_download_threads()


def test_download_abandoned_by_the_client_releases_the_reader(api, serve):
    served = serve(api.app)
    size = 24 * MIB
    with httpx.Client(base_url=served.url, headers=api.auth("svc"), timeout=60) as client:
        created = _store_impression(client, "p-3", size)
        url = f"/v1/records/{created['id']}/content"
        headers = api.auth("svc")
        with (
            httpx.Client(base_url=served.url, headers=headers, timeout=60) as other,
            other.stream("GET", url) as response,
        ):
            assert response.status_code == 200
            next(response.iter_raw())
        # leaving the block closed the connection mid-body
        _wait_for_no_download_threads()
        with client.stream("GET", url) as response:
            assert digest(response.iter_bytes()) == digest(body(size))
    _wait_for_no_download_threads()


@pytest.mark.parametrize("size", [1, 256 * 1024, MIB, MIB + 1])
def test_records_at_the_one_segment_boundary_round_trip(api, serve, size):
    """Up to one segment an upload is received whole and a download sent whole; beyond, streamed."""
    served = serve(api.app)
    with httpx.Client(base_url=served.url, headers=api.auth("svc"), timeout=60) as client:
        created = _store_impression(client, f"p-{size}", size)
        url = f"/v1/records/{created['id']}/content"
        whole = client.get(url)
        assert whole.status_code == 200
        assert whole.headers["content-length"] == str(size)
        assert whole.headers["etag"] and whole.headers["x-record-version"] == "1"
        assert digest([whole.content]) == digest(body(size))
        part = client.get(url, headers={"Range": f"bytes={size // 2}-"})
        assert part.status_code == 206
        assert part.content == whole.content[size // 2 :]
        assert part.headers["content-range"] == f"bytes {size // 2}-{size - 1}/{size}"
        updated = client.put(url, content=b"y" * size, headers={"Content-Length": str(size)})
        assert updated.status_code == 200 and updated.json()["version"] == 2
        assert client.get(url).content == b"y" * size
    _wait_for_no_download_threads()
