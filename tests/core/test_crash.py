"""SIGKILL a writer at random points: nothing half-written is ever visible; gc cleans up."""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlmodel import Session, select

from tests.core.conftest import vault_settings
from tests.core.crash_writer import BATCH_MAX
from tests.fixtures.db import postgres_slow
from vault import RecordVault
from vault.durations import Duration
from vault.metadata import RecordRow, RecordVersionRow
from vault.metadata.migrate import upgrade

ROOT = Path(__file__).resolve().parents[2]


@postgres_slow  # ~35 s on PostgreSQL; the SQLite run stays in the default run
def test_sigkill_leaves_whole_versions_or_nothing(db_url, tmp_path):
    settings = vault_settings(db_url, tmp_path)
    upgrade(settings.database.url)
    overrides = json.loads(settings.model_dump_json())
    for name in ("name_secret", "signing_key", "master_key"):
        overrides[name] = getattr(settings, name).get_secret_value()
    rng = random.Random(7)
    kills = 0
    for _ in range(6):
        child = subprocess.Popen(
            [sys.executable, "-m", "tests.core.crash_writer", json.dumps(overrides)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        assert child.stdout is not None
        assert child.stdout.readline().strip() == b"ready"
        time.sleep(rng.uniform(0.05, 1.0))
        child.send_signal(signal.SIGKILL)
        child.wait()
        kills += 1
    vault = RecordVault.from_settings(settings)
    try:
        with Session(vault._ctx.engine) as session:
            committed = session.exec(
                select(RecordVersionRow).where(RecordVersionRow.state == "committed")
            ).all()
            records = session.exec(select(RecordRow).where(RecordRow.state == "active")).all()
        assert committed, "the writers stored nothing before being killed"
        for row in committed:
            with vault.open_record(row.record_id, version=row.version) as reader:
                content = reader.read()
            assert hashlib.sha256(content[32:]).digest() == content[:32]
            assert len(content) == row.size
        for record in records:
            assert vault.record_info(record.id).version >= 1
        result = vault.gc(Duration.parse("PT0S"))
        with Session(vault._ctx.engine) as session:
            pending = session.exec(
                select(RecordVersionRow).where(RecordVersionRow.state == "pending")
            ).all()
            all_keys = {r.object_key for r in session.exec(select(RecordVersionRow)).all()}
        assert pending == []
        stored = {o.key for o in vault.regions["JP"].store.list("")}
        assert stored == all_keys
        # each kill leaves at most one write's leftovers: one version, or one bulk batch;
        # a killed write leaves no object that no row names (gc would keep and report it)
        assert result.pending_versions_removed <= kills * BATCH_MAX
        assert result.kept == ()
        assert vault.verify_audit().ok
    finally:
        vault.close()
