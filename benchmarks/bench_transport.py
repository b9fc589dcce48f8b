"""The sparse OT solver against POT's dense solver, and alone on a PES-shaped instance.

    python benchmarks/bench_transport.py compare --seekers 10000 --ads 15000 [--edges 100]
    python benchmarks/bench_transport.py pes [--seekers 1200000 --ads 2200000 --edges 100]

Instance (seeded, synthetic scores): each seeker has `edges` distinct ads around a random centre
of the ad range; score = 2·appeal(ad) + noise, so attractive ads are on many lists at the top
(congestion); cost -log p with p the per-seeker softmax (the default cost); capacities =
positions drawn in 1..5, rescaled to the seekers' mass. Semi-relaxed problem, ε = 0.5 and τ = 1
unless --epsilon / --tau say otherwise, tolerance 1e-6 on the relative seeker marginal error.

compare: each solver runs in its own child process, so that its peak RSS above the instance's is
its own: the sparse solver (jobrec.transport) on the edge list, and POT's
`ot.unbalanced.sinkhorn_unbalanced(method="sinkhorn", reg_type="kl", reg_m=(inf, τ))` on the
dense cost matrix with cost 1e4 off the edges. Reported: seconds, iterations, peak RSS increase,
the max |difference| of the plans over all seeker × ad cells and the largest plan entry.
pes: the sparse solver alone with float32 costs and int32 indices: seconds per iteration,
iterations to tolerance, peak RSS.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from jobrec import transport
from jobrec.data.run_stats import StepTracker

TOL = 1e-6
OFF_EDGE = 1e4


def instance(seekers: int, ads: int, edges: int, seed: int = 0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    appeal = rng.standard_normal(ads).astype(np.float32)
    centre = rng.integers(0, ads, seekers)
    stride = rng.integers(1, max(2, ads // edges), seekers)  # distinct: stride·i < ads
    cols = np.empty((seekers, edges), dtype=np.int32)
    scores = np.empty((seekers, edges), dtype=np.float32)
    cost = np.empty((seekers, edges), dtype=dtype)
    block = 100_000
    for lo in range(0, seekers, block):  # bounded temporaries at PES size
        hi = min(seekers, lo + block)
        c = (centre[lo:hi, None] + np.arange(edges)[None, :] * stride[lo:hi, None]) % ads
        cols[lo:hi] = c
        scores[lo:hi] = 2 * appeal[c] + rng.standard_normal((hi - lo, edges), dtype=np.float32)
        cost[lo:hi] = transport.edge_costs(scores[lo:hi], "neglogp")
    del scores
    capacity = transport.capacities(rng.integers(1, 6, ads), seekers)
    return transport.EdgeGraph(cols, cost, np.ones(seekers), capacity)


def run_sparse(args, out: Path | None) -> dict:
    dtype = np.float32 if args.float32 else np.float64
    g = instance(args.seekers, args.ads, args.edges, dtype=dtype)
    cfg = transport.OTConfig(args.epsilon, args.tau, TOL, args.max_iter)
    with StepTracker() as tracker:
        sol = transport.solve(g, cfg, log=lambda m: print(m, file=sys.stderr, flush=True))
    if out is not None:
        np.save(out, sol.plan)
    return {
        "solver": "sparse",
        "seconds": tracker.seconds,
        "iterations": sol.iterations,
        "seconds_per_iteration": tracker.seconds / sol.iterations,
        "converged": sol.converged,
        "seeker_marginal_error": sol.seeker_marginal_error,
        "ad_marginal_error": sol.ad_marginal_error,
        "peak_rss_increase_mb": tracker.peak_rss_mb - tracker.start_rss_mb,
        "peak_rss_mb": tracker.peak_rss_mb,
    }


def run_pot(args, sparse_plan: Path) -> dict:
    import ot

    g = instance(args.seekers, args.ads, args.edges)
    with StepTracker() as tracker:
        m = np.full((args.seekers, args.ads), OFF_EDGE)
        np.put_along_axis(m, g.ads, g.cost, axis=1)
        plan, log = ot.unbalanced.sinkhorn_unbalanced(
            g.seeker_mass,
            g.ad_mass,
            m,
            args.epsilon,
            (math.inf, args.tau),
            method="sinkhorn",
            reg_type="kl",
            numItermax=args.max_iter,
            stopThr=TOL,
            log=True,
        )
    mine = np.zeros_like(plan)
    np.put_along_axis(mine, g.ads, np.load(sparse_plan), axis=1)
    return {
        "solver": "pot_dense",
        "seconds": tracker.seconds,
        "iterations": len(log["err"]),
        "peak_rss_increase_mb": tracker.peak_rss_mb - tracker.start_rss_mb,
        "peak_rss_mb": tracker.peak_rss_mb,
        "max_plan_difference": float(np.abs(mine - plan).max()),
        "max_plan_entry": float(plan.max()),
    }


def child(args, mode: str, plan: Path) -> dict:
    cmd = [
        sys.executable,
        __file__,
        mode,
        "--seekers",
        str(args.seekers),
        "--ads",
        str(args.ads),
        "--edges",
        str(args.edges),
        "--max-iter",
        str(args.max_iter),
        "--epsilon",
        str(args.epsilon),
        "--tau",
        str(args.tau),
        "--plan",
        str(plan),
    ]
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["compare", "pes", "_sparse", "_pot"])
    parser.add_argument("--seekers", type=int, default=1_200_000)
    parser.add_argument("--ads", type=int, default=2_200_000)
    parser.add_argument("--edges", type=int, default=100)
    parser.add_argument("--max-iter", type=int, default=5000)
    parser.add_argument("--epsilon", type=float, default=0.5)
    parser.add_argument("--tau", type=float, default=1.0)
    parser.add_argument("--float32", action="store_true")
    parser.add_argument("--plan", type=Path)
    args = parser.parse_args()
    if args.mode == "_sparse":
        print(json.dumps(run_sparse(args, args.plan)))
        return
    if args.mode == "_pot":
        print(json.dumps(run_pot(args, args.plan)))
        return
    print(
        f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"{args.seekers} seekers x {args.ads} ads x {args.edges} edges, ε={args.epsilon}, "
        f"τ={args.tau}, tol={TOL}"
    )
    if args.mode == "pes":
        args.float32 = True
        t0 = time.perf_counter()
        result = run_sparse(args, None)
        result["wall_seconds_with_instance"] = time.perf_counter() - t0
        print(json.dumps(result, indent=1))
        return
    with tempfile.TemporaryDirectory() as tmp:
        plan = Path(tmp) / "plan.npy"
        sparse = child(args, "_sparse", plan)
        dense = child(args, "_pot", plan)
    for r in (sparse, dense):
        print(json.dumps(r))
    print(
        f"ratios (POT / sparse): time {dense['seconds'] / sparse['seconds']:.1f}x, "
        f"peak memory increase "
        f"{dense['peak_rss_increase_mb'] / sparse['peak_rss_increase_mb']:.1f}x"
    )


if __name__ == "__main__":
    main()
