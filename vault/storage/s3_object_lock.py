"""Object Lock for ``S3Store``: a version's protection, retention and legal holds, and deleting
every version of a key that the lock lets go.

Like ``s3_multipart`` it calls the client it is given and imports no SDK:
``S3Store`` hands in how the SDK's errors are translated (``errors``, or
``caught`` and ``translate`` where one refused call must not end the loop), so
botocore stays in ``vault/storage/s3.py``.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from vault.errors import VaultError
from vault.storage.base import (
    ObjectLocked,
    ObjectNotFound,
    ObjectProtection,
    RetentionMode,
    StoreAccessDenied,
)
from vault.storage.s3_listing import utc

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client

Errors = Callable[[str], AbstractContextManager[None]]


def read_protection(client: S3Client, bucket: str, key: str, *, errors: Errors) -> ObjectProtection:
    """The current version's retention and legal hold, as HeadObject reports them."""
    # HeadObject rather than GetObjectRetention: moto answers the latter wrongly.
    with errors(f"reading the protection of {key!r}"):
        response = client.head_object(Bucket=bucket, Key=key)
    return protection_of(response)


def extend_retention(
    client: S3Client,
    bucket: str,
    key: str,
    retain_until: datetime,
    mode: RetentionMode,
    *,
    current: ObjectProtection,
    errors: Errors,
) -> None:
    """Retain ``key`` in ``mode`` until ``retain_until``, unless ``current`` already does."""
    if current.mode == mode and current.retain_until and current.retain_until >= retain_until:
        return  # retention only ever grows; COMPLIANCE refuses a shorter date
    with errors(f"setting retention on {key!r}"):
        client.put_object_retention(
            Bucket=bucket,
            Key=key,
            Retention={"Mode": mode.value, "RetainUntilDate": retain_until},
        )


def put_legal_hold(client: S3Client, bucket: str, key: str, on: bool, *, errors: Errors) -> None:
    with errors(f"setting the legal hold on {key!r}"):
        client.put_object_legal_hold(
            Bucket=bucket, Key=key, LegalHold={"Status": "ON" if on else "OFF"}
        )


def delete_versions(
    client: S3Client,
    bucket: str,
    key: str,
    *,
    errors: Errors,
    caught: tuple[type[Exception], ...],
    translate: Callable[[Exception, str], VaultError],
) -> None:
    """Delete every version and delete marker of ``key`` that may go.

    The locked ones are reported together as one ``ObjectLocked``, with the
    latest retain-until among them (what a caller waits for).
    """
    locked: builtins.list[ObjectProtection] = []
    for version_id in _version_ids(client, bucket, key, errors=errors):
        try:
            client.delete_object(Bucket=bucket, Key=key, VersionId=version_id)
        except caught as exc:
            error = translate(exc, f"deleting a version of {key!r}")
            protection = (
                _locked(client, bucket, key, version_id, caught=caught)
                if isinstance(error, StoreAccessDenied)
                else None
            )
            if protection is not None:
                locked.append(protection)
                continue
            if isinstance(error, ObjectNotFound):
                continue  # deleted concurrently
            raise error from exc
    if locked:
        dates = [p.retain_until for p in locked if p.retain_until is not None]
        raise ObjectLocked(
            f"s3: {key!r} is under retention or legal hold",
            retain_until=max(dates) if dates else None,
            legal_hold=any(p.legal_hold for p in locked),
        )


def _version_ids(client: S3Client, bucket: str, key: str, *, errors: Errors) -> builtins.list[str]:
    """Every version and delete marker of exactly ``key`` (not of longer keys)."""
    ids: builtins.list[str] = []
    paginator = client.get_paginator("list_object_versions")
    with errors(f"listing versions of {key!r}"):
        for page in paginator.paginate(Bucket=bucket, Prefix=key):
            for entry in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
                if entry.get("Key") == key and "VersionId" in entry:
                    ids.append(entry["VersionId"])
    return ids


def _locked(
    client: S3Client,
    bucket: str,
    key: str,
    version_id: str,
    *,
    caught: tuple[type[Exception], ...],
) -> ObjectProtection | None:
    """The version's protection when it explains a refused delete, else None."""
    try:
        response = client.head_object(Bucket=bucket, Key=key, VersionId=version_id)
    except caught:
        return None
    protection = protection_of(response)
    if protection.legal_hold:
        return protection
    if protection.retain_until is not None and protection.retain_until > datetime.now(UTC):
        return protection
    return None


def protection_of(response: Any) -> ObjectProtection:
    """The Object Lock fields of a HeadObject answer."""
    mode = response.get("ObjectLockMode")
    return ObjectProtection(
        retain_until=utc(response.get("ObjectLockRetainUntilDate")),
        mode=RetentionMode(mode) if mode else None,
        legal_hold=response.get("ObjectLockLegalHoldStatus") == "ON",
    )
