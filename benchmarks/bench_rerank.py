"""Reranking inference: Muse.2 against XGBoost on the same pairs, same threads, one process.

    python benchmarks/bench_rerank.py --models-dir M --day D --shapes small medium [--seekers N]
        [--device cpu|cuda]

Uses the models a nightly run trained for day D (models/<D>/muse2, xgboost). Inputs have the
shapes of a scale's night: its active ads (the entity towers run over all of them once), N
seekers x 1,000 candidates with pair features. Entity inputs, candidates and pair features are
drawn at random with the real columns' scales: speed depends on shapes, not values. Timed (best
of 5 for Muse.2, of 3 for XGBoost), all from host arrays to host scores:
  muse2       entity towers (all involved seekers and ads) + pair scoring; on the CPU the fused
              kernel (the nightly path), on a GPU eager PyTorch
  towers      of which the entity towers and inference tables alone
  muse2 eager the eager PyTorch path on the CPU (the fused kernel's reference), --device cpu only
  xgb rows    building the flat rows (seeker, ad, pair features) block by block
  xgb predict predicting on the built rows (always on the CPU: xgboost-cpu)
Ratios: (xgb rows + predict) / muse2 and xgb predict / muse2. Peak RSS of the process.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import resource
import time
from functools import partial

import numba
import numpy as np
import torch
import xgboost as xgb

from jobrec.data import model_store
from jobrec.pair_features import CROSS_COLUMNS
from jobrec.rerank import load_booster, predict_lists
from jobrec.reranker_model import Lists, inference_tables, load_reranker, score_lists

SHAPES = {"small": (16_500, 13_300), "medium": (110_000, 93_000)}  # active seekers, ads


def best_of(fn, repeat=5):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return min(times), out


def towers(model, sx, ax, who, device):
    with torch.inference_mode():
        tables = inference_tables(
            model, sx.to(device)[torch.as_tensor(who, device=device)], ax.to(device)
        )
        return [t.cpu() for t in tables]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models-dir", required=True)
    parser.add_argument("--day", type=dt.date.fromisoformat, required=True)
    parser.add_argument("--shapes", nargs="+", default=["small", "medium"])
    parser.add_argument("--seekers", type=int, default=2000)
    parser.add_argument("--k", type=int, default=1000)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    args = parser.parse_args()
    threads = os.cpu_count() or 1
    torch.set_num_threads(threads)
    numba.set_num_threads(threads)
    device = torch.device(args.device)
    muse2, _ = load_reranker(
        model_store.model_dir(args.models_dir, args.day, "muse2") / "model.pt", device
    )
    ranker = load_booster(
        model_store.model_dir(args.models_dir, args.day, "xgboost") / "xgboost.json"
    )
    trees = int(ranker.attr("best_iteration")) + 1
    n_in = muse2.seeker[0].in_features
    gpu = torch.cuda.get_device_name() if args.device == "cuda" else "none"
    print(
        f"machine: {platform.machine()}, {threads} threads (torch, numba and xgboost), GPU: "
        f"{gpu}; torch {torch.__version__}, numba {numba.__version__}, xgboost "
        f"{xgb.__version__}; {args.seekers:,} seekers x {args.k:,} candidates; xgboost trees "
        f"used: {trees}; muse2 on {args.device}"
    )
    print(
        "| shape | active ads | pairs | muse2 s | of which towers s | muse2 pairs/s | "
        "muse2 eager s | xgb rows s | xgb predict s | ratio (rows+predict)/muse2 | "
        "ratio predict/muse2 |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    first_call = None
    for shape in args.shapes:
        n_seekers, n_ads = SHAPES[shape]
        rng = np.random.default_rng(0)
        seeker_x = rng.normal(0, 0.15, (n_seekers, n_in)).astype(np.float32)
        ad_x = rng.normal(0, 0.15, (n_ads, n_in)).astype(np.float32)
        who = np.sort(rng.choice(n_seekers, args.seekers, replace=False))
        ads = rng.integers(0, n_ads, (args.seekers, args.k))  # repeats possible: speed alike
        cross = rng.random((args.seekers, args.k, len(CROSS_COLUMNS)), dtype=np.float32)
        lists = Lists(who, ads, cross, np.zeros(ads.shape, bool), np.zeros(ads.shape, bool))
        sx, ax = torch.as_tensor(seeker_x), torch.as_tensor(ad_x)
        run = partial(score_lists, muse2, sx, ax, who, ads, cross, device)
        if first_call is None:  # numba compiles (or loads its cache) on the first call
            t0 = time.perf_counter()
            run()
            first_call = time.perf_counter() - t0
        t_muse, _ = best_of(run)
        t_towers, _ = best_of(partial(towers, muse2, sx, ax, who, device))
        eager = "—"
        if args.device == "cpu":
            eager = f"{best_of(partial(run, fused=False))[0]:.3f}"
        timings = [{} for _ in range(3)]
        for t in timings:
            predict_lists(ranker, seeker_x, ad_x, lists, timings=t)
        t_rows = min(t["rows"] for t in timings)
        t_pred = min(t["predict"] for t in timings)
        pairs = ads.size
        print(
            f"| {shape} | {n_ads:,} | {pairs:,} | {t_muse:.3f} | {t_towers:.3f} | "
            f"{pairs / t_muse:,.0f} | {eager} | {t_rows:.3f} | {t_pred:.3f} | "
            f"{(t_rows + t_pred) / t_muse:.1f} | {t_pred / t_muse:.1f} |",
            flush=True,
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"first muse2 call (numba compile or cache load, CUDA start-up): {first_call:.2f} s; "
        f"peak RSS {peak:,.0f} MB"
    )


if __name__ == "__main__":
    main()
