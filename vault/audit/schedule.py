"""Sign audit checkpoints every ``audit.checkpoint_interval`` on a background thread.

The API process and ``recvault worker`` each run one. A failure is logged
(codes and seqs only, never a name or an identifier) and retried at the next
interval; nothing here can end the process. ``state`` says what the last
attempt found, for ``/readyz``: ``pending``, ``ok``, ``idle``, ``chain-broken``
(tampering found: nothing signed), ``unavailable`` or ``error``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from vault.domain import AuditCheckpoint
from vault.durations import Duration
from vault.errors import IntegrityError, Unavailable, VaultError

log = logging.getLogger("recvault.audit")


def interval_seconds(interval: Duration) -> float:
    """A calendar duration as seconds (from a fixed start, so the answer is stable)."""
    start = datetime(2000, 1, 1, tzinfo=UTC)
    return max(1.0, (interval.after(start) - start).total_seconds())


class CheckpointSchedule:
    """Call ``write`` now and then every ``seconds`` until ``stop``."""

    def __init__(
        self, write: Callable[[], AuditCheckpoint | None], seconds: float, name: str = "api"
    ) -> None:
        self._write = write
        self._seconds = seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._loop, name=f"recvault-audit-checkpoints-{name}", daemon=True
        )
        self.state = "pending"

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def run_once(self) -> str:
        """One attempt; returns (and keeps) the new state."""
        try:
            written = self._write()
            self.state = "ok" if written is not None else "idle"
            if written is not None:
                log.info("audit checkpoint signed at event %d", written.seq)
        except IntegrityError:
            self.state = "chain-broken"  # already logged and audited by the writer
        except VaultError as exc:
            self.state = "unavailable" if isinstance(exc, Unavailable) else "error"
            log.warning("audit checkpoint not written (%s); retrying next interval", exc.code)
        except Exception as exc:  # never let a checkpoint end the server
            self.state = "error"
            log.error("audit checkpoint failed (%s); retrying next interval", type(exc).__name__)
        return self.state

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.run_once()
            self._stop.wait(self._seconds)
