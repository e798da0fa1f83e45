"""Annotated dependencies: the vault, the authenticated principal, the authorized actor.

``authorize`` runs on every ``/v1`` route (it is a router dependency): it
authenticates the bearer token, looks the route up in the permission matrix,
and audits each refusal before answering 403. Handlers then take
``AuthorizedActor``, which FastAPI resolves once per request.

These dependencies are ``async``: FastAPI runs a plain ``def`` dependency on the
thread pool, one hand-off each. A token verified in the last
``TOKEN_CACHE_SECONDS`` is checked on the event loop (a dict lookup); only a
DB lookup, an OIDC verification or a refusal's audit event goes to a thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.logs import PRINCIPAL_KEY
from api.metrics import ApiMetrics
from api.oidc import OidcVerifier, authenticate_jwt, looks_like_jwt
from api.permissions import allowed
from vault.domain import Actor
from vault.errors import PermissionDenied, Unauthenticated
from vault.paging import DEFAULT_LIMIT, MAX_CURSOR_CHARS, MAX_LIMIT
from vault.principals import Principal
from vault.service import RecordVault
from vault.spans import AUTH, span

bearer = HTTPBearer(
    auto_error=False,
    description="a recvault token (rvt_...), or an access token of [auth.oidc]'s issuer",
)


async def get_vault(request: Request) -> RecordVault:
    vault: RecordVault = request.app.state.vault
    return vault


async def get_metrics(request: Request) -> ApiMetrics:
    metrics: ApiMetrics = request.app.state.metrics
    return metrics


VaultDep = Annotated[RecordVault, Depends(get_vault)]
MetricsDep = Annotated[ApiMetrics, Depends(get_metrics)]


async def current_principal(
    request: Request,
    vault: VaultDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    if credentials is None:
        raise Unauthenticated("a valid bearer token is required")
    if len(request.headers.getlist("authorization")) > 1:
        # which one counts would be a guess (a proxy may check one, the API use another)
        raise Unauthenticated("send one Authorization header, not several")
    token = credentials.credentials
    verifier: OidcVerifier | None = getattr(request.app.state, "oidc", None)
    with span(AUTH):
        if verifier is not None and looks_like_jwt(token):
            return await run_in_threadpool(authenticate_jwt, verifier, vault, token)
        known = vault.principals.recently_verified(token)
        if known is not None:
            return known
        return await run_in_threadpool(vault.principals.authenticate, token)


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


async def authorize(request: Request, vault: VaultDep, principal: CurrentPrincipal) -> Actor:
    """The principal's actor, if the permission matrix lets its roles call this route."""
    actor = principal.actor()
    setattr(request.state, PRINCIPAL_KEY, actor.name)  # for the access line
    route = request.scope.get("route")
    name = getattr(route, "name", "")
    if not allowed(name, actor.roles):
        params = request.path_params
        target = next(iter(params.values()), "") if params else ""
        await run_in_threadpool(vault.audit_refusal, actor, f"api.{name or 'unknown'}", str(target))
        raise PermissionDenied(f"{actor.name} may not call {name or 'this route'}")
    return actor


AuthorizedActor = Annotated[Actor, Depends(authorize)]


@dataclass(frozen=True)
class PageParams:
    """``limit`` and ``cursor`` of a paged list (docs/api.md, Paging)."""

    limit: int
    cursor: str | None


# async: pure parsing, so FastAPI runs it on the event loop instead of a thread-pool hop
async def page_params(
    limit: Annotated[
        int,
        Query(ge=1, le=MAX_LIMIT, description=f"items per page (default {DEFAULT_LIMIT})"),
    ] = DEFAULT_LIMIT,
    cursor: Annotated[
        str | None,
        Query(
            description="the previous page's `next`; omitted: the first page. "
            f"Opaque; one that was altered or is not this list's is refused (400, "
            f"invalid-cursor; at most {MAX_CURSOR_CHARS} characters)"
        ),
    ] = None,
) -> PageParams:
    return PageParams(limit, cursor)


PageDep = Annotated[PageParams, Depends(page_params)]
