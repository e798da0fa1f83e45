"""S3 requests and Object Lock updates per operation, counted on recvault's own code paths.

Runs a two-region vault over moto's in-process S3 (buckets with Object Lock),
counts every S3 API call its stores make with a botocore ``before-call`` event
hook, and prints the calls of each step of a record's life: create, read,
range read, new version, a hold placed and released, a read 60 days later that
extends retention, a checkpoint, a residency report, and disposal after the
retention period. docs/scale.md turns these into requests per year.

    python -m bench.scale.s3
"""

from __future__ import annotations

import os
import secrets
import tempfile
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
from moto import mock_aws

from vault import RecordVault, Settings
from vault.metadata.migrate import upgrade
from vault.storage.base import ObjectLocked

DUMMY = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": "/nonexistent/recvault-bench-aws-config",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/recvault-bench-aws-credentials",
}
LOCATIONS = {"JP": "ap-northeast-1", "PH": "ap-southeast-1"}


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def main(argv: list[str] | None = None) -> int:
    os.environ.update(DUMMY)
    calls: Counter[str] = Counter()

    def count(model: Any = None, **_: Any) -> None:
        calls[model.name] += 1

    with mock_aws(), tempfile.TemporaryDirectory() as home:
        regions: dict[str, Any] = {}
        for name, location in LOCATIONS.items():
            bucket = f"recvault-{name.lower()}"
            client = boto3.client("s3", region_name=location)
            client.create_bucket(
                Bucket=bucket,
                CreateBucketConfiguration={"LocationConstraint": location},
                ObjectLockEnabledForBucket=True,
            )
            regions[name] = {
                "location": location,
                "store": {
                    "kind": "s3",
                    "bucket": bucket,
                    "region_name": location,
                    "object_lock": True,
                },
                "keys": {"kind": "local", "path": str(Path(home) / f"keys-{name}.db")},
            }
        url = f"sqlite:///{Path(home) / 'meta.db'}"
        upgrade(url)
        settings = Settings.load(
            None,
            database={"url": url},
            regions=regions,
            name_secret=secrets.token_hex(32),
            signing_key=secrets.token_hex(32),
            master_key=secrets.token_hex(32),
        )
        clock = Clock()
        vault = RecordVault.from_settings(settings, clock=clock)
        for region in vault.regions.values():
            region.store._client.meta.events.register("before-call.s3", count)  # type: ignore[attr-defined]

        rows: list[tuple[str, Counter[str]]] = []

        def step(label: str, action: Callable[[], object]) -> None:
            calls.clear()
            action()
            rows.append((label, Counter(calls)))

        subject = vault.create_subject("bench-s3-patient", "JP")
        small = b"s" * 100_000
        large = os.urandom(20 * 2**20)
        info: dict[str, Any] = {}
        step("create subject", lambda: None)
        step(
            "put 100 KB record",
            lambda: info.update(small=vault.put_record(subject.id, "photo", small)),
        )
        step(
            "put 20 MiB record",
            lambda: info.update(large=vault.put_record(subject.id, "impression", large)),
        )

        def read(record: str, byte_range: tuple[int, int] | None = None) -> None:
            with vault.open_record(info[record].id, byte_range=byte_range) as stream:
                while stream.read(2**20):
                    pass

        step("read 100 KB record", lambda: read("small"))
        step("read 20 MiB record", lambda: read("large"))
        step("range read 1 MiB", lambda: read("large", (2**20, 2 * 2**20)))
        step("new version (100 KB)", lambda: vault.update_record(info["small"].id, small + b"2"))
        hold: dict[str, Any] = {}
        step(
            "place subject hold (3 versions)",
            lambda: hold.update(h=vault.place_hold("subject", subject.id, "CASE-1", "bench")),
        )
        step("release hold", lambda: vault.release_hold(hold["h"].id, "done", actor="admin-2"))

        def later_read() -> None:
            clock.now += timedelta(days=60)
            read("small")

        step("read 60 days later (a processing event)", later_read)
        step("sweep: Object Lock extended to new retain_until", lambda: vault.sweep())
        step("audit checkpoint (2 regions)", lambda: vault.audit_checkpoint())
        step("residency report", lambda: vault.residency_report())

        def dispose() -> None:
            clock.now += timedelta(days=3653 + 366)
            vault.sweep()

        step("sweep after retention: destruction scheduled", dispose)

        def executed() -> None:
            clock.now += timedelta(days=31)
            try:
                vault.sweep()
            except ObjectLocked:
                # moto holds Object Lock against the real clock, not the vault's: the first
                # delete is refused; its calls show the pattern (listed versions, one delete
                # per version), which docs/scale.md applies to every object
                print("(moto refused the first delete: its Object Lock runs on the real clock)")

        step("sweep 31 days later: key destroyed, objects deleted", executed)
        vault.close()

    print("S3 calls per step (moto in-process, Object Lock buckets, 8 MiB parts)")
    for label, counted in rows:
        total = sum(counted.values())
        detail = ", ".join(f"{op} {n}" for op, n in sorted(counted.items()))
        print(f"{label:<42} {total:>4}  {detail}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
