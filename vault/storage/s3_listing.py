"""Listing for ``S3Store``: the objects under a prefix, page by page, and the ``ObjectInfo``
built from S3's answers.

Like ``s3_multipart`` it calls the client it is given and imports no SDK;
``S3Store`` hands in the error translation for bucket-level calls.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from vault.errors import InvalidInput
from vault.storage.base import ObjectInfo
from vault.storage.naming import check_prefix

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client


def list_objects(
    client: S3Client,
    bucket: str,
    prefix: str,
    page_size: int,
    start_after: str,
    *,
    bucket_errors: Callable[[str], AbstractContextManager[None]],
) -> Iterator[ObjectInfo]:
    """``ObjectInfo`` under ``prefix`` after ``start_after``, ``page_size`` keys per request.

    ``bucket_errors`` translates the listing's errors (its "not found" is the bucket's).
    """
    if not 1 <= page_size <= 1000:
        raise InvalidInput("page_size must lie in [1, 1000]")
    check_prefix(prefix)
    paginator = client.get_paginator("list_objects_v2")
    # StartAfter "" is S3's own default: the listing starts at the first key
    pages = paginator.paginate(
        Bucket=bucket,
        Prefix=prefix,
        StartAfter=start_after,
        PaginationConfig={"PageSize": page_size},
    )
    with bucket_errors(f"listing prefix {prefix!r}"):
        for page in pages:
            for item in page.get("Contents", []):
                yield object_info(item["Key"], item["Size"], item)


def object_info(key: str, size: int, answer: Mapping[str, Any]) -> ObjectInfo:
    """The ``ObjectInfo`` of a HeadObject answer or of one entry of a listing."""
    return ObjectInfo(
        key=key,
        size=size,
        etag=answer.get("ETag", "").strip('"') or None,
        last_modified=utc(answer.get("LastModified")),
    )


def utc(moment: datetime | None) -> datetime | None:
    return moment.astimezone(UTC) if moment is not None else None
