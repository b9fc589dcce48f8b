"""Muse.0's warm training variants on one night: the stage's own warm start, scored on the
validation and the forward window.

    python benchmarks/bench_muse0_warm.py --models-dir W/models --day 2026-11-24 \
        --variants base warm.warm_learning_rate=5e-4 ema_decay=0.99,warm.warm_epochs=2 \
        --out /work/bench/muse0-warm

`--models-dir` is a night folder's model store holding the night before D's `muse0` and
`feature_space` and D's `feature_space` and `features` (what a warm night `bench_night` ran
leaves). Each variant runs `retrieval.stage.train` of D in a scratch store under `--out` (those
folders linked, the previous Muse.0 copied), so the variant takes the nightly path: warm start,
the warm window's pairs, the start scored as epoch 0 and kept unless an epoch beats it. A
variant is `field=value,...` of `Muse0Config` or, prefixed `warm.`, of `RetrievalSettings`;
`base` is the configuration as it is. The previous Muse.0's recorded configuration hash is
rewritten to the variant's (the variants change training, not the model's form), so every
variant warm-starts from the same weights. Each kept model (and the start) is scored like
bench_muse0's forward column: the forward window's evaluated seekers over the ads active at D,
their earlier applications left out, Recall@10 / 100 / 1000.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import platform
import shutil
import time
from pathlib import Path

import torch
from bench_muse0 import changed, recall_at, window_lists

from jobrec import retrieval
from jobrec.data import model_store
from jobrec.evaluation.offline import evaluated_seekers, splits
from jobrec.retrieval import night_inputs, stage, two_tower

SETTINGS = stage.SETTINGS  # as configured: every variant starts from these


def parse(spec: str) -> tuple[retrieval.Muse0Config, stage.RetrievalSettings]:
    """`field=value,...` (`warm.` fields: RetrievalSettings) -> (config, settings)."""
    cfg, settings = retrieval.Muse0Config(), SETTINGS
    for change in filter(None, spec.split(",")):
        if change.startswith("warm."):
            settings = changed(settings, change.removeprefix("warm."))
        elif change != "base":
            cfg = changed(cfg, change)
    return cfg, settings


def scratch_store(models_dir: Path, day: dt.date, previous: dt.date, to: Path, cfg) -> Path:
    """A model store with D's inputs linked and the previous Muse.0 copied, its configuration
    hash set to `cfg`'s."""
    shutil.rmtree(to, ignore_errors=True)
    for night, names in ((previous, ("feature_space",)), (day, ("feature_space", "features"))):
        folder = to / night.isoformat()
        folder.mkdir(parents=True, exist_ok=True)
        for name in names:
            (folder / name).symlink_to(model_store.model_dir(models_dir, night, name).resolve())
    muse0 = to / previous.isoformat() / "muse0"
    shutil.copytree(model_store.model_dir(models_dir, previous, "muse0"), muse0)
    facts = json.loads((muse0 / "warm_start.json").read_text())
    facts["config_hash"] = stage.config_hash(cfg)
    (muse0 / "warm_start.json").write_text(json.dumps(facts, indent=2))
    return to


def forward_recalls(model, models_dir: Path, day: dt.date) -> dict[int, float]:
    market = night_inputs.load_market(models_dir, day)
    seekers, ads = night_inputs.load_tower_inputs(models_dir, day)
    forward = next(s for s in splits(market) if s.name == "forward")
    who = evaluated_seekers(forward)
    k = min(1000, len(forward.universe))
    top = window_lists(model, seekers, ads, market, forward, who, k)
    return recall_at(top, forward, who)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models-dir", type=Path, required=True)
    parser.add_argument("--day", type=dt.date.fromisoformat, required=True)
    parser.add_argument("--previous", type=dt.date.fromisoformat, help="default: D - 1")
    parser.add_argument("--variants", nargs="+", default=["base"])
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    previous = args.previous or args.day - dt.timedelta(days=1)
    print(
        f"machine: {platform.machine()}, {torch.get_num_threads()} torch threads, torch "
        f"{torch.__version__}; night {args.day}, warm from {previous} ({args.models_dir})"
    )
    start, _ = two_tower.load_model(
        model_store.model_dir(args.models_dir, previous, "muse0") / "muse0.pt"
    )
    r = forward_recalls(start, args.models_dir, args.day)
    print(
        "| variant | validation R@1000 by epoch | kept (its R@1000; 0: the start) | train s "
        "| forward R@10 | forward R@100 | forward R@1000 |"
    )
    print("|---|---|---:|---:|---:|---:|---:|")
    print(f"| start ({previous}'s) | - | - | - | {r[10]:.4f} | {r[100]:.4f} | {r[1000]:.4f} |")
    results = []
    for spec in args.variants:
        cfg, settings = parse(spec)
        store = scratch_store(args.models_dir, args.day, previous, args.out / "store", cfg)
        stage.SETTINGS = settings
        t0 = time.perf_counter()
        report = stage.train(None, args.day, store, cfg)
        seconds = time.perf_counter() - t0
        if report.warm_from is None:
            raise SystemExit(f"{spec}: no warm start ({report.start})")
        model, _ = stage.load_muse0(store, args.day)
        r = forward_recalls(model, store, args.day)
        epochs = " / ".join(f"{h['validation_recall']:.4f}" for h in report.history)
        results.append({"variant": spec, "report": dataclasses.asdict(report), "forward": r})
        print(
            f"| {spec} | {epochs} | {report.best_epoch} ({report.best_validation_recall:.4f}) "
            f"| {seconds:.0f} | {r[10]:.4f} "
            f"| {r[100]:.4f} | {r[1000]:.4f} |",
            flush=True,
        )
    (args.out / "result.json").write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
