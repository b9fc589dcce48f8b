"""Exact top-k retrieval throughput next to a bare matrix product of the same shapes.

    python benchmarks/bench_retrieval.py [--dim 64] [--k 1000] [--shapes small medium]
                                         [--alternatives]

For each shape (seekers x ads), the same seekers are (1) multiplied by the ad matrix only and
(2) multiplied and reduced to the top k (`jobrec.retrieval.exact_topk`), in the same run and
process, alternating, best of 3. The bare product is timed in two blockings, the budget's
blocks (`block_rows`, as the plain path multiplies) and the two-stage path's cache-sized tiles
(`tile_rows`); the faster of the two is the denominator, so that a cheaper blocking never
flatters the ratio. The ratio top-k / bare says how close the pipeline is to the machine's
matrix-product limit. Seekers per second are measured on a sample of seekers (the throughput
does not depend on how many there are); the ad side is full size.

`--alternatives` also times, in the same alternation, the approaches measured against the
two-stage selection: the plain path (`torch.topk` on each budget block, the code before issue
16), the same two-stage selection written in stock torch ops (issue 16's first version, before
the numba kernel), bf16 scores (AMX) with a float32 re-check of every score within a proven
error margin of the threshold, and faiss's flat inner-product search (`faiss.knn`, when faiss
is importable). None of the alternatives is in the library: see BENCHMARKS.md for why.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import time
from functools import partial

import numpy as np
import torch

from jobrec.retrieval import block_rows, exact_topk
from jobrec.retrieval.topk import TILE_BYTES, tile_rows

SHAPES = {"small": (30_000, 50_000), "medium": (200_000, 350_000), "pes": (1_200_000, 2_200_000)}


def bare_matmul(q: torch.Tensor, items: torch.Tensor, step: int) -> None:
    it_t = items.T.contiguous()
    out = torch.empty((min(step, q.shape[0]), items.shape[0]))
    for lo in range(0, q.shape[0], step):
        hi = min(q.shape[0], lo + step)
        torch.mm(q[lo:hi], it_t, out=out[: hi - lo])


def plain_topk(q: torch.Tensor, items: torch.Tensor, k: int, budget: int) -> None:
    """The path before issue 16: `torch.topk` on each budget block."""
    step = block_rows(items.shape[0], k, budget)
    it_t = items.T.contiguous()
    out = torch.empty((min(step, q.shape[0]), items.shape[0]))
    for lo in range(0, q.shape[0], step):
        hi = min(q.shape[0], lo + step)
        torch.mm(q[lo:hi], it_t, out=out[: hi - lo])
        torch.topk(out[: hi - lo], k, dim=1, sorted=True)


def bf16_recheck_topk(
    q: torch.Tensor, items: torch.Tensor, k: int, budget: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """bf16 scores, a threshold lowered by a proven error bound, float32 re-check.

    |bf16 score - float32 score| <= E = 2^-7.5 |q| max|v| (inputs rounded to bf16: 2^-8
    relative on the products; the bf16 output: 2^-9; float32 accumulation of 64 terms: well
    under the slack). The k-th largest bf16 score t of a row lower-bounds the true k-th float32
    score by t - E, so every true top-k item has a bf16 score >= t - 2E: those are re-scored
    in float32 and the top k taken. The re-computed scores are float32 dot products in another
    order than the product's, so a boundary pair can swap at the last bit: not exact in the
    contract's sense.
    """
    n = items.shape[0]
    step = tile_rows(n, k, budget)
    q_bf, it_bf = q.bfloat16(), items.T.contiguous().bfloat16()
    margin = 2 * 2**-7.5 * q.norm(dim=1) * items.norm(dim=1).max()
    out = torch.empty((min(step, q.shape[0]), n), dtype=torch.bfloat16)
    for lo in range(0, q.shape[0], step):
        hi = min(q.shape[0], lo + step)
        s = out[: hi - lo]
        torch.mm(q_bf[lo:hi], it_bf, out=s)
        # The k-th largest bf16 score, via the same group maxima as the library's path.
        groups = n // 8
        fine = s[:, : 8 * groups].view(hi - lo, 8, groups).amax(1)
        coarse = fine[:, : groups // (2 * k) * 2 * k].view(hi - lo, -1, 2 * k).amax(1)
        thr = torch.topk(coarse.float(), k, dim=1, sorted=False).values.amin(1)
        cut = (thr - margin[lo:hi]).to(torch.bfloat16)
        row, item = (s >= cut[:, None]).nonzero().unbind(1)
        exact = (q[lo + row] * items[item]).sum(1)
        count = torch.bincount(row, minlength=hi - lo)
        width = int(count.max())
        cell = row * width + torch.arange(len(row)) - (torch.cumsum(count, 0) - count)[row]
        pad = torch.full((hi - lo, width), float("-inf"))
        pad.view(-1)[cell] = exact
        item_pad = torch.zeros((hi - lo, width), dtype=torch.int64)
        item_pad.view(-1)[cell] = item
        top = torch.topk(pad, k, dim=1, sorted=True)
    return top.values, item_pad.gather(1, top.indices)  # the last tile's, for a check


def torch_two_stage_topk(q: torch.Tensor, items: torch.Tensor, k: int, budget: int) -> None:
    """The two-stage selection in stock torch ops (issue 16's first version): the same
    thresholds, ~35 small parallel ops a tile instead of one numba pass a row."""
    n = items.shape[0]
    step, groups = tile_rows(n, k, budget), n // 8
    n_coarse = 2 * k
    per = groups // n_coarse
    it_t = items.T.contiguous()
    out = torch.empty((min(step, q.shape[0]), n))
    for lo in range(0, q.shape[0], step):
        hi = min(q.shape[0], lo + step)
        s = out[: hi - lo]
        torch.mm(q[lo:hi], it_t, out=s)
        rows = hi - lo
        fine = s[:, : 8 * groups].view(rows, 8, groups).amax(1)
        coarse = fine[:, : per * n_coarse].view(rows, per, n_coarse).amax(1)
        thr = torch.topk(coarse, k, dim=1, sorted=False).values.amin(1)
        row, group = (fine >= thr[:, None]).nonzero().unbind(1)
        vals = s[:, : 8 * groups].view(rows, 8, groups)[row, :, group]
        hot_i, member = (vals >= thr[row, None]).nonzero().unbind(1)
        s_row, s_val = row[hot_i], vals[hot_i, member]
        count = torch.bincount(s_row, minlength=rows)
        width = int(count.max())
        cell = s_row * width + torch.arange(len(s_row)) - (torch.cumsum(count, 0) - count)[s_row]
        pad = torch.full((rows, width), float("-inf"))
        pad.view(-1)[cell] = s_val
        torch.topk(pad, k, dim=1, sorted=True)


def faiss_topk(q: torch.Tensor, items: torch.Tensor, k: int) -> None:
    import faiss  # measured only: not a dependency

    faiss.knn(q.numpy(), items.numpy(), k, metric=faiss.METRIC_INNER_PRODUCT)


def time_runs(
    q: torch.Tensor, items: torch.Tensor, k: int, budget: int, alternatives: bool
) -> dict[str, list[float]]:
    """Seconds of each run, 3 rounds alternated so that machine noise hits all alike."""
    runs = {
        f"bare, {name} ({step} rows)": partial(bare_matmul, q, items, step)
        for name, step in [
            ("budget blocks", block_rows(items.shape[0], k, budget)),
            ("tiles", tile_rows(items.shape[0], k, budget)),
        ]
    }
    runs["exact_topk"] = partial(exact_topk, q, items, k, budget_bytes=budget)
    if alternatives:
        runs["plain torch.topk (before issue 16)"] = partial(plain_topk, q, items, k, budget)
        runs["two-stage in torch ops (issue 16, first)"] = partial(
            torch_two_stage_topk, q, items, k, budget
        )
        runs["bf16 + float32 re-check"] = partial(bf16_recheck_topk, q, items, k, budget)
        try:
            import faiss  # noqa: F401

            runs["faiss.knn (flat IP)"] = partial(faiss_topk, q, items, k)
        except ImportError:
            pass
    times: dict[str, list[float]] = {r: [] for r in runs}
    for _ in range(3):
        for r, fn in runs.items():
            times[r].append(best_of(fn, 1))
    return times


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
    parser.add_argument("--alternatives", action="store_true", help="also time the alternatives")
    args = parser.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    budget = args.budget_mb * 2**20
    rng = np.random.default_rng(0)
    print(
        f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, dim {args.dim}, k {args.k}, "
        f"block budget {args.budget_mb} MB, two-stage tile {TILE_BYTES // 2**20} MB"
    )
    rows = []
    for name in args.shapes:
        n_seekers, n_ads = SHAPES[name]
        q = torch.as_tensor(rng.normal(size=(args.sample, args.dim)), dtype=torch.float32)
        items = torch.as_tensor(rng.normal(size=(n_ads, args.dim)), dtype=torch.float32)
        times = time_runs(q, items, args.k, budget, args.alternatives)
        speed = {r: args.sample / min(t) for r, t in times.items()}
        bare_name = max((r for r in speed if r.startswith("bare")), key=speed.get)
        rows.append((name, n_seekers, n_ads, speed, bare_name))
    print(
        "| shape | seekers x ads | bare matmul seekers/s | top-k seekers/s | ratio | "
        "GFLOP/s (bare) | projected full run (top-k) |"
    )
    print("|---|---|---:|---:|---:|---:|---:|")
    for name, n_seekers, n_ads, speed, bare_name in rows:
        bare, topk = speed[bare_name], speed["exact_topk"]
        gflops = 2 * bare * n_ads * args.dim / 1e9
        print(
            f"| {name} | {n_seekers:,} x {n_ads:,} | {bare:,.0f} | {topk:,.0f} | "
            f"{topk / bare:.2f} | {gflops:.0f} | {n_seekers / topk:,.0f} s |"
        )
    print("\nEvery timed run (seekers/s, best of 3; ratio to the denominator above):\n")
    print("| shape | run | seekers/s | ratio |")
    print("|---|---|---:|---:|")
    for name, _, _, speed, bare_name in rows:
        for r, s in speed.items():
            mark = " (denominator)" if r == bare_name else ""
            print(f"| {name} | {r}{mark} | {s:,.0f} | {s / speed[bare_name]:.2f} |")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak RSS {peak:,.0f} MB")


if __name__ == "__main__":
    main()
