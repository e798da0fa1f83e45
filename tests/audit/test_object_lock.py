"""On S3 stores with Object Lock, each checkpoint carries a COMPLIANCE retention (moto's S3)."""

from __future__ import annotations

from tests.audit.conftest import fill
from vault.audit.checkpoints import checkpoint_key
from vault.durations import Duration
from vault.storage import RetentionMode


def test_checkpoints_on_s3_are_locked_under_compliance(
    make_vault, sqlite_url, clock, moto_server, server_bucket
):
    stores = {
        name: {
            "kind": "s3",
            "endpoint_url": moto_server,
            "bucket": server_bucket(location, object_lock=True),
            "region_name": location,
            "object_lock": True,
        }
        for name, location in (("JP", "ap-northeast-1"), ("PH", "ap-southeast-1"))
    }
    vault = make_vault(sqlite_url, stores=stores, audit={"checkpoint_retention": "P12Y"})
    fill(vault, clock, 4)
    written = vault.audit_checkpoint()
    assert written is not None and written.regions == ("JP", "PH")
    for region in ("JP", "PH"):
        store = vault.regions[region].store
        protection = store.protection(checkpoint_key(4))
        assert protection.mode is RetentionMode.COMPLIANCE
        assert protection.retain_until == Duration.parse("P12Y").after(clock.now)
    verdict = vault.verify_audit()
    assert verdict.ok and verdict.checkpoint_seq == 4
    assert vault.residency_report().ok
