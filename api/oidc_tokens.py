"""The console's client at the provider's token endpoint: the authorization code
exchanged at sign-in, and the refresh token that renews a console session's grants.

The client authenticates with ``client_secret_basic`` when it has a secret (read
at each request, so a rotated file counts at once), else names itself as a
public client. A provider that cannot be reached is ``ProviderUnavailable``; a
refusal is ``TokenRefused``.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import httpx

from api.oidc import OidcVerifier, ProviderUnavailable, TokenRefused
from vault.errors import NotFound
from vault.principals import Principal


def console_client(verifier: OidcVerifier) -> str:
    """The console's client id at the provider; 404 where console sign-in is not set up."""
    if not verifier.config.client_id:
        raise NotFound("console single sign-on is not configured ([auth.oidc] client_id)")
    return verifier.config.client_id


def exchange_code(
    verifier: OidcVerifier, client_id: str, code: str, code_verifier: str, redirect_uri: str
) -> dict[str, Any]:
    """The token endpoint's answer to the authorization code and the PKCE verifier."""
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "code_verifier": code_verifier,
    }
    return _token_request(verifier, client_id, form, "code")


def renewal(verifier: OidcVerifier) -> Callable[[str], tuple[Principal, str, int | None]]:
    """Renews a console session's grants: a refresh token → the principal its new access
    token establishes (checked as at sign-in), the refresh token to keep, the lifetime.

    Raises ``TokenRefused`` when the provider refuses (the person was removed there,
    the session at the provider ended) or the new token grants nothing usable.
    """
    client_id = console_client(verifier)

    def renew(refresh_token: str) -> tuple[Principal, str, int | None]:
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        tokens = _token_request(verifier, client_id, form, "refresh token")
        access_token = tokens.get("access_token")
        if not isinstance(access_token, str):
            raise TokenRefused("provider", "the provider answered without an access token")
        principal = verifier.principal(access_token)
        successor = tokens.get("refresh_token")
        expires = tokens.get("expires_in")
        return (
            principal,
            successor if isinstance(successor, str) and successor else refresh_token,
            expires if isinstance(expires, int) else None,
        )

    return renew


def _token_request(
    verifier: OidcVerifier, client_id: str, form: dict[str, str], what: str
) -> dict[str, Any]:
    """The token endpoint's answer to ``form``, the console's client authenticated."""
    token_endpoint = verifier.metadata.endpoint("token_endpoint")
    if token_endpoint is None:
        raise ProviderUnavailable("no token_endpoint")
    secret = verifier.config.client_secret()
    headers = {}
    if secret:  # client_secret_basic
        token = base64.b64encode(f"{quote(client_id)}:{quote(secret)}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    if secret is None:
        form["client_id"] = client_id
    try:
        answer = verifier.metadata.http.post(token_endpoint, data=form, headers=headers)
    except httpx.HTTPError as exc:
        raise ProviderUnavailable(f"token endpoint: {type(exc).__name__}") from None
    if answer.status_code >= 500:
        raise ProviderUnavailable(f"token endpoint answered {answer.status_code}")
    try:
        body = answer.json()
    except ValueError:
        body = {}
    if answer.status_code != 200 or not isinstance(body, dict):
        reason = body.get("error", answer.status_code) if isinstance(body, dict) else "?"
        raise TokenRefused("provider", f"the provider refused the {what} ({reason})")
    return body
