"""Key rotations started from the console: one running per region, in a thread of the process.

The vault's rotation is resumable (its jobs live in the metadata DB), so a run
cut short by a restart is finished by the next run or the sweep.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime

from vault.domain import Actor
from vault.errors import Conflict, VaultError
from vault.rotation.report import RotationReport
from vault.service import RecordVault


@dataclass
class RotationRun:
    region: str
    started_by: str
    started_at: datetime
    state: str = "running"  # running, done, failed
    report: RotationReport | None = None
    error: str = ""


@dataclass
class Rotations:
    """The newest rotation run per region in this process."""

    runs: dict[str, RotationRun] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self, vault: RecordVault, region: str, actor: Actor) -> RotationRun:
        with self.lock:
            current = self.runs.get(region)
            if current is not None and current.state == "running":
                raise Conflict(f"a rotation of {region} is already running")
            run = RotationRun(region, actor.name, vault.clock())
            self.runs[region] = run

        def rotate() -> None:
            try:
                run.report = vault.rotate_keys(region, actor=actor)
                run.state = "failed" if run.report.failures else "done"
            except VaultError as exc:
                run.error, run.state = exc.message, "failed"
            except Exception:
                run.error, run.state = "internal error", "failed"

        threading.Thread(target=rotate, name=f"console-rotate-{region}", daemon=True).start()
        return run
