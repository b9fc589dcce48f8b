"""The XGBoost baseline's configuration search: 24 configurations on the validation window.

    python benchmarks/bench_xgb_search.py --models-dir M --day D

Builds the rerank stage's training and held-out lists of day D exactly as the nightly does
(jobrec.retrieval's night inputs), then trains XGBoost for every configuration of the grid (depth x
learning rate x min_child_weight x objective) with early stopping on the held-out seekers, and
scores each by the held-out candidate Recall@100 (and @10) — quality only, never speed. Prints
a Markdown table sorted by Recall@100; the best row is the nightly default (XGBConfig).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import itertools
import time

from jobrec import rerank, retrieval

GRID = {
    "max_depth": (4, 6, 8),
    "learning_rate": (0.05, 0.15),
    "min_child_weight": (1.0, 10.0),
    "objective": ("rank:ndcg", "binary:logistic"),
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models-dir", required=True)
    parser.add_argument("--day", type=dt.date.fromisoformat, required=True)
    args = parser.parse_args()
    p = retrieval.load_night_inputs(args.models_dir, args.day)
    train, held = p.train_lists, p.holdout_lists
    print(
        f"{len(train.seeker):,} training seekers, {len(held.seeker):,} held-out seekers, "
        f"{held.ads.shape[1]} candidates each; n_estimators 600 with early stopping (20)"
    )
    print(
        "| max_depth | learning_rate | min_child_weight | objective | trees kept | train s |"
        " Recall@10 | Recall@100 |"
    )
    print("|---:|---:|---:|---|---:|---:|---:|---:|")
    for values in itertools.product(*GRID.values()):
        grid_point = dict(zip(GRID, values, strict=True))
        cfg = dataclasses.replace(rerank.XGBConfig(), n_estimators=600, **grid_point)
        t0 = time.perf_counter()
        model, report = rerank.train_xgb(p.inputs.seekers, p.inputs.ads, train, held, cfg)
        seconds = time.perf_counter() - t0
        scores = rerank.predict_lists(model, p.inputs.seekers, p.inputs.ads, held)
        print(
            f"| {cfg.max_depth} | {cfg.learning_rate} | {cfg.min_child_weight} | "
            f"{cfg.objective} | {report.best_iteration + 1} | {seconds:.0f} | "
            f"{rerank.candidate_recall(scores, held.applied, 10):.4f} | "
            f"{rerank.candidate_recall(scores, held.applied, 100):.4f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
