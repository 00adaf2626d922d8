"""``make bench``: runs every ``tests/benchmarks/bench_*.py`` and prints the figures.

Each module exposes ``run(ctx: BenchContext) -> dict[str, float]``; figures from earlier modules are
in ``ctx.figures`` so ratios are taken within the same run (e.g. against the raw HSM rate).  The
figures are printed at the end, one per line, as ``name: value``.  Set ``BENCH_ONLY=signing,csc`` to
run some modules only.

Each module runs in a process of its own (spawned, given the run's context, its figures sent back):
run one after the other in this process, a module measured the heap, threads and caches the modules
before it left behind (the signing figures ran ≈ 15 % slower after the load test than alone).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import pkgutil
import sys
import time

from tests.benchmarks.common import BenchContext, run_module


def main() -> int:
    only = {x.strip() for x in os.environ.get("BENCH_ONLY", "").split(",") if x.strip()}
    ctx = BenchContext.create()
    package_dir = os.path.dirname(__file__)
    names = sorted(m.name for m in pkgutil.iter_modules([package_dir]) if m.name.startswith("bench_"))
    # the raw HSM rate first: other modules state their figures as a ratio to it, from the same run
    names.sort(key=lambda name: name != "bench_hsm")
    failures = 0
    try:
        for name in names:
            short = name.removeprefix("bench_")
            if only and short not in only:
                continue
            print(f"==> {short}", file=sys.stderr, flush=True)
            started = time.perf_counter()
            figures = _isolated(name, ctx)
            if figures is None:
                failures += 1
            else:
                ctx.figures.update(figures)
            print(f"    ({time.perf_counter() - started:.1f} s)", file=sys.stderr, flush=True)
    finally:
        ctx.close()
    print()
    for key, value in ctx.figures.items():
        print(f"{key}: {value:.4g}" if isinstance(value, float) else f"{key}: {value}")
    return 1 if failures else 0


def _isolated(name: str, ctx: BenchContext) -> dict[str, float] | None:
    """``run(ctx)`` of the module in a fresh process; its figures, or None when it failed."""
    spawn = mp.get_context("spawn")
    receive, send = spawn.Pipe(duplex=False)
    process = spawn.Process(target=run_module, args=(name, ctx, send), name=f"bench-{name}")
    process.start()
    send.close()
    try:
        figures: dict[str, float] | None = receive.recv()
    except EOFError:  # the process died before it could answer
        figures = None
    process.join()
    return figures


if __name__ == "__main__":
    sys.exit(main())
