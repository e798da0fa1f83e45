"""Whole-record reads on every core: warm and cold ``open_record`` of 1 GiB vs a plain read.

Run from the repository root: ``python -m bench.reads [--gib N] [--rounds N]``.

One record of ``--gib`` GiB (local stores, local keys, SQLite) and a plain file
of the same size; cases alternate in every round (order rotated), median of
``--rounds`` rounds:

- warm: after a buffered read has cached the file, a plain read (1 MiB
  ``readinto``, the baseline), ``open_record`` as shipped (``[limits]
  decrypt_threads``' default: each read's segments decrypt in a lane of the
  shared pool, one thread at a time, while the reading thread reads the next),
  ``open_record`` decrypting on the reading thread (``decrypt_threads = 0``, the
  path before) and, for information, each segment handed to a pool of one
  thread per core (the path before that). Target: shipped / plain >= 0.8.
- cold: the page cache dropped for both files first; the same cases.
  Target: shipped not slower than the reading thread (ratio >= 0.9, printed
  with the rounds).
- RSS of this process, sampled every 5 ms during a cold and a warm read, over
  the RSS just before: <= 64 MiB.
- Ceiling (information): what AES-256-GCM decryption alone allows on this
  machine, ``cpus x`` one thread's rate over 1 MiB segments, as a share of the
  plain warm read.

The load average (``os.getloadavg()``) is printed before and after: on a shared
machine, a run during which it exceeds the core count measures the neighbours.
"""

from __future__ import annotations

import argparse
import os
import platform
import secrets
import statistics
import sys
import threading
import time
import timeit
from collections.abc import Callable
from pathlib import Path

import psutil

from bench.api import environment, environment_names
from bench.common import restored_environment, scratch_directory
from bench.records import drop_cache, interleaved_times, plain_read
from vault.pools import shared_pool
from vault.storage import tune_process

MIB = 1 << 20
GIB = 1 << 30
WARM_TARGET = 0.8
RSS_BOUND_MIB = 64


class Source:
    """``total`` bytes from one reused 1 MiB buffer."""

    def __init__(self, total: int, block: bytes) -> None:
        self.left, self.block = total, block

    def read(self, n: int = -1) -> bytes:
        if self.left <= 0:
            return b""
        take = min(self.left, len(self.block), n if n > 0 else len(self.block))
        self.left -= take
        return self.block[:take]


def decrypt_ceiling() -> float:
    """MiB/s of one thread's AES-256-GCM decryption of 1 MiB segments, times the cores."""
    from vault.crypto import AesGcm

    aead = AesGcm(secrets.token_bytes(32))
    nonce = bytes(12)
    sealed = aead.encrypt(nonce, os.urandom(MIB))
    best = min(timeit.repeat(lambda: aead.decrypt(nonce, sealed), number=64, repeat=5)) / 64
    return (os.cpu_count() or 1) / best


def peak_rss_growth(action) -> float:  # type: ignore[no-untyped-def]
    me = psutil.Process()
    baseline = me.memory_info().rss
    peak = baseline
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, me.memory_info().rss)
            time.sleep(0.005)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        action()
    finally:
        done.set()
        sampler.join()
    return (max(peak, me.memory_info().rss) - baseline) / MIB


def run(total: int, rounds: int, scratch: Path) -> list[tuple[str, float, float | None, str]]:
    import vault.records.reads as reads
    from vault import RecordVault, Settings
    from vault.metadata.migrate import upgrade

    env = environment(scratch)
    os.environ.update(env)
    settings = Settings.load()
    upgrade(settings.database.url)
    vault = RecordVault.from_settings(settings)
    block = os.urandom(MIB)
    subject = vault.create_subject("bench-reads", "JP")
    record = vault.put_record(subject.id, "impression", Source(total, block), size=total)  # type: ignore[arg-type]
    plain = scratch / "plain.bin"
    with plain.open("wb") as out:
        for _ in range(total // MIB):
            out.write(block)
    os.sync()
    store = vault.regions["JP"].store
    objects = [store.root / o.key for o in store.list("JP/")]  # type: ignore[attr-defined]
    shipped = reads._decrypt
    cores = max(1, min(4, os.cpu_count() or 1))

    def read_record() -> None:
        with vault.open_record(record.id, actor="bench-reader") as reader:
            for _ in reader.iter_chunks():
                pass

    def read_with(decrypt) -> Callable[[], None]:  # type: ignore[no-untyped-def]
        def read() -> None:
            reads._decrypt = decrypt
            try:
                read_record()
            finally:
                reads._decrypt = shipped

        return read

    serial_record = read_with(lambda threads: None)
    pool_record = read_with(lambda threads: shared_pool(f"decrypt-{cores}", cores))

    def cold() -> None:
        for path in [plain, *objects]:
            drop_cache(path)

    def warm() -> None:
        for path in [plain, *objects]:
            plain_read(path)

    read_record()  # warm up, and start the pools' threads
    serial_record()
    pool_record()
    times = interleaved_times(
        {
            "warm plain": (lambda: plain_read(plain), warm),
            "warm shipped": (read_record, warm),
            "warm serial": (serial_record, warm),
            "warm pool": (pool_record, warm),
            "cold plain": (lambda: plain_read(plain), cold),
            "cold shipped": (read_record, cold),
            "cold serial": (serial_record, cold),
            "cold pool": (pool_record, cold),
        },
        rounds,
    )
    med = {k: statistics.median(v) for k, v in times.items()}
    mib = total / MIB
    rate = {k: mib / v for k, v in med.items()}
    cold()
    rss_cold = peak_rss_growth(read_record)
    warm()
    rss_warm = peak_rss_growth(read_record)
    ceiling = decrypt_ceiling()
    vault.close()
    each = {k: ", ".join(f"{mib / t:.0f}" for t in v) for k, v in times.items()}
    rows: list[tuple[str, float, float | None, str]] = [
        ("warm plain read (baseline), MiB/s", rate["warm plain"], None, ""),
        (
            "warm open_record as shipped, MiB/s",
            rate["warm shipped"],
            rate["warm shipped"] / rate["warm plain"],
            f">= {WARM_TARGET}",
        ),
        (
            "warm open_record on the reading thread (before), MiB/s",
            rate["warm serial"],
            rate["warm serial"] / rate["warm plain"],
            "info",
        ),
        (
            f"warm open_record, each segment to a pool of {cores}, MiB/s",
            rate["warm pool"],
            rate["warm pool"] / rate["warm plain"],
            "info",
        ),
        ("cold plain read, MiB/s", rate["cold plain"], None, ""),
        (
            "cold open_record as shipped / plain",
            rate["cold shipped"],
            rate["cold shipped"] / rate["cold plain"],
            "info",
        ),
        (
            "cold open_record on the reading thread / plain",
            rate["cold serial"],
            rate["cold serial"] / rate["cold plain"],
            "info",
        ),
        (
            f"cold open_record, each segment to a pool of {cores} / plain",
            rate["cold pool"],
            rate["cold pool"] / rate["cold plain"],
            "info",
        ),
        (
            "cold open_record, shipped / reading thread",
            rate["cold shipped"],
            rate["cold shipped"] / rate["cold serial"],
            ">= 0.9",
        ),
        (
            "warm open_record, shipped / reading thread",
            rate["warm shipped"],
            rate["warm shipped"] / rate["warm serial"],
            "info",
        ),
        (f"AES-GCM decrypt ceiling, {os.cpu_count()} cores, MiB/s", ceiling, None, ""),
        ("ceiling / warm plain read", ceiling, ceiling / rate["warm plain"], "info"),
        ("RSS growth, cold 1 record read (MiB)", rss_cold, None, f"<= {RSS_BOUND_MIB}"),
        ("RSS growth, warm 1 record read (MiB)", rss_warm, None, f"<= {RSS_BOUND_MIB}"),
    ]
    for name, values in each.items():
        print(f"  rounds, {name}: {values} MiB/s")
    return rows


def verdict(value: float, ratio: float | None, target: str) -> str:
    if not target or target == "info":
        return ""
    op, limit = target.split()
    measured = ratio if ratio is not None else value
    ok = measured >= float(limit) if op == ">=" else measured <= float(limit)
    return "pass" if ok else "FAIL"


def main(argv: list[str] | None = None) -> int:
    tune_process()
    parser = argparse.ArgumentParser(prog="python -m bench.reads", description=__doc__)
    parser.add_argument("--gib", type=float, default=1.0, help="record size (GiB)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (median)")
    parser.add_argument("--dir", type=Path, default=None, help="scratch directory")
    args = parser.parse_args(argv)
    print(f"python {platform.python_version()} on {platform.platform()}, {os.cpu_count()} CPUs")
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    with (
        restored_environment(environment_names()),
        scratch_directory("recvault-bench-reads-", args.dir) as scratch,
    ):
        rows = run(int(args.gib * GIB) // MIB * MIB, args.rounds, scratch)
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    print(f"{'case':52} {'value':>10} {'ratio':>7} {'target':>8}  result")
    failures = 0
    for case, value, ratio, target in rows:
        result = verdict(value, ratio, target)
        failures += result == "FAIL"
        ratio_text = f"{ratio:7.2f}" if ratio is not None else "       "
        print(f"{case:52} {value:10.2f} {ratio_text} {target:>8}  {result}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
