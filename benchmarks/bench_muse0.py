"""Muse.0 training variants on one partition: validation recall and training time.

    python benchmarks/bench_muse0.py --warehouse W --day D [--variants default mixed no_log_q]
    python benchmarks/bench_muse0.py --warehouse W --day D --variants default default:out_dims=128
    python benchmarks/bench_muse0.py --warehouse W --day D --variants default --train-gap-days 7

A variant is a name of VARIANTS, optionally with `:field=value,...` changes to its Muse0Config.

Needs a warehouse whose clean tables hold partition D (e.g. `./scripts/nightly D` once, or
`dagster asset materialize ... --select 'group:raw or group:clean'`). Every variant trains with
the same seed, features and early-stopping rule in this one process, then is scored on the
validation window beside popularity (jobrec.evaluation), so the rows compare side by side;
each a second time with the ad prior a night would choose for it (jobrec.retrieval.ad_prior;
its grid only with JOBREC_AD_PRIOR=1, else w = 0).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import platform
import time

import duckdb
import numpy as np
import torch

from jobrec import retrieval
from jobrec.data.market import read_market
from jobrec.evaluation.offline import (
    comparison_k,
    evaluated_seekers,
    metric_rows,
    pairs_in,
    popularity_lists,
    splits,
)
from jobrec.features import FOURIER_SCALES, FeatureSpace
from jobrec.retrieval import ad_prior

VARIANTS = {
    "default": {},  # in-batch negatives only, log-Q corrected
    "mixed": {"uniform_negatives": 1024},  # + 1,024 uniform negatives a batch, log-Q corrected
    "no_log_q": {"log_q": False},  # in-batch negatives, no correction
}


def changed(obj, change: str):
    """A dataclass with one `field=value` change, the value read as the field's type."""
    field, value = change.split("=")
    kind = type(getattr(obj, field))
    # bool("0") is True: a switch reads 1/true/yes as on, anything else as off
    parsed = value.lower() in ("1", "true", "yes") if kind is bool else kind(value)
    return dataclasses.replace(obj, **{field: parsed})


def config(spec: str, validation_k: int, max_epochs: int | None) -> retrieval.Muse0Config:
    """`name[:field=value,...]` -> VARIANTS[name] with those fields changed."""
    name, _, changes = spec.partition(":")
    cfg = dataclasses.replace(retrieval.Muse0Config(), **VARIANTS[name], validation_k=validation_k)
    for change in filter(None, changes.split(",")):
        cfg = changed(cfg, change)
    return cfg if max_epochs is None else dataclasses.replace(cfg, max_epochs=max_epochs)


def recall_at(top, split, who) -> dict[int, float]:
    """Recall@10 / 100 / 1000 of lists `top` (universe positions) on `split`'s applications."""
    return {
        r["k"]: r["recall"]
        for r in metric_rows(top, split, who, (10, 100, 1000))
        if r["relevance"] == "applications"
    }


def recalls(top, split, who) -> str:
    """'R@10 | R@100 | R@1000' of lists `top` on `split`'s applications."""
    if split is None:
        return "- | - | -"
    recall = recall_at(top, split, who)
    return " | ".join(f"{recall[k]:.4f}" for k in (10, 100, 1000))


def window_lists(model, seekers, ads, market, split, who, k: int, prior=None) -> np.ndarray:
    """Muse.0's top-k of the split's ads for `who` (universe positions, -1 padded), their
    applications before the window left out (the forward window's: tonight's candidates);
    with `prior`, its ad prior's column, the ads' rates as known at the window's start."""
    u = retrieval.embed(model, "seekers", seekers, who, scoring=True)
    v = retrieval.embed(model, "ads", ads, split.universe, scoring=True)
    if prior is not None:
        rates = ad_prior.ad_log_rates(market, split.universe, split.start, prior)
        u, v = ad_prior.with_prior(u, v, rates, prior, model.cfg.temperature)
    ex = pairs_in(who, split.universe, split.seen, keep_outside=False)
    scores, top = retrieval.exact_topk(u, v, k, *ex)
    return np.where(np.isfinite(scores), top, -1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--warehouse", required=True)
    parser.add_argument("--day", type=dt.date.fromisoformat, required=True)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS))
    parser.add_argument("--max-epochs", type=int, help="cap every variant's epochs")
    parser.add_argument(
        "--train-gap-days",
        type=int,
        default=0,
        help="train only on events this many days before the validation window (what a week "
        "of fresher events is worth)",
    )
    parser.add_argument(
        "--fourier-scales",
        type=float,
        nargs="+",
        default=FOURIER_SCALES,
        help="the feature space's random Fourier frequency spreads",
    )
    args = parser.parse_args()
    con = duckdb.connect(args.warehouse, read_only=True)
    con.execute("SET TimeZone = 'UTC'")
    market = read_market(con, args.day)
    space = FeatureSpace(0, tuple(args.fourier_scales)).fit(*market.known_before(market.train_end))
    seekers, ads = retrieval.tower_inputs(space, market)
    val = splits(market)[0]
    train_end = market.train_end - dt.timedelta(days=args.train_gap_days)
    hires = market.hires.between(dt.date.min, train_end)
    seen = val.seen.between(dt.date.min, train_end)
    apps = market.applications
    history = retrieval.ApplicationHistory.of(apps.seeker, apps.ad, apps.day, ads.occupation)
    who = val.seekers(20_000, 0)
    k = min(1000, len(val.universe))
    # the forward window as the night's metrics.ranking scores tonight's candidates: the
    # evaluated seekers with applications in [D, D + 7) over the ads active at D
    forward = next((s for s in splits(market) if s.name == "forward"), None)
    ahead = evaluated_seekers(forward) if forward is not None else None
    print(
        f"machine: {platform.machine()}, {torch.get_num_threads()} torch threads, "
        f"torch {torch.__version__}; partition {args.day}: {len(market.seekers):,} seekers, "
        f"{len(market.ads):,} ads, validation universe {len(val.universe):,} ads, "
        f"{len(who):,} validation seekers; Fourier scales {space.fourier_scales}; "
        f"training events before {train_end}"
    )
    print(
        "| variant | epochs (kept) | train s | s/epoch | Recall@10 | Recall@100 | Recall@1000 "
        "| forward Recall@10 | forward Recall@100 | forward Recall@1000 |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    pop = popularity_lists(market, val, who, k)
    recall = recall_at(pop, val, who)
    ahead_recall = recalls(popularity_lists(market, forward, ahead, k), forward, ahead)
    print(
        f"| popularity | - | - | - | {recall[10]:.4f} | {recall[100]:.4f} | {recall[1000]:.4f} "
        f"| {ahead_recall} |"
    )
    for name in args.variants:
        cfg = config(name, comparison_k(len(val.universe)) or 10, args.max_epochs)
        pairs = retrieval.training_pairs(
            *(seen.seeker, seen.ad, hires.seeker, hires.ad),
            *(len(market.ads), cfg.hire_weight, seen.day, hires.day),
        )
        # validation reads the history as of the window's start, training each pair's own
        at_cut = retrieval.with_history(seekers, history, val.start, cfg.history_length)
        t0 = time.perf_counter()
        valset = retrieval.validation_set(val, 5000, 0)  # early stopping's, as in a night
        model, report = retrieval.train_muse0(
            *(at_cut, ads, pairs, valset),
            *(space.vocab_sizes(), cfg),
            history=history,
        )
        seconds = time.perf_counter() - t0
        tonight = retrieval.with_history(seekers, history, market.run_date, cfg.history_length)
        # each variant as trained, then with the ad prior the night would choose for it
        prior, _ = retrieval.stage.fit_ad_prior(
            model, at_cut, ads, market, valset, k, report.best_validation_recall
        )
        for label, with_prior in ((name, None), (f"{name}, ad prior {prior}", prior)):
            top = window_lists(model, at_cut, ads, market, val, who, k, with_prior)
            recall = recall_at(top, val, who)
            ahead_recall = "- | - | -"
            if forward is not None:
                top = window_lists(model, tonight, ads, market, forward, ahead, k, with_prior)
                ahead_recall = recalls(top, forward, ahead)
            print(
                f"| {label} | {report.epochs} ({report.best_epoch}) | {seconds:.0f} | "
                f"{seconds / report.epochs:.1f} | {recall[10]:.4f} | {recall[100]:.4f} | "
                f"{recall[1000]:.4f} | {ahead_recall} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
