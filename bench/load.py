"""P10: small records at load, over HTTP against the library, on SQLite and PostgreSQL.

Run from the repository root: ``python -m bench.load [--seconds 60] [--db sqlite,postgres]``.

For each database: an OpenBao dev server (Transit), local stores, ``recvault
serve`` in a subprocess. 16 clients each alternate a put of a new 256 KiB
record (into a subject of their own) and a get of a seeded 256 KiB record
(read to the end), for ``--seconds``: first through the library (16 threads
calling ``put_record`` / ``open_record`` in this process), then over HTTP (16
threads, one kept-alive ``http.client`` connection each), then both again
(``--rounds``). Reported per side: operations/s, p50 and p99 latency, errors;
the ratio HTTP/library per round. Targets: ratio >= 0.6, HTTP p99 <= 10x p50,
0 errors.

The breakdown of an HTTP request's time comes from the server's own spans
(``vault.spans``, ``recvault_request_span_seconds`` on ``/metrics``): mean
milliseconds per request in authentication, DB transactions (which include the
audit append), the audit append, Transit calls and the object store.

PostgreSQL: the machine's server at 127.0.0.1:5432 (``RECVAULT_TEST_PG``), a
schema of its own for the run, dropped at the end. The load average is printed
before and after each side: on a shared 2-core machine a load above 2 measures
the neighbours too. The client threads burn CPU on the same cores as the server;
their CPU seconds are printed.
"""

from __future__ import annotations

import argparse
import http.client
import os
import platform
import random
import re
import resource
import secrets
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.api import environment_names
from bench.common import process_tree_cpu, restored_environment, scratch_directory
from vault.cli.devbao import free_port
from vault.storage import tune_process

KiB = 1024
RECORD = 256 * KiB
CLIENTS = 16
SEEDED = 64
RATIO_TARGET = 0.6
TAIL_TARGET = 10.0
ROOT = Path(__file__).resolve().parents[1]
PG_BASE = os.environ.get("RECVAULT_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
TOKEN_ENV = "RECVAULT_BENCH_LOAD_TOKEN"
SPANS = ("auth", "db", "audit", "keys", "store")


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def drive(op: Callable[[int, int], None], seconds: float) -> Tally:
    """``CLIENTS`` threads call ``op(client, n)`` until ``seconds`` have passed."""
    tally = Tally()
    lock = threading.Lock()
    start = threading.Barrier(CLIENTS + 1)
    deadline = [0.0]

    def client(index: int) -> None:
        start.wait()
        n = 0
        mine: list[float] = []
        errors: list[str] = []
        while time.perf_counter() < deadline[0]:
            began = time.perf_counter()
            try:
                op(index, n)
            except Exception as exc:  # counted, and the first few printed
                errors.append(f"{type(exc).__name__}: {str(exc)[:120]}")
            else:
                mine.append(time.perf_counter() - began)
            n += 1
        with lock:
            tally.latencies += mine
            tally.errors += errors

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    deadline[0] = time.perf_counter() + seconds
    began = time.perf_counter()
    start.wait()
    for thread in threads:
        thread.join()
    tally.seconds = time.perf_counter() - began
    return tally


def write_config(scratch: Path, db_url: str, addr: str) -> dict[str, str]:
    lines = [f'[database]\nurl = "{db_url}"\n']
    lines.append(
        '[regions.JP]\nlocation = "ap-northeast-1"\n'
        f'[regions.JP.store]\nkind = "local"\npath = "{scratch / "jp"}"\n'
        f'[regions.JP.keys]\nkind = "vault"\naddr = "{addr}"\nmount = "transit-jp"\n'
        f'token_env = "{TOKEN_ENV}"\n'
    )
    (scratch / "recvault.toml").write_text("\n".join(lines))
    return {
        "RECVAULT_CONFIG": str(scratch / "recvault.toml"),
        "RECVAULT_NAME_SECRET": secrets.token_hex(32),
        "RECVAULT_SIGNING_KEY": secrets.token_hex(32),
        "RECVAULT_MASTER_KEY": secrets.token_hex(32),
    }


def span_sums(url: str) -> tuple[dict[str, float], dict[str, float]]:
    """Span seconds and request counts per route, from the server's /metrics."""
    text = httpx.get(f"{url}/metrics", timeout=30).text
    spans: dict[str, float] = {}
    counts: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("recvault_request_span_seconds_total{"):
            labels = dict(re.findall(r'(\w+)="([^"]*)"', line))
            key = f"{labels['route']}:{labels['span']}"
            spans[key] = spans.get(key, 0.0) + float(line.rsplit(" ", 1)[1])
        elif line.startswith("recvault_http_requests_total{"):
            labels = dict(re.findall(r'(\w+)="([^"]*)"', line))
            counts[labels["route"]] = counts.get(labels["route"], 0.0) + float(
                line.rsplit(" ", 1)[1]
            )
    return spans, counts


def cpu_now() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    return own.ru_utime + own.ru_stime


def run_one(
    db: str, seconds: float, rounds: int, scratch: Path, addr: str, workers: int = 1
) -> list[str]:
    from vault import RecordVault, Settings
    from vault.domain import Actor, Role
    from vault.metadata.migrate import upgrade

    schema = ""
    if db == "postgres":
        from sqlalchemy import create_engine, text

        schema = "bench_" + uuid.uuid4().hex[:12]
        admin = create_engine(PG_BASE, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        db_url = f"{PG_BASE}?options=-csearch_path%3D{schema}"
    else:
        db_url = f"sqlite:///{scratch / 'meta.db'}"
    out: list[str] = []
    label = db if workers == 1 else f"{db} ({workers} API processes)"
    env = write_config(scratch, db_url, addr)
    os.environ.update(env)
    server: subprocess.Popen[bytes] | None = None
    try:
        settings = Settings.load()
        upgrade(settings.database.url)
        vault = RecordVault.from_settings(settings)
        _, token = vault.principals.add("bench", ["service"], None, Actor("bench", frozenset(Role)))
        subjects = [vault.create_subject(f"load-{db}-{i}", "JP").id for i in range(CLIENTS)]
        body = os.urandom(RECORD)
        seeded = [
            vault.put_record(subjects[i % CLIENTS], "photo", body, content_type="image/jpeg").id
            for i in range(SEEDED)
        ]
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from vault.cli import main; main()",
                "serve",
                "--port",
                str(port),
                "--workers",
                str(workers),
            ],
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 120  # a loaded machine starts it slowly
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("recvault serve did not start")
            time.sleep(0.1)

        def lib_op(client: int, n: int) -> None:
            if n % 2 == 0:
                vault.put_record(subjects[client], "photo", body, content_type="image/jpeg")
            else:
                with vault.open_record(random.choice(seeded)) as reader:
                    got = sum(len(c) for c in reader.iter_chunks())
                if got != RECORD:
                    raise RuntimeError(f"read {got} bytes")

        connections = [
            http.client.HTTPConnection("127.0.0.1", port, timeout=60) for _ in range(CLIENTS)
        ]
        auth = {"Authorization": f"Bearer {token}"}

        def http_op(client: int, n: int) -> None:
            conn = connections[client]
            try:
                http_call(conn, client, n)
            except Exception:
                conn.close()  # the next request starts on a new connection
                raise

        def http_call(conn: http.client.HTTPConnection, client: int, n: int) -> None:
            if n % 2 == 0:
                conn.request(
                    "POST",
                    f"/v1/subjects/{subjects[client]}/records?category=photo",
                    body=body,
                    headers={**auth, "Content-Type": "image/jpeg"},
                )
                response = conn.getresponse()
                answer = response.read()
                if response.status != 201:
                    raise RuntimeError(f"put {response.status} {answer[:100]!r}")
            else:
                conn.request("GET", f"/v1/records/{random.choice(seeded)}/content", headers=auth)
                response = conn.getresponse()
                got = len(response.read())
                if response.status != 200 or got != RECORD:
                    raise RuntimeError(f"get {response.status}, {got} bytes")

        # warm-up: connections open, the server's pools and caches filled
        for i in range(CLIENTS):
            http_op(i, 1)
            lib_op(i, 1)
        before_spans, before_counts = span_sums(url)
        http_cpu = 0.0
        cpu_spent = {"lib": 0.0, "http": 0.0}  # the library's process / the server's
        results: dict[str, list[Tally]] = {"lib": [], "http": []}
        shown = len(out)
        for _ in range(rounds):
            for side, op in (("lib", lib_op), ("http", http_op)):
                load = os.getloadavg()[0]
                for conn in connections:
                    conn.close()  # idle through the other side's turn: the server closed them
                cpu = cpu_now()
                served = process_tree_cpu(server.pid)
                tally = drive(op, seconds)
                if side == "http":
                    http_cpu += cpu_now() - cpu
                    cpu_spent["http"] += process_tree_cpu(server.pid) - served
                else:
                    cpu_spent["lib"] += cpu_now() - cpu
                results[side].append(tally)
                p50 = tally.pct(0.5) * 1000
                out.append(
                    f"  {label} {side:4}: {tally.rate():7.1f} ops/s, p50 {p50:6.1f} ms,"
                    f" p99 {tally.pct(0.99) * 1000:7.1f} ms, errors {len(tally.errors)}"
                    f" (load {load:.2f} -> {os.getloadavg()[0]:.2f})"
                )
                for error in tally.errors[:3]:
                    out.append(f"    error: {error}")
                print(*out[shown:], sep="\n", flush=True)
                shown = len(out)
        after_spans, after_counts = span_sums(url)
        for conn in connections:
            conn.close()
        vault.close()
        ratios = [
            h.rate() / lib.rate() for h, lib in zip(results["http"], results["lib"], strict=True)
        ]
        tails = [h.pct(0.99) / h.pct(0.5) if h.latencies else float("inf") for h in results["http"]]
        errors = sum(len(t.errors) for t in results["http"] + results["lib"])
        ops = sum(len(t.latencies) for t in results["http"])
        out.append(
            f"  {label}: HTTP client threads used {http_cpu / max(ops, 1) * 1000:.2f} ms CPU per op"
        )
        lib_ops = sum(len(t.latencies) for t in results["lib"])
        per_op = {
            side: spent / max(n, 1) * 1000
            for (side, spent), n in zip(cpu_spent.items(), (lib_ops, ops), strict=True)
        }
        out.append(
            f"  {label}: CPU per op, library process {per_op['lib']:.2f} ms, server process(es)"
            f" {per_op['http']:.2f} ms ({per_op['http'] / max(per_op['lib'], 1e-9):.2f}x;"
            " OpenBao and PostgreSQL not counted)"
        )
        out.append(
            f"P10 {label} HTTP/library ops/s, per round: "
            + ", ".join(f"{r:.2f}" for r in ratios)
            + f"  (target >= {RATIO_TARGET}: {'pass' if min(ratios) >= RATIO_TARGET else 'FAIL'})"
        )
        out.append(
            f"P10 {label} HTTP p99/p50, per round: "
            + ", ".join(f"{t:.1f}" for t in tails)
            + f"  (target <= {TAIL_TARGET:g}: {'pass' if max(tails) <= TAIL_TARGET else 'FAIL'})"
        )
        out.append(f"P10 {label} errors: {errors}  (target 0: {'pass' if errors == 0 else 'FAIL'})")
        for route in ("records.create", "records.content"):
            count = after_counts.get(route, 0.0) - before_counts.get(route, 0.0)
            parts = []
            for name in SPANS:
                key = f"{route}:{name}"
                spent = after_spans.get(key, 0.0) - before_spans.get(key, 0.0)
                parts.append(f"{name} {spent / max(count, 1) * 1000:.1f}")
            out.append(f"  {label} {route} mean ms per request ({count:.0f}): " + ", ".join(parts))
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=20)
        if schema:
            with admin.connect() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()
    return out


def main(argv: list[str] | None = None) -> int:
    tune_process()
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__)
    parser.add_argument("--seconds", type=float, default=60.0, help="seconds per side and round")
    parser.add_argument("--rounds", type=int, default=2, help="library/HTTP rounds")
    parser.add_argument("--db", default="sqlite,postgres", help="sqlite, postgres or both")
    parser.add_argument("--dir", type=Path, default=None, help="scratch directory")
    parser.add_argument(
        "--pg-workers",
        default="1,2",
        help="API processes (recvault serve --workers) to run the PostgreSQL side with, "
        "each in turn",
    )
    args = parser.parse_args(argv)
    from keys.bootstrap import bootstrap_transit
    from tests.fixtures.bao import running_bao_server

    print(f"python {platform.python_version()} on {platform.platform()}, {os.cpu_count()} CPUs")
    lines: list[str] = []
    with restored_environment((TOKEN_ENV, *environment_names())), running_bao_server() as bao:
        bootstrap_transit(bao.addr, bao.root_token, ["transit-jp"])
        os.environ[TOKEN_ENV] = bao.root_token
        for db in args.db.split(","):
            counts = [int(n) for n in args.pg_workers.split(",")] if db == "postgres" else [1]
            for workers in counts:
                with scratch_directory(f"recvault-bench-load-{db}-", args.dir) as scratch:
                    lines += run_one(db, args.seconds, args.rounds, scratch, bao.addr, workers)
    print("summary:")
    print(
        "\n".join(
            line
            for line in lines
            if " ops/s, p50 " not in line and not line.startswith("    error:")
        )
    )
    return 1 if any("FAIL" in line for line in lines) else 0


if __name__ == "__main__":
    sys.exit(main())
