"""The sparse OT solver against POT's dense solver, alone on a PES-shaped instance, and on two
consecutive PES-shaped nights (cold, then warm-started).

    python benchmarks/bench_transport.py compare --seekers 10000 --ads 15000 [--edges 100]
    python benchmarks/bench_transport.py pes [--seekers 1200000 --ads 2200000 --edges 100]
    python benchmarks/bench_transport.py night [--seekers 700000 --ads 2200000 --edges 300]

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
night: the night's instance shape (active seekers × 300 edges) on two days (`days`): day 1 solved
cold, day 2 (a different instance: seekers and ads replaced, scores drifted) warm-started from
day 1's ad potentials mapped by ad id (new ads start at 0, as in the stage). τ, the tolerance and
the iteration cap default to the stage's settings (τ the grid's largest, the one the rule picked
on both markets), ε to 0.5 (the smaller ε chosen so far: more iterations). Reported for each
solve: seconds, iterations, seconds per iteration, peak RSS; then, on day 2's instance, seconds
per iteration of the numpy iteration this solver replaced, of the numba kernels on one thread
and on all, side by side.
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

import numba
import numpy as np

from jobrec import transport
from jobrec.data.run_stats import StepTracker
from jobrec.redistribution import SETTINGS

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


def days(
    seekers: int,
    ads: int,
    edges: int,
    seed: int = 0,
    seeker_churn: float = 0.05,
    ad_churn: float = 0.03,
    drift: float = 0.25,
):
    """Two consecutive days of the `instance` kind, as ([graph, ad ids of its columns]) × 2.

    Day 2: `ad_churn` of the ads closed, each replaced on the lists by a new ad (new id, own
    appeal and positions); `seeker_churn` of the seekers replaced by new ones (own lists); the
    others' scores drift by `drift` × standard normal noise. Columns are the days' ad ids, sorted.
    """
    rng = np.random.default_rng(seed)
    n_new = round(ad_churn * ads)
    appeal = rng.standard_normal(ads + n_new).astype(np.float32)
    positions = rng.integers(1, 6, ads + n_new)
    successor = np.arange(ads)  # the ad in each day-1 ad's place on day 2's lists
    successor[rng.choice(ads, n_new, replace=False)] = ads + np.arange(n_new)
    ids = [np.arange(ads), np.sort(successor)]
    centre = rng.integers(0, ads, (2, seekers))
    stride = rng.integers(1, max(2, ads // edges), (2, seekers))  # distinct: stride·i < ads
    replaced = rng.random(seekers) < seeker_churn
    cols = [np.empty((seekers, edges), dtype=np.int32) for _ in range(2)]
    cost = [np.empty((seekers, edges), dtype=np.float32) for _ in range(2)]
    step = np.arange(edges)[None, :]
    block = 100_000
    for lo in range(0, seekers, block):  # bounded temporaries at PES size
        hi = min(seekers, lo + block)
        new = replaced[lo:hi, None]
        c1 = (centre[0, lo:hi, None] + step * stride[0, lo:hi, None]) % ads
        noise = rng.standard_normal((hi - lo, edges), dtype=np.float32)
        cols[0][lo:hi] = c1
        cost[0][lo:hi] = transport.edge_costs(2 * appeal[c1] + noise, "neglogp")
        c2 = np.where(new, (centre[1, lo:hi, None] + step * stride[1, lo:hi, None]) % ads, c1)
        c2 = successor[c2]
        fresh = rng.standard_normal((hi - lo, edges), dtype=np.float32)
        noise = np.where(new, fresh, noise + np.float32(drift) * fresh)
        cols[1][lo:hi] = np.searchsorted(ids[1], c2)
        cost[1][lo:hi] = transport.edge_costs(2 * appeal[c2] + noise, "neglogp")
    return [
        (
            transport.EdgeGraph(
                cols[d], cost[d], np.ones(seekers), transport.capacities(positions[ids[d]], seekers)
            ),
            ids[d],
        )
        for d in range(2)
    ]


def numpy_iterations(graph: transport.EdgeGraph, cfg: transport.OTConfig, n: int) -> float:
    """Seconds per iteration of the single-threaded numpy iteration this solver replaced (one
    row-wise log-sum-exp writing the row-normalised plan, one weighted bincount), from ψ = 0,
    setup excluded; its exact fallback for underflowing ads is left out (none here: checked)."""
    eps = cfg.epsilon
    fi = 1.0 if math.isinf(cfg.tau) else cfg.tau / (cfg.tau + eps)
    n_ads = graph.n_ads
    edge = graph.ads >= 0
    cols = np.where(edge, graph.ads, n_ads)
    flat_cols = cols.ravel()
    log_a = np.log(graph.seeker_mass)
    log_b = np.append(np.log(graph.ad_mass), 0.0)
    log_k = (-graph.cost / eps).astype(np.float32)
    log_k += log_b[cols].astype(np.float32)
    log_k += log_a[:, None].astype(np.float32)
    log_k[~edge] = -np.inf
    has_edges = np.bincount(flat_cols, minlength=n_ads + 1)[:n_ads] > 0
    psi = np.zeros(n_ads + 1)
    plan = np.empty(graph.ads.shape)
    t0 = time.perf_counter()
    for _ in range(n):
        np.add(log_k, psi[cols], out=plan)
        top = plan.max(axis=1)
        plan -= top[:, None]
        np.exp(plan, out=plan)
        sums = plan.sum(axis=1)
        plan *= (np.exp(log_a) / sums)[:, None]
        phi = log_a - top - np.log(sums)
        colsum = np.bincount(flat_cols, weights=plan.ravel(), minlength=n_ads + 1)
        with np.errstate(divide="ignore"):
            lse = np.log(colsum) - psi
        if (has_edges & (colsum[:n_ads] < 1e-280)).any():
            raise RuntimeError("an ad's mass underflowed: the fallback would run")
        psi = np.zeros_like(psi)
        psi[:n_ads] = np.where(has_edges, fi * (log_b[:n_ads] - lse[:n_ads]), 0.0)
    del phi
    return (time.perf_counter() - t0) / n


def kernel_iterations(graph: transport.EdgeGraph, cfg: transport.OTConfig, n: int) -> float:
    """Seconds per iteration of the solver's numba kernels (seeker and ad potentials), from
    ψ = 0, setup excluded, on the current number of threads."""
    fi = 1.0 if math.isinf(cfg.tau) else cfg.tau / (cfg.tau + cfg.epsilon)
    edges = transport._Edges.of(graph, cfg.epsilon)
    psi, phi = np.zeros(graph.n_ads), np.empty(len(graph.seeker_mass))
    edges.seeker_potentials(psi, phi)  # compiled or loaded from the cache before timing
    t0 = time.perf_counter()
    for _ in range(n):
        edges.seeker_potentials(psi, phi)
        psi = edges.ad_potentials(phi, fi)
    return (time.perf_counter() - t0) / n


def solve_report(graph, cfg, init=None) -> tuple[transport.Solution, dict]:
    with StepTracker() as tracker:
        sol = transport.solve(graph, cfg, init, log=lambda m: print(m, file=sys.stderr, flush=True))
    return sol, {
        "seconds": round(tracker.seconds, 1),
        "iterations": sol.iterations,
        "seconds_per_iteration": round(tracker.seconds / sol.iterations, 3),
        "converged": sol.converged,
        "seeker_marginal_error": sol.seeker_marginal_error,
        "ad_marginal_error": sol.ad_marginal_error,
        "peak_rss_mb": round(tracker.peak_rss_mb),
        "peak_rss_increase_mb": round(tracker.peak_rss_mb - tracker.start_rss_mb),
    }


def run_night(args) -> None:
    t0 = time.perf_counter()
    (day1, ids1), (day2, ids2) = days(args.seekers, args.ads, args.edges)
    edges = [int((g.ads >= 0).sum()) for g in (day1, day2)]
    print(json.dumps({"instances_seconds": round(time.perf_counter() - t0, 1), "edges": edges}))
    cfg = transport.OTConfig(args.epsilon, args.tau, args.tol, args.max_iter)
    warm_up(cfg)
    cold, report = solve_report(day1, cfg)
    print(json.dumps({"day": 1, "start": "cold", **report}), flush=True)
    # day 1's ad potentials by ad id; day 2's new ads NaN (the solver starts them at 0)
    init = np.full(day2.n_ads, np.nan)
    kept = np.isin(ids2, ids1)
    init[kept] = cold.ad_potential[np.searchsorted(ids1, ids2[kept])]
    del cold
    warm, report = solve_report(day2, cfg, init)
    print(json.dumps({"day": 2, "start": "warm", "new_ads": int((~kept).sum()), **report}))
    del warm, day1
    n = args.timed_iterations
    per = {"numpy": numpy_iterations(day2, cfg, n)}
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    per["numba_1_thread"] = kernel_iterations(day2, cfg, n)
    numba.set_num_threads(threads)
    per[f"numba_{threads}_threads"] = kernel_iterations(day2, cfg, n)
    print(
        json.dumps(
            {
                "seconds_per_iteration_day2": {k: round(v, 3) for k, v in per.items()},
                "ns_per_edge": {k: round(1e9 * v / edges[1], 2) for k, v in per.items()},
                f"numpy / numba_{threads}_threads": round(
                    per["numpy"] / per[f"numba_{threads}_threads"], 2
                ),
                "numba 1 / all threads": round(
                    per["numba_1_thread"] / per[f"numba_{threads}_threads"], 2
                ),
                "iterations_timed": n,
            }
        )
    )


def warm_up(cfg: transport.OTConfig) -> None:
    """The solver's kernels compiled (or loaded from numba's cache) before anything is timed."""
    transport.solve(instance(50, 60, 5), cfg)


def run_sparse(args, out: Path | None) -> dict:
    dtype = np.float32 if args.float32 else np.float64
    g = instance(args.seekers, args.ads, args.edges, dtype=dtype)
    cfg = transport.OTConfig(args.epsilon, args.tau, TOL, args.max_iter)
    warm_up(cfg)
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
    parser.add_argument("mode", choices=["compare", "pes", "night", "_sparse", "_pot"])
    parser.add_argument("--seekers", type=int)
    parser.add_argument("--ads", type=int, default=2_200_000)
    parser.add_argument("--edges", type=int)
    parser.add_argument("--max-iter", type=int)
    parser.add_argument("--epsilon", type=float, default=0.5)
    parser.add_argument("--tau", type=float)
    parser.add_argument("--float32", action="store_true")
    parser.add_argument("--plan", type=Path)
    parser.add_argument("--timed-iterations", type=int, default=3, help="night: old vs new")
    args = parser.parse_args()
    night = args.mode == "night"
    args.seekers = args.seekers or (700_000 if night else 1_200_000)
    args.edges = args.edges or (SETTINGS.edges_k if night else 100)
    args.max_iter = args.max_iter or (SETTINGS.max_iterations if night else 5000)
    args.tau = args.tau if args.tau is not None else (max(SETTINGS.taus) if night else 1.0)
    args.tol = SETTINGS.tolerance if night else TOL
    if args.mode == "_sparse":
        print(json.dumps(run_sparse(args, args.plan)))
        return
    if args.mode == "_pot":
        print(json.dumps(run_pot(args, args.plan)))
        return
    print(
        f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"{numba.get_num_threads()} numba threads, {args.seekers} seekers x {args.ads} ads x "
        f"{args.edges} edges, ε={args.epsilon}, τ={args.tau}, tol={args.tol}",
        flush=True,
    )
    if night:
        run_night(args)
        return
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
