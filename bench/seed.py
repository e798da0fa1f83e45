"""Rows for seeding the metadata DB directly (benchmarks that need 100,000 records fast)."""

from __future__ import annotations

from datetime import datetime
from typing import Any


def record_rows(
    record_id: str,
    subject_id: str,
    object_key: str,
    *,
    key_name: str,
    key_version: int,
    wrapped_dek: str,
    now: datetime,
    size: int = 0,
    etag: str = "",
) -> tuple[dict[str, Any], dict[str, Any]]:
    """One active record and its committed version 1, as rows for a bulk ``insert``."""
    record = {
        "id": record_id,
        "subject_id": subject_id,
        "category": "photo",
        "state": "active",
        "current_version": 1,
        "created_at": now,
        "last_processed_at": now,
        "retain_until": now,
    }
    version = {
        "record_id": record_id,
        "version": 1,
        "state": "committed",
        "object_key": object_key,
        "size": size,
        "wrapped_dek": wrapped_dek,
        "key_name": key_name,
        "key_version": key_version,
        "content_type": "application/octet-stream",
        "etag": etag,
        "created_at": now,
        "committed_at": now,
    }
    return record, version
