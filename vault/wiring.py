"""Builds the VaultContext from Settings: DB engine, regions' stores and keys, the audit log.

``RecordVault.from_settings`` is its one caller: the facade uses the context,
this module alone knows how it is put together.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from vault.audit.chain import AuditLog
from vault.context import VaultContext
from vault.crypto import SigningKey
from vault.errors import ConfigError
from vault.metadata import make_engine
from vault.regions import KeyCallObserver, Region, build_region
from vault.settings import Settings


def _utcnow() -> datetime:
    return datetime.now(UTC)


def build_context(
    settings: Settings,
    clock: Callable[[], datetime] | None = None,
    regions: dict[str, Region] | None = None,
    *,
    key_observer: KeyCallObserver | None = None,
) -> VaultContext:
    """The context a vault runs on; ``regions`` given replace those the settings configure."""
    if not settings.regions and not regions:
        raise ConfigError("regions: configure at least one region (e.g. [regions.JP])")
    clock = clock or _utcnow
    engine = make_engine(settings.database.url, **settings.database.engine_options())
    signing_seed = settings.secret_bytes("signing_key")
    built = regions or {
        name: build_region(name, config, settings, key_observer)
        for name, config in settings.regions.items()
    }
    return VaultContext(
        settings=settings,
        engine=engine,
        regions=built,
        clock=clock,
        audit=AuditLog(engine, signing_seed, clock),
        name_secret=settings.secret_bytes("name_secret"),
        signing_key=SigningKey(signing_seed[:32]),
    )
