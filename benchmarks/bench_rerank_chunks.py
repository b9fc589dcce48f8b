"""The rerank step's chunk size: a whole night's `recs/reranked` with each `score_chunk`.

    python benchmarks/bench_rerank_chunks.py --night NIGHT --day D [--chunks 2000 128] \
        [--rounds 2] [--scratch DIR]

NIGHT is a night's working folder (`warehouse/`, `models/` with the night's inputs). Copies its
warehouse into `--scratch` (the night's own stays as it is), then runs `write_reranked` of day D
(every seeker's candidates read, the pair features computed chunk by chunk, Muse.2 and Muse.1
scoring them, the tops written) with each chunk size in turn, `--rounds` times, alternating, and
prints each chunk size's wall times, best, and best relative to the first size. After each run,
the partition it wrote is summed per model (rows, and a hash of every (seeker, ad, rank,
score)): every chunk size must write the same rows, since a pair's score depends on that pair
alone.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

import duckdb
import numba
import torch

from jobrec.rerank import write_reranked

DIGEST = (
    "SELECT model, count(*) AS n, sum(hash(jobseeker_id, ad_id, rank, score)) AS h "
    "FROM recs.reranked WHERE run_date = ? GROUP BY model ORDER BY model"
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--night", type=Path, required=True)
    parser.add_argument("--day", type=dt.date.fromisoformat, required=True)
    parser.add_argument("--chunks", type=int, nargs="+", default=[2000, 128])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--scratch", type=Path, default=None)
    args = parser.parse_args()
    threads = os.cpu_count() or 1
    torch.set_num_threads(threads)
    numba.set_num_threads(threads)
    with tempfile.TemporaryDirectory(dir=args.scratch) as scratch:
        warehouse = Path(scratch) / "warehouse"
        shutil.copytree(args.night / "warehouse", warehouse)
        con = duckdb.connect(str(warehouse / "jobrec.duckdb"))
        times = {n: [] for n in args.chunks}
        digests = {}
        for _ in range(args.rounds):
            for n in args.chunks:
                t0 = time.perf_counter()
                facts = write_reranked(con, args.day, args.night / "models", score_chunk=n)
                times[n].append(time.perf_counter() - t0)
                digests.setdefault(n, con.execute(DIGEST, [args.day]).fetchall())
        con.close()
    same = all(d == digests[args.chunks[0]] for d in digests.values())
    print(
        f"machine: {platform.machine()}, {threads} threads; day {args.day}: "
        f"{facts['seekers']:,} seekers reranked; rows written per model "
        f"{ {k: v for k, v in facts.items() if k.startswith('rows_')} }; "
        f"same rows with every chunk size: {same}"
    )
    first = min(times[args.chunks[0]])
    print("| score_chunk | runs s | best s | best / first size's |")
    print("|---:|---|---:|---:|")
    for n, runs in times.items():
        print(
            f"| {n:,} | {' / '.join(f'{t:.1f}' for t in runs)} | {min(runs):.1f} | "
            f"{min(runs) / first:.3f} |"
        )
    if not same:
        raise SystemExit(f"the chunk sizes wrote different rows: {digests}")


if __name__ == "__main__":
    main()
