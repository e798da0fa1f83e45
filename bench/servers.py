"""ASGI servers side by side: uvicorn (what ``recvault serve`` runs), granian and hypercorn.

Run from the repository root: ``python -m bench.servers [--mib N] [--runs N]``.

Issue 21 asks whether another ASGI server removes what HTTP adds to a 1 GiB
transfer. Each server runs, in a subprocess, (a) a bare ASGI app that streams
a constant 1 MiB buffer and discards uploads (``bench.servers:bare``: what the
server alone costs) and (b) recvault's own app (``api.app:build``, the factory
``recvault serve`` uses, SQLite and local stores as ``bench.api``). curl (a C
client) gets and puts ``--mib`` MiB; for every case the wall time and the
server's CPU seconds per GiB (psutil, the server process and its children, all
threads) are printed, medians of ``--runs`` rounds with every round shown, and
the library's own CPU per GiB for the same get and put in this process, so the
rows read as "server CPU / library CPU" as P9 does.

Servers: uvicorn with recvault's options (httptools, asyncio, 1 MiB socket
reads: ``vault.cli.server.server_options``); granian (Rust, hyper) with one
worker, ``--interface asgi``; hypercorn with one worker. Information only: no
target here; the choice and its reasons are ADR 0016.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from bench.api import (
    CURL,
    RepeatingStream,
    Server,
    chunks_of,
    curl_get,
    curl_put,
    environment,
    environment_names,
    process_cpu,
)
from bench.common import process_tree_cpu, restored_environment, scratch_directory, service_vault
from vault.cli.devbao import free_port
from vault.storage import tune_process

MiB = 1024 * 1024
BUFFER = b"x" * MiB


async def bare(scope, receive, send):  # type: ignore[no-untyped-def]
    """Streams ``?N`` bytes of a constant buffer; reads and drops an upload."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    if scope["method"] == "POST":
        while (await receive()).get("more_body", False):
            pass
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b'{"id": "-"}'})
        return
    size = int(scope["query_string"] or b"0")
    length = str(size).encode()
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", length)]}
    )
    for _ in range(size // MiB):
        await send({"type": "http.response.body", "body": BUFFER, "more_body": True})
    await send({"type": "http.response.body", "body": b""})


def command(server: str, target: str, port: int) -> list[str]:
    """The command line that serves ``target`` (``module:attr``, a factory for recvault)."""
    factory = target == "api.app:build"
    if server == "uvicorn":
        if factory:
            return [sys.executable, "-m", "vault.cli", "serve", "--port", str(port)]
        return [
            sys.executable,
            "-c",
            "import uvicorn, sys; from vault.cli.server import server_options;"
            "from vault.settings import Settings;"
            f"uvicorn.run({target!r}, host='127.0.0.1', port={port},"
            " **server_options(Settings.load()))",
        ]
    if server == "granian":
        return [
            sys.executable,
            "-m",
            "granian",
            "--interface",
            "asgi",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "--log-level",
            "warning",
            *(["--factory"] if factory else []),
            target,
        ]
    if server == "hypercorn":
        app = f"{target}()" if factory else target
        return [sys.executable, "-m", "hypercorn", "--bind", f"127.0.0.1:{port}", app]
    raise ValueError(server)


class Running(Server):
    """``server`` serving ``target`` in a subprocess."""

    def __init__(self, server: str, target: str, env: dict[str, str]) -> None:
        port = free_port()
        super().__init__(env, port, command=command(server, target, port))

    def cpu(self) -> float:
        """CPU seconds of the server process and its children (granian's worker)."""
        return process_tree_cpu(self.process.pid)


def bare_get(url: str, size: int) -> None:
    subprocess.run(
        [CURL, "-sS", "--fail", "-o", "/dev/null", f"{url}/?{size}"],
        check=True,
        capture_output=True,
    )


def bare_put(url: str, source: Path) -> None:
    subprocess.run(
        [CURL, "-sS", "--fail", "-X", "POST", "-T", str(source), "-H", "Expect:", f"{url}/"],
        check=True,
        capture_output=True,
    )


def rounds(running: Running, action: Callable[[], object], runs: int) -> tuple[list, list]:
    walls, cpus = [], []
    for _ in range(runs):
        cpu, started = running.cpu(), time.perf_counter()
        action()
        walls.append(time.perf_counter() - started)
        cpus.append(running.cpu() - cpu)
    return walls, cpus


def run(size: int, runs: int, scratch: Path, servers: list[str]) -> list[str]:
    env = environment(scratch)
    os.environ.update(env)
    vault, token, subject = service_vault("bench-servers")
    block = os.urandom(MiB)
    record_id = vault.put_record(
        subject.id,
        "impression",
        RepeatingStream(block, size),  # type: ignore[arg-type]
        size=size,
    ).id
    source = scratch / "source.bin"
    with source.open("wb") as out:
        for chunk in chunks_of(block, size):
            out.write(chunk)
    source.read_bytes()
    gib = size / (1024 * MiB)

    def lib_get() -> None:
        with vault.open_record(record_id) as reader:
            for _ in reader.iter_chunks():
                pass

    def lib_put() -> None:
        vault.put_record(subject.id, "impression", RepeatingStream(block, size), size=size)  # type: ignore[arg-type]

    lines = []
    for name, action in (("get", lib_get), ("put", lib_put)):
        cpus = []
        for _ in range(runs):
            before = process_cpu(None)
            action()
            cpus.append(process_cpu(None) - before)
        lines.append(f"library {name}: CPU {statistics.median(cpus) / gib:.2f} s/GiB")
    lines.append(f"{'server':<10} {'app':<9} {'op':<4} {'wall s':>8} {'CPU s/GiB':>10}  rounds")
    for server in servers:
        for app, target in (("bare", "bench.servers:bare"), ("recvault", "api.app:build")):
            running = Running(server, target, env)
            try:
                url = running.url
                cases: dict[str, Callable[[], object]] = (
                    {"get": partial(bare_get, url, size), "put": partial(bare_put, url, source)}
                    if app == "bare"
                    else {
                        "get": partial(curl_get, url, token, record_id),
                        "put": partial(curl_put, url, token, subject.id, source),
                    }
                )
                for op, action in cases.items():
                    action()  # warm: connections, caches, the decrypt pool
                    walls, cpus = rounds(running, action, runs)
                    each = ", ".join(f"{w:.2f}/{c:.2f}" for w, c in zip(walls, cpus, strict=True))
                    lines.append(
                        f"{server:<10} {app:<9} {op:<4} {statistics.median(walls):>8.2f} "
                        f"{statistics.median(cpus) / gib:>10.2f}  wall/CPU s: {each}"
                    )
                    print(lines[-1], flush=True)
            finally:
                running.stop()
    vault.close()
    return lines


def main(argv: list[str] | None = None) -> int:
    tune_process()
    parser = argparse.ArgumentParser(prog="python -m bench.servers", description=__doc__)
    parser.add_argument("--mib", type=int, default=1024, help="transfer size (MiB)")
    parser.add_argument("--runs", type=int, default=3, help="rounds (median counts)")
    parser.add_argument(
        "--servers", default="uvicorn,granian,hypercorn", help="comma-separated servers"
    )
    args = parser.parse_args(argv)
    print(f"python {platform.python_version()} on {platform.platform()}, {os.cpu_count()} CPUs")
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    with (
        restored_environment(environment_names()),
        scratch_directory("recvault-bench-servers-") as scratch,
    ):
        lines = run(args.mib * MiB, args.runs, scratch, args.servers.split(","))
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
