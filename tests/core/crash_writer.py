"""A writer process for the crash test: stores self-verifying records until killed."""

from __future__ import annotations

import hashlib
import json
import os
import random
import sys

from vault import RecordInput, RecordVault, Settings

#: the most versions one bulk put leaves pending when it is killed
BATCH_MAX = 12


def self_verifying(rng: random.Random, sizes: list[int]) -> bytes:
    body = rng.randbytes(rng.choice(sizes))
    return hashlib.sha256(body).digest() + body


def main() -> None:
    overrides = json.loads(sys.argv[1])
    vault = RecordVault.from_settings(Settings.load(None, **overrides))
    subject = vault.create_subject(f"crash-{os.getpid()}", "JP")
    rng = random.Random(os.getpid())
    print("ready", flush=True)
    while True:
        if rng.random() < 0.25:  # a bulk put: one batch flushed before its rows commit
            items = [
                RecordInput(subject.id, "photo", self_verifying(rng, [10, 4096, 40_000]))
                for _ in range(rng.randint(2, BATCH_MAX))
            ]
            vault.put_records(items)
            continue
        content = self_verifying(rng, [10, 5000, 700_000, 2_500_000])
        if rng.random() < 0.2:
            existing = vault.list_records(subject.id)
            if existing:
                vault.update_record(existing[0].id, content)
                continue
        vault.put_record(subject.id, "impression", content)


if __name__ == "__main__":
    main()
