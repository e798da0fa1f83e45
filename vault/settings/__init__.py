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
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    field_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from vault.domain import Category
from vault.durations import Duration
from vault.errors import ConfigError
from vault.settings.auth import (
    ASYMMETRIC_ALGORITHMS,
    AuthConfig,
    ConsoleConfig,
    GroupGrant,
    OidcConfig,
)
from vault.settings.base import IsoDuration, _Strict
from vault.settings.files import read_secret_file
from vault.settings.regions import (
    KeysConfig,
    RegionConfig,
    StoreConfig,
    vault_token,
    vault_token_file,
    vault_token_file_setting,
)

_SECRET_NAMES = ("name_secret", "signing_key", "master_key")

__all__ = [
    "ASYMMETRIC_ALGORITHMS",
    "AuditConfig",
    "AuthConfig",
    "ConsoleConfig",
    "DatabaseConfig",
    "DestructionConfig",
    "GroupGrant",
    "IsoDuration",
    "KeysConfig",
    "LimitsConfig",
    "OidcConfig",
    "PlainEnvSource",
    "RegionConfig",
    "RetentionConfig",
    "RotationConfig",
    "Settings",
    "StoreConfig",
    "decode_secret",
    "vault_token",
    "vault_token_file",
    "vault_token_file_setting",
]


#: the database URLs recvault's drivers can open (psycopg 3 for PostgreSQL)
DATABASE_SCHEMES = ("sqlite", "postgresql+psycopg")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]{0,30}")


class DatabaseConfig(_Strict):
    url: str = "sqlite:///.recvault/meta.db"
    #: PostgreSQL: longest any one statement may run before it is cancelled (503)
    statement_timeout: IsoDuration = Duration.parse("PT10S")
    #: PostgreSQL: longest a statement waits for a lock held by another (503)
    lock_timeout: IsoDuration = Duration.parse("PT5S")
    #: PostgreSQL: longest a new connection may take
    connect_timeout: IsoDuration = Duration.parse("PT5S")

    @field_validator("url")
    @classmethod
    def _known_driver(cls, url: str) -> str:
        # the message names the scheme only: the rest of a URL may hold a password
        scheme = url.split("://", 1)[0] if "://" in url else ""
        if scheme not in DATABASE_SCHEMES:
            kind = f"a {scheme!r} URL" if _SCHEME.fullmatch(scheme) else "no URL"
            raise ValueError(
                "must be sqlite:///PATH or postgresql+psycopg://USER@HOST/DB, got " + kind
            )
        return url

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


def _default_decrypt_threads() -> int:
    """One decrypting thread per core, at most 8; none on a single core."""
    cores = os.cpu_count() or 1
    return min(cores, 8) if cores > 1 else 0


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
    #: threads shared by whole-record reads to decrypt segments while the next are read,
    #: one at a time per read (``vault.pools.Lane``); 0: on the reading thread. Default:
    #: one per core (at most 8), 0 on a single core (docs/benchmarks.md, reads).
    decrypt_threads: int = Field(default_factory=_default_decrypt_threads, ge=0, le=16)
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


#: the TOML file's tables while ``Settings.load`` builds from them (below the environment)
_FILE_DATA: ContextVar[dict[str, Any] | None] = ContextVar("recvault_settings_file", default=None)


class _FileSource(PydanticBaseSettingsSource):
    """The configuration file's values: used where neither the caller nor the environment
    gives one."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return (_FILE_DATA.get() or {}).get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(_FILE_DATA.get() or {})


class AuditConfig(_Strict):
    #: how often the API and ``recvault worker`` sign a checkpoint of the audit chain
    checkpoint_interval: IsoDuration = Duration.parse("PT5M")
    #: COMPLIANCE retention of each checkpoint object on stores with Object Lock
    checkpoint_retention: IsoDuration = Duration.parse("P11Y")


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
        # the environment wins over the file: an operator overrides one setting of a
        # shared file with one variable (docs/operations.md, settings from the environment)
        return (init_settings, PlainEnvSource(settings_cls), _FileSource(settings_cls))

    @classmethod
    def load(cls, path: str | os.PathLike[str] | None = None, **overrides: Any) -> Settings:
        """Read the TOML file (``path`` or ``$RECVAULT_CONFIG``) and the environment."""
        data: dict[str, Any] = {}
        chosen = path if path is not None else os.environ.get("RECVAULT_CONFIG")
        if chosen:
            try:
                data = tomllib.loads(Path(chosen).read_text(encoding="utf-8"))
            except FileNotFoundError:
                raise ConfigError(f"configuration file not found: {chosen}") from None
            except UnicodeDecodeError:
                raise ConfigError(f"configuration file {chosen} is not UTF-8 text") from None
            except OSError as exc:
                raise ConfigError(
                    f"configuration file {chosen} cannot be read: {exc.strerror or exc}"
                ) from None
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
                overrides[name] = read_secret_file(from_file, f"RECVAULT_{name.upper()}_FILE")
        reading = _FILE_DATA.set(data)
        try:
            return cls(**overrides)
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
        finally:
            _FILE_DATA.reset(reading)

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
