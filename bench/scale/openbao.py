"""OpenBao with many subject keys: creation rate, server memory, LIST, raft and snapshot size.

Runs a real ``bao server`` with raft storage in a temporary directory (the
``recvault dev`` one, ``vault.cli.devbao.EmbeddedBao``), bootstraps Transit
mounts with the shipped bounded caches (``recvault keys bootstrap``), and creates
subject keys through recvault's own provider (``ShardedKeyProvider`` over the
mounts) from several threads. Every ``--step`` keys it prints the rate over the
step, the server's RSS (psutil) and the raft directory's size; at the end, LIST
(whole and paginated, when the server honours ``limit``/``after``) and the size of
a raft snapshot.

    python -m bench.scale.openbao --keys 30000 --mounts 2 --threads 8
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psutil

from keys.base import KeyProvider
from keys.bootstrap import bootstrap_transit
from keys.naming import subject_key_name
from keys.sharded import ShardedKeyProvider
from keys.transit import TransitKeyProvider
from vault.cli.devbao import EmbeddedBao

SECRET = b"recvault scale benchmark name secret"


def dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def memory(pid: int) -> str:
    """RSS split as the kernel counts it: anonymous (Go heap, stacks) and file-backed (the
    memory-mapped raft/bolt files, which the kernel may drop under pressure)."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("RssAnon", "RssFile"):
            fields[name] = int(value.split()[0]) * 1024
    return f"anon {mib(fields.get('RssAnon', 0))}, file {mib(fields.get('RssFile', 0))}"


def heap(addr: str, token: str) -> str:
    """The Go runtime's own view (``sys/metrics``): bytes allocated and held."""
    try:
        answer = httpx.get(f"{addr}/v1/sys/metrics", headers={"X-Vault-Token": token}, timeout=10)
        gauges = {g["Name"]: g["Value"] for g in answer.json().get("Gauges", [])}
    except (httpx.HTTPError, ValueError, KeyError):
        return "heap: n/a"
    alloc = next((v for k, v in gauges.items() if k.endswith("runtime.alloc_bytes")), 0)
    sys_bytes = next((v for k, v in gauges.items() if k.endswith("runtime.sys_bytes")), 0)
    return f"heap alloc {mib(alloc)}, runtime sys {mib(sys_bytes)}"


def mib(n: float) -> str:
    return f"{n / 2**20:8.1f} MiB"


def list_all(addr: str, token: str, mount: str) -> tuple[int, float]:
    started = time.perf_counter()
    answer = httpx.request(
        "LIST", f"{addr}/v1/{mount}/keys", headers={"X-Vault-Token": token}, timeout=120
    )
    answer.raise_for_status()
    return len(answer.json()["data"]["keys"]), time.perf_counter() - started


def list_paged(
    addr: str, token: str, mount: str, limit: int
) -> tuple[int, int, float, bool, list[float]]:
    """Walk the key list with ``limit``/``after``; (keys, pages, seconds, honoured, per page)."""
    started = time.perf_counter()
    after, seen, pages, honoured = "", 0, 0, True
    times: list[float] = []
    while True:
        page_started = time.perf_counter()
        params = {"limit": str(limit)} | ({"after": after} if after else {})
        answer = httpx.request(
            "LIST",
            f"{addr}/v1/{mount}/keys",
            params=params,
            headers={"X-Vault-Token": token},
            timeout=120,
        )
        if answer.status_code == 404:
            break
        answer.raise_for_status()
        keys = answer.json()["data"]["keys"]
        times.append(time.perf_counter() - page_started)
        pages += 1
        seen += len(keys)
        if len(keys) > limit:
            honoured = False
            break
        if len(keys) < limit:
            break
        after = keys[-1]
    return seen, pages, time.perf_counter() - started, honoured, times


def list_paged_once(addr: str, token: str, mount: str, limit: int) -> float:
    started = time.perf_counter()
    httpx.request(
        "LIST",
        f"{addr}/v1/{mount}/keys",
        params={"limit": str(limit)},
        headers={"X-Vault-Token": token},
        timeout=120,
    ).raise_for_status()
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=20_000)
    parser.add_argument("--mounts", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--step", type=int, default=5_000)
    parser.add_argument("--dir", type=Path, default=None, help="keep the server's files here")
    parser.add_argument(
        "--existing", type=int, default=0, help="with --keys 0 and a kept --dir: keys it holds"
    )
    args = parser.parse_args(argv)

    home = args.dir or Path(tempfile.mkdtemp(prefix="recvault-scale-bao-"))
    bao = EmbeddedBao(home / "bao")
    bao.start()
    try:
        assert bao.process is not None
        server = psutil.Process(bao.process.pid)
        mounts = [f"transit-jp-{i}" for i in range(args.mounts)]
        bootstrap_transit(bao.addr, bao.root_token, mounts)
        shards: dict[str, KeyProvider] = {
            m: TransitKeyProvider(bao.addr, m, token=bao.root_token, timeout=60) for m in mounts
        }
        provider = ShardedKeyProvider(shards)
        print(
            f"OpenBao {server.exe()} raft in {home}; {args.mounts} mounts, {args.threads} threads, "
            f"{os.cpu_count()} CPUs (shared); RSS at start {mib(server.memory_info().rss)}"
        )
        counter = iter(range(args.keys))
        lock = threading.Lock()

        def create(_: int) -> None:
            with lock:
                i = next(counter)
            provider.ensure_key(subject_key_name(SECRET, f"subject-{i}"))

        total_started = time.perf_counter()
        made = 0
        print(
            f"{'keys':>8} {'keys/s':>8} {'RSS':>12} {'raft dir':>12} {'server CPU s':>12}  memory"
        )
        with ThreadPoolExecutor(args.threads) as pool:
            while made < args.keys:
                step = min(args.step, args.keys - made)
                started = time.perf_counter()
                list(pool.map(create, range(step)))
                made += step
                rate = step / (time.perf_counter() - started)
                cpu = server.cpu_times()
                print(
                    f"{made:8d} {rate:8.0f} {mib(server.memory_info().rss):>12} "
                    f"{mib(dir_bytes(home / 'bao' / 'data')):>12} {cpu.user + cpu.system:12.1f}  "
                    f"{memory(server.pid)}; {heap(bao.addr, bao.root_token)}",
                    flush=True,
                )
        elapsed = time.perf_counter() - total_started
        if made:
            print(f"created {made} keys in {elapsed:.0f} s: {made / elapsed:.0f} keys/s overall")
        made = made or args.existing

        for mount in mounts[:1]:
            count, seconds = list_all(bao.addr, bao.root_token, mount)
            print(f"LIST {mount}/keys whole: {count} keys in {seconds * 1000:.0f} ms")
            seen, pages, seconds, honoured, times = list_paged(
                bao.addr, bao.root_token, mount, 1000
            )
            print(
                f"LIST {mount}/keys limit=1000: {seen} keys in {pages} pages, "
                f"{seconds * 1000:.0f} ms, pagination honoured: {honoured}; "
                f"first page {times[0] * 1000:.0f} ms, last {times[-1] * 1000:.0f} ms, "
                f"median {sorted(times)[len(times) // 2] * 1000:.0f} ms"
            )
        # does a page cost its size, or the whole list? the same page asked with a small and a
        # large limit tells (three tries each, best kept)
        for limit in (10, 10_000):
            best = min(
                list_paged_once(bao.addr, bao.root_token, mounts[0], limit) for _ in range(3)
            )
            print(f"LIST {mounts[0]}/keys one page of limit={limit}: {best * 1000:.0f} ms")
        snapshot = httpx.get(
            f"{bao.addr}/v1/sys/storage/raft/snapshot",
            headers={"X-Vault-Token": bao.root_token},
            timeout=300,
        )
        snapshot.raise_for_status()
        data_bytes = dir_bytes(home / "bao" / "data")
        print(
            f"raft snapshot: {mib(len(snapshot.content))} "
            f"({len(snapshot.content) / made:.0f} B/key); "
            f"raft directory {mib(data_bytes)} ({data_bytes / made:.0f} B/key); "
            f"RSS {mib(server.memory_info().rss)}"
        )
        print(f"memory: {memory(server.pid)}; {heap(bao.addr, bao.root_token)}")
        time.sleep(15)
        print(f"after 15 s idle: {memory(server.pid)}; {heap(bao.addr, bao.root_token)}")
    finally:
        bao.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
