"""HTTP API benchmarks: P9 (put/get over HTTP vs the library) and the server's RSS bound.

Run from the repository root: ``python -m bench.api`` (``--help`` for sizes;
``--curl-only`` for the P9 figures with targets alone).

P9 (targets): a put and a get of a 1 GiB record (``--curl-mib``) with curl, the
Debian ``curl`` binary in a subprocess (a C client, which does not cap the
server the way a Python client in this process does on 2 cores), against the
same through the library (``put_record`` / ``open_record``) in this process, on
the same settings (SQLite, local stores, local key provider), ``recvault serve``
in a subprocess. The gets read the same record. Rounds alternate which side goes
first; medians of ``--runs`` rounds. Reported: the wall ratio library/HTTP
(targets: get >= 0.85, put >= 0.8) and the CPU seconds per GiB of the server
process (psutil, all threads) against the library's (this process): server <=
1.2x library. Every round's figures are printed, with the load average
(``os.getloadavg()``) before and after: the machine is shared.

The recvault CLI on the same record (``recvault records get -o -`` and ``records
put``). Target (the CLI's transfers >= 0.8 of curl's): the transfer's own time,
each command's median less the median of the same command on a 1-byte record
(what a command costs besides moving the bytes: the interpreter's and curl's
start-up, the request's round trip), for the CLI and for curl alike. Information:
the whole commands, and the start-up alone, as a get from a closed port.

Information rows (Python clients, 256 MiB by default, ``--p9-mib``): httpx (the
CLI's client for uploads) and urllib3 each way, a get through a minimal socket
client, the loopback ceiling (a bare ASGI app under the same uvicorn, urllib3
client), and CPU time per GiB of a get (this process plus the server) for the
library, for HTTP and for the bare app, with the ratio HTTP could reach if it
spread its CPU time over every core: cpus x library CPU time / HTTP CPU time.

RSS: a 1 GiB upload and a 1 GiB download through the API; the server's RSS is
sampled with psutil during each transfer and must stay within its baseline
(after a warm-up request) + 128 MiB.
"""

from __future__ import annotations

import argparse
import compileall
import io
import json
import os
import platform
import resource
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import urllib3

from bench.common import restored_environment, scratch_directory, service_vault
from vault.cli.devbao import free_port
from vault.storage import tune_process

MiB = 1024 * 1024
#: P9 with curl as the client (issue 21): wall ratio to the library, server CPU vs library CPU
P9_CURL_GET = 0.85
P9_CURL_PUT = 0.8
P9_SERVER_CPU = 1.2
#: the recvault CLI's own transfers against curl's on the same record
CLI_VS_CURL = 0.8
RSS_BOUND_MIB = 128
ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Row:
    case: str
    mib_per_s: float | None
    ratio: float | None = None
    target: str = ""
    ok: bool | None = None

    @property
    def verdict(self) -> str:
        return "-" if self.ok is None else ("pass" if self.ok else "FAIL")


class RepeatingStream(io.RawIOBase):
    """``total`` bytes from one reused buffer (readinto only: nothing is held)."""

    def __init__(self, buffer: bytes, total: int) -> None:
        super().__init__()
        self._buffer = memoryview(buffer)
        self._left = total
        self._at = 0

    def readable(self) -> bool:
        return True

    def readinto(self, target: bytearray | memoryview) -> int:  # type: ignore[override]
        n = min(len(target), self._left, len(self._buffer) - self._at)
        target[:n] = self._buffer[self._at : self._at + n]
        self._at = (self._at + n) % len(self._buffer)
        self._left -= n
        return n


def chunks_of(buffer: bytes, total: int) -> Iterator[bytes]:
    whole, tail = divmod(total, len(buffer))
    for _ in range(whole):
        yield buffer
    if tail:
        yield buffer[:tail]


def environment(scratch: Path) -> dict[str, str]:
    lines = [f'[database]\nurl = "sqlite:///{scratch / "meta.db"}"\n']
    for name, location in (("JP", "ap-northeast-1"), ("PH", "ap-southeast-1")):
        lines.append(
            f'[regions.{name}]\nlocation = "{location}"\n'
            f'[regions.{name}.store]\nkind = "local"\npath = "{scratch / name}"\n'
            f'[regions.{name}.keys]\nkind = "local"\npath = "{scratch / f"keys-{name}.db"}"\n'
        )
    lines.append("[limits]\nmax_record_bytes = 4294967296\n")
    (scratch / "recvault.toml").write_text("\n".join(lines))
    return {
        "RECVAULT_CONFIG": str(scratch / "recvault.toml"),
        "RECVAULT_NAME_SECRET": secrets.token_hex(32),
        "RECVAULT_SIGNING_KEY": secrets.token_hex(32),
        "RECVAULT_MASTER_KEY": secrets.token_hex(32),
    }


def environment_names() -> tuple[str, ...]:
    return (
        "RECVAULT_CONFIG",
        "RECVAULT_NAME_SECRET",
        "RECVAULT_SIGNING_KEY",
        "RECVAULT_MASTER_KEY",
    )


#: The loopback ceiling: a bare ASGI app under the same uvicorn that discards uploads and
#: streams a constant 1 MiB buffer back. No vault can serve HTTP faster than this.
CEILING_APP = """
import sys, uvicorn
MiB = 1024 * 1024
BUF = b"x" * MiB
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    if scope["method"] == "POST":
        more = True
        while more:
            message = await receive()
            more = message.get("more_body", False)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        return
    size = int(scope["query_string"] or b"0")
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-length", str(size).encode())]})
    for _ in range(size // MiB):
        await send({"type": "http.response.body", "body": BUF, "more_body": True})
    await send({"type": "http.response.body", "body": b""})
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False,
            http="auto", loop="asyncio")
"""


SERVE = "from vault.cli import main; main()"


class Server:
    """``recvault serve`` (or the ceiling app) in a subprocess, stopped by its own pid."""

    def __init__(
        self,
        env: dict[str, str],
        port: int,
        ceiling: bool = False,
        command: list[str] | None = None,
    ) -> None:
        """``command``: another server serving on ``port`` (answering GET /healthz 200)."""
        self.url = f"http://127.0.0.1:{port}"
        command = command or (
            [sys.executable, "-c", CEILING_APP, str(port)]
            if ceiling
            else [sys.executable, "-c", SERVE, "serve", "--port", str(port)]
        )
        self.process = subprocess.Popen(
            command,
            env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 120  # a loaded machine starts it slowly
        while True:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{command[:3]} did not start")
            time.sleep(0.1)

    def rss(self) -> int:
        return int(psutil.Process(self.process.pid).memory_info().rss)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=20)


class RssSampler:
    def __init__(self, server: Server, every: float = 0.02) -> None:
        self.server, self.every = server, every
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.server.rss())
            time.sleep(self.every)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.server.rss())


def http_put(client: httpx.Client, subject_id: str, buffer: bytes, size: int) -> str:
    response = client.post(
        f"/v1/subjects/{subject_id}/records",
        params={"category": "impression"},
        content=chunks_of(buffer, size),
        headers={"Content-Length": str(size), "Content-Type": "model/stl"},
    )
    response.raise_for_status()
    return str(response.json()["id"])


def http_get(client: httpx.Client, record_id: str) -> int:
    got = 0
    with client.stream("GET", f"/v1/records/{record_id}/content") as response:
        response.raise_for_status()
        for chunk in response.iter_raw():
            got += len(chunk)
    return got


def socket_get(url: str, path: str, token: str, size: int) -> int:
    """GET ``size`` body bytes with a bare socket (recv_into one 4 MiB buffer, no parsing)."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as sock:
        request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n\r\n"
        sock.sendall(request.encode())
        buffer = bytearray(4 * MiB)
        view = memoryview(buffer)
        n = sock.recv_into(view)
        head = bytes(buffer[:n]).find(b"\r\n\r\n")
        if head < 0 or not buffer.startswith(b"HTTP/1.1 200"):
            raise RuntimeError("unexpected response to the socket client")
        got = n - head - 4
        while got < size:
            n = sock.recv_into(view)
            if not n:
                break
            got += n
    return got


class Urllib3Client:
    """The measuring client: one kept-alive connection, 1 MiB reads, streamed uploads."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        self.url, self.headers = url, headers
        self.pool = urllib3.HTTPConnectionPool(
            url.removeprefix("http://").split(":")[0],
            int(url.rsplit(":", 1)[1]),
            maxsize=1,
            timeout=urllib3.Timeout(connect=10, read=600),
        )

    def post(self, path: str, body: Iterator[bytes], size: int, kind: str) -> bytes:
        headers = {**self.headers, "Content-Length": str(size), "Content-Type": kind}
        response = self.pool.urlopen("POST", path, body=body, headers=headers, chunked=False)
        if response.status >= 300:
            raise RuntimeError(f"POST {path}: {response.status} {response.data[:200]!r}")
        return bytes(response.data)

    def get(self, path: str) -> int:
        response = self.pool.urlopen("GET", path, headers=self.headers, preload_content=False)
        try:
            if response.status != 200:
                raise RuntimeError(f"GET {path}: {response.status}")
            return sum(len(chunk) for chunk in response.stream(MiB))
        finally:
            response.release_conn()

    def close(self) -> None:
        self.pool.close()


def u3_put(client: Urllib3Client, subject_id: str, buffer: bytes, size: int) -> str:
    path = f"/v1/subjects/{subject_id}/records?category=impression"
    answer = client.post(path, chunks_of(buffer, size), size, "model/stl")
    return str(json.loads(answer)["id"])


def u3_get(client: Urllib3Client, record_id: str) -> int:
    return client.get(f"/v1/records/{record_id}/content")


def ceiling_put(client: Urllib3Client, buffer: bytes, size: int) -> None:
    client.post("/", chunks_of(buffer, size), size, "application/octet-stream")


def ceiling_get(client: Urllib3Client, size: int) -> int:
    return client.get(f"/?{size}")


CURL = shutil.which("curl") or "/usr/bin/curl"


def curl_get(url: str, token: str, record_id: str) -> None:
    """GET a record's content with curl (a C client), discarding the bytes."""
    done = subprocess.run(
        [
            CURL,
            "-sS",
            "--fail",
            "-o",
            "/dev/null",
            "-w",
            "%{size_download}",
            "-H",
            f"Authorization: Bearer {token}",
            f"{url}/v1/records/{record_id}/content",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    if not done.stdout.strip().isdigit():
        raise RuntimeError(f"curl get: {done.stdout!r} {done.stderr!r}")


def curl_put(url: str, token: str, subject_id: str, source: Path) -> str:
    """POST a file as a new record with curl (``-T`` streams it from the page cache)."""
    done = subprocess.run(
        [
            CURL,
            "-sS",
            "--fail",
            "-X",
            "POST",
            "-T",
            str(source),
            "-H",
            f"Authorization: Bearer {token}",
            "-H",
            "Content-Type: model/stl",
            "-H",
            "Expect:",
            f"{url}/v1/subjects/{subject_id}/records?category=impression",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return str(json.loads(done.stdout)["id"])


def cli_env(url: str, token: str) -> dict[str, str]:
    return {**os.environ, "RECVAULT_ADDR": url, "RECVAULT_TOKEN": token, "PYTHONPATH": str(ROOT)}


def cli_run(url: str, token: str, *args: str, exit_code: int = 0) -> None:
    """A ``recvault`` command (its output discarded) that must end with ``exit_code``."""
    done = subprocess.run(
        [sys.executable, "-c", SERVE, *args],
        env=cli_env(url, token),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    if done.returncode != exit_code:
        raise RuntimeError(f"recvault {' '.join(args)}: exit {done.returncode}: {done.stderr!r}")


def cli_get(url: str, token: str, record_id: str) -> None:
    """``recvault records get`` (http.client) to /dev/null, as curl writes to /dev/null."""
    cli_run(url, token, "records", "get", record_id, "-o", "-")


def cli_put(url: str, token: str, subject_id: str, source: Path) -> None:
    """``recvault records put`` (httpx) of the file curl uploads."""
    cli_run(
        url,
        token,
        *("records", "put", str(source), "--subject", subject_id, "--category", "impression"),
        *("--content-type", "model/stl", "--quiet"),
    )


def process_cpu(pid: int | None) -> float:
    """CPU seconds (user + system, all threads) of ``pid``, or of this process."""
    if pid is None:
        own = resource.getrusage(resource.RUSAGE_SELF)
        return own.ru_utime + own.ru_stime
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def measured(pid: int | None, action) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """Wall seconds of ``action`` and the CPU seconds ``pid`` (or this process) spent meanwhile."""
    cpu, started = process_cpu(pid), time.perf_counter()
    action()
    return time.perf_counter() - started, process_cpu(pid) - cpu


def cpu_seconds(server: Server | None, action) -> float:  # type: ignore[no-untyped-def]
    """CPU time (user + system) of this process and of ``server`` while ``action`` runs."""

    def now() -> float:
        own = resource.getrusage(resource.RUSAGE_SELF)
        total = own.ru_utime + own.ru_stime
        if server is not None:
            times = psutil.Process(server.process.pid).cpu_times()
            total += times.user + times.system
        return total

    before = now()
    action()
    return now() - before


def timed(size: int, fn, *args):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    result = fn(*args)
    return size / MiB / (time.perf_counter() - started), result


def p9_curl(
    url: str,
    pid: int,
    token: str,
    subject_id: str,
    lib_put,  # type: ignore[no-untyped-def]
    lib_get,  # type: ignore[no-untyped-def]
    size: int,
    runs: int,
    scratch: Path,
    buffer: bytes,
) -> list[Row]:
    """P9 with curl as the client: wall time and server CPU against the library's, same run.

    Puts: the library's ``put_record`` from memory against curl uploading a file of the
    same bytes (page-cached). Gets: the library and curl read the same record. Rounds
    alternate which side goes first; medians. CPU: this process's for the library, the
    server process's (psutil, all threads) for curl; curl's own CPU is not counted.
    """
    source = scratch / "curl-source.bin"
    with source.open("wb") as out:
        for chunk in chunks_of(buffer, size):
            out.write(chunk)
    source.read_bytes()  # page-cached, as the library's source is in memory
    sides = ("lib put", "curl put", "cli put", "lib get", "curl get", "cli get")
    walls: dict[str, list[float]] = {k: [] for k in sides}
    cpus: dict[str, list[float]] = {k: [] for k in walls}
    record_id = lib_put()
    tiny = scratch / "one-byte.bin"
    tiny.write_bytes(b"x")
    tiny_id = curl_put(url, token, subject_id, tiny)
    fixed: dict[str, list[float]] = {k: [] for k in ("curl put", "cli put", "curl get", "cli get")}
    for n in range(runs):
        order = ("lib", "curl") if n % 2 == 0 else ("curl", "lib")
        for side in order:
            if side == "lib":
                wall, cpu = measured(None, lib_put)
            else:
                wall, cpu = measured(pid, lambda: curl_put(url, token, subject_id, source))
            walls[f"{side} put"].append(wall)
            cpus[f"{side} put"].append(cpu)
        for side in order:
            if side == "lib":
                wall, cpu = measured(None, lambda: lib_get(record_id))
            else:
                wall, cpu = measured(pid, lambda: curl_get(url, token, record_id))
            walls[f"{side} get"].append(wall)
            cpus[f"{side} get"].append(cpu)
        # the recvault CLI (httpx) on the same record, right after curl
        wall, cpu = measured(pid, lambda: cli_put(url, token, subject_id, source))
        walls["cli put"].append(wall)
        cpus["cli put"].append(cpu)
        wall, cpu = measured(pid, lambda: cli_get(url, token, record_id))
        walls["cli get"].append(wall)
        cpus["cli get"].append(cpu)
        # the same four commands on a 1-byte record: what each costs besides its transfer
        for key, action in (
            ("curl put", lambda: curl_put(url, token, subject_id, tiny)),
            ("cli put", lambda: cli_put(url, token, subject_id, tiny)),
            ("curl get", lambda: curl_get(url, token, tiny_id)),
            ("cli get", lambda: cli_get(url, token, tiny_id)),
        ):
            fixed[key].append(measured(None, action)[0])
    source.unlink()
    nowhere = f"http://127.0.0.1:{free_port()}"
    startups = [
        # a get from a closed port: start-up, one refused connection, exit 1
        measured(None, lambda: cli_run(nowhere, token, "records", "get", record_id, exit_code=1))[0]
        for _ in range(runs)
    ]
    mib, gib = size / MiB, size / (1024 * MiB)
    for key in walls:
        print(
            f"  P9 curl rounds, {key}: wall "
            + ", ".join(f"{w:.2f}" for w in walls[key])
            + " s; CPU "
            + ", ".join(f"{c:.2f}" for c in cpus[key])
            + " s"
        )
    wall = {k: statistics.median(v) for k, v in walls.items()}
    cpu = {k: statistics.median(v) / gib for k, v in cpus.items()}
    rows: list[Row] = []
    for op, target in (("get", P9_CURL_GET), ("put", P9_CURL_PUT)):
        ratio = wall[f"lib {op}"] / wall[f"curl {op}"]
        rows.append(Row(f"P9 library {op} {mib:.0f} MiB", mib / wall[f"lib {op}"]))
        rows.append(
            Row(
                f"P9 HTTP {op} {mib:.0f} MiB, curl client (wall vs library)",
                mib / wall[f"curl {op}"],
                ratio,
                f">= {target}",
                ratio >= target,
            )
        )
        share = cpu[f"curl {op}"] / cpu[f"lib {op}"]
        rows.append(
            Row(
                f"P9 {op} CPU s/GiB: server {cpu[f'curl {op}']:.2f}, "
                f"library {cpu[f'lib {op}']:.2f}",
                None,
                share,
                f"<= {P9_SERVER_CPU}",
                share <= P9_SERVER_CPU,
            )
        )
    for key in fixed:
        walls_1b = ", ".join(f"{w:.3f}" for w in fixed[key])
        print(f"  P9 curl rounds, {key} of 1 byte: wall {walls_1b} s")
    startup = statistics.median(startups)
    rows.append(Row(f"recvault CLI start-up (a get refused at once): {startup:.2f} s", None))
    for op in ("get", "put"):
        client = "http.client" if op == "get" else "httpx"
        ratio = wall[f"curl {op}"] / wall[f"cli {op}"]
        rows.append(
            Row(
                f"CLI {op} {mib:.0f} MiB ({client}) vs curl, whole commands",
                mib / wall[f"cli {op}"],
                ratio,
                "info",
            )
        )
        # The transfer itself: each command's median less the same command's on 1 byte
        # (start-up, sign-in, the request's round trip), as MiB/s against curl's.
        cli_transfer = wall[f"cli {op}"] - statistics.median(fixed[f"cli {op}"])
        curl_transfer = wall[f"curl {op}"] - statistics.median(fixed[f"curl {op}"])
        case = f"CLI {op} transfer ({client}) vs curl's ({mib:.0f} MiB less 1 B)"
        if min(cli_transfer, curl_transfer) <= 0:  # a 1-byte command outlasted the 1 GiB one
            rows.append(Row(f"{case}: not measurable", None, None, f">= {CLI_VS_CURL}", False))
            continue
        ratio = curl_transfer / cli_transfer
        rows.append(Row(case, mib / cli_transfer, ratio, f">= {CLI_VS_CURL}", ratio >= CLI_VS_CURL))
    return rows


def run(
    size_mib: int,
    rss_mib: int,
    runs: int,
    scratch: Path,
    curl_mib: int = 1024,
    curl_only: bool = False,
) -> list[Row]:
    env = environment(scratch)
    os.environ.update(env)
    vault, token, subject = service_vault("bench-subject")
    buffer = os.urandom(MiB)
    size = size_mib * MiB

    def lib_put_sized(total: int) -> str:
        stream = RepeatingStream(buffer, total)
        return vault.put_record(subject.id, "impression", stream, size=total).id  # type: ignore[arg-type]

    def lib_put() -> str:
        return lib_put_sized(size)

    def lib_get(record_id: str) -> int:
        with vault.open_record(record_id) as reader:
            return sum(len(c) for c in reader.iter_chunks())

    server = Server(env, free_port())
    rows: list[Row] = []
    headers = {"Authorization": f"Bearer {token}"}
    fast = Urllib3Client(server.url, headers)
    try:
        print(f"  load average before P9 (curl): {os.getloadavg()[0]:.2f}")
        rows += p9_curl(
            server.url,
            server.process.pid,
            token,
            subject.id,
            lambda: lib_put_sized(curl_mib * MiB),
            lib_get,
            curl_mib * MiB,
            runs,
            scratch,
            buffer,
        )
        print(f"  load average after P9 (curl): {os.getloadavg()[0]:.2f}")
        if curl_only:
            return rows
        with httpx.Client(base_url=server.url, headers=headers, timeout=600) as client:
            rates: dict[str, list[float]] = {
                k: []
                for k in (
                    "lib put",
                    "http put",
                    "lib get",
                    "http get",
                    "urllib3 put",
                    "httpx get",
                    "socket get",
                )
            }

            def round_(first: str) -> None:
                ids: dict[str, str] = {}
                for side in (first, "http" if first == "lib" else "lib"):
                    if side == "lib":
                        rate, ids["lib"] = timed(size, lib_put)
                    else:
                        rate, ids["http"] = timed(size, http_put, client, subject.id, buffer, size)
                    rates[f"{side} put"].append(rate)
                for side in (first, "http" if first == "lib" else "lib"):
                    if side == "lib":
                        rate, got = timed(size, lib_get, ids["lib"])
                    else:
                        rate, got = timed(size, u3_get, fast, ids["http"])
                    assert got == size
                    rates[f"{side} get"].append(rate)
                rate, ids["urllib3"] = timed(size, u3_put, fast, subject.id, buffer, size)
                rates["urllib3 put"].append(rate)
                rate, got = timed(size, http_get, client, ids["urllib3"])
                assert got == size
                rates["httpx get"].append(rate)
                ids_for_cpu.update(ids)
                path = f"/v1/records/{ids['http']}/content"
                rate, got = timed(size, socket_get, server.url, path, token, size)
                assert got == size
                rates["socket get"].append(rate)

            ids_for_cpu: dict[str, str] = {}
            for n in range(runs):
                round_("lib" if n % 2 == 0 else "http")
            best = {k: statistics.median(v) for k, v in rates.items()}
            for op, tool in (("put", "httpx"), ("get", "urllib3")):
                ratio = best[f"http {op}"] / best[f"lib {op}"]
                rows.append(Row(f"P9 library {op} {size_mib} MiB", best[f"lib {op}"]))
                rows.append(
                    Row(
                        f"HTTP {op} {size_mib} MiB, {tool} client (informational)",
                        best[f"http {op}"],
                        ratio,
                    )
                )
            for op, tool in (("put", "urllib3"), ("get", "httpx")):
                rows.append(
                    Row(
                        f"HTTP {op} {size_mib} MiB, {tool} client (informational)",
                        best[f"{tool} {op}"],
                        best[f"{tool} {op}"] / best[f"lib {op}"],
                    )
                )
            rows.append(
                Row(
                    f"HTTP get {size_mib} MiB, bare socket client (informational)",
                    best["socket get"],
                    best["socket get"] / best["lib get"],
                )
            )
            gib = size / (1024 * MiB)
            # four gets each: CPU clocks tick in 10 ms steps
            lib_cpu = cpu_seconds(None, lambda: [lib_get(ids_for_cpu["lib"]) for _ in range(4)])
            lib_cpu /= 4 * gib
            http_cpu = cpu_seconds(
                server, lambda: [u3_get(fast, ids_for_cpu["http"]) for _ in range(4)]
            )
            http_cpu /= 4 * gib
            ceiling = Server(env, free_port(), ceiling=True)
            bare = Urllib3Client(ceiling.url, {})
            try:
                ups, downs = [], []
                for _ in range(runs):
                    ups.append(timed(size, ceiling_put, bare, buffer, size)[0])
                    downs.append(timed(size, ceiling_get, bare, size)[0])
                up, down = statistics.median(ups), statistics.median(downs)
                bare_cpu = cpu_seconds(ceiling, lambda: [ceiling_get(bare, size) for _ in range(4)])
                bare_cpu /= 4 * gib
            finally:
                bare.close()
                ceiling.stop()
            rows.append(Row(f"loopback ceiling put {size_mib} MiB (bare ASGI app)", up))
            rows.append(Row(f"loopback ceiling get {size_mib} MiB (bare ASGI app)", down))
            # What a get costs in CPU time (server + client, all threads), per GiB. The
            # library's get is CPU-bound (on an idle machine its time equals its CPU
            # time); HTTP can at best spread its CPU time over every core, so the ratio
            # it can reach is cpus x library CPU time / HTTP CPU time (perfect overlap).
            bound = (os.cpu_count() or 1) * lib_cpu / http_cpu
            rows.append(Row(f"CPU s/GiB: library get {lib_cpu:.3f}", None))
            rows.append(Row(f"CPU s/GiB: HTTP get, server + client {http_cpu:.3f}", None))
            rows.append(Row(f"CPU s/GiB: bare ASGI get, server + client {bare_cpu:.3f}", None))
            rows.append(
                Row(f"HTTP get ratio bound on {os.cpu_count()} CPUs (perfect overlap)", None, bound)
            )
            # RSS: warm up, take the baseline, then 1 GiB each way.
            http_get(client, http_put(client, subject.id, buffer, 4 * MiB))
            baseline = server.rss()
            big = rss_mib * MiB
            with RssSampler(server) as up:
                rate_up, big_id = timed(big, http_put, client, subject.id, buffer, big)
            with RssSampler(server) as down:
                rate_down, got = timed(big, http_get, client, big_id)
            assert got == big
            for label, sampler, rate in (("upload", up, rate_up), ("download", down, rate_down)):
                grew = (sampler.peak - baseline) / MiB
                rows.append(
                    Row(
                        f"RSS {label} {rss_mib} MiB: peak - baseline = {grew:.1f} MiB",
                        rate,
                        None,
                        f"<= {RSS_BOUND_MIB} MiB",
                        grew <= RSS_BOUND_MIB,
                    )
                )
    finally:
        fast.close()
        server.stop()
        vault.close()
    return rows


def server_stack() -> str:
    """What ``recvault serve`` runs on here: http "auto" (httptools if importable), asyncio."""
    import importlib.util

    http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    return f"{http}, loop asyncio"


def render(rows: list[Row]) -> str:
    out = [f"{'case':<58} {'MiB/s':>8} {'ratio':>6} {'target':>12}  result"]
    for r in rows:
        rate = f"{r.mib_per_s:.0f}" if r.mib_per_s is not None else "-"
        ratio = f"{r.ratio:.2f}" if r.ratio is not None else "-"
        out.append(f"{r.case:<58} {rate:>8} {ratio:>6} {r.target:>12}  {r.verdict}")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    tune_process()  # as `recvault serve` and `recvault worker` do at start-up
    # The CLI starts from compiled modules, as an installed wheel does (pip compiles them);
    # in a checkout under PYTHONDONTWRITEBYTECODE it would compile its modules every run.
    for package in ("vault", "keys", "api"):
        compileall.compile_dir(ROOT / package, quiet=1)
    parser = argparse.ArgumentParser(prog="python -m bench.api", description=__doc__)
    parser.add_argument("--p9-mib", type=int, default=256, help="P9 record size (MiB)")
    parser.add_argument("--curl-mib", type=int, default=1024, help="P9 (curl) record size (MiB)")
    parser.add_argument("--curl-only", action="store_true", help="P9 with curl only")
    parser.add_argument("--rss-mib", type=int, default=1024, help="RSS check size (MiB)")
    parser.add_argument("--runs", type=int, default=3, help="rounds (median counts; >= 3)")
    parser.add_argument("--dir", type=Path, default=None, help="scratch directory")
    args = parser.parse_args(argv)
    if args.runs < 3:
        parser.error("--runs must be at least 3 (the median of 3 or more rounds counts)")
    print(f"python {platform.python_version()} on {platform.platform()}, {os.cpu_count()} CPUs")
    print(f"uvicorn: http {server_stack()}")
    with (
        restored_environment(environment_names()),
        scratch_directory("recvault-bench-api-", args.dir) as scratch,
    ):
        rows = run(args.p9_mib, args.rss_mib, args.runs, scratch, args.curl_mib, args.curl_only)
    print(render(rows))
    return 0 if all(r.ok is not False for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
