"""JWT access tokens of the configured OpenID provider: discovery, key set, validation.

``OidcVerifier.principal(token)`` turns a provider's access token into a
``Principal`` named ``oidc:<claim>`` (ADR 0008). The JOSE work is PyJWT's: the
key set comes from ``PyJWKClient`` (cached; a token signed by an unknown ``kid``
fetches it again, at most once per ``jwks_min_refresh``) and ``jwt.decode``
checks the signature, ``iss``, ``aud``, ``exp`` and ``nbf``. Only asymmetric
algorithms are accepted, and only the one the signing key itself declares, so
``alg: none`` and an HMAC signed with the public key never reach a key.

A refused token raises ``TokenRefused`` (401, with the reason); a provider that
cannot be reached raises ``ProviderUnavailable`` (503): it is an outage, not the
caller's mistake, and ``rvt_`` tokens keep working meanwhile.
"""

from __future__ import annotations

import hmac
import ssl
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import jwt

from vault.domain import Actor, Role
from vault.errors import Unauthenticated, Unavailable
from vault.principals import SSO_PREFIX, Principal
from vault.service import RecordVault
from vault.settings import OidcConfig

#: who the audit log names for a token that proved nothing
UNAUTHENTICATED = Actor("unauthenticated", frozenset())


class TokenRefused(Unauthenticated):
    """The access token was refused; ``reason`` is a short slug for the audit log."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"access token refused: {message}")
        self.reason = reason


class ProviderUnavailable(Unavailable):
    """The identity provider cannot be reached; recvault's own rvt_ tokens still work."""

    def __init__(self, what: str) -> None:
        super().__init__(
            f"the identity provider cannot be reached ({what}); try again later",
            retry_after=30,
        )


class ProviderMetadata:
    """The provider's discovery document, fetched once and kept ``cache_lifespan``."""

    def __init__(self, config: OidcConfig, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self._clock = clock
        self._lock = threading.Lock()
        self._document: dict[str, Any] | None = None
        self._fetched_at = 0.0
        self._http: httpx.Client | None = None

    @property
    def http(self) -> httpx.Client:
        """One client for every call to the provider (its TLS context is built once)."""
        if self._http is None:
            self._http = httpx.Client(
                timeout=self.config.timeout, verify=self.config.ca_cert or True
            )
        return self._http

    def document(self) -> dict[str, Any]:
        lifespan = self.config.cache_lifespan.approx_timedelta().total_seconds()
        with self._lock:
            fresh = self._document is not None and self._clock() - self._fetched_at < lifespan
            if not fresh:
                try:
                    self._document = self._fetch()
                    self._fetched_at = self._clock()
                except ProviderUnavailable:
                    if self._document is None:
                        raise
                    # keep serving the last good document; the keys it names may still work
            assert self._document is not None
            return self._document

    def endpoint(self, name: str) -> str | None:
        value = self.document().get(name)
        return value if isinstance(value, str) and value else None

    def _fetch(self) -> dict[str, Any]:
        url = self.config.issuer.rstrip("/") + "/.well-known/openid-configuration"
        try:
            response = self.http.get(url)
            response.raise_for_status()
            document = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise ProviderUnavailable(f"discovery: {type(exc).__name__}") from None
        if not isinstance(document, dict) or document.get("issuer") != self.config.issuer:
            # OpenID Connect Discovery 4.3: the document must name the issuer it was fetched for
            raise ProviderUnavailable("discovery names another issuer")
        return document


class OidcVerifier:
    """Validates access tokens of one issuer and maps their claims to a ``Principal``."""

    def __init__(self, config: OidcConfig, regions: set[str]) -> None:
        self.config = config
        self.regions = frozenset(regions)
        self.metadata = ProviderMetadata(config)
        self._keys: jwt.PyJWKClient | None = None
        self._keys_lock = threading.Lock()

    # -- keys ---------------------------------------------------------------------

    def _key_client(self) -> jwt.PyJWKClient:
        with self._keys_lock:
            if self._keys is None:
                jwks_uri = self.metadata.endpoint("jwks_uri")
                if jwks_uri is None:
                    raise ProviderUnavailable("discovery names no jwks_uri")
                context = (
                    ssl.create_default_context(cafile=self.config.ca_cert)
                    if self.config.ca_cert
                    else None
                )
                self._keys = jwt.PyJWKClient(
                    jwks_uri,
                    cache_jwk_set=True,
                    lifespan=self.config.cache_lifespan.approx_timedelta().total_seconds(),
                    timeout=self.config.timeout,
                    ssl_context=context,
                    cooldown_duration=self.config.jwks_min_refresh.approx_timedelta().total_seconds(),
                )
            return self._keys

    def _signing_key(self, kid: str, alg: str) -> jwt.PyJWK:
        try:
            found = self._key_client().get_signing_key(kid)
        except jwt.PyJWKClientConnectionError:
            raise ProviderUnavailable("key set") from None
        except jwt.PyJWKClientError:
            raise TokenRefused(
                "unknown-key", "signed by a key the issuer does not publish"
            ) from None
        declared = found.algorithm_name if "alg" in found._jwk_data else None
        if declared is not None and declared != alg:
            raise TokenRefused("algorithm", f"the key is for {declared}, the token says {alg}")
        try:
            # The token's alg is one of the configured asymmetric ones; the key must fit it.
            return jwt.PyJWK(found._jwk_data, algorithm=alg)
        except jwt.PyJWTError:
            raise TokenRefused("algorithm", f"{alg} does not fit the issuer's key") from None

    # -- tokens ---------------------------------------------------------------------

    def claims(self, token: str) -> dict[str, Any]:
        """An access token's claims once its signature, issuer, audience and times hold."""
        return self.verified(token, self.config.audience)

    def id_token_claims(self, token: str, client_id: str, nonce: str) -> dict[str, Any]:
        """An ID token's claims (audience: our client), bound to the sign-in by its nonce."""
        claims = self.verified(token, client_id)
        found = claims.get("nonce")
        if not isinstance(found, str) or not hmac.compare_digest(found, nonce):
            raise TokenRefused("nonce", "the ID token belongs to another sign-in (nonce)")
        return claims

    def verified(self, token: str, audience: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise TokenRefused("malformed", "not a JWT") from None
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self.config.algorithms:
            raise TokenRefused("algorithm", f"algorithm {alg!r} is not accepted")
        if unverified.get("iss") != self.config.issuer:
            # checked before any key is fetched: another issuer's tokens cost no request
            raise TokenRefused("issuer", "issued by another issuer")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise TokenRefused("unknown-key", "the token names no key (kid)")
        key = self._signing_key(kid, alg)
        try:
            return jwt.decode(
                token,
                key=key,
                algorithms=[alg],
                audience=audience,
                issuer=self.config.issuer,
                leeway=self.config.clock_skew.approx_timedelta(),
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise TokenRefused("expired", "expired") from None
        except jwt.ImmatureSignatureError:
            raise TokenRefused("not-yet-valid", "not valid yet (nbf or iat)") from None
        except jwt.InvalidAudienceError:
            raise TokenRefused("audience", "meant for another audience") from None
        except jwt.InvalidIssuerError:
            raise TokenRefused("issuer", "issued by another issuer") from None
        except jwt.InvalidSignatureError:
            raise TokenRefused("signature", "the signature does not verify") from None
        except jwt.MissingRequiredClaimError as exc:
            raise TokenRefused("claims", f"the token has no {exc.claim!r} claim") from None
        except jwt.PyJWTError:
            raise TokenRefused("malformed", "the token is not valid") from None

    def principal(self, token: str) -> Principal:
        claims = self.claims(token)
        subject = claims.get(self.config.principal_claim)
        if not isinstance(subject, str) or not subject.strip() or len(subject) > 190:
            raise TokenRefused("claims", f"no usable {self.config.principal_claim!r} claim")
        roles, regions = self.grants(claims)
        name = SSO_PREFIX + subject.strip()
        issued = claims.get("iat")
        created = (
            datetime.fromtimestamp(issued, UTC)
            if isinstance(issued, int | float)
            else datetime.now(UTC)
        )
        return Principal(
            id=name,
            name=name,
            roles=tuple(sorted(roles, key=lambda r: r.value)),
            regions=None if regions is None else tuple(sorted(regions)),
            disabled=False,
            created_at=created,
        )

    def grants(self, claims: dict[str, Any]) -> tuple[set[Role], set[str] | None]:
        """Roles and regions the claims grant (``None``: every region, for ``"*"``)."""
        role_names: set[str] = set()
        region_names: set[str] = set()
        config = self.config
        if config.roles_claim:
            role_names |= _names(claims.get(config.roles_claim))
        if config.regions_claim:
            region_names |= _names(claims.get(config.regions_claim))
        if config.groups_claim:
            for group in _names(claims.get(config.groups_claim)):
                grant = config.groups.get(group)
                if grant is not None:  # the provider's other groups are none of recvault's business
                    role_names |= set(grant.roles)
                    region_names |= set(grant.regions)
        roles: set[Role] = set()
        for name in role_names:
            try:
                roles.add(Role(name))
            except ValueError:
                raise TokenRefused("claims", f"unknown role {name[:40]!r}") from None
        if not roles:
            raise TokenRefused("claims", "the token grants no recvault role")
        if "*" in region_names:
            return roles, None
        unknown = region_names - self.regions
        if unknown:
            raise TokenRefused("claims", f"unknown region {sorted(unknown)[0][:20]!r}")
        if not region_names:
            raise TokenRefused("claims", "the token grants no region")
        return roles, region_names


def _names(value: object) -> set[str]:
    """A claim holding names: a JSON list of strings, or one space-separated string."""
    if isinstance(value, str):
        return {part for part in value.split() if part}
    if isinstance(value, list):
        return {item for item in value if isinstance(item, str) and item}
    return set()


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2 and token.startswith("ey")


class RefusalBudget:
    """At most ``per_minute`` audited refusals of one reason a minute; the rest are counted.

    Anyone can send a JWT-shaped string, so refusals are bounded: past the budget,
    a refusal is not written one by one; the first one audited in the next minute
    carries how many were left out (``refused:<reason>:more=<n>``).
    """

    def __init__(self, per_minute: int = 120, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._lock = threading.Lock()
        self._window: dict[str, tuple[float, int, int]] = {}  # reason -> (start, used, left out)

    def outcome(self, reason: str) -> str | None:
        """The outcome to audit for this refusal, or None when the budget is spent."""
        now = self._clock()
        with self._lock:
            start, used, left_out = self._window.get(reason, (now, 0, 0))
            if now - start >= 60:
                start, used = now, 0
            if used >= self.per_minute:
                self._window[reason] = (start, used, left_out + 1)
                return None
            self._window[reason] = (start, used + 1, 0)
        return f"refused:{reason}" + (f":more={left_out}" if left_out else "")


_REFUSALS = RefusalBudget()


def authenticate_jwt(verifier: OidcVerifier, vault: RecordVault, token: str) -> Principal:
    """The token's principal; a refusal is audited (``RefusalBudget``) before it is raised."""
    try:
        return verifier.principal(token)
    except TokenRefused as exc:
        outcome = _REFUSALS.outcome(exc.reason)
        if outcome is not None:
            vault.audit_refusal(UNAUTHENTICATED, "auth.token", "", outcome=outcome)
        raise
