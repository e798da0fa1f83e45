"""Restriction of processing (DPO): a restricted subject's data is neither read nor written.

While restricted, services are refused every data read and write and
metadata of the subject; the DPO (who handles the request) can still read
and export, and the subject's records are never disposed of: the person
asked for restriction instead of erasure (DESIGN section 7).
"""

from __future__ import annotations

from vault.context import VaultContext
from vault.domain import Actor
from vault.metadata import session_scope


def set_restriction(ctx: VaultContext, subject_id: str, restricted: bool, actor: Actor) -> None:
    action = "subject.restrict" if restricted else "subject.unrestrict"
    with (
        ctx.audit_refusal(actor, action, subject_id) as note,
        session_scope(ctx.engine) as session,
    ):
        subject = ctx.subject(session, subject_id, for_update=True)
        note.about(subject)
        ctx.check_access(subject, actor, data=False)
        subject.restricted = restricted
        session.add(subject)
        ctx.audit.about(session, actor, action, subject)
