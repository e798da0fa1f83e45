"""As an operator runs it: both regions on AppRole tokens of 4 s (max 12 s), 45 s of work.

The regions' ``[keys]`` tables say ``auth = "approle"`` with ``role_id_file`` and
``secret_id_file``, as a deployment's TOML does; two threads create subjects,
put records and read them back through ``RecordVault`` for 45 s. Every token
the vault holds lapses several times over: renewed, then replaced by a new
login, and no call fails.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from pathlib import Path

import pytest

from keys.transit import TransitKeyProvider
from tests.fixtures.bao import TransitSetup
from tests.fixtures.settings import region_configs, vault_settings
from tests.keys.test_transit_auth import approle
from vault.metadata.migrate import upgrade
from vault.service import RecordVault

SECONDS = 45.0


@pytest.mark.slow
def test_45_seconds_of_puts_reads_and_new_subjects_on_4_second_tokens(
    transit: TransitSetup, tmp_path: Path
) -> None:
    _role, role_file, secret_file = approle(transit, tmp_path, ttl="4s", max_ttl="12s")
    regions = region_configs(tmp_path, keys="vault", bao_addr=transit.addr)
    for region in regions.values():
        keys = region["keys"]
        del keys["token_env"]
        keys.update(auth="approle", role_id_file=str(role_file), secret_id_file=str(secret_file))
    settings = vault_settings(
        f"sqlite:///{tmp_path / 'meta.db'}", regions, limits={"dek_cache_entries": 0}
    )
    upgrade(settings.database.url)
    vault = RecordVault.from_settings(settings)
    errors: list[BaseException] = []
    done = {"subjects": 0, "puts": 0, "reads": 0}
    lock = threading.Lock()
    until = time.monotonic() + SECONDS

    def work(worker: int) -> None:
        n = 0
        while time.monotonic() < until:
            n += 1
            region = "JP" if n % 2 else "PH"
            try:
                subject = vault.create_subject(f"clinic-{worker}-{n}", region)
                body = os.urandom(4096)
                record = vault.put_record(subject.id, "photo", body)
                with vault.open_record(record.id) as stream:
                    assert hashlib.sha256(stream.read()).digest() == hashlib.sha256(body).digest()
                with lock:
                    done["subjects"] += 1
                    done["puts"] += 1
                    done["reads"] += 1
            except BaseException as exc:  # every error is the test's finding
                errors.append(exc)

    try:
        threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        providers = [vault._ctx.region(r).keys for r in ("JP", "PH")]
    finally:
        vault.close()
    assert errors == []
    assert done["subjects"] > 0 and done["puts"] == done["reads"] == done["subjects"]
    logins = 0
    for provider in providers:
        inner = getattr(provider, "_inner", provider)  # the DEK cache wraps the provider
        assert isinstance(inner, TransitKeyProvider), type(inner)
        assert inner.auth.renewals >= 1  # renewed ahead of expiry ...
        logins += inner.auth.logins
    assert logins >= 2 * 2  # ... and, past the 12 s maximum, replaced by new logins
    print(f"45 s on 4 s tokens: {done}, 0 errors, {logins} logins")
