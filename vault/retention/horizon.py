"""The disposal horizon: how many live records reach their retain-until date in each year.

Counts only (no ids): a picture of when retention ends, per region the caller
is granted. Reading it is not processing; it is audited as a metadata read.
"""

from __future__ import annotations

from sqlalchemy import extract, func
from sqlmodel import col, select

from vault.context import VaultContext
from vault.domain import Actor, RecordState
from vault.metadata import RecordRow, SubjectRow, session_scope


def retention_horizon(ctx: VaultContext, actor: Actor) -> dict[str, dict[int, int]]:
    """Region → year → live records whose ``retain_until`` falls in that year (UTC)."""
    granted = ctx.granted(actor)
    year = extract("year", col(RecordRow.retain_until))
    counts: dict[str, dict[int, int]] = {region: {} for region in granted}
    with session_scope(ctx.engine) as session:
        rows = session.exec(
            select(SubjectRow.region, year, func.count())
            .join(SubjectRow, col(SubjectRow.id) == col(RecordRow.subject_id))
            .where(RecordRow.state == RecordState.ACTIVE)
            .where(col(SubjectRow.region).in_(granted))
            .group_by(SubjectRow.region, year)
        ).all()
        for region, when, count in rows:
            counts[region][int(when)] = int(count)
        ctx.audit.append(
            session,
            actor=actor,
            action="retention.horizon",
            outcome=f"records:{sum(sum(c.values()) for c in counts.values())}",
        )
    return counts
