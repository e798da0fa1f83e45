"""S3Store against moto's ThreadedMotoServer over HTTP on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.fixtures.s3 import BucketFactory
from tests.storage.s3_cases import S3StoreCases
from vault.cli.devbao import free_port
from vault.storage import StoreUnavailable
from vault.storage.s3 import S3Store


class TestS3StoreOverHTTP(S3StoreCases):
    """An unversioned bucket in ap-southeast-1, reached over HTTP."""

    @pytest.fixture
    def s3_endpoint(self, moto_server: str) -> str:
        return moto_server

    @pytest.fixture
    def make_bucket(self, server_bucket: BucketFactory) -> BucketFactory:
        return server_bucket

    @pytest.fixture
    def store(self, server_bucket: BucketFactory, moto_server: str) -> S3Store:
        bucket = server_bucket("ap-southeast-1")
        return S3Store(bucket, endpoint_url=moto_server, region_name="ap-southeast-1")

    @pytest.fixture
    def expected_location(self) -> str:
        return "ap-southeast-1"


@pytest.mark.parametrize(
    "call",
    [
        lambda s: s.health(),
        lambda s: s.location(),
        lambda s: s.head("jp/00/x"),
        lambda s: s.open("jp/00/x"),
        lambda s: s.get_range("jp/00/x", 0, 1),
        lambda s: s.put("jp/00/x", [b"x"]),
        lambda s: s.put("jp/00/x", [b"x" * (9 * 1024 * 1024)]),
        lambda s: list(s.list("jp/")),
        lambda s: s.delete("jp/00/x"),
        lambda s: s.supports_object_lock,
    ],
)
def test_closed_port_is_store_unavailable_without_retries(
    aws_dummy_env: dict[str, str], call: Callable[[S3Store], object]
) -> None:
    store = S3Store(
        "recvault-nowhere",
        endpoint_url=f"http://127.0.0.1:{free_port()}",
        region_name="ap-northeast-1",
        connect_timeout=0.5,
        read_timeout=0.5,
        max_attempts=1,
    )
    with pytest.raises(StoreUnavailable) as refused:
        call(store)
    # the refused connection itself is reported (pytest-timeout catches a hang)
    assert str(refused.value).endswith(": EndpointConnectionError")
