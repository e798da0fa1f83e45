"""What the benchmark modules share: a scratch directory with settings in the environment,
and a vault with a service token and one subject."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vault import RecordVault
    from vault.domain import Subject


@contextmanager
def restored_environment(names: Iterable[str]) -> Iterator[None]:
    """Put back the environment variables ``names`` as they were (unset stays unset)."""
    saved = {k: os.environ.get(k) for k in names}
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextmanager
def scratch_directory(prefix: str, where: Path | None = None) -> Iterator[Path]:
    """A new directory under ``where`` (the system's temporary one by default), removed after."""
    scratch = Path(tempfile.mkdtemp(prefix=prefix, dir=where))
    try:
        yield scratch
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def service_vault(subject_ref: str) -> tuple[RecordVault, str, Subject]:
    """The vault of the environment's settings (migrated first), a service principal's
    token, and a JP subject."""
    from vault import RecordVault, Settings
    from vault.domain import Actor, Role
    from vault.metadata.migrate import upgrade

    settings = Settings.load()
    upgrade(settings.database.url)
    vault = RecordVault.from_settings(settings)
    _, token = vault.principals.add("bench", ["service"], None, Actor("bench", frozenset(Role)))
    return vault, token, vault.create_subject(subject_ref, "JP")


def process_tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) of process ``pid`` and its child processes so far."""
    import psutil

    root = psutil.Process(pid)
    total = 0.0
    for process in [root, *root.children(recursive=True)]:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:  # a worker that ended meanwhile
            continue
        total += times.user + times.system
    return total


def memory_rates(mib: int = 256, rounds: int = 3) -> tuple[float, float]:
    """GB/s, best of ``rounds``, of a copy of ``mib`` MiB in this process and of the kernel
    filling a 1 MiB buffer from /dev/zero ``mib`` times: how fast this machine moves bytes
    right now, in user space and in the kernel (which does every socket and page-cache
    copy). On a shared host either moves by up to 10x from minute to minute (0.5-20 GB/s
    seen on one 2-vCPU machine), and every streaming figure moves with it."""
    import time

    source = bytearray(mib << 20)
    target = bytearray(mib << 20)
    block = memoryview(bytearray(1 << 20))
    user = kernel = float("inf")
    with open("/dev/zero", "rb", buffering=0) as zero:
        for _ in range(rounds):
            started = time.perf_counter()
            target[:] = source
            user = min(user, time.perf_counter() - started)
            started = time.perf_counter()
            for _ in range(mib):
                zero.readinto(block)
            kernel = min(kernel, time.perf_counter() - started)
    return (mib << 20) / user / 1e9, (mib << 20) / kernel / 1e9
