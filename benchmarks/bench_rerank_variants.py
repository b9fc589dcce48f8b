"""Muse variants against the night's XGBoost on the forward window, paired over seekers (issue 17).

    python benchmarks/bench_rerank_variants.py --work W --day D \
        --variants muse2 muse2:early_stopping_k=10 muse2:dims=16,hidden=256 --out O

`--work` is a night's working folder (`bench_night`'s layout: models/, warehouse/) whose
partition `--day` ran through `metrics/ranking_rerank`, on raw data that holds the forward
window [D, D + 7). Each variant (`kind[:field=value,...]` over RerankConfig, or over XGBConfig
for `xgboost:...`: another XGBoost, compared with the night's) is trained from scratch on that
night's shared inputs, as the nightly stage trains it (same lists, hires and seed), and reranks
tonight's candidates of the forward window's evaluated seekers; the night's own XGBoost reranks
the same lists (as the rerank evaluation does). Reported per variant, against XGBoost on the
same seekers: Recall and NDCG at 10 and 100 (applications), the paired difference with its
standard error, relative difference and 95% interval, and every slice (history, family, ad age)
where the variant trails with a Holm-corrected p < 0.05; the night's own Muse.1 and Muse.2
(recs.reranked) are rows too, so a variant equal to the nightly configuration reproduces the
night's row.

`--warm-from D` starts every Muse variant from day D's model of its kind in the same folder,
for at most the night's warm epochs from its warm rate (`warm_config`; a variant may set
max_epochs or learning_rate), as a warm night trains it;
D = `--day` - 1 and the variant `muse2` reproduce a warm night's Muse.2.

`--lists` adds the models of earlier runs on the same night (their `lists.npz`), so that a
comparison can take any of them as `--reference`.

Writes `--out/metrics.csv`, `--out/pairs.csv`, `--out/training.json`, `--out/lists.npz` (each
model's top 100 of the compared seekers) and prints Markdown.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import platform
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import torch
import xgboost as xgb
from bench_muse0 import changed  # benchmarks/ is on sys.path
from bench_rerank_training import variant

from jobrec.data import model_store
from jobrec.evaluation import compare
from jobrec.evaluation.offline import positions
from jobrec.evaluation.offline import splits as market_splits
from jobrec.rerank import (
    HIRE_SETTINGS,
    HireSettings,
    XGBConfig,
    hire_pairs,
    muse_tables,
    predict_lists,
    top_of,
    train_reranker,
    train_xgb,
)
from jobrec.rerank.stage import (
    REFERENCE,
    compared_seekers,
    load_booster,
    reranked_lists,
    tonight_lists,
    warm_config,
)
from jobrec.reranker_model import load_reranker, score_tables
from jobrec.retrieval import load_night_inputs

KS = (10, 100)
BLOCK = 2000


def top_lists(con, day, night, scorers: dict, who: np.ndarray, k: int) -> dict[str, np.ndarray]:
    """Each scorer's top k of tonight's candidates of `who` (market ad rows, -1 padded), the
    lists read and featurised once per block for all of them. A scorer is Muse's tables
    (`muse_tables`) or an XGBoost booster, scored as the nightly stage scores them."""
    out = {name: np.full((len(who), k), -1, dtype=np.int64) for name in scorers}
    for lo in range(0, len(who), BLOCK):
        block = who[lo : lo + BLOCK]
        lists = tonight_lists(con, day, night, block)
        at = np.searchsorted(who, lists.seeker)
        for name, scorer in scorers.items():
            if isinstance(scorer, xgb.Booster):
                scores = predict_lists(scorer, night.inputs.seekers, night.inputs.ads, lists)
            else:
                scores = score_tables(scorer, lists.seeker, lists.ads, lists.cross)
            top = top_of(scores, lists, k)[0]
            out[name][at, : top.shape[1]] = top
    if not any((ls >= 0).any() for ls in out.values()):  # all-zero metrics would look like results
        raise SystemExit(
            f"{day}: recs.candidates holds no lists of the compared seekers "
            "(the night's candidates no longer retained?)"
        )
    return out


def hire_variant(spec: str) -> tuple[str, HireSettings]:
    """`spec` without its `hire.field=value` changes, and the HireSettings they give (the
    hiring head's data: `muse2:hire.point_in_time=0,hire.max_unsettled_share=0` is the data as
    it was before the thirteenth session)."""
    kind, _, changes = spec.partition(":")
    kept, settings = [], HIRE_SETTINGS
    for change in filter(None, changes.split(",")):
        field, value = change.split("=")
        if not field.startswith("hire."):
            kept.append(change)
            continue
        settings = changed(settings, f"{field.removeprefix('hire.')}={value}")
    return kind + (":" + ",".join(kept) if kept else ""), settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--day", type=dt.date.fromisoformat, required=True)
    parser.add_argument("--variants", nargs="*", default=["muse2"])
    parser.add_argument(
        "--lists",
        nargs="*",
        type=Path,
        default=[],
        help="lists.npz of earlier runs on the same night: their models join the comparison",
    )
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument(
        "--reference",
        default=REFERENCE,
        help="the model every other is compared with: the night's XGBoost, or a variant's spec",
    )
    parser.add_argument(
        "--warm-from",
        type=dt.date.fromisoformat,
        help="start every Muse variant from that day's model of its kind with the night's warm "
        "epochs and rate, unless the variant sets max_epochs or learning_rate",
    )
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    models_dir = args.work / "models"

    def log(line):
        print(f"{time.strftime('%H:%M:%S')} {line}", flush=True)

    night = load_night_inputs(models_dir, args.day)
    all_splits = market_splits(night.market)
    if len(all_splits) < 2:
        raise SystemExit(f"{args.day}: the raw data holds no forward window to compare on")
    forward = all_splits[1]
    who = compared_seekers(all_splits).forward
    con = duckdb.connect(str(args.work / "warehouse" / "jobrec.duckdb"), read_only=True)
    scorers = {
        REFERENCE: load_booster(
            model_store.model_dir(models_dir, args.day, "xgboost") / "xgboost.json"
        )
    }
    hire_data = {}  # the hiring head's data of each HireSettings asked for
    training = {}
    for spec in args.variants:
        model_spec, settings = hire_variant(spec)
        cfg = variant(model_spec)
        if settings not in hire_data:
            hire_data[settings] = hire_pairs(
                night.market, night.train_entities, night.market.train_end, settings
            )
        hires = hire_data[settings]
        log(f"training {spec}")
        if isinstance(cfg, XGBConfig):  # another XGBoost: a seed or a configuration
            scorers[spec], report = train_xgb(
                night.inputs.seekers, night.inputs.ads, night.train_lists, night.holdout_lists, cfg
            )
            training[spec] = {"trees": report.best_iteration + 1}
        else:
            init_state = None
            if args.warm_from is not None:
                source = model_store.model_dir(models_dir, args.warm_from, cfg.kind) / "model.pt"
                init_state = load_reranker(source)[0].state_dict()
                # the night's warm epochs and rate, unless the variant sets them
                kept = {
                    f: getattr(cfg, f) for f in ("max_epochs", "learning_rate") if f"{f}=" in spec
                }
                cfg = dataclasses.replace(warm_config(cfg), **kept)
            model, report = train_reranker(
                night.inputs.seekers,
                night.inputs.ads,
                night.train_lists,
                night.holdout_lists,
                hires if cfg.kind == "muse2" else None,
                cfg,
                device=torch.device("cpu"),
                log=log,
                init_state=init_state,
            )
            scorers[spec] = muse_tables(model, night.inputs)
            training[spec] = {
                "epochs": report.epochs,
                "best_epoch": report.best_epoch,
                "seconds": round(report.seconds, 1),
            }
        log(f"{spec}: {training[spec]}")

    con = duckdb.connect(str(args.work / "warehouse" / "jobrec.duckdb"), read_only=True)
    log(f"{len(who)} forward seekers: every model scores their lists")
    lists = top_lists(con, args.day, night, scorers, who, 100)
    reranked = con.execute(
        "SELECT count(*) FROM information_schema.tables "  # a table, or a view over Parquet
        "WHERE table_schema = 'recs' AND table_name = 'reranked'"
    ).fetchall()[0][0]
    for kind in ("muse1", "muse2") if reranked else ():  # a night stopped before recs/reranked
        lists[f"night {kind}"] = reranked_lists(con, args.day, night.market, who, kind, 100)
    for path in args.lists:
        with np.load(path) as saved:
            if not np.array_equal(saved["seekers"], who):
                raise SystemExit(f"{path}: lists of other seekers than tonight's compared ones")
            lists.update({m: saved[m] for m in saved.files if m != "seekers" and m not in lists})

    pos = {m: np.where(ls >= 0, positions(forward.universe, ls), -1) for m, ls in lists.items()}
    # every model's top 100 (market ad rows), to compare them again against any reference
    np.savez_compressed(args.out / "lists.npz", seekers=who, **{m: ls for m, ls in lists.items()})
    slices = compare.slices(night.market, who, forward.relevant["applications"], forward.start)
    metric, pairs = compare.compare(pos, forward.universe, who, slices, KS, args.reference)
    metric, pairs = pd.DataFrame(metric), pd.DataFrame(pairs)
    metric.to_csv(args.out / "metrics.csv", index=False)
    pairs.to_csv(args.out / "pairs.csv", index=False)
    (args.out / "training.json").write_text(
        json.dumps(
            {
                "work": str(args.work),
                "day": args.day.isoformat(),
                "machine": f"{platform.node()}, {torch.get_num_threads()} torch threads",
                "training": training,
            },
            indent=2,
        )
    )

    whole = metric[metric["slice"] == "all"].pivot(
        index="model", columns="k", values=["recall", "ndcg"]
    )
    whole.columns = [f"{m}@{k}" for m, k in whole.columns]
    print(f"\n## Forward window, {len(who)} seekers (applications)\n")
    print(whole.to_markdown(floatfmt=".4f"))
    head = pairs[pairs["slice"] == "all"]
    cols = ["model", "k", "metric", "difference", "se", "relative", "ci_low", "ci_high", "p_value"]
    print(f"\n## Paired against {args.reference} (slice all)\n")
    print(head[cols].to_markdown(index=False, floatfmt=".4f"))
    trails = pairs[(pairs["slice"] != "all") & (pairs["difference"] < 0) & (pairs["p_holm"] < 0.05)]
    print("\n## Slices where a model trails with Holm p < 0.05\n")
    cols = ["model", "slice", "k", "metric", "seekers", "difference", "se", "p_holm"]
    print(trails[cols].to_markdown(index=False, floatfmt=".4f") if len(trails) else "none")
    print("\n## Training\n")
    for spec, t in training.items():
        print(f"- {spec}: {t}")


if __name__ == "__main__":
    main()
