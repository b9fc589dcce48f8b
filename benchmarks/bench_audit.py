"""The nightly gender-gap audit (`jobrec.audit.nightly_audit`) on a night's warehouse, its sources
estimated one after the other (workers 1) or in worker processes side by side, alternating.

    python benchmarks/bench_audit.py --warehouse W/warehouse/jobrec.duckdb --day 2026-12-01 \
        --workers 1 2 --repeats 2

The process imports scikit-learn's decomposition and torch first, as the nightly process has them
loaded (their two OpenMP runtimes are why each source runs on one thread: BENCHMARKS.md). Every
run must give the same estimates; prints seconds per run and the median per worker count.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import time
from pathlib import Path

import duckdb
import pandas as pd
import sklearn.decomposition  # noqa: F401  (the nightly process's import order)
import torch  # noqa: F401

from jobrec import audit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", type=Path, required=True)
    parser.add_argument("--day", type=dt.date.fromisoformat, required=True)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    print(f"machine: {platform.node()}, {os.cpu_count()} cores; {args.warehouse}, {args.day}")
    seconds: dict[int, list[float]] = {w: [] for w in args.workers}
    first = None
    with duckdb.connect(str(args.warehouse), read_only=True) as con:
        for rep in range(args.repeats):
            for workers in args.workers:
                start = time.perf_counter()
                frame = audit.nightly_audit(con, args.day, workers=workers)
                seconds[workers].append(time.perf_counter() - start)
                print(f"repeat {rep}, workers {workers}: {seconds[workers][-1]:.1f} s", flush=True)
                if first is None:
                    first = frame
                pd.testing.assert_frame_equal(frame, first)  # the same estimates every run
    print("\n| workers | runs (s) | median s | against 1 worker |\n|---:|---|---:|---:|")
    base = statistics.median(seconds[args.workers[0]])
    for workers, runs in seconds.items():
        med = statistics.median(runs)
        print(
            f"| {workers} | {' / '.join(f'{s:.1f}' for s in runs)} | {med:.1f} | "
            f"{base / med:.2f}× |"
        )


if __name__ == "__main__":
    main()
