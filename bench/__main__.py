"""Run every benchmark module listed in ``MODULES``, in order; a missing one is an error.

``python -m bench paging residency`` runs only the modules named (``bench.<name>``).
"""

from __future__ import annotations

import importlib
import inspect
import sys

#: Add a module here (it must define ``main()``) to include it in ``python -m bench``.
MODULES = [
    "bench.format",
    "bench.storage",
    "bench.keys",
    "bench.records",
    "bench.rotation",
    "bench.residency",
    "bench.api",
    "bench.paging",
]


def main(argv: list[str] | None = None) -> int:
    wanted = sys.argv[1:] if argv is None else argv
    names = [f"bench.{n.removeprefix('bench.')}" for n in wanted] or MODULES
    unknown = [n for n in names if n not in MODULES]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(MODULES)}")
        return 2
    status = 0
    for name in names:
        module = importlib.import_module(name)
        print(f"== {name}")
        # the modules parse their own options: give them none (sys.argv names modules here)
        takes_argv = bool(inspect.signature(module.main).parameters)
        result = module.main([]) if takes_argv else module.main()
        status = status or (result or 0)
    return status


if __name__ == "__main__":
    sys.exit(main())
