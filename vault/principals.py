"""Principals: who may call recvault, with which roles, in which regions.

Tokens are 256-bit random strings shown once at creation; the DB keeps only
their SHA-256 (enough for high-entropy secrets), looked up by hash and
compared in constant time. A disabled principal cannot authenticate.

A verified token is trusted for ``TOKEN_CACHE_SECONDS`` without another DB
lookup (each request authenticates; under load the lookup was a transaction
per request, docs/benchmarks.md, P10). Only successful lookups are kept, by the
token's hash, never the token; disabling a principal forgets its entries in
this process at once, and another process (a second server) refuses it at
most ``TOKEN_CACHE_SECONDS`` later.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeGuard

from sqlalchemy import exc as sa_exc
from sqlmodel import col, select

from vault.context import VaultContext
from vault.domain import SYSTEM, Actor, Role
from vault.errors import Conflict, InvalidInput, NotFound, Unauthenticated
from vault.metadata import PrincipalRow, read_scope, session_scope
from vault.paging import DEFAULT_LIMIT, Page, after, check_limit, cut, scope

TOKEN_PREFIX = "rvt_"  # noqa: S105  (a prefix, not a secret)
#: names of principals signed in through the [auth.oidc] provider start with this
SSO_PREFIX = "oidc:"


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


#: seconds a verified token is trusted without a DB lookup (see the module docstring)
TOKEN_CACHE_SECONDS = 5.0
#: verified tokens kept at most (least recently used go first)
TOKEN_CACHE_SIZE = 1024


class VerifiedTokens:
    """Principals of recently verified tokens, by token hash, each for ``ttl`` seconds."""

    def __init__(
        self,
        ttl: float | None = None,
        size: int = TOKEN_CACHE_SIZE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        # read at construction, so a deployment may set TOKEN_CACHE_SECONDS first
        self.ttl = TOKEN_CACHE_SECONDS if ttl is None else ttl
        self.size, self._clock = size, clock
        self._entries: OrderedDict[str, tuple[float, Principal]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, digest: str) -> Principal | None:
        with self._lock:
            entry = self._entries.get(digest)
            if entry is None:
                return None
            if self._clock() >= entry[0]:
                del self._entries[digest]
                return None
            self._entries.move_to_end(digest)
            return entry[1]

    def put(self, digest: str, principal: Principal) -> None:
        if self.ttl <= 0:
            return
        with self._lock:
            self._entries[digest] = (self._clock() + self.ttl, principal)
            self._entries.move_to_end(digest)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def forget(self, principal_id: str) -> None:
        with self._lock:
            for digest in [d for d, (_, p) in self._entries.items() if p.id == principal_id]:
                del self._entries[digest]


def _well_formed(token: str | None) -> TypeGuard[str]:
    return token is not None and token.startswith(TOKEN_PREFIX) and len(token) <= 200


class Principals:
    def __init__(self, ctx: VaultContext) -> None:
        self.ctx = ctx
        self.verified = VerifiedTokens()

    def add(
        self, name: str, roles: list[str], regions: list[str] | None, actor: Actor
    ) -> tuple[Principal, str]:
        """Create a principal; return it and its token (shown only this once)."""
        name = name.strip()
        if not name or len(name) > 200:
            raise InvalidInput("principal name must be 1 to 200 characters")
        if not name.isprintable() or any(c.isspace() for c in name):
            # names are shown in the audit log, the access log and tables: none may pass
            # for another (spaces, bidi marks) or carry a terminal's control sequences
            raise InvalidInput(
                "principal name must be printable, without spaces or control characters"
            )
        if name.startswith(SSO_PREFIX):
            # the names of principals signed in through the identity provider (ADR 0008)
            raise InvalidInput(f"principal names starting with {SSO_PREFIX!r} are reserved")
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
        self.verified.forget(row.id)
        return _to_principal(row)

    def authenticate(self, token: str | None) -> Principal:
        if not _well_formed(token):
            raise Unauthenticated("a valid bearer token is required")
        return self.authenticate_hash(token_hash(token))

    def recently_verified(self, token: str | None) -> Principal | None:
        """The principal of a token verified in the last ``TOKEN_CACHE_SECONDS``, if any.

        No DB access (the API asks on its event loop first); ``None`` means "ask
        ``authenticate``", never "refused".
        """
        if not _well_formed(token):
            return None
        return self.verified.get(token_hash(token))

    def authenticate_hash(self, wanted: str) -> Principal:
        """The live principal of a token's SHA-256 (a session re-checks its principal with it)."""
        known = self.verified.get(wanted)
        if known is not None:
            return known
        with read_scope(self.ctx.engine) as session:
            row = session.exec(
                select(PrincipalRow).where(PrincipalRow.token_hash == wanted)
            ).first()
        if row is None or not hmac.compare_digest(row.token_hash, wanted) or row.disabled:
            raise Unauthenticated("a valid bearer token is required")
        principal = _to_principal(row)
        self.verified.put(wanted, principal)
        return principal
