"""Reranker training variants on one partition, same lists, same seed, one process: by default
the loss (listwise softmax against binary cross-entropy with sampled negatives) for Muse.1 and
Muse.2; `--variants` trains others instead, each `kind[:field=value,...]` over RerankConfig
(e.g. `muse2:hidden=256,dims=16`).

    python benchmarks/bench_rerank_training.py --models-dir M --day D
        [--variants muse2 muse2:hidden=256 ...]

Needs a models folder where day D ran through models/night_inputs. Scores are the
held-out seekers' candidate Recall@10/@100 (applications), as the nightly model checks compute.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time

import torch
from bench_muse0 import changed  # benchmarks/ is on sys.path

from jobrec import rerank, retrieval
from jobrec.rerank import XGBConfig
from jobrec.reranker_model import RerankConfig, score_lists

LOSSES = ["muse1", "muse1:loss=bce", "muse2", "muse2:loss=bce"]


def variant(spec: str) -> RerankConfig | XGBConfig:
    """`kind[:field=value,...]` -> the nightly configuration of that kind (RerankConfig, or
    XGBConfig for `xgboost`) with those fields, e.g. `muse2:hidden=256,dims=16`."""
    kind, _, changes = spec.partition(":")
    cfg = XGBConfig() if kind == "xgboost" else RerankConfig(kind=kind)
    for change in filter(None, changes.split(",")):
        cfg = changed(cfg, change)  # bool switches read 0/1
    return cfg


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models-dir", required=True)
    parser.add_argument("--day", type=dt.date.fromisoformat, required=True)
    parser.add_argument("--variants", nargs="+", default=LOSSES)
    args = parser.parse_args()
    p = retrieval.load_night_inputs(args.models_dir, args.day)
    train, held = p.train_lists, p.holdout_lists
    hires = rerank.hire_pairs(p.market, p.train_entities, p.market.train_end)
    print(f"{len(train.seeker):,} training seekers, {len(held.seeker):,} held-out seekers")
    print("| variant | epochs (kept) | train s | Recall@10 | Recall@100 |")
    print("|---|---:|---:|---:|---:|")
    for spec in args.variants:
        cfg = variant(spec)
        kind = cfg.kind
        t0 = time.perf_counter()
        model, report = rerank.train_reranker(
            p.inputs.seekers, p.inputs.ads, train, held, hires if kind == "muse2" else None, cfg
        )
        seconds = time.perf_counter() - t0
        scores = score_lists(
            model,
            torch.as_tensor(p.inputs.seekers),
            torch.as_tensor(p.inputs.ads),
            held.seeker,
            held.ads,
            held.cross,
            torch.device("cpu"),
        )
        print(
            f"| {spec} | {report.epochs} ({report.best_epoch}) | {seconds:.0f} | "
            f"{rerank.candidate_recall(scores, held.applied, 10):.4f} | "
            f"{rerank.candidate_recall(scores, held.applied, 100):.4f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
