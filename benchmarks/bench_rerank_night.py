"""Reranking a whole night: Muse.2 against XGBoost on every seeker's real candidate list.

    python benchmarks/bench_rerank_night.py --warehouse W --models-dir M --day D [--repeat 3]

Reads the candidate lists a nightly run wrote (recs.candidates of day D, every seeker, 1,000
candidates each) and the Muse.2 and XGBoost models it trained, then reranks them the way
`jobrec.rerank.write_reranked` does: Muse's tables over tonight's seekers and the active ads
grouped by occupation (`tonight_ads`), seekers grouped by desired occupation
(`tonight_seekers`), blocks of 2,000 seekers read together, and in each block chunks of
`score_chunk` seekers (the setting) whose pair features are written, then scored by every
model. Timed, all from host arrays to host scores:
  muse2 towers   the folded tables (once a night) of tonight's seekers and active ads, the
                 ad-only pair features folded into the ad rows (as the night builds them)
  muse2 pairs    the fused kernel + log-sigmoid over every chunk, on the PAIR_COLUMNS the night
                 computes for Muse
  from memory    the same pairs scored a block of 2,000 seekers at a time from features that
                 were written long before (what scoring in smaller chunks buys or costs)
  unfolded       the same, from memory, with tables that do not fold the ad-only columns: every
                 pair reads all CROSS_COLUMNS (what the fold buys)
  plain order    unfolded, with tables over every seeker and every ad in row order, the
                 seekers in id order (what the subsets and the locality buy)
  xgb rows       building XGBoost's flat rows (all CROSS_COLUMNS), chunk by chunk and block by
                 block (once each: it takes minutes; the ratio takes the faster way)
  xgb predict    predicting on them
Entity inputs and pair features are random with the real shapes (speed depends on shapes, not
values; four blocks of pair features are cycled, a chunk's copied into the chunk's buffer before
it is scored, untimed, as the night computes them); the candidate lists, hence which ad rows
each chunk gathers, are the night's own. Ratio = (xgb rows + predict) / (muse2 towers + pairs).
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
from jobrec.pair_features import AD_ONLY_COLUMNS, CROSS_COLUMNS, PAIR_COLUMNS
from jobrec.rerank import SETTINGS, load_booster, predict_lists, tonight_ads, tonight_seekers
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


@numba.njit(parallel=True, fastmath=True, cache=True)
def _total(flat):
    """Sum of a float32 array in 64 parallel stretches (a read of every byte, nothing else)."""
    step = (len(flat) + 63) // 64
    parts = np.zeros(64, dtype=np.float32)
    for p in numba.prange(64):
        acc = np.float32(0.0)
        for i in range(p * step, min(len(flat), (p + 1) * step)):
            acc += flat[i]
        parts[p] = acc
    return parts.sum()


def read_rate(pool, repeat: int) -> float:
    """Bytes a second the machine's threads read from memory: the pool's blocks (each larger
    than the caches) summed, best of `repeat` rounds."""
    _total(pool[0][:1].reshape(-1))
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for block in pool:
            _total(block.reshape(-1))
        best = min(best, time.perf_counter() - t0)
    return sum(block.nbytes for block in pool) / best


def chunks(seekers, ads, pool, size: int | None):
    """(seekers, candidates, pair features) of each chunk of `size` lists in the night's order,
    its features copied into one buffer just before it is yielded, as `write_reranked`
    computes a chunk's; None: whole blocks of BLOCK lists, features read from the pool."""
    buffer = None if size is None else np.empty((size, *pool[0].shape[1:]), dtype=np.float32)
    for b, lo in enumerate(range(0, len(seekers), BLOCK)):
        hi, block = min(len(seekers), lo + BLOCK), pool[b % POOL]
        if size is None:
            yield seekers[lo:hi], ads[lo:hi], block[: hi - lo]
            continue
        for c in range(lo, hi, size):
            n = min(size, hi - c)
            np.copyto(buffer[:n], block[c - lo : c - lo + n])
            yield seekers[c : c + n], ads[c : c + n], buffer[:n]


def time_muse(model, sx, ax, rows, lists, repeat, subset, size, per_ad) -> tuple[float, float]:
    """Best of `repeat`: (towers s, pairs s), tables over the ads `rows` (None: all) and over
    the lists' seekers (`subset`) or every seeker, with the ad-only pair features `per_ad`
    folded in (None: unfolded), the lists (seekers, candidates, pool) scored in chunks of
    `size` (`chunks`)."""
    seekers, ads, pool = lists
    best_towers = best_pairs = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        tables = scoring_tables(model, sx, ax, rows, seekers if subset else None, per_ad)
        towers, pairs = time.perf_counter() - t0, 0.0
        for who, candidates, cross in chunks(seekers, ads, pool, size):
            t0 = time.perf_counter()
            score_tables(tables, who, candidates, cross)
            pairs += time.perf_counter() - t0
        best_towers, best_pairs = min(best_towers, towers), min(best_pairs, pairs)
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
    # every pair column for XGBoost and the unfolded tables; a pair's own for the folded ones
    pool = [
        rng.random((min(BLOCK, len(seekers)), K, len(CROSS_COLUMNS)), dtype=np.float32)
        for _ in range(POOL)
    ]
    pair_pool = [np.ascontiguousarray(block[..., PAIR_COLUMNS]) for block in pool]
    per_ad = rng.random((len(market.ads), len(AD_ONLY_COLUMNS)), dtype=np.float32)
    pairs = int((ads >= 0).sum())
    print(
        f"machine: {platform.machine()}, {threads} threads (torch, numba and xgboost); torch "
        f"{torch.__version__}, numba {numba.__version__}, xgboost {xgb.__version__}; day "
        f"{args.day}: {len(seekers):,} seekers, {pairs:,} candidate pairs, market of "
        f"{len(market.seekers):,} seekers and {len(market.ads):,} ads; xgboost trees used: "
        f"{int(ranker.attr('best_iteration')) + 1}"
    )
    rows = tonight_ads(market)
    size = SETTINGS.score_chunk
    nightly, unfolded = (seekers, ads, pair_pool), (seekers, ads, pool)
    warm = (seekers[:BLOCK], ads[:BLOCK], pair_pool)
    time_muse(muse2, sx, ax, rows, warm, 1, True, size, per_ad)  # warm-up
    towers, muse_pairs = time_muse(muse2, sx, ax, rows, nightly, args.repeat, True, size, per_ad)
    _, memory_pairs = time_muse(muse2, sx, ax, rows, nightly, args.repeat, True, None, per_ad)
    _, unfolded_pairs = time_muse(muse2, sx, ax, rows, unfolded, args.repeat, True, None, None)
    by_id = np.argsort(seekers, kind="stable")
    plain = (seekers[by_id], ads[by_id], pool)
    plain_towers, plain_pairs = time_muse(
        muse2, sx, ax, None, plain, args.repeat, False, None, None
    )
    # XGBoost gets the faster of Muse's chunks and whole blocks (what the night gives it when
    # it scores the compared seekers' lists): fewer, larger calls may suit it better
    by_size = {}
    for xgb_size in dict.fromkeys([size, None]):
        by_size[xgb_size] = {}
        for who, candidates, cross in chunks(seekers, ads, pool, xgb_size):
            lists = Lists(who, candidates, cross, None, None)
            predict_lists(ranker, seeker_x, ad_x, lists, timings=by_size[xgb_size])
    xgb_size, timings = min(by_size.items(), key=lambda kv: kv[1]["rows"] + kv[1]["predict"])
    muse = towers + muse_pairs
    xgb_total = timings["rows"] + timings["predict"]
    print(
        "xgboost rows + predict s: "
        + ", ".join(
            f"{'blocks of ' + str(BLOCK) if n is None else 'chunks of ' + str(n)} "
            f"{t['rows']:.1f} + {t['predict']:.1f}"
            for n, t in by_size.items()
        )
        + f"; the ratio takes the faster ({'blocks' if xgb_size is None else 'chunks'})"
    )
    ns = lambda t: f"{t / pairs * 1e9:.1f}"  # noqa: E731
    print(
        "| seekers | pairs | muse2 towers s | muse2 pairs s | muse2 s | pairs s, from memory | "
        "pairs s, unfolded | towers / pairs s, plain order | ns a pair (nightly / memory / "
        "unfolded / plain) | xgb rows s | xgb predict s | ratio (rows+predict)/muse2 | "
        "ratio, from memory | ratio predict/muse2 |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    print(
        f"| {len(seekers):,} | {pairs:,} | {towers:.3f} | {muse_pairs:.3f} | {muse:.3f} | "
        f"{memory_pairs:.3f} | {unfolded_pairs:.3f} | {plain_towers:.3f} / {plain_pairs:.3f} | "
        f"{ns(muse_pairs)} / {ns(memory_pairs)} / {ns(unfolded_pairs)} / {ns(plain_pairs)} | "
        f"{timings['rows']:.1f} | {timings['predict']:.1f} | **{xgb_total / muse:.1f}** | "
        f"{xgb_total / (towers + memory_pairs):.1f} | {timings['predict'] / muse:.1f} |"
    )
    rate = read_rate(pool, args.repeat)
    for name, block in (("folded", pair_pool[0]), ("unfolded", pool[0])):
        print(
            f"memory read rate {rate / 1e9:.1f} GB/s on {threads} threads: reading a pair's "
            f"{block[0, 0].nbytes} bytes of pair features ({name}) from memory alone takes "
            f"{block[0, 0].nbytes / rate * 1e9:.1f} ns"
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak:,.0f} MB")


if __name__ == "__main__":
    main()
