"""How botocore errors become recvault errors: the one place, for the whole S3 adapter."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import botocore.exceptions

from vault.errors import VaultError
from vault.storage.base import ObjectNotFound, StoreAccessDenied, StoreUnavailable

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
