"""Run every benchmark module listed in ``MODULES``, in order; a missing one is an error.

``python -m bench paging residency`` runs only the modules named (``bench.<name>``).
Each module's heading gives how fast the machine copied memory just before it
ran, in user space and in the kernel (``bench.common.memory_rates``): on a
shared host either moves by up to 10x from minute to minute, and the
streaming figures with them.
"""

from __future__ import annotations

import importlib
import inspect
import sys

from bench.common import memory_rates

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
    "bench.servers",
    "bench.load",
    "bench.paging",
]

#: arguments for a module's ``main(argv)`` in the full run (P10 runs 20 s per side
#: there; ``python -m bench.load`` alone runs the issue's 60 s)
ARGS = {"bench.load": ["--seconds", "20"]}


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
        user, kernel = memory_rates()
        print(f"== {name} (memory copy {user:.1f} GB/s, kernel copy {kernel:.1f} GB/s)")
        # the modules parse their own options: give them none but the full run's own
        takes_argv = bool(inspect.signature(module.main).parameters)
        argv_for = ARGS.get(name, [])
        result = module.main(argv_for) if takes_argv else module.main()
        status = status or (result or 0)
    return status


if __name__ == "__main__":
    sys.exit(main())
