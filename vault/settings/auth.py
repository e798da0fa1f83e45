"""Who signs in and how: the console's sessions and single sign-on (OpenID Connect)."""

from __future__ import annotations

import os

from pydantic import (
    Field,
    field_validator,
    model_validator,
)

from vault.durations import Duration
from vault.settings.base import IsoDuration, _Strict
from vault.settings.files import read_secret_file


class ConsoleConfig(_Strict):
    #: a console session unused this long signs its person out
    idle_timeout: IsoDuration = Duration.parse("PT15M")
    #: a console session ends this long after sign-in, however busy
    absolute_timeout: IsoDuration = Duration.parse("PT8H")


class GroupGrant(_Strict):
    """What membership of one of the provider's groups grants."""

    roles: list[str] = Field(default_factory=list)
    regions: list[str] = Field(default_factory=list)


#: asymmetric JWS algorithms a provider's keys may declare; HMAC and "none" are never accepted


#: asymmetric JWS algorithms a provider's keys may declare; HMAC and "none" are never accepted
ASYMMETRIC_ALGORITHMS = (
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
    "EdDSA",
)


class OidcConfig(_Strict):
    """Single sign-on with one OpenID provider (docs/operations.md, ADR 0008)."""

    #: the provider's issuer URL, exactly as its tokens' ``iss`` and its discovery document say
    issuer: str
    #: how the console names the provider: "Sign in with <display_name>"
    display_name: str = "single sign-on"
    #: the ``aud`` every access token must carry (the API's identifier at the provider)
    audience: str
    #: the console's client (authorization code + PKCE); its secret, if it has one, comes from
    #: the variable ``client_secret_env`` names (or the file its ``_FILE`` variant names)
    client_id: str | None = None
    client_secret_env: str = "RECVAULT_OIDC_CLIENT_SECRET"  # noqa: S105  (a variable name)
    #: a public client for ``recvault login`` (device flow, or loopback redirect with PKCE)
    cli_client_id: str | None = None
    #: the claim that names the person or service; the audit log records ``oidc:<value>``
    principal_claim: str = "sub"
    #: claims holding recvault role names and region names (a list or a space-separated string)
    roles_claim: str | None = "roles"
    regions_claim: str | None = "regions"
    #: or: a claim holding the provider's group names, and what each group grants
    groups_claim: str | None = None
    groups: dict[str, GroupGrant] = Field(default_factory=dict)
    #: tolerance on exp, nbf and iat for clocks that disagree
    clock_skew: IsoDuration = Duration.parse("PT60S")
    #: asymmetric algorithms accepted (a key's own ``alg`` must be one of them)
    algorithms: list[str] = Field(default_factory=lambda: list(ASYMMETRIC_ALGORITHMS))
    #: how long the discovery document and the key set are kept before they are fetched again
    cache_lifespan: IsoDuration = Duration.parse("PT1H")
    #: a token signed by an unknown key fetches the key set again at most this often
    jwks_min_refresh: IsoDuration = Duration.parse("PT30S")
    #: seconds one request to the provider may take
    timeout: float = Field(default=5.0, gt=0)
    #: CA bundle that signed the provider's certificate (default: the system's)
    ca_cert: str | None = None
    #: scopes the console and ``recvault login`` ask for
    scopes: list[str] = Field(default_factory=lambda: ["openid", "profile"])
    #: the console's callback as the provider knows it (default: derived from the request)
    redirect_uri: str | None = None
    #: where the provider sends the browser after signing out (default: the console)
    post_logout_redirect_uri: str | None = None

    @field_validator("algorithms")
    @classmethod
    def _asymmetric_only(cls, algorithms: list[str]) -> list[str]:
        for name in algorithms:
            if name not in ASYMMETRIC_ALGORITHMS:
                raise ValueError(
                    f"{name!r} is not accepted (among {', '.join(ASYMMETRIC_ALGORITHMS)})"
                )
        if not algorithms:
            raise ValueError("at least one algorithm is required")
        return algorithms

    @model_validator(mode="after")
    def _claims(self) -> OidcConfig:
        if not (self.roles_claim or (self.groups_claim and self.groups)):
            raise ValueError("give roles_claim, or groups_claim with [auth.oidc.groups]")
        return self

    @model_validator(mode="after")
    def _client_secret_readable(self) -> OidcConfig:
        if self.client_id:
            self.client_secret()  # a file that cannot be read fails at start, not at a sign-in
        return self

    def client_secret(self) -> str | None:
        """The console client's secret: the variable ``client_secret_env``, or its ``_FILE``."""
        value = os.environ.get(self.client_secret_env)
        if value:
            return value.strip()
        variable = f"{self.client_secret_env}_FILE"
        path = os.environ.get(variable)
        return read_secret_file(path, variable) if path else None


class AuthConfig(_Strict):
    oidc: OidcConfig | None = None
    #: false: the console offers only single sign-on (no form for an rvt_ token)
    console_token_sign_in: bool = True
