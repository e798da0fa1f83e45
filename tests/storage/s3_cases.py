"""S3Store cases on top of the conformance suite, shared by in-process moto and moto over HTTP.

A subclass supplies ``s3_endpoint`` (None for ``mock_aws``, else a URL) and
``make_bucket`` (``tests.fixtures.s3.BucketFactory``).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import botocore.exceptions
import pytest

from tests.fixtures.s3 import BucketFactory
from tests.storage.conformance import (
    BIG_SIZE,
    ChunkSourceFailed,
    ObjectStoreConformance,
    chunked,
    failing_after,
    pattern,
)
from vault.errors import InvalidInput
from vault.storage import ObjectLocked, ObjectNotFound, RetentionMode, StoreUnavailable
from vault.storage.s3 import S3Store

StoreFactory = Callable[..., S3Store]


def whole_seconds(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)


class S3StoreCases(ObjectStoreConformance):
    @pytest.fixture
    def s3_endpoint(self) -> str | None:
        raise NotImplementedError

    @pytest.fixture
    def make_bucket(self) -> BucketFactory:
        raise NotImplementedError

    @pytest.fixture
    def make_store(self, make_bucket: BucketFactory, s3_endpoint: str | None) -> StoreFactory:
        def make(
            region: str = "ap-northeast-1",
            *,
            lock_bucket: bool = False,
            versioned: bool = False,
            **store_kwargs: Any,
        ) -> S3Store:
            """A store on a fresh bucket; ``store_kwargs`` go to ``S3Store``."""
            bucket = make_bucket(region, object_lock=lock_bucket, versioned=versioned)
            return S3Store(bucket, endpoint_url=s3_endpoint, region_name=region, **store_kwargs)

        return make

    @pytest.fixture
    def raw_client(self, s3_endpoint: str | None) -> Any:
        return boto3.client("s3", region_name="ap-northeast-1", endpoint_url=s3_endpoint)

    @pytest.fixture
    def locked(self, make_store: StoreFactory) -> S3Store:
        """A store on an Object Lock bucket."""
        return make_store("ap-northeast-1", lock_bucket=True)

    # -- uploads --------------------------------------------------------------

    def test_large_put_is_a_multipart_upload(self, store: S3Store) -> None:
        big = store.put("jp/ff/big", chunked(pattern(BIG_SIZE)))
        small = store.put("jp/ff/small", [b"s" * 1000])
        assert big.etag is not None and big.etag.endswith("-2")  # 8 MiB + 1 MiB+3
        assert small.etag is not None and "-" not in small.etag

    def test_exact_multiple_of_part_size(self, store: S3Store) -> None:
        data = pattern(2 * store.part_size, seed=3)
        info = store.put("jp/ff/even", chunked(data, (store.part_size,)))
        assert info.size == len(data) and info.etag is not None and info.etag.endswith("-2")
        assert (
            store.get_range("jp/ff/even", store.part_size - 1, store.part_size + 1)
            == data[store.part_size - 1 : store.part_size + 1]
        )

    def test_failed_put_aborts_the_multipart_upload(self, store: S3Store, raw_client: Any) -> None:
        with pytest.raises(ChunkSourceFailed):
            store.put("jp/2a/broken", failing_after(pattern(17 * 1024 * 1024)))
        uploads = raw_client.list_multipart_uploads(Bucket=store.bucket)
        assert uploads.get("Uploads", []) == []

    def test_parts_in_flight_keep_their_order(self, store: S3Store) -> None:
        # Five parts go up four at a time; the object must still be the bytes in order.
        data = pattern(5 * store.part_size - 77, seed=5)
        info = store.put("jp/2b/many", chunked(data, (3 * 1024 * 1024 + 1,)))
        assert info.etag is not None and info.etag.endswith("-5")
        with store.open("jp/2b/many") as stream:
            assert stream.read() == data

    def test_a_failing_part_in_flight_aborts_the_upload(
        self, store: S3Store, raw_client: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        real = store._client.upload_part

        def failing(**kwargs: Any) -> Any:
            if kwargs["PartNumber"] == 2:
                raise botocore.exceptions.EndpointConnectionError(endpoint_url="http://s3")
            return real(**kwargs)

        monkeypatch.setattr(store._client, "upload_part", failing)
        with pytest.raises(StoreUnavailable, match="part 2"):
            store.put("jp/2c/broken", chunked(pattern(5 * store.part_size, seed=6)))
        assert raw_client.list_multipart_uploads(Bucket=store.bucket).get("Uploads", []) == []
        assert [o.key for o in store.list("jp/2c/")] == []

    def test_part_size_below_the_s3_minimum_is_refused(self) -> None:
        with pytest.raises(InvalidInput):
            S3Store("recvault-any", part_size=1024 * 1024)

    def test_concurrent_reads(self, store: S3Store) -> None:
        data = pattern(3 * 1024 * 1024, seed=5)
        store.put("jp/c0/shared", [data])
        ranges = [(i * 100_003, i * 100_003 + 65_536) for i in range(24)]
        with ThreadPoolExecutor(max_workers=8) as pool:
            got = list(pool.map(lambda r: store.get_range("jp/c0/shared", *r), ranges))
        assert got == [data[a:b] for a, b in ranges]

    # -- delete on versioned buckets -----------------------------------------

    def test_delete_removes_every_version_and_marker(
        self, make_store: StoreFactory, raw_client: Any
    ) -> None:
        store = make_store(versioned=True)
        store.put("jp/v0/rec", [b"v1"])
        store.put("jp/v0/rec", [b"v2"])
        store.put("jp/v0/rec2", [b"neighbour"])
        raw_client.delete_object(Bucket=store.bucket, Key="jp/v0/rec")  # a delete marker
        store.put("jp/v0/rec", [b"v3"])

        store.delete("jp/v0/rec")

        versions = raw_client.list_object_versions(Bucket=store.bucket, Prefix="jp/v0/")
        remaining = [v["Key"] for v in versions.get("Versions", [])]
        markers = [m["Key"] for m in versions.get("DeleteMarkers", [])]
        assert remaining == ["jp/v0/rec2"]
        assert markers == []
        assert [i.key for i in store.list("jp/")] == ["jp/v0/rec2"]

    # -- Object Lock ----------------------------------------------------------

    def test_supports_object_lock_is_detected(self, make_store: StoreFactory) -> None:
        assert make_store(lock_bucket=True).supports_object_lock is True
        assert make_store().supports_object_lock is False
        assert make_store(versioned=True).supports_object_lock is False
        assert make_store(lock_bucket=True, object_lock=False).supports_object_lock is False

    def test_retention_after_multipart_upload_is_read_back(self, locked: S3Store) -> None:
        locked.put("jp/l0/rec", chunked(pattern(BIG_SIZE)))
        until = whole_seconds(datetime.now(UTC) + timedelta(days=3650))
        locked.set_retention("jp/l0/rec", until)
        protection = locked.protection("jp/l0/rec")
        assert protection.retain_until == until
        assert protection.mode is RetentionMode.COMPLIANCE
        assert protection.legal_hold is False

    def test_retention_only_grows(self, locked: S3Store) -> None:
        locked.put("jp/l1/rec", [b"x"])
        later = whole_seconds(datetime.now(UTC) + timedelta(days=2))
        locked.set_retention("jp/l1/rec", later)
        locked.set_retention("jp/l1/rec", later - timedelta(days=1))
        assert locked.protection("jp/l1/rec").retain_until == later
        even_later = later + timedelta(days=30)
        locked.set_retention("jp/l1/rec", even_later)
        assert locked.protection("jp/l1/rec").retain_until == even_later

    def test_retention_mode_from_the_store(self, make_store: StoreFactory) -> None:
        store = make_store(lock_bucket=True, retention_mode=RetentionMode.GOVERNANCE)
        store.put("jp/l2/rec", [b"x"])
        store.set_retention("jp/l2/rec", datetime.now(UTC) + timedelta(days=1))
        assert store.protection("jp/l2/rec").mode is RetentionMode.GOVERNANCE

    def test_retention_needs_an_aware_date(self, locked: S3Store) -> None:
        locked.put("jp/l3/rec", [b"x"])
        with pytest.raises(InvalidInput):
            locked.set_retention("jp/l3/rec", datetime(2040, 1, 1))
        assert locked.protection("jp/l3/rec").retain_until is None

    def test_retention_on_missing_object(self, locked: S3Store) -> None:
        with pytest.raises(ObjectNotFound):
            locked.set_retention("jp/00/missing", datetime.now(UTC) + timedelta(days=1))

    def test_delete_under_retention_is_refused(self, locked: S3Store) -> None:
        locked.put("jp/l4/rec", [b"kept"])
        until = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)
        locked.set_retention("jp/l4/rec", until)
        with pytest.raises(ObjectLocked) as refused:
            locked.delete("jp/l4/rec")
        assert (refused.value.retain_until, refused.value.legal_hold) == (until, False)
        assert locked.get_range("jp/l4/rec", 0, 10) == b"kept"

    def test_delete_removes_the_versions_no_lock_protects(self, locked: S3Store) -> None:
        locked.put("jp/l6/rec", [b"locked version"])
        locked.set_retention("jp/l6/rec", datetime.now(UTC) + timedelta(days=1))
        locked.put("jp/l6/rec", [b"free version"])
        with pytest.raises(ObjectLocked):
            locked.delete("jp/l6/rec")
        assert locked.get_range("jp/l6/rec", 0, 100) == b"locked version"

    def test_legal_hold_on_and_off(self, locked: S3Store) -> None:
        locked.put("jp/l5/rec", chunked(pattern(BIG_SIZE)))
        locked.set_legal_hold("jp/l5/rec", on=True)
        assert locked.protection("jp/l5/rec").legal_hold is True
        with pytest.raises(ObjectLocked) as refused:
            locked.delete("jp/l5/rec")
        assert (refused.value.retain_until, refused.value.legal_hold) == (None, True)
        assert locked.head("jp/l5/rec").size == BIG_SIZE

        locked.set_legal_hold("jp/l5/rec", on=False)
        assert locked.protection("jp/l5/rec").legal_hold is False
        locked.delete("jp/l5/rec")
        with pytest.raises(ObjectNotFound):
            locked.head("jp/l5/rec")

    def test_object_lock_calls_are_no_ops_without_object_lock(self, store: S3Store) -> None:
        store.put("jp/l6/rec", [b"x"])
        store.set_retention("jp/l6/rec", datetime.now(UTC) + timedelta(days=1))
        store.set_legal_hold("jp/l6/rec", on=True)
        protection = store.protection("jp/l6/rec")
        assert (protection.retain_until, protection.mode, protection.legal_hold) == (
            None,
            None,
            False,
        )
        store.delete("jp/l6/rec")
        assert list(store.list()) == []

    @pytest.mark.parametrize(
        "call",
        [
            lambda s: s.health(),
            lambda s: s.location(),
            lambda s: list(s.list()),
            lambda s: s.delete("jp/00/x"),
            lambda s: s.supports_object_lock,
        ],
    )
    def test_missing_bucket_is_unavailable(
        self, make_bucket: BucketFactory, s3_endpoint: str | None, call: Callable[[S3Store], object]
    ) -> None:
        make_bucket("ap-northeast-1")  # starts the server or the mock
        store = S3Store(
            "recvault-never-created", endpoint_url=s3_endpoint, region_name="ap-northeast-1"
        )
        with pytest.raises(StoreUnavailable):
            call(store)

    # -- location -------------------------------------------------------------

    @pytest.mark.parametrize("region", ["ap-northeast-1", "ap-southeast-1", "us-east-1"])
    def test_location_is_the_bucket_region(self, make_store: StoreFactory, region: str) -> None:
        assert make_store(region).location() == region

    def test_location_with_a_client_of_another_region(
        self, make_bucket: BucketFactory, s3_endpoint: str | None
    ) -> None:
        bucket = make_bucket("ap-southeast-1")
        store = S3Store(bucket, endpoint_url=s3_endpoint, region_name="ap-northeast-1")
        assert store.location() == "ap-southeast-1"

    def test_incomplete_uploads_are_aborted_after_the_grace_period(self, store: S3Store) -> None:
        """What a put killed mid-upload leaves: parts and no object; gc aborts the upload."""

        client = store._client
        started = client.create_multipart_upload(Bucket=store.bucket, Key="JP/aa/crashed")
        client.upload_part(
            Bucket=store.bucket,
            Key="JP/aa/crashed",
            UploadId=started["UploadId"],
            PartNumber=1,
            Body=b"x" * 10,
        )
        later = datetime.now(UTC) + timedelta(seconds=5)
        # moto dates every upload 2010-11-10 20:48:33 UTC: seen from just after, it is recent
        moto_initiated = datetime(2010, 11, 10, 20, 48, 33, tzinfo=UTC)
        assert store.remove_stale_temp(timedelta(hours=1), now=moto_initiated) == 0
        assert store.remove_stale_temp(timedelta(0), now=later, dry_run=True) == 1
        assert client.list_multipart_uploads(Bucket=store.bucket).get("Uploads")
        assert store.remove_stale_temp(timedelta(0), now=later) == 1
        assert not client.list_multipart_uploads(Bucket=store.bucket).get("Uploads")
        assert store.remove_stale_temp(timedelta(0), now=later) == 0
        assert list(store.list("JP/")) == []
