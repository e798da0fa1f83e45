"""Build each region's object store and key provider from the settings.

A region pins a subject's objects and its subject key: nothing of a JP
subject is ever written through a PH store or key provider.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from keys.base import KeyProvider
from keys.cache import CachingKeyProvider
from keys.sharded import ShardedKeyProvider
from vault.errors import ConfigError
from vault.settings import (
    KeysConfig,
    RegionConfig,
    Settings,
    StoreConfig,
    vault_token,
    vault_token_file,
    vault_token_file_setting,
)
from vault.settings.files import read_secret_file
from vault.spans import KEYS, add_span
from vault.storage.base import ObjectStore, RetentionMode

if TYPE_CHECKING:
    from keys.transit.auth import VaultAuth

#: Told of every key-service call: ``(region, operation, seconds)``. Edges use it for
#: metrics; recvault itself imports no metrics library.
KeyCallObserver = Callable[[str, str, float], None]


@dataclass(frozen=True)
class Region:
    name: str
    location: str
    store: ObjectStore
    keys: KeyProvider
    retention_mode: RetentionMode


def build_store(name: str, config: StoreConfig, location: str) -> ObjectStore:
    if config.kind == "local":
        from vault.storage.local import LocalStore

        root = Path(config.path or f".recvault/objects/{name.lower()}")
        return LocalStore(
            root,
            location_label=location,
            direct_ranges=config.direct_ranges,
            direct_reads=config.direct_reads,
        )
    if not config.bucket:
        raise ConfigError(f"regions.{name}.store.bucket: required for an s3 store")
    from vault.storage.s3 import S3Store

    access = os.environ.get(config.access_key_env) if config.access_key_env else None
    secret = os.environ.get(config.secret_key_env) if config.secret_key_env else None
    return S3Store(
        config.bucket,
        endpoint_url=config.endpoint_url,
        region_name=config.region_name or location,
        object_lock=config.object_lock,
        retention_mode=RetentionMode(config.retention_mode),
        aws_access_key_id=access,
        aws_secret_access_key=secret,
    )


def build_keys(
    name: str,
    config: KeysConfig,
    settings: Settings,
    on_key_call: KeyCallObserver | None = None,
) -> KeyProvider:
    provider: KeyProvider
    if config.kind == "local":
        from keys.local import LocalKeyProvider

        path = Path(config.path or f".recvault/keys-{name.lower()}.db")
        provider = LocalKeyProvider(
            path, settings.secret_bytes("master_key"), label=f"local-{name}"
        )
    else:
        from keys.transit import TransitKeyProvider

        mounts = config.mount_list() or [f"transit-{name.lower()}"]
        auth = vault_auth(name, config)

        def observe(op: str, seconds: float) -> None:
            add_span(KEYS, seconds)
            if on_key_call is not None:
                on_key_call(name, op, seconds)

        # The shards of a region share one login: one token, renewed once.
        shards: dict[str, KeyProvider] = {
            mount: TransitKeyProvider(
                config.addr,
                mount,
                auth=auth,
                namespace=config.namespace,
                verify=config.tls_verify(),
                client_cert=config.tls_client_cert(),
                timeout=config.timeout,
                batch_size=config.batch_size,
                on_call=observe if on_key_call is not None else None,
            )
            for mount in mounts
        }
        # One mount: names carry no mount tag. Several: each new key's mount is recorded
        # in its name, and the first mount holds the keys made before (ADR 0012).
        provider = shards[mounts[0]] if len(shards) == 1 else ShardedKeyProvider(shards)
    limits = settings.limits
    if limits.dek_cache_entries > 0:
        provider = CachingKeyProvider(
            provider, max_entries=limits.dek_cache_entries, ttl_seconds=limits.dek_cache_ttl_seconds
        )
    return provider


def vault_auth(name: str, config: KeysConfig) -> VaultAuth:
    """How a region's Transit providers get their token, checked now (files readable, set)."""
    from keys.transit.auth import AppRoleLogin, GivenToken, TokenFile, VaultAuth

    where = f"regions.{name}.keys"
    if config.auth == "approle":
        assert config.role_id_file and config.secret_id_file  # KeysConfig checked it
        for field in ("role_id_file", "secret_id_file"):
            read_secret_file(getattr(config, field), f"{where}.{field}")
        return VaultAuth(
            AppRoleLogin.from_files(
                config.role_id_file, config.secret_id_file, config.approle_mount
            )
        )
    path = vault_token_file(config)
    if path:
        what = vault_token_file_setting(name, config)
        read_secret_file(path, what)
        return VaultAuth(TokenFile(path, what))
    token = vault_token(name, config)
    if not token:
        raise ConfigError(
            f"{where}.token_env: {config.token_env} is not set "
            '(or set token_file, or auth = "approle")'
        )
    return VaultAuth(GivenToken(token))


def build_region(
    name: str,
    config: RegionConfig,
    settings: Settings,
    on_key_call: KeyCallObserver | None = None,
) -> Region:
    return Region(
        name=name,
        location=config.location,
        store=build_store(name, config.store, config.location),
        keys=build_keys(name, config.keys, settings, on_key_call),
        retention_mode=RetentionMode(config.store.retention_mode),
    )
