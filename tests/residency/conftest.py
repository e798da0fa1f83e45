"""Two regions on real parts: moto S3 buckets (JP, PH) over HTTP and two fresh Transit mounts.

Each test gets its own Transit mounts (and policies and admin token) on the
session's OpenBao server, so the key listing a residency report compares is
exactly this test's keys; everything else is the shape DESIGN section 9 gives.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from keys.bootstrap import bootstrap_transit, create_token
from tests.fixtures.settings import LOCATIONS, vault_settings
from vault import RecordVault
from vault.metadata.migrate import upgrade

TOKEN_ENV = "RECVAULT_TEST_RESIDENCY_TOKEN"


@dataclass(frozen=True)
class TwoRegions:
    vault: RecordVault
    buckets: dict[str, str]
    mounts: dict[str, str]
    endpoint: str


@pytest.fixture
def make_regions(
    transit, moto_server, server_bucket, monkeypatch, clock
) -> Iterator[Callable[..., TwoRegions]]:
    built: list[RecordVault] = []

    def factory(
        db_url: str,
        bucket_regions: dict[str, str] | None = None,
        *,
        object_lock: bool = False,
        **extra: Any,
    ) -> TwoRegions:
        """``object_lock=True``: buckets with Object Lock and a COMPLIANCE default
        retention of one day (a WORM store); ``extra`` overrides settings sections."""
        suffix = uuid.uuid4().hex[:8]
        mounts = {name: f"transit-{name.lower()}-{suffix}" for name in LOCATIONS}
        bootstrap_transit(
            transit.addr,
            transit.root_token,
            list(mounts.values()),
            service_policy_name=f"svc-{suffix}",
            admin_policy_name=f"adm-{suffix}",
        )
        monkeypatch.setenv(
            TOKEN_ENV, create_token(transit.addr, transit.root_token, [f"adm-{suffix}"])
        )
        where = {**LOCATIONS, **(bucket_regions or {})}
        buckets = {name: server_bucket(where[name], object_lock=object_lock) for name in LOCATIONS}
        if object_lock:
            for name, bucket in buckets.items():
                boto3.client(
                    "s3", region_name=where[name], endpoint_url=moto_server
                ).put_object_lock_configuration(
                    Bucket=bucket,
                    ObjectLockConfiguration={
                        "ObjectLockEnabled": "Enabled",
                        "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 1}},
                    },
                )
        regions = {
            name: {
                "location": location,
                "store": {
                    "kind": "s3",
                    "endpoint_url": moto_server,
                    "bucket": buckets[name],
                    "region_name": location,
                },
                "keys": {
                    "kind": "vault",
                    "addr": transit.addr,
                    "mount": mounts[name],
                    "token_env": TOKEN_ENV,
                },
            }
            for name, location in LOCATIONS.items()
        }
        settings = vault_settings(db_url, regions, **extra)
        upgrade(settings.database.url)
        vault = RecordVault.from_settings(settings, clock=clock)
        built.append(vault)
        return TwoRegions(vault, buckets, mounts, moto_server)

    yield factory
    for vault in built:
        vault.close()
