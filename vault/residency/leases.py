"""Which subjects a transfer holds, and the lease that lets one process run a transfer.

Other jobs ask ``transfer_in_progress`` under the subject's row lock before
they act on a subject (ADR 0014): sweeps keep the subject's records and do not
schedule its destruction, rotation defers its job, an erasure request is
deferred. A transfer itself runs under a lease (``claim``/``renew``/
``release``): a second call while the first runs is refused with ``Conflict``;
a runner that vanished is taken over once its lease is older than ``LEASE``.
Imports only ``vault.metadata`` and ``vault.domain``, so every concept package
may ask.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlmodel import Session, select

from vault.domain import TransferState
from vault.errors import Conflict
from vault.metadata import TransferRow

#: a transfer whose runner has not reported for this long is taken over
LEASE = timedelta(minutes=15)


def running_transfer(session: Session, subject_id: str) -> TransferRow | None:
    """The subject's transfer that has not finished, if any."""
    return session.exec(
        select(TransferRow)
        .where(TransferRow.subject_id == subject_id)
        .where(TransferRow.state != TransferState.DONE)
    ).first()


def transfer_in_progress(session: Session, subject_id: str) -> bool:
    """True while a transfer of the subject has not finished (writes are refused)."""
    return running_transfer(session, subject_id) is not None


def new_runner() -> str:
    """An id for one run of a transfer (one call, in one thread of one process)."""
    return uuid.uuid4().hex[:16]


def claim(row: TransferRow, runner: str, now: datetime) -> None:
    """Take the transfer for ``runner``: refused while another runner's lease is fresh.

    The caller holds the subject's row lock, so two callers never both see it free.
    """
    held = row.claimed_by not in (None, runner) and row.claimed_at is not None
    if held and row.claimed_at is not None and row.claimed_at > now - LEASE:
        raise Conflict(
            f"transfer {row.id} of subject {row.subject_id} is running in another "
            f"process (since {row.claimed_at.isoformat()}); retry later"
        )
    row.claimed_by, row.claimed_at = runner, now


def renew(row: TransferRow, runner: str, now: datetime) -> None:
    """Renew ``runner``'s lease; refused when another runner took the transfer over."""
    if row.claimed_by != runner:
        raise Conflict(f"transfer {row.id} was taken over by another process; this run stops")
    row.claimed_at = now
