"""Sign-in with a recvault token, sign-out, and the overview of the pages a person may use."""

from __future__ import annotations

import hmac
import secrets

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from api.console.sessions import COOKIE, CSRF_FIELD, SIGN_IN_COOKIE, Expired
from api.console.web import (
    PREFIX,
    CheckedForm,
    ConsoleDep,
    ConsoleRoute,
    Signed,
    form_of,
    page_headers,
    render,
    signed_in,
)
from api.oidc_login import provider_sign_out
from vault.errors import NotFound, Unauthenticated
from vault.principals import token_hash

router = APIRouter(route_class=ConsoleRoute)


@router.get("/sign-in", name="console.sign_in_form")
def sign_in_form(request: Request, console: ConsoleDep, expired: bool = False) -> Response:
    try:
        if console.sessions.get(request.cookies.get(COOKIE)) is not None:
            return RedirectResponse(f"{PREFIX}/", status_code=303, headers=page_headers())
    except Expired:
        expired = True
    nonce = secrets.token_urlsafe(24)
    response = render(
        request,
        "sign_in.html",
        expired=expired,
        nonce=nonce,
        oidc_provider=console.oidc_provider,
        token_sign_in=console.token_sign_in,
        error=None,
    )
    response.set_cookie(
        SIGN_IN_COOKIE,
        nonce,
        path=f"{PREFIX}/sign-in",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        max_age=3600,
    )
    return response


@router.post("/sign-in", name="console.sign_in")
async def sign_in(request: Request, console: ConsoleDep) -> Response:
    if not console.token_sign_in:
        raise NotFound("sign-in with a token is turned off (auth.console_token_sign_in)")
    form = await form_of(request)
    expected = request.cookies.get(SIGN_IN_COOKIE, "")
    offered = form.get(CSRF_FIELD, "")
    if not expected or not hmac.compare_digest(expected, offered):
        return render(
            request,
            "sign_in.html",
            status=403,
            expired=False,
            nonce=expected,
            oidc_provider=console.oidc_provider,
            token_sign_in=console.token_sign_in,
            error="The sign-in form expired. Reload the page and try again.",
        )
    token = form.get("token", "").strip()
    try:
        principal = console.vault.principals.authenticate(token)
    except Unauthenticated:
        return render(
            request,
            "sign_in.html",
            status=401,
            expired=False,
            nonce=expected,
            oidc_provider=console.oidc_provider,
            token_sign_in=console.token_sign_in,
            error="That token is not valid. Check it and try again.",
        )
    return signed_in(request, principal.actor(), "token", token_hash(token))


@router.post("/sign-out", name="console.sign_out")
def sign_out(request: Request, session: Signed, form: CheckedForm, console: ConsoleDep) -> Response:
    console.sessions.end(request.cookies.get(COOKIE))
    console.vault.audit_session(session.actor, "console.sign_out")
    # a person signed in through the provider is signed out there too (if it offers that)
    if session.method == "oidc":
        response: Response = provider_sign_out(request)
        response.headers.update(page_headers())
    else:
        response = RedirectResponse(f"{PREFIX}/sign-in", status_code=303, headers=page_headers())
    response.delete_cookie(COOKIE, path=PREFIX)
    return response


@router.get("/", name="console.home")
def home(request: Request, session: Signed) -> Response:
    return render(request, "home.html", session)
