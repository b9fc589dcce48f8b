"""Reranking a whole night: Muse.2 against XGBoost on every seeker's real candidate list.

    python benchmarks/bench_rerank_night.py --warehouse W --models-dir M --day D [--repeat 3]

Reads the candidate lists a nightly run wrote (recs.candidates of day D, every seeker, 1,000
candidates each) and the Muse.2 and XGBoost models it trained, then reranks them the way
`jobrec.rerank.write_reranked` does: Muse's tables over every seeker and the active ads
grouped by occupation (`tonight_ads`), seekers grouped by desired occupation
(`tonight_seekers`), blocks of 2,000 seekers. Timed, all from host arrays to host scores:
  muse2 towers   the folded tables (once a night)
  muse2 pairs    the fused kernel + log-sigmoid over every block
  plain order    the same pairs with tables over every ad in row order and the seekers in id
                 order (what the locality buys)
  xgb rows       building XGBoost's flat rows, block by block (once: it takes minutes)
  xgb predict    predicting on them
Entity inputs and pair features are random with the real shapes (speed depends on shapes, not
values; four blocks of pair features are cycled); the candidate lists, hence which ad rows each
block gathers, are the night's own. Ratio = (xgb rows + predict) / (muse2 towers + pairs).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import resource
import time

import duckdb
import numba
import numpy as np
import torch
import xgboost as xgb

from jobrec.data import model_store
from jobrec.data.market import read_lists, read_market
from jobrec.pair_features import CROSS_COLUMNS
from jobrec.rerank import load_booster, predict_lists, tonight_ads, tonight_seekers
from jobrec.reranker_model import Lists, load_reranker, score_tables, scoring_tables

BLOCK = 2000  # write_reranked's seeker block
K = 1000
POOL = 4  # distinct blocks of random pair features, cycled


def night_lists(con, day: dt.date, market) -> tuple[np.ndarray, np.ndarray]:
    """(seekers in the nightly order, their candidate ad rows (S, K))."""
    seekers = tonight_seekers(con, day, market)
    ads = np.empty((len(seekers), K), dtype=np.int64)
    for lo in range(0, len(seekers), BLOCK):
        ads[lo : lo + BLOCK] = read_lists(
            con, "recs.candidates", day, market, seekers[lo : lo + BLOCK], K
        )[0]
    return seekers, ads


def time_muse(model, sx, ax, rows, seekers, ads, pool, repeat) -> tuple[float, float]:
    """Best of `repeat`: (towers s, pairs s), tables over the ads `rows` (None: all)."""
    best_towers = best_pairs = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        tables = scoring_tables(model, sx, ax, rows)
        t1 = time.perf_counter()
        for b, lo in enumerate(range(0, len(seekers), BLOCK)):
            score_tables(tables, seekers[lo : lo + BLOCK], ads[lo : lo + BLOCK], pool[b % POOL])
        t2 = time.perf_counter()
        best_towers, best_pairs = min(best_towers, t1 - t0), min(best_pairs, t2 - t1)
    return best_towers, best_pairs


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--warehouse", required=True)
    parser.add_argument("--models-dir", required=True)
    parser.add_argument("--day", type=dt.date.fromisoformat, required=True)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    threads = os.cpu_count() or 1
    torch.set_num_threads(threads)
    numba.set_num_threads(threads)
    con = duckdb.connect(args.warehouse, read_only=True)
    market = read_market(con, args.day)
    seekers, ads = night_lists(con, args.day, market)
    con.close()
    folder = lambda kind: model_store.model_dir(args.models_dir, args.day, kind)  # noqa: E731
    muse2, _ = load_reranker(folder("muse2") / "model.pt", torch.device("cpu"))
    ranker = load_booster(folder("xgboost") / "xgboost.json")
    n_in = muse2.seeker[0].in_features
    rng = np.random.default_rng(0)
    seeker_x = rng.normal(0, 0.15, (len(market.seekers), n_in)).astype(np.float32)
    ad_x = rng.normal(0, 0.15, (len(market.ads), n_in)).astype(np.float32)
    sx, ax = torch.as_tensor(seeker_x), torch.as_tensor(ad_x)
    pool = [
        rng.random((min(BLOCK, len(seekers)), K, len(CROSS_COLUMNS)), dtype=np.float32)
        for _ in range(POOL)
    ]
    pairs = int((ads >= 0).sum())
    print(
        f"machine: {platform.machine()}, {threads} threads (torch, numba and xgboost); torch "
        f"{torch.__version__}, numba {numba.__version__}, xgboost {xgb.__version__}; day "
        f"{args.day}: {len(seekers):,} seekers, {pairs:,} candidate pairs, market of "
        f"{len(market.seekers):,} seekers and {len(market.ads):,} ads; xgboost trees used: "
        f"{int(ranker.attr('best_iteration')) + 1}"
    )
    rows = tonight_ads(market)
    time_muse(muse2, sx, ax, rows, seekers[:BLOCK], ads[:BLOCK], pool, 1)  # warm-up, numba cache
    towers, muse_pairs = time_muse(muse2, sx, ax, rows, seekers, ads, pool, args.repeat)
    by_id = np.argsort(seekers, kind="stable")
    _, plain_pairs = time_muse(muse2, sx, ax, None, seekers[by_id], ads[by_id], pool, args.repeat)
    timings = {}
    for b, lo in enumerate(range(0, len(seekers), BLOCK)):
        hi = min(len(seekers), lo + BLOCK)
        lists = Lists(seekers[lo:hi], ads[lo:hi], pool[b % POOL][: hi - lo], None, None)
        predict_lists(ranker, seeker_x, ad_x, lists, timings=timings)
    muse = towers + muse_pairs
    xgb_total = timings["rows"] + timings["predict"]
    print(
        "| seekers | pairs | muse2 towers s | muse2 pairs s | muse2 s | pairs s, plain order | "
        "ns a pair (nightly / plain) | xgb rows s | xgb predict s | ratio (rows+predict)"
        "/muse2 | ratio predict/muse2 |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    print(
        f"| {len(seekers):,} | {pairs:,} | {towers:.3f} | {muse_pairs:.3f} | {muse:.3f} | "
        f"{plain_pairs:.3f} | {muse_pairs / pairs * 1e9:.1f} / {plain_pairs / pairs * 1e9:.1f} | "
        f"{timings['rows']:.1f} | {timings['predict']:.1f} | **{xgb_total / muse:.1f}** | "
        f"{timings['predict'] / muse:.1f} |"
    )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak:,.0f} MB")


if __name__ == "__main__":
    main()
