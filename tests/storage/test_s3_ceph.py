"""S3Store against a real Ceph RADOS Gateway: the conformance suite and Object Lock (ADR 0015).

The gateway is a single-node Ceph started from Debian's packages (``apt-get
install ceph-mon ceph-osd radosgw``) by ``docs/deploy/ceph-rgw.sh``, the same
script the reference deployment runs: one monitor, one OSD on memstore, one
radosgw on a free loopback port, about 20 s to start here. ``slow``: not in
the default run; without the Ceph binaries it fails with the command to
install them, never skips.

Differences from moto that the cases below account for: one gateway serves one
location (its zonegroup's API name), so buckets of other regions are refused;
and the gateway, unlike moto, enforces COMPLIANCE retention and legal holds
itself, which ``TestRadosGatewayEnforcesObjectLock`` proves with a raw client.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import botocore.exceptions
import httpx
import pytest
from botocore.config import Config

from tests.fixtures.s3 import BucketFactory, create_bucket, unique_bucket_name
from tests.fixtures.settings import ROOT
from tests.storage.s3_cases import S3StoreCases, StoreFactory
from vault.cli.devbao import free_port
from vault.storage import ObjectLocked, RetentionMode
from vault.storage.s3 import S3Store

pytestmark = pytest.mark.slow

LOCATION = "ap-northeast-1"
SCRIPT = ROOT / "docs" / "deploy" / "ceph-rgw.sh"


def _stop_pid_file(path: Path) -> None:
    try:
        pid = int(path.read_text().strip())
    except (OSError, ValueError):
        return
    try:
        os.kill(pid, 15)
    except ProcessLookupError:
        return
    for _ in range(100):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    os.kill(pid, 9)


@pytest.fixture(scope="session")
def ceph_rgw(
    tmp_path_factory: pytest.TempPathFactory, aws_dummy_env: dict[str, str]
) -> Iterator[str]:
    """A single-node Ceph with a RADOS Gateway; yields its S3 endpoint."""
    missing = [
        b for b in ("ceph-mon", "ceph-osd", "radosgw", "radosgw-admin") if not shutil.which(b)
    ]
    if missing:
        pytest.fail(
            f"Ceph is not installed ({', '.join(missing)} missing): "
            "apt-get install --no-install-recommends ceph-mon ceph-osd radosgw"
        )
    data = tmp_path_factory.mktemp("ceph")
    port = free_port()
    env = {
        **os.environ,
        "CEPH_DATA": str(data),
        "RGW_PORT": str(port),
        "RGW_BIND": "127.0.0.1",
        "MON_PORT": str(free_port()),
        "S3_REGION": LOCATION,
        # the dummy credentials of every S3 test: boto3 clients made from the environment work
        "S3_ACCESS_KEY": aws_dummy_env["AWS_ACCESS_KEY_ID"],
        "S3_SECRET_KEY": aws_dummy_env["AWS_SECRET_ACCESS_KEY"],
        "OSD_STORE": "memstore",
        "OSD_BYTES": str(2 * 1024**3),
    }
    with (data / "start.log").open("ab") as log:
        gateway = subprocess.Popen(
            ["/bin/sh", str(SCRIPT)], env=env, stdout=log, stderr=subprocess.STDOUT
        )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240
        while True:
            if gateway.poll() is not None:
                raise RuntimeError(f"ceph-rgw.sh exited; see {data / 'start.log'}")
            try:
                if httpx.get(endpoint, timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the gateway did not answer; see {data / 'start.log'}")
            time.sleep(0.5)
        yield endpoint
    finally:
        gateway.terminate()
        try:
            gateway.wait(timeout=20)
        except subprocess.TimeoutExpired:
            gateway.kill()
        for name in ("osd.0", "mon.a"):
            _stop_pid_file(data / "run" / f"{name}.pid")


@pytest.fixture
def rgw_bucket(ceph_rgw: str) -> BucketFactory:
    def make(region: str = LOCATION, *, object_lock: bool = False, versioned: bool = False) -> str:
        if region != LOCATION:
            pytest.fail(f"one gateway serves one location ({LOCATION}), not {region}")
        client = boto3.client(
            "s3",
            region_name=region,
            endpoint_url=ceph_rgw,
            config=Config(s3={"addressing_style": "path"}),
        )
        return create_bucket(
            client, unique_bucket_name(), region, object_lock=object_lock, versioned=versioned
        )

    return make


class TestS3StoreOnRadosGateway(S3StoreCases):
    @pytest.fixture
    def s3_endpoint(self, ceph_rgw: str) -> str:
        return ceph_rgw

    @pytest.fixture
    def make_bucket(self, rgw_bucket: BucketFactory) -> BucketFactory:
        return rgw_bucket

    @pytest.fixture
    def store(self, rgw_bucket: BucketFactory, ceph_rgw: str) -> S3Store:
        return S3Store(rgw_bucket(LOCATION), endpoint_url=ceph_rgw, region_name=LOCATION)

    @pytest.fixture
    def expected_location(self) -> str:
        return LOCATION

    @pytest.fixture
    def raw_client(self, s3_endpoint: str) -> Any:
        return boto3.client(
            "s3",
            region_name=LOCATION,
            endpoint_url=s3_endpoint,
            config=Config(s3={"addressing_style": "path"}),
        )

    # One gateway, one location: the cases that need buckets in several regions
    # are replaced by what a gateway can show.

    @pytest.mark.parametrize("region", [LOCATION])
    def test_location_is_the_bucket_region(self, make_store: StoreFactory, region: str) -> None:
        assert make_store(region).location() == region

    def test_location_with_a_client_of_another_region(
        self, make_bucket: BucketFactory, s3_endpoint: str
    ) -> None:
        bucket = make_bucket(LOCATION)
        store = S3Store(bucket, endpoint_url=s3_endpoint, region_name="ap-southeast-1")
        assert store.location() == LOCATION

    def test_a_bucket_elsewhere_is_refused(self, raw_client: Any) -> None:
        with pytest.raises(botocore.exceptions.ClientError):
            raw_client.create_bucket(
                Bucket=unique_bucket_name(),
                CreateBucketConfiguration={"LocationConstraint": "ap-southeast-1"},
            )

    def test_incomplete_uploads_are_aborted_after_the_grace_period(self, store: S3Store) -> None:
        client = store._client
        started = client.create_multipart_upload(Bucket=store.bucket, Key="JP/aa/crashed")
        client.upload_part(
            Bucket=store.bucket,
            Key="JP/aa/crashed",
            UploadId=started["UploadId"],
            PartNumber=1,
            Body=b"x" * 10,
        )
        assert store.remove_stale_temp(timedelta(hours=1)) == 0  # just started: recent
        later = datetime.now(UTC) + timedelta(seconds=5)
        assert store.remove_stale_temp(timedelta(0), now=later, dry_run=True) == 1
        assert store.remove_stale_temp(timedelta(0), now=later) == 1
        assert not client.list_multipart_uploads(Bucket=store.bucket).get("Uploads")
        assert list(store.list("JP/")) == []


class TestRadosGatewayEnforcesObjectLock:
    """What moto only stores, the gateway enforces: the reason it is the reference store."""

    @pytest.fixture
    def locked(self, rgw_bucket: BucketFactory, ceph_rgw: str) -> S3Store:
        bucket = rgw_bucket(LOCATION, object_lock=True)
        return S3Store(bucket, endpoint_url=ceph_rgw, region_name=LOCATION, object_lock=True)

    def _version(self, store: S3Store, key: str) -> str:
        versions = store._client.list_object_versions(Bucket=store.bucket, Prefix=key)
        return str(versions["Versions"][0]["VersionId"])

    def test_a_version_under_compliance_retention_cannot_be_deleted(self, locked: S3Store) -> None:
        locked.put("JP/aa/kept", [b"treatment record"])
        until = datetime.now(UTC) + timedelta(days=1)
        locked.set_retention("JP/aa/kept", until)
        assert locked.protection("JP/aa/kept").mode is RetentionMode.COMPLIANCE
        version = self._version(locked, "JP/aa/kept")
        with pytest.raises(botocore.exceptions.ClientError) as refused:
            locked._client.delete_object(Bucket=locked.bucket, Key="JP/aa/kept", VersionId=version)
        assert refused.value.response["Error"]["Code"] == "AccessDenied"
        with pytest.raises(botocore.exceptions.ClientError):  # nor shortened
            locked._client.put_object_retention(
                Bucket=locked.bucket,
                Key="JP/aa/kept",
                VersionId=version,
                Retention={"Mode": "COMPLIANCE", "RetainUntilDate": until - timedelta(hours=12)},
            )
        with pytest.raises(ObjectLocked):
            locked.delete("JP/aa/kept")
        assert b"".join(locked.open("JP/aa/kept")) == b"treatment record"

    def test_a_legal_hold_blocks_deletion_until_released(self, locked: S3Store) -> None:
        locked.put("JP/aa/held", [b"under a case"])
        locked.set_legal_hold("JP/aa/held", True)
        version = self._version(locked, "JP/aa/held")
        with pytest.raises(botocore.exceptions.ClientError) as refused:
            locked._client.delete_object(Bucket=locked.bucket, Key="JP/aa/held", VersionId=version)
        assert refused.value.response["Error"]["Code"] == "AccessDenied"
        locked.set_legal_hold("JP/aa/held", False)
        locked.delete("JP/aa/held")
        assert list(locked.list("JP/")) == []
