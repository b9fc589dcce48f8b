"""ReCon (congestion inside Muse.2's training) against the post-hoc redistribution, on one trade-off
curve (issue 19).

    python benchmarks/bench_recon.py --work /work/bench/r19/small --day 2026-11-23 \
        --weights 0.1 1 --out /work/bench/r19/recon-small

`--work` is a night's working folder (`bench_night`'s layout: models/, warehouse/) whose
partition `--day` has run (its forward window, when the raw data holds one, is scored too). From
that night's shared inputs it trains, each from scratch with the night's configuration:
  `muse2`          plain Muse.2 (random batches), the reference;
  `grouped`        λ = 0 with the ReCon batches (seekers of one desired occupation and department
                   together): the batches' own effect;
  `recon λ=…`      the ReCon term at each `--weights` λ (`--gradient`: unrolled or fixed plan).
For each, on the validation window (the rerank stage's held-out seekers, market metrics over all
validation seekers), the redistribution stage's own trade-off: the model's lists, then its (τ, ε,
α) grid (`jobrec.redistribution.tradeoff`) and the point the nightly rule picks. On the forward
window [D, D + 7): tonight's candidates of every seeker reranked by the model, its top 300
redistributed with the policy chosen on validation (`lists_for_tonight`, as the night does),
Recall@10/100 of applications and hires over the evaluated forward seekers and Congestion@10,
Coverage@100, Gini@100 over every seeker. Recall differences are paired over seekers against
plain Muse.2's own lists and against its redistributed lists, with standard errors.

Writes `--out/curve.csv` (every validation point, a `variant` and `method` column),
`--out/forward.csv`, `--out/result.json`, `--out/tradeoff.png`, and prints Markdown tables.
Training seconds per epoch (the batches alone, validation scoring excluded) are reported per
variant; time them on a quiet machine.
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

from jobrec.evaluation.metrics import market_metrics
from jobrec.evaluation.offline import evaluated_seekers, paired_difference, per_seeker_recall
from jobrec.evaluation.offline import positions as universe_positions
from jobrec.evaluation.offline import splits as market_splits
from jobrec.redistribution import (
    Instance,
    lists_for_tonight,
    redistribute,
    tradeoff,
    tradeoff_plot,
    validation_instance,
)
from jobrec.rerank import (
    RERANK_KEEP,
    SETTINGS,
    competition,
    hire_pairs,
    muse_tables,
    tonight_ads,
    tonight_lists,
    tonight_seekers,
    top_of,
    train_reranker,
)
from jobrec.reranker_model import RerankConfig, score_tables
from jobrec.retrieval import load_night_inputs

EDGES_K = RERANK_KEEP["muse2"]
KS = (10, 100)


@dataclasses.dataclass
class Variant:
    name: str
    cfg: RerankConfig
    grouped: bool


def variants(weights, gradients, epsilon, tau, iterations, offsets=(True,)) -> list[Variant]:
    base = RerankConfig(kind="muse2", seed=SETTINGS.seed)
    out = [Variant("muse2", base, False), Variant("grouped", base, True)]
    for offset in offsets:
        for gradient in gradients:
            for weight in weights:
                cfg = dataclasses.replace(
                    base,
                    recon_weight=weight,
                    recon_epsilon=epsilon,
                    recon_tau=tau,
                    recon_iterations=iterations,
                    recon_gradient=gradient,
                    recon_offset=offset,
                )
                name = f"recon λ={weight:g} {gradient}" + ("" if offset else " no-offset")
                out.append(Variant(name, cfg, True))
    return out


def train(night, hires, v: Variant, log) -> tuple[torch.nn.Module, dict]:
    comp = competition(night.market, night.train_lists) if v.grouped else None
    model, report = train_reranker(
        night.inputs.seekers,
        night.inputs.ads,
        night.train_lists,
        night.holdout_lists,
        hires,
        v.cfg,
        device=torch.device("cpu"),
        log=log,
        competition=comp,
    )
    per_epoch = report.epoch_seconds
    return model, {
        "epochs": report.epochs,
        "best_epoch": report.best_epoch,
        "train_seconds_per_epoch": float(np.median(per_epoch)),
        "train_seconds_per_epoch_all": per_epoch,
        "recon_loss_last": report.history[-1]["recon_loss"],
        "seconds": report.seconds,
    }


def tonight_top(con, day, night, models: dict, block: int = 2000):
    """Each model's top EDGES_K of tonight's candidates of every seeker with candidates."""
    market = night.market
    seekers = tonight_seekers(con, day, market)
    ads = tonight_ads(market)
    tables = {name: muse_tables(m, night.inputs, ads) for name, m in models.items()}
    out = {name: ([], []) for name in models}
    for lo in range(0, len(seekers), block):
        lists = tonight_lists(con, day, night, seekers[lo : lo + block])
        for name, t in tables.items():
            scores = score_tables(t, lists.seeker, lists.ads, lists.cross)
            top_ads, top_scores = top_of(scores, lists, EDGES_K)
            out[name][0].append(top_ads)
            out[name][1].append(top_scores)
    return seekers, {n: (np.vstack(a), np.vstack(s)) for n, (a, s) in out.items()}


def in_universe(lists: np.ndarray, universe: np.ndarray) -> np.ndarray:
    """Lists of market ad rows (-1 padded) as positions in `universe` (the metrics' input)."""
    flat = universe_positions(universe, lists.reshape(-1)).reshape(lists.shape)
    return np.where(lists >= 0, flat, -1)


def forward_rows(lists_by_method, seekers, forward, active) -> tuple[list[dict], dict]:
    """Forward Recall@10/100 (applications, hires) over the evaluated forward seekers with a
    list, and market metrics over every seeker; per-seeker recalls for the paired tests."""
    who = np.intersect1d(evaluated_seekers(forward), seekers)
    at = np.searchsorted(seekers, who)
    rows, per_seeker = [], {}
    for method, lists in lists_by_method.items():
        pos = in_universe(lists, forward.universe)
        row = {"method": method}
        for relevance in ("applications", "hires"):
            for k in KS:
                r = per_seeker_recall(pos[at], forward, who, k, relevance)
                per_seeker[(method, relevance, k)] = r
                row[f"{relevance}_recall_at_{k}"] = float(r.mean()) if len(r) else float("nan")
        for m in market_metrics(in_universe(lists, active), len(active), KS):
            row[f"congestion_at_{m.k}"] = m.congestion
            row[f"coverage_at_{m.k}"] = m.coverage
            row[f"gini_at_{m.k}"] = m.gini
        rows.append(row)
    return rows, per_seeker


def validation_per_seeker(v, lists) -> dict:
    pos = in_universe(lists, v.split.universe)
    held = v.held
    return {
        (rel, k): per_seeker_recall(pos[held], v.split, v.instance.seekers[held], k, rel)
        for rel in ("applications", "hires")
        for k in KS
    }


def time_epochs(night, hires, todo: list[Variant], epochs: int, out: Path, log) -> None:
    """Seconds per training epoch (the batches only) of each variant, side by side: every
    variant trains `epochs` epochs (no early stop), in turn, and the round is run twice; the
    median epoch of both rounds is compared with plain Muse.2's."""
    seconds = {v.name: [] for v in todo}
    for round_ in range(2):
        for v in todo:
            fixed = dataclasses.replace(
                v, cfg=dataclasses.replace(v.cfg, max_epochs=epochs, patience=epochs + 1)
            )
            _, t = train(night, hires, fixed, None)
            seconds[v.name] += t["train_seconds_per_epoch_all"]
            log(f"round {round_ + 1} {v.name}: {t['train_seconds_per_epoch_all']}")
    plain = float(np.median(seconds["muse2"]))
    rows = [
        {
            "variant": name,
            "median_epoch_s": float(np.median(s)),
            "ratio_to_plain": float(np.median(s)) / plain,
            "epochs_timed": len(s),
        }
        for name, s in seconds.items()
    ]
    frame = pd.DataFrame(rows)
    out.mkdir(parents=True, exist_ok=True)
    frame.to_csv(out / "epoch_seconds.csv", index=False)
    shape = night.train_lists.ads.shape
    print(f"\n## Seconds per epoch, {shape[0]} training lists x {shape[1]} candidates\n")
    print(frame.to_markdown(index=False, floatfmt=".3f"))


def forward_window(con, day, night, models, policies, log, grid=()):
    """Tonight's lists of every seeker by each model, its own top 100 and redistributed with
    the policy chosen on validation, and plain Muse.2's redistributed at each (τ, ε, α) of
    `grid` too (its forward curve): the forward rows, per-seeker recalls, the solves."""
    forward = market_splits(night.market)[1]
    start = time.perf_counter()
    seekers, tops = tonight_top(con, day, night, models)
    log(f"tonight's lists of {len(seekers)} seekers scored in {time.perf_counter() - start:.0f} s")
    order = np.argsort(seekers)
    seekers = seekers[order]
    active = night.market.active_ads()
    positions = night.market.ads["positions"].to_numpy(np.float64)
    lists_by_method, ot_reports = {}, {}
    for name in models:
        ads, scores = (x[order] for x in tops[name])
        inst = Instance(seekers, ads, np.where(ads >= 0, scores, -np.inf), positions)
        out, spread = lists_for_tonight(inst, policies[name], active)
        lists_by_method[f"{name} | own"] = ads[:, :100]
        lists_by_method[f"{name} | +ot"] = out.lists
        ot_reports[name] = {**out.solution.report(), "spread_helps": spread.helps}
        log(f"{name}: tonight redistributed, {out.solution.iterations} iterations")
        if name != "muse2":
            continue
        solved = {}  # (τ, ε) -> its solve: the α values rank the same plan
        for tau, eps, alpha in grid:
            policy = dataclasses.replace(
                policies[name], epsilon=eps, alpha=alpha, tau=tau, qualified=True
            )
            point = redistribute(inst, policy, solution=solved.get((tau, eps)))
            solved[(tau, eps)] = point.solution
            lists_by_method[f"muse2 | +ot τ={tau:g} ε={eps:g} α={alpha:g}"] = point.lists
        if grid:
            log(f"muse2: tonight redistributed at {len(grid)} more grid points")
    rows, per_seeker = forward_rows(lists_by_method, seekers, forward, active)
    return pd.DataFrame(rows), per_seeker, ot_reports


def matched_points(fwd: pd.DataFrame, per_seeker: dict, names) -> pd.DataFrame:
    """For each model's own lists, the plain Muse.2 + OT point of the forward grid with at least
    its Recall@100 (applications) and the lowest Gini@100: both points' spread, and the recall
    difference (own − OT point) paired over seekers."""
    grid = fwd[fwd["method"].str.startswith("muse2 | +ot")]
    rows = []
    for name in names:
        own = fwd[fwd["method"] == f"{name} | own"].iloc[0]
        ok = grid[grid["applications_recall_at_100"] >= own["applications_recall_at_100"]]
        if ok.empty:
            continue
        point = ok.sort_values("gini_at_100").iloc[0]
        label = point["method"].removeprefix("muse2 | +ot").strip() or "the chosen point"
        row = {"model": name, "ot_point": label}
        for k in KS:
            diff, se = paired_difference(
                per_seeker[(own["method"], "applications", k)],
                per_seeker[(point["method"], "applications", k)],
            )
            row[f"recall_at_{k}_own_minus_ot"], row[f"se_{k}"] = diff, se
        for m in ("gini_at_100", "congestion_at_10", "congestion_at_100"):
            row[f"{m}_own"], row[f"{m}_ot"] = own[m], point[m]
        rows.append(row)
    return pd.DataFrame(rows)


def paired_rows(names, val_seekers, fwd_seekers) -> pd.DataFrame:
    """Each variant's lists (own, +ot) against plain Muse.2's (own, +ot): the mean paired
    difference of per-seeker recall and its standard error, validation and forward."""
    rows = []
    for name in names:
        for which in ("own", "+ot"):
            for ref in ("own", "+ot"):
                for rel in ("applications", "hires"):
                    for k in KS:
                        row = {
                            "variant": name,
                            "lists": which,
                            "against": f"muse2 {ref}",
                            "relevance": rel,
                            "k": k,
                        }
                        a = val_seekers[(name, which)][(rel, k)]
                        b = val_seekers[("muse2", ref)][(rel, k)]
                        row["validation_diff"], row["validation_se"] = paired_difference(a, b)
                        if fwd_seekers is not None:
                            a = fwd_seekers[(f"{name} | {which}", rel, k)]
                            b = fwd_seekers[(f"muse2 | {ref}", rel, k)]
                            row["forward_diff"], row["forward_se"] = paired_difference(a, b)
                        rows.append(row)
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--day", type=dt.date.fromisoformat, required=True)
    parser.add_argument("--weights", type=float, nargs="+", default=[0.1, 1.0])
    parser.add_argument("--gradient", nargs="+", default=["unrolled"])
    parser.add_argument(
        "--offset",
        nargs="+",
        choices=["on", "off"],
        default=["on"],
        help="the term's learned level β (off: the ablation without it)",
    )
    parser.add_argument("--epsilon", type=float, default=1.0)
    parser.add_argument("--tau", type=float, default=1.0)
    parser.add_argument("--iterations", type=int, default=10)
    parser.add_argument("--no-control", action="store_true", help="skip the grouped λ = 0 run")
    parser.add_argument(
        "--forward-alpha",
        type=float,
        default=None,
        help="also score plain Muse.2 + OT forward at every (τ, ε) of the grid with this α",
    )
    parser.add_argument(
        "--timing",
        type=int,
        default=0,
        metavar="EPOCHS",
        help="only time training: each variant this many epochs, in turn, twice; no evaluation",
    )
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    models_dir = args.work / "models"

    def log(line):
        print(f"{time.strftime('%H:%M:%S')} {line}", flush=True)

    night = load_night_inputs(models_dir, args.day)
    hires = hire_pairs(night.market, night.train_entities, night.market.train_end)
    offsets = tuple(o == "on" for o in args.offset)
    todo = variants(args.weights, args.gradient, args.epsilon, args.tau, args.iterations, offsets)
    if args.no_control:
        todo = [v for v in todo if v.name != "grouped"]
    if args.timing:
        return time_epochs(night, hires, todo, args.timing, args.out, log)
    models, training = {}, {}
    for v in todo:
        log(f"training {v.name}")
        models[v.name], training[v.name] = train(night, hires, v, log)
        log(f"{v.name}: {training[v.name]}")

    # validation: each model's own curve and chosen policy, as the redistribution stage does
    curves, policies, val_seekers = [], {}, {}
    for v in todo:
        vi = validation_instance(None, args.day, models_dir, muse2=models[v.name])
        curve, policy, chosen = tradeoff(vi, log=log)
        curve.insert(0, "variant", v.name)
        curves.append(curve)
        policies[v.name] = policy
        val_seekers[(v.name, "own")] = validation_per_seeker(vi, vi.instance.ads[:, :100])
        val_seekers[(v.name, "+ot")] = validation_per_seeker(vi, chosen.lists)
    curve = pd.concat(curves, ignore_index=True)
    curve.to_csv(args.out / "curve.csv", index=False)

    # forward: tonight's lists of every seeker, redistributed with the policy chosen above
    all_splits = market_splits(night.market)
    fwd, fwd_seekers, ot_reports = None, None, {}
    if len(all_splits) > 1:
        con = duckdb.connect(str(args.work / "warehouse" / "jobrec.duckdb"), read_only=True)
        grid = []
        if args.forward_alpha is not None:
            ot = curve[(curve["variant"] == "muse2") & (curve["model"] == "ot")]
            ot = ot[ot["alpha"] == args.forward_alpha]
            grid = [(r.tau, r.epsilon, r.alpha) for r in ot.itertuples()]
        fwd, fwd_seekers, ot_reports = forward_window(
            con, args.day, night, models, policies, log, grid
        )
        fwd.to_csv(args.out / "forward.csv", index=False)
    else:
        log(f"{args.day}: the raw data holds no forward window; validation only")
    pairs = paired_rows([v.name for v in todo], val_seekers, fwd_seekers)
    pairs.to_csv(args.out / "pairs.csv", index=False)
    if fwd is not None and args.forward_alpha is not None:
        frontier = matched_points(fwd, fwd_seekers, [v.name for v in todo if v.name != "muse2"])
        frontier.to_csv(args.out / "frontier.csv", index=False)
        print("\n## Forward: each model's own lists against plain Muse.2 + OT at as much recall\n")
        print(frontier.to_markdown(index=False, floatfmt=".4f"))
    # one line per (method, τ) at α = 0 (the plan alone), each model's own point and its
    # chosen point; the grouped control is left out (it is the batches' own effect)
    keep = (curve["model"] == "muse2") | (curve["alpha"] == 0.0) | curve["chosen"]
    plot = curve[keep & (curve["variant"] != "grouped")]
    tradeoff_plot(
        plot,
        args.out / "tradeoff.png",
        title="Plain and ReCon-trained Muse.2, each redistributed by OT (validation)",
    )
    result = {
        "work": str(args.work),
        "day": args.day.isoformat(),
        "machine": f"{platform.node()} {platform.processor() or platform.machine()}, "
        f"{torch.get_num_threads()} torch threads",
        "settings": vars(args) | {"out": str(args.out), "work": str(args.work)},
        "training": training,
        "policies": {k: dataclasses.asdict(p) for k, p in policies.items()},
        "forward_ot": ot_reports,
        "forward_seekers": int(len(next(iter(fwd_seekers.values())))) if fwd_seekers else 0,
    }
    (args.out / "result.json").write_text(json.dumps(result, indent=2, default=str))

    cols = ["variant", "method", "epsilon", "alpha", "tau", "recall_at_10", "recall_at_100"]
    cols += ["congestion_at_10", "coverage_at_100", "gini_at_100", "chosen"]
    shown = curve[(curve["model"] == "muse2") | curve["chosen"]]
    print("\n## Validation (held-out seekers; market over all validation seekers)\n")
    print(shown[cols].to_markdown(index=False, floatfmt=".4f"))
    if fwd is not None:
        print("\n## Forward window\n")
        print(fwd.to_markdown(index=False, floatfmt=".4f"))
    print("\n## Paired recall differences (applications)\n")
    apps = pairs[pairs["relevance"] == "applications"]
    print(apps.to_markdown(index=False, floatfmt=".4f"))
    print("\n## Training seconds per epoch (median; batches only)\n")
    for name, t in training.items():
        ratio = t["train_seconds_per_epoch"] / training["muse2"]["train_seconds_per_epoch"]
        print(
            f"- {name}: {t['train_seconds_per_epoch']:.1f} s ({ratio:.2f}× plain), "
            f"{t['epochs']} epochs, best {t['best_epoch']}"
        )


if __name__ == "__main__":
    main()
