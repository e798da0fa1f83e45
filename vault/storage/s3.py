"""S3Store: objects in one S3 bucket (AWS S3, MinIO, Ceph), with Object Lock.

The only module of recvault that imports boto3 or botocore: it builds the
client and translates every botocore error to a recvault error in
``translate``, and nowhere else. The rest is split by concept and handed the
client and the error translation from here: writes (``s3_multipart``),
listings (``s3_listing``) and Object Lock with the deletion of versions
(``s3_object_lock``).
"""

from __future__ import annotations

import functools
import io
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, BinaryIO

import boto3
import botocore.exceptions
from botocore.config import Config

from vault.errors import InvalidInput, VaultError
from vault.storage.base import (
    ObjectInfo,
    ObjectNotFound,
    ObjectProtection,
    ObjectStore,
    RetentionMode,
    StoreAccessDenied,
    StoreUnavailable,
)
from vault.storage.naming import check_key
from vault.storage.s3_listing import list_objects, object_info
from vault.storage.s3_multipart import abort_stale_uploads, upload_object
from vault.storage.s3_object_lock import (
    delete_versions,
    extend_retention,
    put_legal_hold,
    read_protection,
)

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client

MiB = 1024 * 1024
MIN_PART_SIZE = 5 * MiB  # S3's floor for every part but the last
MAX_PART_SIZE = 5 * 1024 * MiB

_NOT_FOUND = {"NoSuchKey", "NotFound", "NoSuchVersion", "404"}
_DENIED = {
    "AccessDenied",
    "AllAccessDisabled",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "InvalidToken",
    "ExpiredToken",
    "403",
}
_NO_CREDENTIALS = (
    botocore.exceptions.NoCredentialsError,
    botocore.exceptions.PartialCredentialsError,
)
NO_LOCK_CONFIG = {"ObjectLockConfigurationNotFoundError", "InvalidRequest"}


def error_code(exc: botocore.exceptions.ClientError) -> tuple[str, int]:
    error = exc.response.get("Error", {})
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return str(error.get("Code", "")), int(status)


def translate(exc: Exception, what: str, *, bucket_call: bool = False) -> VaultError:
    """The one place where botocore errors become recvault errors.

    ``bucket_call``: the request names no object, so "not found" means the
    bucket is missing, and the store cannot serve at all.
    """
    if isinstance(exc, botocore.exceptions.ClientError):
        code, status = error_code(exc)
        if code == "NoSuchBucket" or (bucket_call and status == 404):
            return StoreUnavailable(f"s3: {what}: the bucket does not exist")
        if code in _NOT_FOUND or status == 404:
            return ObjectNotFound(f"s3: {what}: not found")
        if code in _DENIED or status == 403:
            return StoreAccessDenied(f"s3: {what}: access denied ({code or status})")
        return StoreUnavailable(f"s3: {what}: {code or 'error'} (HTTP {status})")
    if isinstance(exc, _NO_CREDENTIALS):
        return StoreAccessDenied(f"s3: {what}: no credentials")
    return StoreUnavailable(f"s3: {what}: {type(exc).__name__}")


BOTO_ERRORS = (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError)


@contextmanager
def boto_errors(what: str, *, bucket_call: bool = False) -> Iterator[None]:
    try:
        yield
    except botocore.exceptions.ParamValidationError:
        raise  # a bug in recvault, not a state of the store
    except BOTO_ERRORS as exc:
        raise translate(exc, what, bucket_call=bucket_call) from exc


_SESSION_LOCK = threading.Lock()
_SESSION: boto3.session.Session | None = None


def _shared_session() -> boto3.session.Session:
    """One boto3 session per process: it caches service models, so clients come cheap.

    Sessions are not thread safe; callers hold ``_SESSION_LOCK``.
    """
    global _SESSION
    if _SESSION is None:
        _SESSION = boto3.session.Session()
    return _SESSION


class _BodyReader(io.RawIOBase):
    """A raw stream over a StreamingBody whose read errors are recvault errors."""

    def __init__(self, body: Any, key: str) -> None:
        self._body = body
        self._key = key

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        with boto_errors(f"reading {self._key!r}"):
            data = self._body.read(len(view))
        view[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._body.close()
        super().close()


class S3Store(ObjectStore):
    """Objects in one bucket; puts are multipart uploads of ``part_size`` parts."""

    def __init__(
        self,
        bucket: str,
        *,
        endpoint_url: str | None = None,
        region_name: str | None = None,
        client: S3Client | None = None,
        object_lock: bool | None = None,
        part_size: int = 8 * MiB,
        parts_in_flight: int = 4,
        retention_mode: RetentionMode = RetentionMode.COMPLIANCE,
        connect_timeout: float = 5,
        read_timeout: float = 30,
        max_attempts: int = 3,
        aws_access_key_id: str | None = None,
        aws_secret_access_key: str | None = None,
        aws_session_token: str | None = None,
    ) -> None:
        if not MIN_PART_SIZE <= part_size <= MAX_PART_SIZE:
            raise InvalidInput(f"part_size must lie in [{MIN_PART_SIZE}, {MAX_PART_SIZE}]")
        if max_attempts < 1:
            raise InvalidInput("max_attempts must be at least 1")
        self.bucket = bucket
        self.part_size = part_size
        self.parts_in_flight = max(1, parts_in_flight)
        self.retention_mode = RetentionMode(retention_mode)
        self._object_lock = object_lock
        self._versioned: bool | None = True if object_lock else None
        if client is None:
            config = Config(
                connect_timeout=connect_timeout,
                read_timeout=read_timeout,
                retries={"total_max_attempts": max_attempts, "mode": "standard"},
                # MinIO, Ceph and test servers behind a custom endpoint want path style.
                s3={"addressing_style": "path" if endpoint_url else "auto"},
            )
            with _SESSION_LOCK:
                client = _shared_session().client(
                    "s3",
                    region_name=region_name,
                    endpoint_url=endpoint_url,
                    config=config,
                    aws_access_key_id=aws_access_key_id,
                    aws_secret_access_key=aws_secret_access_key,
                    aws_session_token=aws_session_token,
                )
        self._client: S3Client = client

    # -- capabilities ---------------------------------------------------------

    @property
    def supports_object_lock(self) -> bool:
        """Asked of the bucket once (``ObjectLockEnabled``) unless given at construction."""
        if self._object_lock is None:
            try:
                config = self._client.get_object_lock_configuration(Bucket=self.bucket)
            except botocore.exceptions.ClientError as exc:
                if error_code(exc)[0] not in NO_LOCK_CONFIG:
                    raise translate(
                        exc, "reading the Object Lock configuration", bucket_call=True
                    ) from exc
                self._object_lock = False
            except botocore.exceptions.BotoCoreError as exc:
                raise translate(
                    exc, "reading the Object Lock configuration", bucket_call=True
                ) from exc
            else:
                enabled = config.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled")
                self._object_lock = enabled == "Enabled"
        return self._object_lock

    @supports_object_lock.setter
    def supports_object_lock(self, enabled: bool) -> None:
        self._object_lock = enabled

    def _is_versioned(self) -> bool:
        if self._versioned is None:
            with boto_errors("reading the bucket's versioning", bucket_call=True):
                status = self._client.get_bucket_versioning(Bucket=self.bucket).get("Status")
            # A suspended bucket still holds the versions written while enabled.
            self._versioned = status in ("Enabled", "Suspended")
        return self._versioned

    # -- writing --------------------------------------------------------------

    def put(self, key: str, chunks: Iterable[bytes]) -> ObjectInfo:
        check_key(key)
        upload_object(
            self._client,
            self.bucket,
            key,
            chunks,
            part_size=self.part_size,
            in_flight=self.parts_in_flight,
            errors=boto_errors,
            quiet=BOTO_ERRORS,
        )
        return self.head(key)

    # -- reading --------------------------------------------------------------

    def open(self, key: str) -> BinaryIO:
        check_key(key)
        with boto_errors(f"opening {key!r}"):
            body = self._client.get_object(Bucket=self.bucket, Key=key)["Body"]
        return io.BufferedReader(_BodyReader(body, key), buffer_size=MiB)

    def get_range(self, key: str, start: int, stop: int) -> bytes:
        check_key(key)
        if start < 0 or stop < start:
            raise InvalidInput(f"byte range [{start}, {stop}) is not a valid range")
        if start == stop:
            self.head(key)
            return b""
        try:
            response = self._client.get_object(
                Bucket=self.bucket, Key=key, Range=f"bytes={start}-{stop - 1}"
            )
            with response["Body"] as body:
                return body.read()
        except botocore.exceptions.ClientError as exc:
            code, status = error_code(exc)
            if code == "InvalidRange" or status == 416:
                self.head(key)  # the range starts past the end of an existing object
                return b""
            raise translate(exc, f"reading a range of {key!r}") from exc
        except botocore.exceptions.BotoCoreError as exc:
            raise translate(exc, f"reading a range of {key!r}") from exc

    def head(self, key: str) -> ObjectInfo:
        check_key(key)
        with boto_errors(f"reading metadata of {key!r}"):
            response = self._client.head_object(Bucket=self.bucket, Key=key)
        return object_info(key, response["ContentLength"], response)

    def list(
        self, prefix: str = "", page_size: int = 1000, *, start_after: str = ""
    ) -> Iterator[ObjectInfo]:
        yield from list_objects(
            self._client,
            self.bucket,
            prefix,
            page_size,
            start_after,
            bucket_errors=functools.partial(boto_errors, bucket_call=True),
        )

    def location(self) -> str:
        try:
            response = self._client.head_bucket(Bucket=self.bucket)
            headers = response["ResponseMetadata"].get("HTTPHeaders", {})
        except botocore.exceptions.ClientError as exc:
            # A wrong-region client gets a 301 that still names the region.
            headers = exc.response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
            if "x-amz-bucket-region" not in headers:
                raise translate(exc, "reading the bucket's region", bucket_call=True) from exc
        except botocore.exceptions.BotoCoreError as exc:
            raise translate(exc, "reading the bucket's region", bucket_call=True) from exc
        region = headers.get("x-amz-bucket-region")
        if not region:
            with boto_errors("reading the bucket's location", bucket_call=True):
                region = self._client.get_bucket_location(Bucket=self.bucket).get(
                    "LocationConstraint"
                )
        if region == "EU":  # the legacy name of eu-west-1
            return "eu-west-1"
        return region or "us-east-1"

    def health(self) -> None:
        with boto_errors("checking the bucket", bucket_call=True):
            self._client.head_bucket(Bucket=self.bucket)

    # -- deleting -------------------------------------------------------------

    def delete(self, key: str) -> None:
        check_key(key)
        if not self._is_versioned():
            with boto_errors(f"deleting {key!r}"):
                self._client.delete_object(Bucket=self.bucket, Key=key)
            return
        delete_versions(
            self._client,
            self.bucket,
            key,
            errors=boto_errors,
            caught=BOTO_ERRORS,
            translate=translate,
        )

    # -- crash leftovers ------------------------------------------------------

    def remove_stale_temp(
        self, older_than: timedelta, now: datetime | None = None, *, dry_run: bool = False
    ) -> int:
        """Abort multipart uploads started before ``now - older_than`` (a put that crashed
        leaves its parts stored and billed, but never an object); return how many.

        ``recvault gc`` calls it with its grace period, longer than any put.
        """
        cutoff = (now or datetime.now(UTC)) - older_than
        return abort_stale_uploads(
            self._client,
            self.bucket,
            cutoff,
            dry_run=dry_run,
            errors=boto_errors,
            bucket_errors=functools.partial(boto_errors, bucket_call=True),
        )

    # -- Object Lock ----------------------------------------------------------

    def set_retention(
        self, key: str, retain_until: datetime, mode: RetentionMode | None = None
    ) -> None:
        check_key(key)
        if retain_until.tzinfo is None:
            raise InvalidInput("retain_until must carry a time zone")
        if not self.supports_object_lock:
            self.head(key)
            return
        mode = RetentionMode(mode or self.retention_mode)
        extend_retention(
            self._client,
            self.bucket,
            key,
            retain_until,
            mode,
            current=self.protection(key),
            errors=boto_errors,
        )

    def set_legal_hold(self, key: str, on: bool) -> None:
        check_key(key)
        if not self.supports_object_lock:
            self.head(key)
            return
        put_legal_hold(self._client, self.bucket, key, on, errors=boto_errors)

    def protection(self, key: str) -> ObjectProtection:
        check_key(key)
        return read_protection(self._client, self.bucket, key, errors=boto_errors)
