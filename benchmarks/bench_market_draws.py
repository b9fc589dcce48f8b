"""The same night on several draws of the market: how far Muse.2's lead over XGBoost (and Muse.0's
candidate recall) moves with the generator's seed, not only with the model's (issue 17).

    python benchmarks/bench_market_draws.py --scale small --seeds 0 1 2 3 --out /work/bench/draws

For each seed N: generates the market under `--out/seed-N/raw` (`python -m jobrec.synth --seed N`,
timeline ending `--end-date`, the default harder market) unless it is there, runs the cold night
`--day` through Dagster in `--out/seed-N/night` (`bench_night.run_night`, as `scripts/nightly`
runs it) unless that night's metrics are already published there, and with `--warm` the next day
in the same folder (a warm night; it prunes the cold night's caches). `--report-only` runs
nothing: every night asked for must be published already. The timeline must reach 7 days past
the last night, so that the forward window [D, D + 7) is complete. Nights run one after another,
each alone on the machine only if nothing else runs: time them elsewhere (`bench_night`).

Reports, per draw and night, from the published `metrics.ranking` / `metrics.ranking_pairs`
(forward window, applications): Muse.0's Recall@1000 and Recall@100 against popularity's,
Muse.2's and XGBoost's Recall@10 / NDCG@10 / Recall@100, Muse.2 − XGBoost paired (difference,
SE, relative, 95% low) at Recall@10, NDCG@10 and Recall@100, and the smallest Holm p of a slice
of ≥ 300 seekers where Muse.2 trails; then, over the draws' cold nights, the mean and standard
deviation of each relative difference, and the draws' differences pooled as a meta-analysis
(statsmodels' `combine_effects`, each draw's relative difference with its paired SE over the
reference's level): the fixed-effect and the random-effects (DerSimonian-Laird) estimates with
their 95% intervals, and Cochran's Q with its p-value and I², whether the draws differ by more
than their sampling noise. Writes `--out/draws.json` (every night's figures, and the pooled
estimates) and prints Markdown.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import statistics
from pathlib import Path

import duckdb
import numpy as np
from bench_night import ROOT, environment, generate_market, run_night  # benchmarks/ on sys.path

PAIRS = (("recall", 10), ("ndcg", 10), ("recall", 100))
MIN_SLICE = 300  # the done-when's slices: at least this many seekers


def published(night: Path, day: dt.date) -> bool:
    """Whether the night folder holds `day`'s forward rerank metrics."""
    path = night / "published" / "jobrec.duckdb"
    if not path.exists():
        return False
    with duckdb.connect(str(path), read_only=True) as con:
        query = (
            "SELECT count(*) FROM metrics.ranking_pairs WHERE run_date = ? AND split = 'forward'"
        )
        return con.execute(query, [day]).fetchone()[0] > 0


def run(night: Path, raw: Path, day: dt.date, report_only: bool = False) -> dict | None:
    """Run partition `day` in `night` (a fresh Dagster instance on the first night) unless its
    metrics are published there already; the run's facts, or None when it was there."""
    if published(night, day):
        return None
    if report_only:
        raise SystemExit(f"{night}: no forward metrics of {day} published (--report-only)")
    home = night / "dagster_home"
    if not home.exists():
        home.mkdir(parents=True)
        shutil.copy(ROOT / "orchestration" / "dagster.yaml", home / "dagster.yaml")
    facts = run_night(night, environment(night, raw), day)
    if facts["rc"] != 0:
        raise SystemExit(f"{night}: the night of {day} failed (rc {facts['rc']}): see its log")
    return facts


def figures(night: Path, day: dt.date) -> dict:
    """The night's forward figures (see the module docstring)."""
    with duckdb.connect(str(night / "published" / "jobrec.duckdb"), read_only=True) as con:
        where = (
            "run_date = ? AND split = 'forward' AND relevance = 'applications' AND slice = 'all'"
        )
        ranking = {}
        for model, k, recall, ndcg in con.execute(
            f"SELECT model, k, recall, ndcg FROM metrics.ranking WHERE {where} "
            "AND population = 'all'",
            [day],
        ).fetchall():
            ranking[model, k, "recall"], ranking[model, k, "ndcg"] = recall, ndcg
        pairs = {
            (metric, k): {"difference": d, "se": se, "relative": rel, "ci_low": low}
            for metric, k, d, se, rel, low in con.execute(
                "SELECT metric, k, difference, se, relative, ci_low FROM metrics.ranking_pairs "
                f"WHERE {where} AND model = 'muse2' AND reference = 'xgboost'",
                [day],
            ).fetchall()
        }
        trailing = con.execute(
            "SELECT min(p_holm) FROM metrics.ranking_pairs WHERE run_date = ? AND split = "
            "'forward' AND relevance = 'applications' AND model = 'muse2' AND reference = "
            "'xgboost' AND slice <> 'all' AND seekers >= ? AND difference < 0",
            [day, MIN_SLICE],
        ).fetchone()[0]
        seekers = con.execute(
            f"SELECT max(seekers) FROM metrics.ranking WHERE {where} AND model = 'muse2'", [day]
        ).fetchone()[0]
    return {
        "seekers": seekers,
        "ranking": {f"{m}:{metric}@{k}": v for (m, k, metric), v in ranking.items()},
        "muse2_vs_xgboost": {f"{metric}@{k}": pairs[(metric, k)] for metric, k in PAIRS},
        "smallest_holm_p_trailing": trailing,
    }


def three(ranking: dict, model: str) -> str:
    """A model's Recall@10 / NDCG@10 / Recall@100 from `figures`' ranking."""
    keys = ("recall@10", "ndcg@10", "recall@100")
    return " / ".join(f"{ranking[f'{model}:{key}']:.4f}" for key in keys)


def print_tables(draws: list[dict], pooled_over: dict | None = None) -> None:
    print(
        "| draw, night | seekers | Muse.0 R@1000 | Muse.0 / popularity R@100 "
        "| Muse.2 R@10 / NDCG@10 / R@100 | XGBoost R@10 / NDCG@10 / R@100 "
        "| Muse.2 − XGBoost R@10 (SE), relative [95% low] | NDCG@10 | R@100 [95% low] "
        "| trailing slice, smallest Holm p |"
    )
    print("|---|---:|---:|---|---|---|---|---|---|---|")
    for d in draws:
        r, p = d["ranking"], d["muse2_vs_xgboost"]
        r10, n10, r100 = p["recall@10"], p["ndcg@10"], p["recall@100"]
        trailing = d["smallest_holm_p_trailing"]
        print(
            f"| seed {d['seed']}, {d['day']} ({d['start']}) | {d['seekers']:,} "
            f"| {r['muse0:recall@1000']:.4f} "
            f"| {r['muse0:recall@100']:.4f} / {r['popularity:recall@100']:.4f} "
            f"| {three(r, 'muse2')} | {three(r, 'xgboost')} "
            f"| {r10['difference']:+.4f} ({r10['se']:.4f}), {r10['relative']:+.2%} "
            f"[{r10['ci_low']:+.4f}] | {n10['relative']:+.2%} "
            f"| {r100['difference']:+.4f} [{r100['ci_low']:+.4f}] "
            f"| {'none' if trailing is None else f'{trailing:.2f}'} |"
        )
    cold = cold_nights(draws)
    if len(cold) > 1:
        print(f"\nOver the {len(cold)} draws' cold nights, Muse.2 − XGBoost relative (mean, sd):")
        for metric, k in PAIRS:
            values = [d["muse2_vs_xgboost"][f"{metric}@{k}"]["relative"] for d in cold]
            print(
                f"- {metric}@{k}: {statistics.mean(values):+.2%} ({statistics.stdev(values):.2%}); "
                f"from {min(values):+.2%} to {max(values):+.2%}"
            )
        values = [d["ranking"]["muse0:recall@1000"] for d in cold]
        print(f"- Muse.0 Recall@1000: from {min(values):.4f} to {max(values):.4f}")
        if pooled_over:
            print_pooled(len(cold), pooled_over)


def cold_nights(draws: list[dict]) -> list[dict]:
    return [d for d in draws if d["start"] == "cold"]


def pooled(draws: list[dict], key: str) -> dict:
    """The draws' relative differences at `key` (e.g. "recall@10") pooled: fixed and random
    effects (DerSimonian-Laird) with 95% intervals, Cochran's Q, its p-value, I² and τ. A
    draw's relative difference has the SE of its paired difference over XGBoost's level."""
    from statsmodels.stats.meta_analysis import combine_effects

    metric, k = key.split("@")
    effect, se = [], []
    for d in draws:
        p = d["muse2_vs_xgboost"][key]
        level = d["ranking"][f"xgboost:{metric}@{k}"]
        effect.append(p["relative"])
        se.append(p["se"] / level)
    res = combine_effects(np.array(effect), np.array(se) ** 2, method_re="dl")
    frame = res.summary_frame()
    out = {"draws": len(draws), "q": float(res.q), "i2": float(res.i2), "tau": res.tau2**0.5}
    out["q_p_value"] = float(res.test_homogeneity().pvalue)
    for row, name in (("fixed effect", "fixed"), ("random effect", "random")):
        out[name] = {c: float(frame.loc[row, c]) for c in ("eff", "sd_eff", "ci_low", "ci_upp")}
    return out


def print_pooled(n_draws: int, pooled_over: dict) -> None:
    """`pooled`'s figures of each metric, as a Markdown table."""
    print(f"\nPooled over the {n_draws} draws (relative differences, inverse-variance weights):\n")
    print("| metric | fixed effect [95%] | random effects [95%] | Cochran's Q (p) | I² | τ |")
    print("|---|---|---|---|---:|---:|")
    for metric, k in PAIRS:
        p = pooled_over[f"{metric}@{k}"]
        f, r = p["fixed"], p["random"]
        print(
            f"| {metric}@{k} | {f['eff']:+.2%} [{f['ci_low']:+.2%}, {f['ci_upp']:+.2%}] "
            f"| {r['eff']:+.2%} [{r['ci_low']:+.2%}, {r['ci_upp']:+.2%}] "
            f"| {p['q']:.2f} ({p['q_p_value']:.3f}) | {p['i2']:.2f} | {p['tau']:.2%} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", default="small")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3])
    parser.add_argument("--day", type=dt.date.fromisoformat, default=dt.date(2026, 11, 23))
    parser.add_argument("--end-date", default="2026-11-30", help="the timeline's last day")
    parser.add_argument("--warm", action="store_true", help="also the next day, warm")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument(
        "--report-only", action="store_true", help="generate and run nothing: report the nights"
    )
    args = parser.parse_args()
    days = [args.day] + ([args.day + dt.timedelta(days=1)] if args.warm else [])
    if days[-1] + dt.timedelta(days=7) > dt.date.fromisoformat(args.end_date) + dt.timedelta(
        days=1
    ):
        raise SystemExit(f"the timeline ends {args.end_date}: no complete week after {days[-1]}")
    draws = []
    for seed in args.seeds:
        folder = args.out / f"seed-{seed}"
        if not args.report_only:
            generate_market(folder / "raw", args.scale, args.end_date, seed=seed)
        for i, day in enumerate(days):
            facts = run(folder / "night", folder / "raw", day, args.report_only)
            draws.append(
                {
                    "seed": seed,
                    "day": day.isoformat(),
                    "start": "cold" if i == 0 else "warm",
                    "run": facts,
                    **figures(folder / "night", day),
                }
            )
            print(f"seed {seed}, {day}: {facts or 'already published'}", flush=True)
    cold = cold_nights(draws)
    summary = {"draws": draws}
    if len(cold) > 1:  # the cold nights' differences pooled over the draws (`pooled`)
        summary["pooled"] = {f"{m}@{k}": pooled(cold, f"{m}@{k}") for m, k in PAIRS}
    (args.out / "draws.json").write_text(json.dumps(summary, indent=2, default=str))
    print()
    print_tables(draws, summary.get("pooled"))


if __name__ == "__main__":
    main()
