"""A region's settings: where its objects are stored and its subject keys are kept."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import Literal

from pydantic import (
    Field,
    model_validator,
)
from pydantic_core import PydanticCustomError

from keys.sharded import mount_tag
from vault.settings.base import _Strict
from vault.settings.files import read_secret_file

_MOUNT_PATH = re.compile(r"[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*")


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


def vault_token(region: str, config: KeysConfig) -> str | None:
    """A region's Vault token as it is now: ``token_file``, or the variable ``token_env`` names
    (or the file its ``_FILE`` variant names). Long-running processes use ``vault_token_file``
    so that a rewritten file is read again.

    A token file that cannot be read, is not text or is empty is a ``ConfigError`` naming
    the setting or variable that points at it (``vault_token_file_setting``).
    """
    path = vault_token_file(config)
    if path:
        return read_secret_file(path, vault_token_file_setting(region, config))
    value = os.environ.get(config.token_env)
    return value.strip() if value else None


def vault_token_file_setting(region: str, config: KeysConfig) -> str:
    """What points at a region's token file, as errors name it: the setting or the variable."""
    if config.token_file:
        return f"regions.{region}.keys.token_file"
    return f"{config.token_env}_FILE"


def vault_token_file(config: KeysConfig) -> str | None:
    """The file that holds a region's token, if it comes from one."""
    if config.token_file:
        return config.token_file
    if os.environ.get(config.token_env):
        return None
    return os.environ.get(f"{config.token_env}_FILE") or None
