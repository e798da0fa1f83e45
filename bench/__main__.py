"""Run every benchmark module listed in ``MODULES``, in order; a missing one is an error."""

from __future__ import annotations

import importlib
import sys

#: Add a module here (it must define ``main()``) to include it in ``python -m bench``.
MODULES = [
    "bench.format",
    "bench.storage",
    "bench.keys",
    "bench.records",
    "bench.rotation",
    "bench.residency",
    "bench.reads",
    "bench.api",
    "bench.load",
]

#: arguments for a module's ``main(argv)`` in the full run (P10 runs 20 s per side
#: there; ``python -m bench.load`` alone runs the issue's 60 s)
ARGS = {"bench.load": ["--seconds", "20"]}


def main() -> int:
    status = 0
    for name in MODULES:
        module = importlib.import_module(name)
        print(f"== {name}")
        result = module.main(ARGS[name]) if name in ARGS else module.main()
        status = status or (result or 0)
    return status


if __name__ == "__main__":
    sys.exit(main())
