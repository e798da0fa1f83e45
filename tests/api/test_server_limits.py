"""Slow and stuck clients cannot starve ``recvault serve`` (a real uvicorn in a subprocess).

Stalled uploads are answered 408 once ``limits.body_idle_timeout`` passes, and nothing
of them is kept; while they stall, reads, metadata calls and health checks keep
answering (uploads run on threads of their own). Headers are bounded in size, count
(431) and time (408). Bounds in these tests are liveness bounds, never speed claims.
"""

from __future__ import annotations

import contextlib
import json
import re
import select
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.fixtures.settings import ROOT, secret_env, serve, server_env, write_toml

#: a client that waits longer than this for an answer calls the server stuck
LIVENESS = 20.0


@dataclass
class Server:
    addr: str
    port: int
    home: Path
    headers: dict[str, str]
    subject_id: str

    def count(self, table: str) -> int:
        with sqlite3.connect(self.home / "meta.db") as db:
            return int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def _start(tmp_path: Path, **limits: str) -> Iterator[Server]:
    env = server_env(write_toml(tmp_path), secret_env())
    env.update({f"RECVAULT_LIMITS__{k.upper()}": v for k, v in limits.items()})
    cli = [sys.executable, "-m", "vault.cli"]
    run = {"env": env, "cwd": ROOT, "capture_output": True, "text": True, "timeout": 120}
    assert subprocess.run([*cli, "db", "upgrade"], **run).returncode == 0
    added = subprocess.run([*cli, "principals", "add", "svc", "--role", "service"], **run)
    [token] = re.findall(r"token: (rvt_\S+)", added.stdout)
    process, addr = serve(tmp_path, env)
    headers = {"Authorization": f"Bearer {token}"}
    try:
        created = httpx.post(
            f"{addr}/v1/subjects", json={"external_ref": "p-1", "region": "JP"}, headers=headers
        )
        assert created.status_code == 201, created.text
        port = int(addr.rsplit(":", 1)[1])
        yield Server(addr, port, tmp_path, headers, created.json()["id"])
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture
def server(tmp_path) -> Iterator[Server]:
    yield from _start(
        tmp_path,
        body_idle_timeout="PT1.5S",
        header_timeout="PT1S",
        upload_concurrency="200",
        max_header_bytes="16384",
        max_headers="50",
    )


def _slow_upload(server: Server) -> socket.socket:
    """An upload that announces 10 MB, sends 10 bytes, and then nothing."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=LIVENESS)
    head = (
        f"POST /v1/subjects/{server.subject_id}/records?category=xray HTTP/1.1\r\n"
        f"Host: 127.0.0.1\r\nAuthorization: {server.headers['Authorization']}\r\n"
        "Content-Type: application/octet-stream\r\nContent-Length: 10000000\r\n\r\n"
    )
    sock.sendall(head.encode() + b"0123456789")
    return sock


def _answer(sock: socket.socket) -> bytes:
    """What the server sent before it closed (b"" if it only closed)."""
    sock.settimeout(LIVENESS)
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except ConnectionResetError:
        pass
    finally:
        sock.close()
    return data


def _reads_while(server: Server, stop: threading.Event) -> list[int]:
    statuses: list[int] = []
    with httpx.Client(timeout=LIVENESS) as client:
        while not stop.is_set():
            for path in (f"/v1/subjects/{server.subject_id}", "/readyz", "/healthz"):
                statuses.append(client.get(server.addr + path, headers=server.headers).status_code)
            statuses.append(
                client.get(
                    f"{server.addr}/v1/subjects/{server.subject_id}/records",
                    headers=server.headers,
                ).status_code
            )
    return statuses


def _stalled_uploads_are_408_and_reads_go_on(server: Server, count: int) -> None:
    sockets = [_slow_upload(server) for _ in range(count)]
    stop = threading.Event()
    reads: list[int] = []
    reader = threading.Thread(target=lambda: reads.extend(_reads_while(server, stop)))
    reader.start()
    try:
        answers = [_answer(sock) for sock in sockets]
    finally:
        stop.set()
        reader.join(timeout=LIVENESS * 2)
    assert reads and set(reads) == {200}, reads
    for answer in answers:
        assert answer == b"" or answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert sum(a.startswith(b"HTTP/1.1 408") for a in answers) >= count // 2
    listed = httpx.get(
        f"{server.addr}/v1/subjects/{server.subject_id}/records", headers=server.headers
    )
    assert listed.status_code == 200 and listed.json() == {"items": [], "next": None}
    assert server.count("record_versions") == 0 and server.count("records") == 0


def test_stalled_uploads_are_408_while_reads_keep_answering(server):
    _stalled_uploads_are_408_and_reads_go_on(server, 40)


@pytest.mark.slow
def test_a_hundred_stalled_uploads(server):
    _stalled_uploads_are_408_and_reads_go_on(server, 100)


def test_a_body_shorter_than_its_length_is_408_and_nothing_is_kept(server):
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=LIVENESS)
    head = (
        f"POST /v1/subjects/{server.subject_id}/records?category=xray HTTP/1.1\r\n"
        f"Host: 127.0.0.1\r\nAuthorization: {server.headers['Authorization']}\r\n"
        "Content-Length: 100\r\n\r\n"
    )
    sock.sendall(head.encode() + b"x" * 60)
    answer = _answer(sock)
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert b"request-timeout" in answer and b"connection: close" in answer.lower()
    assert server.count("record_versions") == 0


def test_a_trickling_upload_is_408_once_it_falls_below_the_minimum_rate(tmp_path):
    """A byte every 0.3 s never trips the idle timeout; the minimum rate ends it."""
    for server in _start(tmp_path, body_idle_timeout="PT1S", body_min_rate="100"):
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=LIVENESS)
        head = (
            f"POST /v1/subjects/{server.subject_id}/records?category=xray HTTP/1.1\r\n"
            f"Host: 127.0.0.1\r\nAuthorization: {server.headers['Authorization']}\r\n"
            "Content-Length: 10000000\r\n\r\n"
        )
        sock.sendall(head.encode())
        sent = 0
        closed = False
        for _ in range(int(LIVENESS / 0.3)):  # bounded: the server must end it long before
            try:
                sock.sendall(b"x")
                sent += 1
            except OSError:
                closed = True
                break
            readable, _, _ = select.select([sock], [], [], 0.3)
            if readable:
                break
        answer = b"" if closed else _answer(sock)
        assert closed or answer.startswith(b"HTTP/1.1 408"), answer[:200]
        assert b"slower than 100 bytes/s" in answer or closed
        assert sent < 60  # ended after about the idle head start, not after 10 MB
        assert server.count("record_versions") == 0


def test_a_whole_upload_still_works(server):
    done = httpx.post(
        f"{server.addr}/v1/subjects/{server.subject_id}/records?category=xray",
        content=b"x" * 3_000_000,
        headers=server.headers,
    )
    assert done.status_code == 201 and done.json()["size"] == 3_000_000


def _raw(server: Server, request: bytes) -> bytes:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=LIVENESS)
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        sock.sendall(request)
    return _answer(sock)


def test_a_1mb_header_is_431(server):
    answer = _raw(
        server, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 1_000_000 + b"\r\n\r\n"
    )
    assert answer.startswith(b"HTTP/1.1 431"), answer[:200]


def test_too_many_headers_are_431_and_a_normal_request_passes(server):
    many = b"".join(b"X-H%d: v\r\n" % i for i in range(60))
    answer = _raw(server, b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n")
    assert answer.startswith(b"HTTP/1.1 431"), answer[:200]
    ok = _raw(server, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert ok.startswith(b"HTTP/1.1 200"), ok[:200]


def _problem(answer: bytes, status: int) -> dict:
    """The status line, content type and body of a raw answer that must be a problem document."""
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 %d " % status), answer[:300]
    headers = dict(
        line.decode("latin-1").lower().split(": ", 1) for line in head.split(b"\r\n")[1:]
    )
    assert headers["content-type"] == "application/problem+json", answer[:300]
    problem = json.loads(body)
    assert problem["status"] == status and problem["type"].startswith("urn:recvault:problem:")
    return problem


#: requests the HTTP parser cannot read: uvicorn answered them in plain text
UNREADABLE = [
    b"GET /v1/subjects/\xc3\xa9 HTTP/1.1\r\nHost: x\r\n\r\n",  # a byte above ASCII in the path
    b"GET /healthz HTTP/1.1\r\nHost: x\r\nRange: bytes=0-1\x7f\r\n\r\n",  # a control char
    b"POST /v1/subjects HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
    b"NOT HTTP AT ALL\r\n\r\n",
]


def test_a_request_the_parser_cannot_read_is_a_400_problem(server):
    for request in UNREADABLE:
        problem = _problem(_raw(server, request), 400)
        assert problem["code"] == "malformed-request", request
    ok = _raw(server, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert ok.startswith(b"HTTP/1.1 200"), ok[:200]


def _slow_headers(server: Server, count: int) -> None:
    sockets = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=LIVENESS)
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        sockets.append(sock)
    silent = socket.create_connection(("127.0.0.1", server.port), timeout=LIVENESS)
    # keep trickling a byte now and then, long past the header timeout
    closed: set[int] = set()
    answers: dict[int, bytes] = {}
    deadline = time.monotonic() + LIVENESS
    while len(closed) < count and time.monotonic() < deadline:
        for i, sock in enumerate(sockets):
            if i in closed:
                continue
            try:
                sock.sendall(b"a")
            except OSError:
                closed.add(i)
        time.sleep(0.3)
        for i, sock in enumerate(sockets):
            if i in closed:
                continue
            sock.settimeout(0.01)
            try:
                data = sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                data = b""
            answers[i] = data
            closed.add(i)
    assert len(closed) == count, f"{count - len(closed)} slow-header connections still open"
    assert all(a == b"" or a.startswith(b"HTTP/1.1 408") for a in answers.values())
    assert _answer(silent) == b""  # a connection that never sent a byte is simply closed
    for sock in sockets:
        sock.close()
    assert httpx.get(f"{server.addr}/healthz", timeout=LIVENESS).status_code == 200


def test_slow_headers_are_cut_off(server):
    _slow_headers(server, 50)


@pytest.mark.slow
def test_three_hundred_slow_header_connections(server):
    _slow_headers(server, 300)


def test_uploads_beyond_the_concurrency_wait_then_503(tmp_path):
    for server in _start(tmp_path, body_idle_timeout="PT2S", upload_concurrency="2"):
        held = [_slow_upload(server) for _ in range(2)]
        time.sleep(0.3)  # let both take their slot (ordering only; no speed is asserted)
        third = _slow_upload(server)
        answer = _answer(third)
        assert answer.startswith(b"HTTP/1.1 503") or answer.startswith(b"HTTP/1.1 408"), answer
        if answer.startswith(b"HTTP/1.1 503"):
            assert b"retry-after" in answer.lower()
        for sock in held:
            assert _answer(sock).startswith(b"HTTP/1.1 408")
        assert httpx.get(f"{server.addr}/readyz", timeout=LIVENESS).status_code == 200


def test_connections_beyond_the_limit_are_a_503_problem(tmp_path):
    for server in _start(tmp_path, max_connections="10"):
        idle = [
            socket.create_connection(("127.0.0.1", server.port), timeout=LIVENESS)
            for _ in range(10)
        ]
        time.sleep(0.3)  # let the server take them in (ordering only; no speed is asserted)
        answer = _raw(server, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert _problem(answer, 503)["code"] == "overloaded"
        assert b"\r\nretry-after: " in answer.lower()
        for sock in idle:
            sock.close()
        assert httpx.get(f"{server.addr}/healthz", timeout=LIVENESS).status_code == 200
