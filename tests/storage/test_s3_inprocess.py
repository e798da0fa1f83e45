"""S3Store against moto in-process (``mock_aws``): conformance, S3 cases, error mapping."""

from __future__ import annotations

from typing import ClassVar

import botocore.exceptions
import pytest

from tests.fixtures.s3 import BucketFactory
from tests.storage.s3_cases import S3StoreCases
from vault.storage import ObjectNotFound, StoreAccessDenied, StoreUnavailable
from vault.storage.s3 import S3Store, translate


class TestS3StoreInProcess(S3StoreCases):
    """A versioned bucket in ap-northeast-1, so delete walks versions."""

    # Tables that read and list what one put wrote, the same on a versioned bucket:
    # test_s3_server.py runs them over HTTP in the default run; here under -m slow.
    slow_tables: ClassVar[frozenset[str]] = frozenset(
        {
            "test_get_range",
            "test_get_range_outside_or_empty_is_empty",
            "test_invalid_keys_are_refused",
            "test_list_by_prefix",
        }
    )

    @pytest.fixture
    def s3_endpoint(self) -> None:
        return None

    @pytest.fixture
    def make_bucket(self, inprocess_bucket: BucketFactory) -> BucketFactory:
        return inprocess_bucket

    @pytest.fixture
    def store(self, inprocess_bucket: BucketFactory) -> S3Store:
        bucket = inprocess_bucket("ap-northeast-1", versioned=True)
        return S3Store(bucket, region_name="ap-northeast-1")

    @pytest.fixture
    def expected_location(self) -> str:
        return "ap-northeast-1"


def client_error(code: str, status: int) -> botocore.exceptions.ClientError:
    return botocore.exceptions.ClientError(
        {"Error": {"Code": code, "Message": ""}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "GetObject",
    )


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (client_error("NoSuchKey", 404), ObjectNotFound),
        (client_error("404", 404), ObjectNotFound),
        (client_error("NoSuchBucket", 404), StoreUnavailable),
        (client_error("AccessDenied", 403), StoreAccessDenied),
        (client_error("InvalidAccessKeyId", 403), StoreAccessDenied),
        (client_error("InternalError", 500), StoreUnavailable),
        (client_error("SlowDown", 503), StoreUnavailable),
        (botocore.exceptions.EndpointConnectionError(endpoint_url="http://x"), StoreUnavailable),
        (botocore.exceptions.ConnectTimeoutError(endpoint_url="http://x"), StoreUnavailable),
        (botocore.exceptions.ReadTimeoutError(endpoint_url="http://x"), StoreUnavailable),
        (botocore.exceptions.NoCredentialsError(), StoreAccessDenied),
    ],
)
def test_botocore_errors_map_to_vault_errors(error: Exception, expected: type) -> None:
    translated = translate(error, "reading 'jp/00/x'")
    assert type(translated) is expected
    assert "jp/00/x" in translated.message
