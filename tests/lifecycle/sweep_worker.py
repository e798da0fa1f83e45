"""A sweep worker process for the concurrency test: one sweep, result as JSON."""

from __future__ import annotations

import dataclasses
import json
import sys

from vault import RecordVault, Settings


def main() -> None:
    vault = RecordVault.from_settings(Settings.load(None, **json.loads(sys.argv[1])))
    result = vault.sweep(actor=sys.argv[2])
    print(json.dumps(dataclasses.asdict(result)), flush=True)


if __name__ == "__main__":
    main()
