"""Disposal: plan what may go, then sweep: erase records alone or crypto-shred whole subjects.

``plan`` looks at candidates only: records whose retention has passed,
subjects with an open erasure request, and scheduled destructions. Each gets
a decision with every reason it must be kept. ``sweep`` executes the plan:
a record past retention whose subject keeps other live records is erased
alone (objects deleted, DEKs wiped, subject key resealed); a subject whose
records may all go gets its key destruction scheduled after a cancellable
waiting period; due destructions destroy the key, wipe the DEKs, delete the
objects and store a signed certificate; shredded remnants (objects a store
kept under Object Lock after their key was destroyed) are deleted once their
lock lapses. Workers claim rows with ``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, so concurrent sweeps act once. A subject being transferred between
regions is kept, with that reason, until the transfer is done (ADR 0014).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable, Sequence
from datetime import datetime

from sqlalchemy import or_
from sqlmodel import Session, col, select

from vault.domain import (
    OPEN_ERASURE,
    SYSTEM,
    TRANSFER_REASON,
    Actor,
    DisposalAction,
    DisposalItem,
    DisposalKind,
    DisposalPlan,
    Reason,
    RecordState,
    SubjectState,
    SweepResult,
)
from vault.erasure.destruction import (
    Destructions,
    open_destruction,
    open_request,
    open_requests,
    reasons,
    subject_decision,
)
from vault.erasure.remnants import sweep_remnants
from vault.erasure.reseal import erase_records
from vault.metadata import (
    DisposalApprovalRow,
    ErasureRequestRow,
    RecordRow,
    SubjectRow,
    session_scope,
)
from vault.paging import check_limit, cut, scope
from vault.residency.leases import running_transfer
from vault.retention.holds import active_holds
from vault.retention.object_lock import extend_locks
from vault.retention.rules import RecordFacts, decide_record


class Disposal(Destructions):
    """Planning and sweeping; scheduling and executing destructions come from the base."""

    # -- planning ----------------------------------------------------------------

    def plan(self, actor: Actor, as_of: datetime | None = None) -> DisposalPlan:
        """The disposal plan of the regions ``actor`` is granted (audited: it names subjects)."""
        plan = self._plan(self.ctx.granted(actor), as_of)
        self.ctx.audit.record(
            actor=actor, action="disposal.plan", outcome=f"items:{len(plan.items)}"
        )
        return plan

    def plan_page(
        self, actor: Actor, as_of: datetime | None, limit: int, cursor: str | None
    ) -> DisposalPlan:
        """One page of the plan, by ``(subject_id, item id)``; every page is as of one instant.

        The first page fixes ``as_of`` (now, unless given) and its cursor carries it, so
        the following pages judge the same instant.
        """
        check_limit(limit)
        listing = scope("disposal-plan", actor.name, as_of=as_of)
        shape = (datetime, str, str)
        position = self.ctx.position(actor, "disposal.plan", listing, cursor, shape)
        now = position[0] if position else (as_of or self.ctx.clock())
        assert isinstance(now, datetime)
        start = (str(position[1]), str(position[2])) if position else None
        items = self._plan_window(self.ctx.granted(actor), now, start, limit + 1)
        page = cut(items, limit, lambda i: (now, i.subject_id, i.id), self.ctx.cursors, listing)
        self.ctx.audit.record(
            actor=actor, action="disposal.plan", outcome=f"items:{len(page.items)}"
        )
        return DisposalPlan(now, self.ctx.settings.destruction.review, page.items, page.next)

    def _plan_window(
        self, regions: Sequence[str], now: datetime, start: tuple[str, str] | None, wanted: int
    ) -> list[DisposalItem]:
        """At least ``wanted`` plan items after ``start`` (when there are), in page order."""
        items: list[DisposalItem] = []
        last = start[0] if start else None
        inclusive = start is not None
        with session_scope(self.ctx.engine) as session:
            approved = self._approvals(session)
            while len(items) < wanted:
                batch = _candidates(session, regions, now, last, inclusive, wanted)
                if not batch:
                    break
                for subject_id in batch:
                    subject = session.get(SubjectRow, subject_id)
                    if subject is None:
                        continue
                    due = _due(session, subject_id, now)
                    found = self._plan_one(session, subject, due, now, approved)
                    found.sort(key=lambda i: i.id)
                    if start is not None and subject_id == start[0]:
                        found = [i for i in found if i.id > start[1]]
                    items.extend(found)
                    if len(items) >= wanted:
                        break
                last, inclusive = batch[-1], False
        return items

    def plan_for(self, actor: Actor, ids: Collection[str]) -> DisposalPlan:
        """The plan's items of the subjects ``ids`` name (subject or record ids), as of now.

        What approving a few items needs, without judging every candidate: a subject
        enters exactly as it would enter the whole plan (live, in a granted region,
        with a record due or an open erasure request). Audited like ``plan``.
        """
        regions = self.ctx.granted(actor)
        now = self.ctx.clock()
        items: list[DisposalItem] = []
        with session_scope(self.ctx.engine) as session:
            approved = self._approvals(session)
            named = set(ids)
            owners = session.exec(
                select(RecordRow.subject_id).where(col(RecordRow.id).in_(named))
            ).all()
            wanted = named | set(owners)
            for subject_id in _candidates(session, regions, now, None, False, None, wanted):
                subject = session.get(SubjectRow, subject_id)
                if subject is not None:
                    items.extend(
                        self._plan_one(
                            session, subject, _due(session, subject_id, now), now, approved
                        )
                    )
        self.ctx.audit.record(actor=actor, action="disposal.plan", outcome=f"items:{len(items)}")
        return DisposalPlan(now, self.ctx.settings.destruction.review, tuple(items))

    def _plan(self, regions: Sequence[str], as_of: datetime | None = None) -> DisposalPlan:
        now = as_of or self.ctx.clock()
        items: list[DisposalItem] = []
        with session_scope(self.ctx.engine) as session:
            approved = self._approvals(session)
            due = session.exec(
                select(RecordRow)
                .where(RecordRow.state == RecordState.ACTIVE)
                .where(col(RecordRow.retain_until) <= now)
            ).all()
            requested = session.exec(open_requests()).all()
            candidates = sorted({r.subject_id for r in due} | {r.subject_id for r in requested})
            for subject_id in candidates:
                subject = session.get(SubjectRow, subject_id)
                if subject is None or subject.state != SubjectState.ACTIVE:
                    continue
                if subject.region not in regions:
                    continue
                items.extend(self._plan_one(session, subject, due, now, approved))
        return DisposalPlan(now, self.ctx.settings.destruction.review, tuple(items))

    def _plan_one(
        self,
        session: Session,
        subject: SubjectRow,
        due: Iterable[RecordRow],
        now: datetime,
        approved: set[str],
    ) -> list[DisposalItem]:
        """A candidate subject's items: kept whole while it is being transferred."""
        moving = running_transfer(session, subject.id)
        if moving is None:
            return self._plan_subject(session, subject, due, now, approved)
        why = (
            Reason(
                kind=TRANSFER_REASON,
                detail=f"being transferred to {moving.to_region}; "
                "disposal waits until the transfer is done",
            ),
        )
        return [_subject_item(subject.id, False, DisposalAction.KEEP, why, approved)]

    def _plan_subject(
        self,
        session: Session,
        subject: SubjectRow,
        due: Iterable[RecordRow],
        now: datetime,
        approved: set[str],
    ) -> list[DisposalItem]:
        """The subject as a whole when all of it may go, else each of its records due."""
        decision = subject_decision(session, subject, now)
        scheduled = open_destruction(session, subject.id)
        requested = open_request(session, subject.id) is not None
        automatic = self.ctx.settings.destruction.automatic
        if decision.disposable and (automatic or requested):
            if scheduled is None:
                action = DisposalAction.SCHEDULE_DESTRUCTION
            elif scheduled.not_before <= now:
                action = DisposalAction.DESTROY
            else:
                action = DisposalAction.AWAIT_WAITING_PERIOD
            return [_subject_item(subject.id, True, action, (), approved)]
        items = []
        if requested or scheduled:
            kept = reasons(decision.blocks)
            items.append(_subject_item(subject.id, False, DisposalAction.KEEP, kept, approved))
        holds = active_holds(session, subject.id)
        for record in (r for r in due if r.subject_id == subject.id):
            verdict = decide_record(
                RecordFacts(record.id, record.retain_until),
                holds,
                subject.id,
                subject.restricted,
                now,
            )
            erase = verdict.disposable and automatic
            items.append(
                DisposalItem(
                    DisposalKind.RECORD,
                    record.id,
                    subject.id,
                    erase,
                    DisposalAction.ERASE_RECORD if erase else DisposalAction.KEEP,
                    reasons(verdict.blocks),
                    record.id in approved,
                )
            )
        return items

    @staticmethod
    def _approvals(session: Session) -> set[str]:
        rows = session.exec(
            select(DisposalApprovalRow.target_id).where(col(DisposalApprovalRow.used_at).is_(None))
        ).all()
        return set(rows)

    def approve(self, plan: DisposalPlan, actor: Actor, ids: Iterable[str] | None = None) -> int:
        """Review mode: compliance approves disposable items of a plan (all, or ``ids``)."""
        wanted = set(ids) if ids is not None else None
        granted = self.ctx.granted(actor)
        count = 0
        with session_scope(self.ctx.engine) as session:
            for item in plan.disposable:
                if wanted is not None and item.id not in wanted:
                    continue
                subject = session.get(SubjectRow, item.subject_id)
                if subject is None or subject.region not in granted:
                    continue  # a plan made for another principal: not this one's to approve
                session.add(
                    DisposalApprovalRow(
                        id=uuid.uuid4().hex,
                        kind=item.kind,
                        target_id=item.id,
                        approved_by=actor.name,
                        approved_at=self.ctx.clock(),
                    )
                )
                self.ctx.audit.about(session, actor, "disposal.approve", subject, target=item.id)
                count += 1
        return count

    # -- sweeping ----------------------------------------------------------------

    def sweep(self, actor: Actor = SYSTEM) -> SweepResult:
        """Dispose of what may go in the regions ``actor`` is granted."""
        regions = self.ctx.granted(actor)
        executed, blocked = self.execute_due(actor, regions)
        plan = self._plan(regions)
        review = self.ctx.settings.destruction.review
        erased: dict[str, list[str]] = {}
        scheduled = awaiting = 0
        for item in plan.disposable:
            if review and not item.approved:
                awaiting += 1
                continue
            if item.action == DisposalAction.ERASE_RECORD:
                erased.setdefault(item.subject_id, []).append(item.id)
            elif (
                item.action == DisposalAction.SCHEDULE_DESTRUCTION
                and self.schedule(item.subject_id, "retention-passed", actor) is not None
            ):
                scheduled += 1
            if review:
                self._use_approval(item.id)
        records_erased = erase_records(self.ctx, erased, actor)
        more_executed, more_blocked = self.execute_due(actor, regions)
        extended = extend_locks(self.ctx, regions)
        remnants_deleted, remnants_locked = sweep_remnants(self.ctx, regions, actor)
        in_transfer = sum(
            1 for item in plan.items if any(r.kind == TRANSFER_REASON for r in item.reasons)
        )
        return SweepResult(
            remnants_deleted=remnants_deleted,
            remnants_locked=remnants_locked,
            subjects_in_transfer=in_transfer,
            retention_locks_extended=extended,
            records_erased=records_erased,
            destructions_scheduled=scheduled,
            destructions_executed=executed + more_executed,
            destructions_blocked=blocked + more_blocked,
            awaiting_approval=awaiting,
        )

    def _use_approval(self, target_id: str) -> None:
        with session_scope(self.ctx.engine) as session:
            for row in session.exec(
                select(DisposalApprovalRow)
                .where(DisposalApprovalRow.target_id == target_id)
                .where(col(DisposalApprovalRow.used_at).is_(None))
            ).all():
                row.used_at = self.ctx.clock()
                session.add(row)


def _due(session: Session, subject_id: str, now: datetime) -> Sequence[RecordRow]:
    """The subject's live records whose retention has passed by ``now``."""
    return session.exec(
        select(RecordRow)
        .where(RecordRow.subject_id == subject_id)
        .where(RecordRow.state == RecordState.ACTIVE)
        .where(col(RecordRow.retain_until) <= now)
    ).all()


def _candidates(
    session: Session,
    regions: Sequence[str],
    now: datetime,
    after_id: str | None,
    inclusive: bool,
    count: int | None,
    among: Collection[str] | None = None,
) -> list[str]:
    """Live subjects of ``regions`` (``among`` these, if given) with a record due or an
    open erasure request, by id."""
    due = (
        select(RecordRow.subject_id)
        .where(RecordRow.state == RecordState.ACTIVE)
        .where(col(RecordRow.retain_until) <= now)
    )
    requested = select(ErasureRequestRow.subject_id).where(
        col(ErasureRequestRow.status).in_(OPEN_ERASURE)
    )
    query = (
        select(SubjectRow.id)
        .where(SubjectRow.state == SubjectState.ACTIVE)
        .where(col(SubjectRow.region).in_(regions))
        .where(or_(col(SubjectRow.id).in_(due), col(SubjectRow.id).in_(requested)))
        .order_by(col(SubjectRow.id))
        .limit(count)
    )
    if among is not None:
        query = query.where(col(SubjectRow.id).in_(among))
    if after_id is not None:
        query = query.where(
            col(SubjectRow.id) >= after_id if inclusive else col(SubjectRow.id) > after_id
        )
    return list(session.exec(query).all())


def _subject_item(
    subject_id: str,
    disposable: bool,
    action: DisposalAction,
    why: tuple[Reason, ...],
    approved: set[str],
) -> DisposalItem:
    return DisposalItem(
        DisposalKind.SUBJECT,
        subject_id,
        subject_id,
        disposable,
        action,
        why,
        subject_id in approved,
    )
