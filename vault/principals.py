"""Principals: who may call recvault, with which roles, in which regions.

Tokens are 256-bit random strings shown once at creation; the DB keeps only
their SHA-256 (enough for high-entropy secrets), looked up by hash and
compared in constant time. A disabled principal cannot authenticate.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import exc as sa_exc
from sqlmodel import col, select

from vault.context import VaultContext
from vault.domain import SYSTEM, Actor, Role
from vault.errors import Conflict, InvalidInput, NotFound, Unauthenticated
from vault.metadata import PrincipalRow, session_scope
from vault.paging import DEFAULT_LIMIT, Page, after, check_limit, cut, scope

TOKEN_PREFIX = "rvt_"  # noqa: S105  (a prefix, not a secret)


@dataclass(frozen=True)
class Principal:
    id: str
    name: str
    roles: tuple[Role, ...]
    regions: tuple[str, ...] | None
    disabled: bool
    created_at: datetime

    def actor(self) -> Actor:
        return Actor(
            self.name,
            frozenset(self.roles),
            frozenset(self.regions) if self.regions is not None else None,
        )


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _to_principal(row: PrincipalRow) -> Principal:
    regions = None if row.regions == "*" else tuple(r for r in row.regions.split(",") if r)
    return Principal(
        id=row.id,
        name=row.name,
        roles=tuple(Role(r) for r in row.roles.split(",") if r),
        regions=regions,
        disabled=row.disabled,
        created_at=row.created_at,
    )


class Principals:
    def __init__(self, ctx: VaultContext) -> None:
        self.ctx = ctx

    def add(
        self, name: str, roles: list[str], regions: list[str] | None, actor: Actor
    ) -> tuple[Principal, str]:
        """Create a principal; return it and its token (shown only this once)."""
        name = name.strip()
        if not name or len(name) > 200:
            raise InvalidInput("principal name must be 1 to 200 characters")
        try:
            parsed = sorted({Role(r) for r in roles}, key=lambda r: r.value)
        except ValueError:
            raise InvalidInput(f"roles must be among {', '.join(r.value for r in Role)}") from None
        if not parsed:
            raise InvalidInput("at least one role is required")
        if regions is not None:
            for region in regions:
                self.ctx.region(region)
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        row = PrincipalRow(
            id=uuid.uuid4().hex,
            name=name,
            roles=",".join(r.value for r in parsed),
            regions="*" if regions is None else ",".join(sorted(set(regions))),
            token_hash=token_hash(token),
            disabled=False,
            created_at=self.ctx.clock(),
        )
        try:
            with session_scope(self.ctx.engine) as session:
                session.add(row)
                session.flush()
                self.ctx.audit.append(session, actor=actor, action="principal.add", target=row.id)
        except sa_exc.IntegrityError:
            raise Conflict(f"a principal named {name!r} already exists") from None
        return _to_principal(row), token

    def list(self, actor: Actor = SYSTEM) -> list[Principal]:
        """Every principal, by name (``page`` reads them a page at a time)."""
        return list(self._listing(actor, None, None).items)

    def page(
        self, actor: Actor = SYSTEM, limit: int = DEFAULT_LIMIT, cursor: str | None = None
    ) -> Page[Principal]:
        """One page of principals by name (keyset: the unique name)."""
        return self._listing(actor, check_limit(limit), cursor)

    def _listing(self, actor: Actor, limit: int | None, cursor: str | None) -> Page[Principal]:
        listing = scope("principals", actor.name)
        position = self.ctx.position(actor, "principal.list", listing, cursor, (str,))
        order = (col(PrincipalRow.name),)
        with session_scope(self.ctx.engine) as session:
            query = select(PrincipalRow).order_by(*order)
            if (keyset := after(order, position)) is not None:
                query = query.where(keyset)
            if limit is not None:
                query = query.limit(limit + 1)
            rows = session.exec(query).all()
            self.ctx.audit.append(session, actor=actor, action="principal.list")
        found = [_to_principal(r) for r in rows]
        if limit is None:
            return Page(tuple(found))
        return cut(found, limit, lambda p: (p.name,), self.ctx.cursors, listing)

    def disable(self, name: str, actor: Actor) -> Principal:
        with session_scope(self.ctx.engine) as session:
            row = session.exec(select(PrincipalRow).where(PrincipalRow.name == name)).first()
            if row is None:
                raise NotFound(f"no principal named {name!r}")
            row.disabled = True
            session.add(row)
            self.ctx.audit.append(session, actor=actor, action="principal.disable", target=row.id)
        return _to_principal(row)

    def authenticate(self, token: str | None) -> Principal:
        if not token or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            raise Unauthenticated("a valid bearer token is required")
        wanted = token_hash(token)
        with session_scope(self.ctx.engine) as session:
            row = session.exec(
                select(PrincipalRow).where(PrincipalRow.token_hash == wanted)
            ).first()
        if row is None or not hmac.compare_digest(row.token_hash, wanted) or row.disabled:
            raise Unauthenticated("a valid bearer token is required")
        return _to_principal(row)
