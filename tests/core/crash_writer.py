"""A writer process for the crash test: stores self-verifying records until killed."""

from __future__ import annotations

import hashlib
import json
import os
import random
import sys

from vault import RecordVault, Settings


def main() -> None:
    overrides = json.loads(sys.argv[1])
    vault = RecordVault.from_settings(Settings.load(None, **overrides))
    subject = vault.create_subject(f"crash-{os.getpid()}", "JP")
    rng = random.Random(os.getpid())
    print("ready", flush=True)
    while True:
        body = rng.randbytes(rng.choice([10, 5000, 700_000, 2_500_000]))
        content = hashlib.sha256(body).digest() + body
        if rng.random() < 0.2:
            existing = vault.list_records(subject.id)
            if existing:
                vault.update_record(existing[0].id, content)
                continue
        vault.put_record(subject.id, "impression", content)


if __name__ == "__main__":
    main()
