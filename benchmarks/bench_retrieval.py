"""Exact top-k retrieval throughput next to a bare matrix product of the same shapes.

    python benchmarks/bench_retrieval.py [--dim 64] [--k 1000] [--shapes small medium]

For each shape (seekers x ads), the same seeker blocks are (1) multiplied by the ad matrix only
and (2) multiplied and reduced to the top k (`jobrec.retrieval.exact_topk`), in the same run and
process, alternating, best of 3. The ratio top-k / bare says how close the pipeline is to the
machine's matrix-product limit. Seekers per second are measured on a sample of seekers (the
throughput does not depend on how many there are); the ad side is full size.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import time

import numpy as np
import torch

from jobrec.retrieval import block_rows, exact_topk

SHAPES = {"small": (30_000, 50_000), "medium": (200_000, 350_000), "pes": (1_200_000, 2_200_000)}


def bare_matmul(q: torch.Tensor, items: torch.Tensor, k: int, budget: int) -> None:
    step = block_rows(items.shape[0], k, budget)
    it_t = items.T.contiguous()
    out = torch.empty((min(step, q.shape[0]), items.shape[0]))
    for lo in range(0, q.shape[0], step):
        hi = min(q.shape[0], lo + step)
        torch.mm(q[lo:hi], it_t, out=out[: hi - lo])


def best_of(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shapes", nargs="+", default=["small", "medium"])
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--k", type=int, default=1000)
    parser.add_argument("--sample", type=int, default=4096, help="seekers timed per shape")
    parser.add_argument("--budget-mb", type=int, default=256)
    args = parser.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    budget = args.budget_mb * 2**20
    rng = np.random.default_rng(0)
    print(
        f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, dim {args.dim}, k {args.k}, "
        f"block budget {args.budget_mb} MB"
    )
    print(
        "| shape | seekers x ads | bare matmul seekers/s | top-k seekers/s | ratio | "
        "GFLOP/s (bare) | projected full run (top-k) |"
    )
    print("|---|---|---:|---:|---:|---:|---:|")
    for name in args.shapes:
        n_seekers, n_ads = SHAPES[name]
        q = torch.as_tensor(rng.normal(size=(args.sample, args.dim)), dtype=torch.float32)
        items = torch.as_tensor(rng.normal(size=(n_ads, args.dim)), dtype=torch.float32)
        t_bare, t_topk = [], []
        for _ in range(3):  # alternate, so that machine noise hits both alike
            t_bare.append(best_of(lambda: bare_matmul(q, items, args.k, budget), 1))  # noqa: B023
            t_topk.append(best_of(lambda: exact_topk(q, items, args.k, budget_bytes=budget), 1))  # noqa: B023
        bare, topk = args.sample / min(t_bare), args.sample / min(t_topk)
        gflops = 2 * args.sample * n_ads * args.dim / min(t_bare) / 1e9
        print(
            f"| {name} | {n_seekers:,} x {n_ads:,} | {bare:,.0f} | {topk:,.0f} | "
            f"{topk / bare:.2f} | {gflops:.0f} | {n_seekers / topk:,.0f} s |"
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak:,.0f} MB")


if __name__ == "__main__":
    main()
