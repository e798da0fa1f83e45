"""Erasure requests (DPO): accepted, then scheduled at once or deferred with every reason.

Nothing blocking: the subject key's destruction is scheduled (after the
cancellable waiting period). Otherwise the request is deferred with the
earliest date and every reason (retention, a legal hold, restriction, a
transfer between regions in progress); the sweep carries it out once
eligible.
"""

from __future__ import annotations

import json
import uuid
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime
from typing import Any

from sqlmodel import col, select

from vault.context import Refusal, VaultContext, require_region
from vault.domain import (
    OPEN_ERASURE,
    TRANSFER_REASON,
    Actor,
    ErasureDecision,
    ErasureStatus,
    Reason,
    SubjectState,
    to_json,
)
from vault.erasure.decisions import done_destruction
from vault.erasure.destruction import (
    open_destruction,
    open_request,
    reasons,
    subject_decision,
)
from vault.metadata import ErasureRequestRow, session_scope
from vault.residency.leases import running_transfer
from vault.retention.disposal import Disposal


def _decision(row: ErasureRequestRow, destruction_id: str | None = None) -> ErasureDecision:
    # an executed request keeps no reasons (rows executed before that was so still hold some)
    executed = row.status == ErasureStatus.EXECUTED
    stored = [] if executed else json.loads(row.reasons or "[]")
    return ErasureDecision(
        request_id=row.id,
        subject_id=row.subject_id,
        status=ErasureStatus(row.status),
        earliest=row.earliest_at,
        reasons=tuple(_reason(r) for r in stored),
        destruction_id=destruction_id,
    )


def _reason(stored: dict[str, Any]) -> Reason:
    until = stored.get("until")
    return Reason(**{**stored, "until": datetime.fromisoformat(until) if until else None})


def _transfer_reason(to_region: str) -> Reason:
    return Reason(
        kind=TRANSFER_REASON,
        detail=f"being transferred to {to_region}; erasure is scheduled when it is done",
    )


def _reasons_json(items: tuple[Reason, ...]) -> str:
    return json.dumps(to_json(items))


class ErasureRequests:
    def __init__(self, ctx: VaultContext, disposal: Disposal) -> None:
        self.ctx = ctx
        self.disposal = disposal

    def request_erasure(self, subject_id: str, actor: Actor) -> ErasureDecision:
        now = self.ctx.clock()
        with (
            self.ctx.audit_refusal(actor, "erasure.request", subject_id) as note,
            session_scope(self.ctx.engine) as session,
        ):
            subject = self.ctx.subject(session, subject_id, for_update=True)
            note.about(subject)
            self.ctx.check_access(subject, actor, data=False)
            existing = open_request(session, subject_id)
            decision = subject_decision(session, subject, now)
            moving = running_transfer(session, subject_id)
            row = existing or ErasureRequestRow(
                id=uuid.uuid4().hex,
                subject_id=subject_id,
                requested_by=actor.name,
                requested_at=now,
                status=ErasureStatus.DEFERRED,
            )
            why = reasons(decision.blocks)
            if moving is not None:
                why = (*why, _transfer_reason(moving.to_region))
            row.reasons = _reasons_json(why)
            row.earliest_at = decision.earliest if not decision.disposable else now
            session.add(row)
            accepted = decision.disposable and moving is None
            outcome = "accepted" if accepted else "deferred"
            self.ctx.audit.about(
                session,
                actor,
                "erasure.request",
                subject,
                target=row.id,
                outcome=outcome + (":transfer-in-progress" if moving is not None else ""),
            )
        if accepted:
            self.disposal.schedule(subject_id, "erasure-request", actor)
        return self.erasure_status(subject_id, actor, audit=False)

    def erasure_status(self, subject_id: str, actor: Actor, audit: bool = True) -> ErasureDecision:
        refusals: AbstractContextManager[Refusal] = (
            self.ctx.audit_refusal(actor, "erasure.status", subject_id)
            if audit
            else nullcontext(Refusal())
        )
        with refusals as note, session_scope(self.ctx.engine) as session:
            subject = self.ctx.subject(session, subject_id)
            note.about(subject)
            require_region(actor, subject.region)
            row = session.exec(
                select(ErasureRequestRow)
                .where(ErasureRequestRow.subject_id == subject_id)
                .order_by(col(ErasureRequestRow.requested_at).desc())
            ).first()
            if row is None:
                # the subject's erasure state is "none requested": a state, not a missing thing
                if audit:
                    self.ctx.audit.about(
                        session, actor, "erasure.status", subject, target=subject_id
                    )
                return ErasureDecision(None, subject_id, ErasureStatus.NONE, None)
            destruction = open_destruction(session, subject_id)
            if row.status == ErasureStatus.EXECUTED:
                # carried out: the destruction's certificate answers, not the old deferral
                destruction = done_destruction(session, subject_id)
            if row.status in OPEN_ERASURE and subject.state == SubjectState.ACTIVE:
                # answer with today's reasons, not the ones from the day it was filed
                decision = subject_decision(session, subject, self.ctx.clock())
                if destruction is None:
                    row.status = ErasureStatus.DEFERRED if not decision.disposable else row.status
                    why = reasons(decision.blocks)
                    moving = running_transfer(session, subject_id)
                    if moving is not None:
                        why = (*why, _transfer_reason(moving.to_region))
                    row.reasons = _reasons_json(why)
                    row.earliest_at = decision.earliest or row.earliest_at
                else:
                    row.earliest_at = destruction.not_before
                session.add(row)
            if audit:
                self.ctx.audit.about(
                    session,
                    actor,
                    "erasure.status",
                    subject,
                    target=row.id,
                )
            return _decision(row, destruction.id if destruction else None)
