"""Prepare OpenBao/Vault for recvault: Transit mounts, their settings, and the two policies.

Idempotent: running it again changes nothing that is already right. It talks to
the key service only through ``keys.transit.TransitAdmin`` and returns
names and settings, never a token (``create_token`` is the one exception, for
tests and the dev server).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources

from keys.transit import TransitAdmin

SERVICE_POLICY_FILE = "policy-service.hcl"
ADMIN_POLICY_FILE = "policy-key-admin.hcl"
DEFAULT_CACHE_SIZE = 10000


@dataclass(frozen=True)
class BootstrapReport:
    """What ``bootstrap_transit`` found or did; safe to print and log."""

    mounts_enabled: tuple[str, ...]
    mounts_present: tuple[str, ...]
    policies: tuple[str, ...]
    cache_size: int


def policy_hcl(template_file: str, mounts: Sequence[str]) -> str:
    """The policy text for every mount, from a template shipped in ``keys/``."""
    template = resources.files("keys").joinpath(template_file).read_text(encoding="utf-8")
    return "\n".join(template.replace("{mount}", mount.strip("/")) for mount in mounts)


def bootstrap_transit(
    addr: str,
    token: str,
    mounts: list[str],
    service_policy_name: str = "recvault-service",
    admin_policy_name: str = "recvault-key-admin",
    *,
    cache_size: int = DEFAULT_CACHE_SIZE,
    verify: bool | str = True,
    client_cert: tuple[str, str] | None = None,
    namespace: str | None = None,
) -> BootstrapReport:
    """Enable Transit at each mount, refuse upserts, bound its cache, write both policies.

    ``verify``, ``client_cert`` and ``namespace`` are the region's TLS and namespace
    settings (``KeysConfig``), the same the running service uses."""
    if not mounts:
        raise ValueError("at least one Transit mount is needed")
    admin = TransitAdmin(addr, token, verify=verify, client_cert=client_cert, namespace=namespace)
    enabled: list[str] = []
    present: list[str] = []
    for mount in (m.strip("/") for m in mounts):
        (enabled if admin.enable_transit(mount) else present).append(mount)
        # disable_upsert: encrypt to a missing (e.g. destroyed) key must fail, not re-create it.
        admin.configure_transit(mount, cache_size=cache_size)
    admin.write_policy(service_policy_name, policy_hcl(SERVICE_POLICY_FILE, mounts))
    admin.write_policy(admin_policy_name, policy_hcl(ADMIN_POLICY_FILE, mounts))
    return BootstrapReport(
        mounts_enabled=tuple(enabled),
        mounts_present=tuple(present),
        policies=(service_policy_name, admin_policy_name),
        cache_size=cache_size,
    )


def create_token(
    addr: str,
    root_token: str,
    policies: Sequence[str],
    *,
    ttl: str = "24h",
    verify: bool | str = True,
) -> str:
    """Issue a token carrying ``policies`` (for tests and ``recvault dev``)."""
    return TransitAdmin(addr, root_token, verify=verify).create_token(policies, ttl=ttl)
