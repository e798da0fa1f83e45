"""How ``S3Store`` writes: a put as one PutObject or as a multipart upload of parallel parts,
and the stale uploads a crashed put leaves behind (``abort_stale_uploads``).

It calls the S3 client it is given and needs no SDK import of its own:
``S3Store`` passes in how to translate the SDK's errors (``errors``) and which
of them to ignore on abort (``quiet``), so botocore stays in ``vault/storage/s3.py``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from vault.storage.base import ObjectNotFound

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef


def upload_object(
    client: S3Client,
    bucket: str,
    key: str,
    chunks: Iterable[bytes],
    *,
    part_size: int,
    in_flight: int,
    errors: Callable[[str], AbstractContextManager[None]],
    quiet: tuple[type[Exception], ...],
) -> None:
    """Store ``chunks`` under ``key``: one PutObject if they fit in one part, else a
    ``MultipartUpload`` of ``part_size`` parts, aborted on any error."""
    part = bytearray(part_size)
    filled = 0
    upload: MultipartUpload | None = None
    try:
        for chunk in chunks:
            view = memoryview(chunk).cast("B")
            while view:
                n = min(len(view), part_size - filled)
                part[filled : filled + n] = view[:n]
                filled += n
                view = view[n:]
                if filled == part_size:
                    if upload is None:
                        upload = MultipartUpload(
                            client, bucket, key, in_flight=in_flight, errors=errors, quiet=quiet
                        )
                    upload.add_part(part)
                    part, filled = bytearray(part_size), 0  # the last one is in flight
        if upload is None:
            with errors(f"writing {key!r}"):
                client.put_object(Bucket=bucket, Key=key, Body=bytes(part[:filled]))
        else:
            if filled:
                del part[filled:]  # shrinks in place: the last part needs no copy
                upload.add_part(part)
            upload.complete()
    except BaseException:
        if upload is not None:
            upload.abort()
        raise


class MultipartUpload:
    """One multipart upload in progress: up to ``in_flight`` parts go up at once
    (memory: that many parts), then it completes with the parts in order, or aborts.

    Parallel parts are what boto3's ``upload_fileobj`` does too (10 threads); one
    part at a time measured 0.85-0.89 of it on moto's server (P4).
    """

    def __init__(
        self,
        client: S3Client,
        bucket: str,
        key: str,
        *,
        in_flight: int,
        errors: Callable[[str], AbstractContextManager[None]],
        quiet: tuple[type[Exception], ...],
    ) -> None:
        self._errors = errors
        self._quiet = quiet
        self._client = client
        self._bucket = bucket
        self._key = key
        self._in_flight = in_flight
        self._pending: list[Future[CompletedPartTypeDef]] = []
        self._parts: list[CompletedPartTypeDef] = []
        self._count = 0
        self._pool = ThreadPoolExecutor(in_flight, "recvault-s3-part") if in_flight > 1 else None
        with self._errors(f"starting the upload of {key!r}"):
            self._upload_id = client.create_multipart_upload(
                Bucket=bucket, Key=key, ChecksumAlgorithm="CRC32"
            )["UploadId"]

    def add_part(self, data: bytes | bytearray) -> None:
        """Upload ``data`` as the next part; it must not be changed until ``complete``."""
        self._count += 1
        if self._pool is None:
            self._parts.append(self._upload(self._count, data))
            return
        while len(self._pending) >= self._in_flight:
            self._parts.append(self._pending.pop(0).result())  # raises the part's error
        self._pending.append(self._pool.submit(self._upload, self._count, data))

    def _upload(self, number: int, data: bytes | bytearray) -> CompletedPartTypeDef:
        with self._errors(f"uploading part {number} of {self._key!r}"):
            response = self._client.upload_part(
                Bucket=self._bucket,
                Key=self._key,
                UploadId=self._upload_id,
                PartNumber=number,
                Body=data,  # type: ignore[arg-type]  # botocore takes bytearray too
                ChecksumAlgorithm="CRC32",
            )
        part: CompletedPartTypeDef = {"PartNumber": number, "ETag": response["ETag"]}
        if "ChecksumCRC32" in response:
            part["ChecksumCRC32"] = response["ChecksumCRC32"]
        return part

    def _drain(self) -> None:
        try:
            while self._pending:
                self._parts.append(self._pending.pop(0).result())
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True, cancel_futures=True)

    def complete(self) -> None:
        self._drain()
        with self._errors(f"completing the upload of {self._key!r}"):
            self._client.complete_multipart_upload(
                Bucket=self._bucket,
                Key=self._key,
                UploadId=self._upload_id,
                MultipartUpload={"Parts": self._parts},
            )

    def abort(self) -> None:
        # The original error matters more; the bucket's lifecycle rule for
        # incomplete uploads reclaims what an unreachable store keeps.
        with contextlib.suppress(BaseException):
            self._drain()  # no part may still be going up when the upload is aborted
        with contextlib.suppress(*self._quiet):
            self._client.abort_multipart_upload(
                Bucket=self._bucket, Key=self._key, UploadId=self._upload_id
            )


def abort_stale_uploads(
    client: S3Client,
    bucket: str,
    cutoff: datetime,
    *,
    dry_run: bool,
    errors: Callable[[str], AbstractContextManager[None]],
    bucket_errors: Callable[[str], AbstractContextManager[None]],
) -> int:
    """Abort multipart uploads started before ``cutoff``; how many (found, with ``dry_run``).

    ``bucket_errors`` translates the listing's errors (its "not found" is the bucket's).
    """
    stale: list[tuple[str, str]] = []
    with bucket_errors("listing incomplete uploads"):
        for page in client.get_paginator("list_multipart_uploads").paginate(Bucket=bucket):
            for upload in page.get("Uploads", []):
                started = upload.get("Initiated")
                if started is not None and started.astimezone(UTC) < cutoff:
                    stale.append((upload["Key"], upload["UploadId"]))
    if dry_run:
        return len(stale)
    removed = 0
    for key, upload_id in stale:
        try:
            with errors(f"aborting an upload of {key!r}"):
                client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
        except ObjectNotFound:
            continue  # completed or aborted meanwhile
        removed += 1
    return removed
