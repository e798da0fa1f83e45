"""``recvault worker``: run disposal sweeps periodically, in-process (no HTTP, no token).

Sweeps are idempotent and safe to run from several workers at once (DESIGN
section 7), so a deployment scales this by running more of it. Each sweep
prints one JSON line; SIGTERM ends the worker between sweeps. Alongside, a
thread signs an audit checkpoint every ``audit.checkpoint_interval``
(``vault.audit.schedule``); racing writers sign identical files.
"""

from __future__ import annotations

import json
import signal
import threading
from datetime import UTC, datetime
from types import FrameType
from typing import Annotated

import typer

from vault.cli.app import app
from vault.cli.server import ConfigOpt
from vault.domain import Actor, Role, to_json
from vault.durations import Duration
from vault.errors import InvalidInput, Unavailable

WORKER = Actor("sweep-worker", frozenset({Role.COMPLIANCE}))
CHECKPOINTER = Actor("audit-checkpoints", frozenset({Role.COMPLIANCE}))


@app.command("worker")
def worker(
    interval: Annotated[
        str, typer.Option("--interval", help="ISO 8601 duration between sweeps")
    ] = "PT1H",
    once: Annotated[
        bool, typer.Option("--once", help="run one sweep and exit (1 when it failed)")
    ] = False,
    config: ConfigOpt = None,
) -> None:
    """Run retention sweeps every --interval until stopped (SIGTERM or Ctrl-C)."""
    from vault.audit.schedule import CheckpointSchedule, interval_seconds
    from vault.service import RecordVault
    from vault.settings import Settings
    from vault.storage import tune_process

    seconds = _seconds(interval)
    settings = Settings.load(config)
    tune_process(settings.limits.tune_allocator)
    vault = RecordVault.from_settings(settings)
    stop = threading.Event()
    checkpoints = CheckpointSchedule(
        lambda: vault.audit_checkpoint(actor=CHECKPOINTER, only_if_new=True),
        interval_seconds(settings.audit.checkpoint_interval),
        name="worker",
    )

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, on_signal)
    if once:
        checkpoints.run_once()
    else:
        checkpoints.start()
    failed = False
    try:
        while not stop.is_set():
            try:
                result = vault.sweep(actor=WORKER)
                line = {"ts": datetime.now(UTC).isoformat(), "sweep": to_json(result)}
                failed = False
            except Unavailable as exc:  # a dependency is down: try again next round
                line = {"ts": datetime.now(UTC).isoformat(), "error": exc.message}
                failed = True
            print(json.dumps(line), flush=True)
            if once:
                break
            stop.wait(seconds)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        checkpoints.stop()
        vault.close()
    if once and failed:
        # a scheduler running one sweep (cron, a Kubernetes CronJob) must see it did not happen
        raise typer.Exit(1)


def _seconds(interval: str) -> float:
    duration = Duration.parse(interval)
    start = datetime(2000, 1, 1, tzinfo=UTC)
    seconds = (duration.after(start) - start).total_seconds()
    if seconds < 1:
        raise InvalidInput("--interval must be at least one second")
    return seconds
