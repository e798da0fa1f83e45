"""Examples of requests and answers for the OpenAPI document (taken from a running vault).

tests/api/test_openapi_docs.py validates every example against the schema it
illustrates, so an example cannot drift from what the server sends.
"""

from __future__ import annotations

from typing import Any

SUBJECT_ID = "3e4f5a6b0f8e4a9c1b2d4e6f8a0b1c2d"
RECORD_ID = "0f8e4a9c1b2d4e6f8a0b1c2d3e4f5a6b"
HOLD_ID = "5a6b0f8e4a9c1b2d4e6f8a0b1c2d3e4f"
DESTRUCTION_ID = "9c1b2d4e6f8a0b1c2d3e4f5a6b0f8e4a"
KEY_NAME = "subj-615668eb7f64e165861c3d63dd77ee2043e67550c5a1cf127cfd1fb4ba1752d6"
SIGNATURE = (
    "XLcIRL7JhoUnq2K4OyjVz9+wOOmOE0TJyLdTrxgAN1mHuSLxv4jZzdyCZ7bHEWYqhCApkdp/x/tqI/IFbXlnBA=="
)
PUBLIC_KEY = "NXAEz2R0biI39f7lX6nQYas9o2XQoOGrF67xn3tF7Xw="

SUBJECT: dict[str, Any] = {
    "id": SUBJECT_ID,
    "region": "JP",
    "key_name": KEY_NAME,
    "state": "active",
    "restricted": False,
    "created_at": "2026-12-03T13:21:41.956493Z",
}

_V1 = {
    "version": 1,
    "size": 2048,
    "content_type": "image/png",
    "created_at": "2026-12-03T13:21:42.053412Z",
    "key_version": 1,
    "etag": "cc9edbb5f7c744f21e0971ebf13d69d2",
}
_V2 = {
    "version": 2,
    "size": 4096,
    "content_type": "image/png",
    "created_at": "2026-12-03T13:21:42.369047Z",
    "key_version": 1,
    "etag": "c426b8ae1c7c2e4c5683584e668f56b6",
}
_RECORD_BASE: dict[str, Any] = {
    "id": RECORD_ID,
    "subject_id": SUBJECT_ID,
    "category": "xray",
    "state": "active",
    "created_at": "2026-12-03T13:21:42.053412Z",
    "region": "JP",
}
RECORD_CREATED: dict[str, Any] = {
    **_RECORD_BASE,
    "version": 1,
    "size": 2048,
    "content_type": "image/png",
    "last_processed_at": "2026-12-03T13:21:42.159325Z",
    "retain_until": "2036-12-03T13:21:42.159325Z",
    "versions": [_V1],
}
RECORD: dict[str, Any] = {
    **_RECORD_BASE,
    "version": 2,
    "size": 4096,
    "content_type": "image/png",
    "last_processed_at": "2026-12-03T13:21:42.443009Z",
    "retain_until": "2036-12-03T13:21:42.443009Z",
    "versions": [_V1, _V2],
}
RECORDS: dict[str, Any] = {"items": [RECORD], "next": None}

HOLD_CREATE: dict[str, Any] = {
    "scope": "subject",
    "target_id": SUBJECT_ID,
    "case_ref": "CASE-2026-014",
    "reason": "litigation: records requested by the court",
}
HOLD: dict[str, Any] = {
    "id": HOLD_ID,
    "scope": "subject",
    "target_id": SUBJECT_ID,
    "subject_id": SUBJECT_ID,
    "case_ref": "CASE-2026-014",
    "reason": "litigation: records requested by the court",
    "placed_by": "clinic-admin",
    "placed_at": "2026-12-03T13:21:42.804621Z",
    "released_by": None,
    "released_at": None,
    "release_reason": None,
    "active": True,
}
HOLD_RELEASED: dict[str, Any] = {
    **HOLD,
    "released_by": "clinic-admin-2",
    "released_at": "2026-12-10T09:00:00.000000Z",
    "release_reason": "case closed",
    "active": False,
}

ERASURE: dict[str, Any] = {
    "request_id": "c1b0841390494b18b07fecc3f03b29fb",
    "subject_id": SUBJECT_ID,
    "status": "deferred",
    "earliest": "2036-12-03T13:21:42.443009Z",
    "reasons": [
        {
            "kind": "retention",
            "detail": "xray record kept for 10 years after it was last processed",
            "until": "2036-12-03T13:21:42.443009Z",
            "case_ref": None,
            "hold_id": None,
            "record_id": RECORD_ID,
        }
    ],
    "destruction_id": None,
}

DESTRUCTION: dict[str, Any] = {
    "id": DESTRUCTION_ID,
    "subject_id": SUBJECT_ID,
    "key_name": KEY_NAME,
    "region": "PH",
    "state": "scheduled",
    "reason": "erasure-request",
    "scheduled_at": "2026-12-03T13:21:43.144092Z",
    "not_before": "2027-01-02T13:21:43.144092Z",
    "cancelled_by": None,
    "executed_at": None,
}
DESTRUCTION_CANCELLED: dict[str, Any] = {
    **DESTRUCTION,
    "state": "cancelled",
    "cancelled_by": "security-officer",
}
CERTIFICATE: dict[str, Any] = {
    "document": {
        "type": "recvault.destruction-certificate",
        "version": 1,
        "destruction_id": DESTRUCTION_ID,
        "subject_id": SUBJECT_ID,
        "subject_key": KEY_NAME,
        "region": "PH",
        "location": "ph-manila-1",
        "key_provider": "vault transit-ph",
        "reason": "erasure-request",
        "scheduled_at": "2026-12-03T13:21:43.144092+00:00",
        "not_before": "2027-01-02T13:21:43.144092+00:00",
        "executed_at": "2027-01-02T14:00:00.000000+00:00",
        "records": 3,
        "versions": 4,
        "bytes": 18874368,
        "snapshot_horizon": "2027-02-01T14:00:00.000000+00:00",
        "statement": "The subject key was destroyed in the key service and every wrapped "
        "data key and object of the subject was deleted. ...",
    },
    "signature": SIGNATURE,
    "public_key": PUBLIC_KEY,
    "algorithm": "ed25519",
}

ROTATE_REQUEST: dict[str, Any] = {"region": "JP"}
ROTATION: dict[str, Any] = {
    "keys_rotated": 1,
    "deks_rewrapped": 2,
    "regions": {"JP": {"keys_rotated": 1, "deks_rewrapped": 2}},
    "jobs_resumed": 0,
    "failures": [],
}
KEY_STATUS: dict[str, Any] = {
    "as_of": "2026-12-03T13:21:43.324347+00:00",
    "max_age": "P1Y",
    "keep_versions": 0,
    "regions": {
        "JP": {
            "region": "JP",
            "subject_keys": 1,
            "keys_destroyed": 0,
            "versions_in_use": {"1": 2},
            "deks": 2,
            "deks_awaiting_rewrap": 0,
            "oldest_version_in_use_since": "2026-12-03T13:21:41.956493+00:00",
            "oldest_version_in_use_age_days": 0.0,
            "keys_past_max_age": 0,
            "due": [],
            "pending_destruction": [],
            "open_rotations": [],
            "failed_rotations": [],
        }
    },
    "keys_half_rotated": 0,
}

PLAN: dict[str, Any] = {
    "as_of": "2036-12-04T00:00:00Z",
    "review": False,
    "next": None,
    "items": [
        {
            "kind": "subject",
            "id": SUBJECT_ID,
            "subject_id": SUBJECT_ID,
            "disposable": True,
            "action": "schedule-destruction",
            "reasons": [],
            "approved": False,
        }
    ],
}
SWEEP: dict[str, Any] = {
    "records_erased": 0,
    "destructions_scheduled": 1,
    "destructions_executed": 0,
    "destructions_blocked": 0,
    "retention_locks_extended": 0,
    "keys_rotated": 0,
    "awaiting_approval": 0,
}
APPROVAL_REQUEST: dict[str, Any] = {"ids": [SUBJECT_ID]}
APPROVAL: dict[str, Any] = {"approved": 1, "review": True}

RESIDENCY: dict[str, Any] = {
    "document": {
        "type": "recvault.residency-report",
        "version": 1,
        "generated_at": "2026-12-03T13:21:44.114255+00:00",
        "ok": True,
        "truncated": False,
        "regions": [
            {
                "name": "JP",
                "expected_location": "ap-northeast-1",
                "reported_location": "ap-northeast-1",
                "objects_listed": 2,
                "objects_accounted": 2,
                "objects_in_transfer": 0,
                "objects_pending": 0,
                "keys_listed": 1,
                "keys_accounted": 1,
                "audit_checkpoints": 1,
                "location_ok": True,
            }
        ],
        "violations": [],
        "counts": {
            "check_incomplete": 0,
            "location_mismatch": 0,
            "missing_key": 0,
            "missing_object": 0,
            "stray_key": 0,
            "stray_object": 0,
        },
        "detail_limit": 1000,
    },
    "signature": SIGNATURE,
    "public_key": PUBLIC_KEY,
    "algorithm": "ed25519",
}
RESIDENCY_OBJECT: dict[str, Any] = {
    "key": "JP/3e/3e4f5a6b0f8e4a9c1b2d4e6f8a0b1c2d",
    "present": True,
    "expected_region": "JP",
    "expected": "a committed record version",
    "verdict": "ok",
    "detail": "",
}
RESIDENCY_KEY: dict[str, Any] = {
    "key": KEY_NAME,
    "present": True,
    "expected_region": "JP",
    "expected": "a subject key",
    "verdict": "ok",
    "detail": "",
}
TRANSFER_REQUEST: dict[str, Any] = {
    "to_region": "PH",
    "legal_basis": "consent",
    "evidence_ref": "consent form 2026-014",
}
TRANSFER: dict[str, Any] = {
    "id": "8d99dfbc78e04fc3a55fc7b07e5aa69c",
    "subject_id": SUBJECT_ID,
    "from_region": "JP",
    "to_region": "PH",
    "legal_basis": "consent",
    "evidence_ref": "consent form 2026-014",
    "state": "done",
    "versions": 1,
    "copied_now": 1,
    "resumed": False,
    "hold_override": False,
    "started_at": "2026-12-03T13:21:53.109613Z",
    "finished_at": "2026-12-03T13:21:53.318359Z",
    "remnants": 0,
}

AUDIT_PAGE: dict[str, Any] = {
    "items": [
        {
            "seq": 41,
            "ts": "2026-12-03T13:21:42.053412Z",
            "actor": "clinic-service",
            "role": "service",
            "action": "record.read",
            "target": RECORD_ID,
            "subject_id": SUBJECT_ID,
            "region": "JP",
            "purpose": "",
            "outcome": "ok",
            "prev_hash": "6ee80f7acaf2c3fac007ba25e6597b0507233d0ea15060d8fed14c99d6998c3b",
            "hash": "0a887ae3d5a8bce1735b7c1282cc5da39286c57bca295f958c5c42b5832f56ca",
            "request_id": "5f0c6a3e9d2b4c71",
        }
    ],
    "next": None,
}
AUDIT_VERIFICATION: dict[str, Any] = {
    "ok": True,
    "events": 1525,
    "first_broken_seq": None,
    "reason": None,
    "checkpoint_seq": 1500,
    "events_after_checkpoint": 25,
    "checkpoint_status": "found",
}

HEALTH: dict[str, Any] = {"status": "ok"}
READY: dict[str, Any] = {
    "status": "ok",
    "checks": {
        "database": "ok",
        "keys:JP": "ok",
        "store:JP": "ok",
        "keys:PH": "ok",
        "store:PH": "ok",
    },
    "audit_checkpoint": "ok",
}
NOT_READY: dict[str, Any] = {
    **READY,
    "status": "unavailable",
    "checks": {**READY["checks"], "keys:PH": "timeout"},
}
METRICS = (
    "# TYPE recvault_http_requests_total counter\n"
    'recvault_http_requests_total{method="GET",route="records.content",status="200"} 42.0\n'
)


def page(*items: dict[str, Any]) -> dict[str, Any]:
    """A list route's answer: one page of ``items``, ``next`` null on the last page."""
    return {"items": list(items), "next": None}
