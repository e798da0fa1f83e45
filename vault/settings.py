"""recvault configuration: ``RECVAULT_*`` environment plus one optional TOML file.

Secrets (name secret, signing key, master key, Vault tokens) come only from
the environment or from a file named by ``<NAME>_FILE``; a secret in the TOML
file is refused. Invalid configuration fails at start with the key named.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import tomllib
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from keys.sharded import mount_tag
from vault.domain import Category
from vault.durations import Duration
from vault.errors import ConfigError, VaultError


def _duration(value: Any) -> Duration:
    if isinstance(value, Duration):
        return value
    try:
        return Duration.parse(str(value))
    except VaultError as exc:
        raise ValueError(exc.message) from None


IsoDuration = Annotated[Duration, BeforeValidator(_duration), PlainSerializer(str, return_type=str)]

_SECRET_NAMES = ("name_secret", "signing_key", "master_key")
_MOUNT_PATH = re.compile(r"[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StoreConfig(_Strict):
    kind: Literal["local", "s3"] = "local"
    path: str | None = None
    #: local stores: read ranges of 256 KiB and more with O_DIRECT (vault/storage/tuning/direct.py)
    direct_ranges: bool = True
    #: local stores: read whole objects of 4 MiB and more with O_DIRECT and read-ahead
    direct_reads: bool = True
    endpoint_url: str | None = None
    bucket: str | None = None
    region_name: str | None = None
    object_lock: bool | None = None
    retention_mode: Literal["COMPLIANCE", "GOVERNANCE"] = "COMPLIANCE"
    access_key_env: str | None = None
    secret_key_env: str | None = None


class KeysConfig(_Strict):
    """A region's key provider; for Vault, how recvault authenticates (docs/keys.md)."""

    kind: Literal["vault", "local"] = "vault"
    addr: str = "http://127.0.0.1:8200"
    mount: str | None = None
    #: several Transit mounts of the region (ShardedKeyProvider, docs/scale.md): append new
    #: ones at the end; the first holds keys made while the region had one mount (ADR 0012)
    mounts: list[str] = Field(default_factory=list)
    #: "token": from the variable ``token_env`` names (or its ``_FILE``), or from ``token_file``;
    #: "approle": logs in with the role and secret ids read from their files
    auth: Literal["token", "approle"] = "token"
    token_env: str = "RECVAULT_VAULT_TOKEN"  # noqa: S105  (a variable name)
    #: a token file kept fresh by another program (Vault Agent); read again when it changes
    token_file: str | None = None
    role_id_file: str | None = None
    secret_id_file: str | None = None
    approle_mount: str = "approle"
    namespace: str | None = None
    #: CA bundle that signed the Vault server's certificate (default: the system's)
    ca_cert: str | None = None
    #: client certificate and key for TLS client authentication (both or neither)
    client_cert: str | None = None
    client_key: str | None = None
    #: false turns certificate checks off (tests only); a path is the older spelling of ca_cert
    verify: bool | str = True
    timeout: float = Field(default=5.0, gt=0)
    batch_size: int = Field(default=250, ge=1, le=1000)
    path: str | None = None

    @model_validator(mode="after")
    def _auth_fields(self) -> KeysConfig:
        def refuse(field: str, problem: str) -> PydanticCustomError:
            return PydanticCustomError(
                "keys", "{field}: {problem}", {"field": field, "problem": problem}
            )

        if self.auth == "approle":
            for field in ("role_id_file", "secret_id_file"):
                if not getattr(self, field):
                    raise refuse(field, 'required with auth = "approle"')
            if self.token_file:
                raise refuse("token_file", 'not used with auth = "approle"')
        else:
            for field in ("role_id_file", "secret_id_file"):
                if getattr(self, field):
                    raise refuse(field, 'only used with auth = "approle"')
        if bool(self.client_cert) != bool(self.client_key):
            field = "client_key" if self.client_cert else "client_cert"
            raise refuse(field, "client_cert and client_key go together")
        if self.ca_cert and self.verify is not True:
            raise refuse("ca_cert", "give either ca_cert or verify, not both")
        self._check_mounts(refuse)
        return self

    def _check_mounts(self, refuse: Callable[[str, str], PydanticCustomError]) -> None:
        if self.mount is not None and self.mounts:
            raise refuse("mounts", "give either mount or mounts, not both")
        if self.kind == "local" and self.mounts:
            raise refuse("mounts", 'only used with kind = "vault"')
        seen: dict[str, str] = {}
        for given in [*([self.mount] if self.mount is not None else []), *self.mounts]:
            path = given.strip().strip("/")
            if not _MOUNT_PATH.fullmatch(path):
                raise refuse(
                    "mounts" if self.mounts else "mount",
                    f"{given!r} is not a mount path (letters, digits, '-', '_', '/')",
                )
            tag = mount_tag(path)
            if path in seen.values() or tag in seen:
                raise refuse("mounts", f"{path!r} is listed twice")
            seen[tag] = path

    def mount_list(self) -> list[str]:
        return list(self.mounts) or ([self.mount] if self.mount else [])

    def tls_verify(self) -> bool | str:
        """What requests' ``verify`` gets: the CA bundle, or ``verify``."""
        return self.ca_cert or self.verify

    def tls_client_cert(self) -> tuple[str, str] | None:
        if self.client_cert and self.client_key:
            return (self.client_cert, self.client_key)
        return None


class RegionConfig(_Strict):
    location: str
    store: StoreConfig = StoreConfig()
    keys: KeysConfig = KeysConfig()


class DatabaseConfig(_Strict):
    url: str = "sqlite:///.recvault/meta.db"
    #: PostgreSQL: longest any one statement may run before it is cancelled (503)
    statement_timeout: IsoDuration = Duration.parse("PT10S")
    #: PostgreSQL: longest a statement waits for a lock held by another (503)
    lock_timeout: IsoDuration = Duration.parse("PT5S")
    #: PostgreSQL: longest a new connection may take
    connect_timeout: IsoDuration = Duration.parse("PT5S")

    def engine_options(self) -> dict[str, float]:
        """Keyword arguments of ``vault.metadata.make_engine``, in seconds."""
        return {
            name: getattr(self, name).approx_timedelta().total_seconds()
            for name in ("statement_timeout", "lock_timeout", "connect_timeout")
        }


class RetentionConfig(_Strict):
    default: IsoDuration = Duration.parse("P10Y")
    categories: dict[Category, IsoDuration] = Field(default_factory=dict)
    object_lock_slack: IsoDuration = Duration.parse("P30D")

    def for_category(self, category: Category) -> Duration:
        return self.categories.get(category, self.default)


class DestructionConfig(_Strict):
    waiting_period: IsoDuration = Duration.parse("P30D")
    review: bool = False
    automatic: bool = True
    #: how long Vault snapshots and backups are kept: the erasure horizon
    snapshot_retention: IsoDuration = Duration.parse("P30D")
    release_needs_other_principal: bool = True


class RotationConfig(_Strict):
    max_age: IsoDuration = Duration.parse("P1Y")
    keep_versions: int = Field(default=0, ge=0)


class LimitsConfig(_Strict):
    max_record_bytes: int = Field(default=8 * 1024**3, ge=1)
    #: a 0-byte upload is almost always a client's mistake, and it would be kept ten years
    allow_empty_records: bool = False
    wrap_batch: int = Field(default=250, ge=1, le=1000)
    dek_cache_entries: int = Field(default=10_000, ge=0)
    dek_cache_ttl_seconds: float = Field(default=300.0, ge=0)
    gc_grace: IsoDuration = Duration.parse("PT1H")
    #: keep 1 MiB segment buffers in the heap (vault.storage.tune_process at start-up)
    tune_allocator: bool = True
    #: a request body that sends nothing for this long is answered 408 and discarded
    body_idle_timeout: IsoDuration = Duration.parse("PT30S")
    #: after body_idle_timeout, a body must have averaged this many bytes/s since it started
    #: (else 408): a client that trickles a byte every few seconds cannot hold an upload slot
    #: forever. 8 KiB/s is far below any clinic's line; 0 turns the check off.
    body_min_rate: int = Field(default=8 * 1024, ge=0)
    #: uploads streaming at once, on threads of their own; more wait body_idle_timeout, then 503
    upload_concurrency: int = Field(default=16, ge=1, le=1024)
    #: request line and headers must arrive within this (else 408 and the connection closes)
    header_timeout: IsoDuration = Duration.parse("PT10S")
    #: bytes of request line and headers together (more: 431)
    max_header_bytes: int = Field(default=32 * 1024, ge=1024, le=1024 * 1024)
    #: number of header fields (more: 431)
    max_headers: int = Field(default=100, ge=8, le=1000)
    #: an idle keep-alive connection is closed after this
    keep_alive: IsoDuration = Duration.parse("PT5S")
    #: connections and requests one server process takes at once (more: 503)
    max_connections: int = Field(default=1000, ge=10)


class PlainEnvSource(EnvSettingsSource):
    """``RECVAULT_*`` read as people write them: ``PT5S``, ``false``, ``a,b`` — no JSON quoting.

    A value that starts like JSON (``{``, ``[`` or ``"``) is still read as JSON, so
    ``RECVAULT_REGIONS='{"JP": {...}}'`` keeps working; anything else is handed to
    validation as written, and a list field splits it on commas.
    """

    def decode_complex_value(self, field_name: str, field: FieldInfo | None, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        text = value.strip()
        if text[:1] in ("{", "[", '"'):
            try:
                return json.loads(text)
            except json.JSONDecodeError as exc:
                raise ConfigError(
                    f"{self._variable(field_name)}: not valid JSON ({exc.msg})"
                ) from None
        if field is not None and typing.get_origin(field.annotation) is list:
            return [part.strip() for part in text.split(",") if part.strip()]
        return text

    def __call__(self) -> dict[str, Any]:
        data = super().__call__()
        regions = data.get("regions")
        if isinstance(regions, dict):
            # Variable names are read case-insensitively, so RECVAULT_REGIONS__JP__... arrives
            # as "jp"; region names are upper case (JP, PH), as the TOML file writes them.
            data["regions"] = {str(name).upper(): value for name, value in regions.items()}
        return data

    def _variable(self, field_name: str) -> str:
        wanted = field_name.lower()
        for name in self.env_vars:
            if name.lower().endswith(wanted):
                return name.upper()
        return f"RECVAULT_{field_name.upper()}"


class AuditConfig(_Strict):
    #: how often the API and ``recvault worker`` sign a checkpoint of the audit chain
    checkpoint_interval: IsoDuration = Duration.parse("PT5M")
    #: COMPLIANCE retention of each checkpoint object on stores with Object Lock
    checkpoint_retention: IsoDuration = Duration.parse("P11Y")


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

    def client_secret(self) -> str | None:
        """The console client's secret: the variable ``client_secret_env``, or its ``_FILE``."""
        value = os.environ.get(self.client_secret_env)
        if value:
            return value.strip()
        path = os.environ.get(f"{self.client_secret_env}_FILE")
        return Path(path).read_text().strip() if path else None


class AuthConfig(_Strict):
    oidc: OidcConfig | None = None
    #: false: the console offers only single sign-on (no form for an rvt_ token)
    console_token_sign_in: bool = True


class Settings(BaseSettings):
    """Every setting of a recvault deployment."""

    model_config = SettingsConfigDict(
        env_prefix="RECVAULT_", env_nested_delimiter="__", extra="forbid", frozen=True
    )

    database: DatabaseConfig = DatabaseConfig()
    regions: dict[str, RegionConfig] = Field(default_factory=dict)
    retention: RetentionConfig = RetentionConfig()
    destruction: DestructionConfig = DestructionConfig()
    rotation: RotationConfig = RotationConfig()
    limits: LimitsConfig = LimitsConfig()
    audit: AuditConfig = AuditConfig()
    console: ConsoleConfig = ConsoleConfig()
    auth: AuthConfig = AuthConfig()
    name_secret: SecretStr | None = None
    signing_key: SecretStr | None = None
    master_key: SecretStr | None = None

    @field_validator("regions")
    @classmethod
    def _region_names(cls, regions: dict[str, RegionConfig]) -> dict[str, RegionConfig]:
        for name in regions:
            if not name.isalnum() or not name.isupper() or len(name) > 8:
                raise ValueError(f"region name {name!r} must be short upper-case letters (JP, PH)")
        return regions

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, PlainEnvSource(settings_cls))

    @classmethod
    def load(cls, path: str | os.PathLike[str] | None = None, **overrides: Any) -> Settings:
        """Read the TOML file (``path`` or ``$RECVAULT_CONFIG``) and the environment."""
        data: dict[str, Any] = {}
        chosen = path if path is not None else os.environ.get("RECVAULT_CONFIG")
        if chosen:
            try:
                data = tomllib.loads(Path(chosen).read_text())
            except FileNotFoundError:
                raise ConfigError(f"configuration file not found: {chosen}") from None
            except tomllib.TOMLDecodeError as exc:
                raise ConfigError(f"configuration file {chosen} is not valid TOML: {exc}") from None
            for name in _SECRET_NAMES:
                if name in data:
                    raise ConfigError(
                        f"{name}: secrets are read from RECVAULT_{name.upper()} "
                        "(or RECVAULT_{name.upper()}_FILE), never from the configuration file"
                    )
        for name in _SECRET_NAMES:
            from_file = os.environ.get(f"RECVAULT_{name.upper()}_FILE")
            if from_file and name not in overrides and f"RECVAULT_{name.upper()}" not in os.environ:
                overrides[name] = Path(from_file).read_text().strip()
        data.update(overrides)
        try:
            return cls(**data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            context = first.get("ctx") or {}
            if first["type"] == "keys" and "field" in context:
                # a rule over several fields of a region's keys: name the field it is about
                where, message = f"{where}.{context['field']}", str(context["problem"])
            else:
                message = first["msg"]
            variable = "RECVAULT_" + "__".join(str(p) for p in first["loc"]).upper()
            if variable.lower() in {name.lower() for name in os.environ}:
                where = f"{where} ({variable})"
            raise ConfigError(f"invalid setting {where}: {message}") from None
        except SettingsError as exc:
            if isinstance(exc.__cause__, ConfigError):
                raise exc.__cause__ from None
            raise ConfigError(f"invalid environment: {exc}") from None

    # -- derived values -------------------------------------------------------

    def secret_bytes(self, name: str) -> bytes:
        value: SecretStr | None = getattr(self, name)
        if value is None:
            raise ConfigError(
                f"{name}: set RECVAULT_{name.upper()} (or RECVAULT_{name.upper()}_FILE)"
            )
        return decode_secret(value.get_secret_value(), name)

    def retention_for(self, category: Category) -> Duration:
        return self.retention.for_category(category)


def decode_secret(text: str, name: str) -> bytes:
    """Secrets are 32+ bytes given as hex or base64."""
    text = text.strip()
    raw: bytes | None = None
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        try:
            raw = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raw = None
    if raw is None or len(raw) < 32:
        raise ConfigError(f"{name}: must be at least 32 bytes, hex or base64 encoded")
    return raw


def vault_token(config: KeysConfig) -> str | None:
    """A region's Vault token as it is now: ``token_file``, or the variable ``token_env`` names
    (or the file its ``_FILE`` variant names). Long-running processes use ``vault_token_file``
    so that a rewritten file is read again."""
    path = vault_token_file(config)
    if path:
        return Path(path).read_text().strip() or None
    value = os.environ.get(config.token_env)
    return value.strip() if value else None


def vault_token_file(config: KeysConfig) -> str | None:
    """The file that holds a region's token, if it comes from one."""
    if config.token_file:
        return config.token_file
    if os.environ.get(config.token_env):
        return None
    return os.environ.get(f"{config.token_env}_FILE") or None
