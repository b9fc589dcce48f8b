"""Retrieval: fitted features with the market as known at D, the Muse.0 two-tower model, the
night's shared inputs, embeddings, top-1,000 candidates, and their evaluation beside the
popularity and oracle baselines (logic in jobrec.retrieval).
"""

import math

import numpy as np

from assets.clean import (
    clean_applications,
    clean_hires,
    clean_job_ads,
    clean_jobseekers,
    eval_forward_applications,
    eval_forward_hires,
)
from assets.common import GROUPS, Step, Verdict, Written, daily_asset, problems_verdict
from jobrec import retrieval
from jobrec.data import lists, model_store, warehouse
from jobrec.evaluation.offline import paired_difference

NORM_TOLERANCE = 1e-3  # the towers' vectors are unit vectors (the distance term aside)


def _features_finite(step: Step, written: Written) -> Verdict:
    """The feature space has the expected width and gives finite vectors on tonight's seekers
    and ads (a sample), with gender among none of the columns it reads."""
    space = retrieval.load_space(step.settings.models_dir, step.run_date)
    market = retrieval.load_market(step.settings.models_dir, step.run_date)
    seekers = market.seekers.head(2000)
    read = set(space.schema()["seekers"].values()) | set(space.schema()["ads"].values())
    read_flat = {c for v in read for c in ((v,) if isinstance(v, str) else v)}
    x = space.transform(seekers, "seekers")
    ok = 300 <= space.dims <= 700 and bool(np.isfinite(x).all()) and "gender" not in read_flat
    return Verdict(
        ok,
        f"{space.dims} dims a side, finite on {len(seekers)} seekers; "
        f"gender read: {'gender' in read_flat}",
        {"dims": space.dims},
    )


@daily_asset(
    key=["models", "features"],
    group=GROUPS["retrieval"],
    model="features",
    kinds={"scikitlearn"},
    # the market every model stage loads includes the forward window (eval.*), when complete
    deps=[clean_jobseekers, clean_job_ads, eval_forward_applications, eval_forward_hires],
    checks={"finite_and_gender_free": _features_finite},
)
def features(step: Step) -> Written:
    """Seeker and ad preprocessing (occupation levels, skills, numbers, location, text),
    fitted on the entities known before D - 7, saved under the models folder with the market as
    known at D and Muse.0's inputs of every seeker and ad (read by every later step)."""
    stats = retrieval.fit_features(
        step.con, step.run_date, step.settings.models_dir, step.settings.full_retrain
    )
    removed = model_store.prune(
        step.settings.models_dir, step.run_date, step.settings.retention_days
    )
    caches = model_store.prune_caches(
        step.settings.models_dir, step.run_date, step.settings.intermediate_nights
    )
    return Written(0, {**stats, "pruned_model_days": len(removed), "pruned_caches": len(caches)})


def _training_improved(step: Step, written: Written) -> Verdict:
    """Training lowered the loss, and the kept epoch's validation recall is finite."""
    report = written.result
    losses = [h["loss"] for h in report.history]
    recall = report.best_validation_recall
    if report.pairs == 0:
        return Verdict(False, "no training pairs: no applications before D - 7")
    recall_ok = math.isnan(recall) or recall > 0
    # a warm start scores its starting weights first: keeping them (epoch 0) is a valid outcome
    ok = recall_ok and (
        report.warm_from is not None or (len(losses) >= 2 and losses[-1] < losses[0])
    )
    return Verdict(
        ok,
        f"{report.start}; loss {losses[0]:.3f} -> {losses[-1]:.3f} over {len(losses)} "
        f"epochs; kept epoch {report.best_epoch}, validation Recall@{report.validation_k} "
        f"{recall:.4f}",
    )


@daily_asset(
    key=["models", "muse0"],
    group=GROUPS["retrieval"],
    model="muse0",
    kinds={"torch"},
    deps=[features, clean_applications, clean_hires],
    checks={"training_improved": _training_improved},
)
def muse0(step: Step) -> Written:
    """The Muse.0 two-tower model: in-batch sampled softmax with log-Q correction and mixed
    uniform negatives, on applications and hires before D - 7 (hires weighted), early-stopped on
    validation Recall@1000 over [D - 7, D) (Recall@100 when the window has under 10,000 ads);
    then its ad prior (the ads' own application rates) chosen on the same window."""
    report = retrieval.train(
        step.con, step.run_date, step.settings.models_dir, log=step.context.log.info
    )
    return Written(
        0,
        {
            "start": report.start,
            "pairs": report.pairs,
            "epochs": report.epochs,
            "best_epoch": report.best_epoch,
            "validation_k": report.validation_k,
            "validation_recall": report.best_validation_recall,
            "training_seconds": round(report.seconds, 1),
            "device": report.device,
            "loss_by_epoch": [round(h["loss"], 4) for h in report.history],
            "validation_recall_by_epoch": [
                round(h.get("validation_recall", float("nan")), 4) for h in report.history
            ],
            # the ad prior chosen after training (jobrec.retrieval.ad_prior), and the
            # validation recall it gives (the grid point chosen)
            "ad_prior_weight": report.ad_prior["weight"],
            "ad_prior_pseudo_days": report.ad_prior["pseudo_days"],
            "validation_recall_with_ad_prior": max(
                (g["recall"] for g in report.ad_prior["grid"]), default=float("nan")
            ),
        },
        result=report,
    )


def _night_inputs_complete(step: Step, written: Written) -> Verdict:
    """The night's inputs hold labelled training and held-out lists (no validation seeker:
    nothing to train the rerankers on)."""
    m = written.metadata
    ok = m["train_seekers"] > 0 and m["holdout_seekers"] > 0 and m["list_k"] > 0
    return Verdict(
        ok,
        f"{m['train_seekers']} training and {m['holdout_seekers']} held-out lists of "
        f"{m['list_k']} candidates; {m['bytes'] / 2**20:.1f} MiB",
    )


@daily_asset(
    key=["models", "night_inputs"],
    group=GROUPS["retrieval"],
    model="night_inputs",
    kinds={"pandas"},
    deps=[muse0],
    checks={"lists_to_train_on": _night_inputs_complete},
)
def night_inputs(step: Step) -> Written:
    """The night's shared inputs, built once: Muse.0 vectors of every seeker and ad, the
    rerankers' entity inputs and pair-feature tables (as of D - 7 and D), the validation seekers'
    labelled candidate lists (train / held out). Read by the rerankers, their evaluation, the
    redistribution and the send stage."""
    stats = retrieval.write_night_inputs(step.settings.models_dir, step.run_date)
    return Written(0, stats)


def _embedding_check(side: str):
    table, id_column = retrieval.EMBEDDING_SIDES[side]
    entities = "clean.jobseekers" if side == "seekers" else "clean.job_ads"

    def check(step: Step, written: Written) -> Verdict:
        query = warehouse.sql("check_embeddings").format(
            table=table, entities=entities, id=id_column, unit_dims=written.metadata["unit_dims"]
        )
        names = (
            "n_rows",
            "n_ids",
            "n_missing",
            "n_not_finite",
            "min_norm",
            "max_norm",
            "min_dims",
            "max_dims",
        )
        values = step.con.execute(query, {"run_date": step.run_date}).fetchone()
        stats = dict(zip(names, values, strict=True))
        ok = (
            stats["n_rows"] == stats["n_ids"] == written.rows
            and stats["n_missing"] == 0
            and stats["n_not_finite"] == 0
            and (
                stats["n_rows"] == 0
                or (
                    abs(stats["min_norm"] - 1) < NORM_TOLERANCE
                    and abs(stats["max_norm"] - 1) < NORM_TOLERANCE
                    and stats["min_dims"] == stats["max_dims"]
                )
            )
        )
        return Verdict(
            ok,
            ", ".join(f"{k}={v}" for k, v in stats.items()),
            {k: v for k, v in stats.items() if v is not None},
        )

    check.__doc__ = (
        f"One finite score vector per active {side[:-1]} of D, all of one width, its tower's "
        "part a unit vector."
    )
    return check


def _embeddings_asset(side: str, name: str):
    @daily_asset(
        key=["embed", f"{name}_embeddings"],  # not "jobseekers": the graph shows the last part
        group=GROUPS["retrieval"],
        table=f"embed.{name}",
        kinds={"torch"},
        deps=[muse0],
        checks={"finite_unit_vectors": _embedding_check(side)},
        description=f"`embed.{name}`: Muse.0 {side[:-1]}-tower vectors of the active {side} of D.",
    )
    def _compute(step: Step) -> Written:
        stats = retrieval.write_embeddings(step.con, step.run_date, step.settings.models_dir, side)
        pruned = warehouse.prune_partitions(
            step.con, f"embed.{name}", step.run_date, step.settings.retention_days
        )
        return Written(stats["rows"], {**stats, "pruned_rows": pruned})

    return _compute


seeker_embeddings = _embeddings_asset("seekers", "jobseekers")
ad_embeddings = _embeddings_asset("ads", "job_ads")


def _candidates_check(step: Step, written: Written) -> Verdict:
    """Every active seeker has min(1000, active ads not applied to) distinct active ads, ranks
    1..n, scores finite and non-increasing by rank, none applied to before."""
    problems = warehouse.problem_rows(
        step.con, "check_candidates", {"run_date": step.run_date, "k": retrieval.CANDIDATES_K}
    )
    return problems_verdict(problems, f"{written.rows} candidates, every list complete and sorted")


@daily_asset(
    key=["recs", "candidates"],
    group=GROUPS["retrieval"],
    table="recs.candidates",
    kinds={"torch"},
    deps=[seeker_embeddings, ad_embeddings, clean_applications],
    checks={"complete_sorted_lists": _candidates_check},
)
def candidates(step: Step) -> Written:
    """`recs.candidates`: the exact top-1,000 active ads of every active seeker by Muse.0 score
    (blocked matrix product + top-k), ads already applied to left out."""
    stats = retrieval.write_candidates(step.con, step.run_date)
    pruned = lists.prune_partitions(
        step.con, "recs.candidates", step.run_date, step.settings.intermediate_nights
    )
    return Written(stats["rows"], {**stats, "pruned_partitions": pruned})


def _beats_popularity(step: Step, written: Written) -> Verdict:
    """On validation applications, Muse.0 beats popularity at k = 1000: it doubles popularity's
    Recall@1000 or halves its misses (1 - Recall@1000). When the window holds too few ads for
    k = 1000 (tiny markets, k = 100 or 10), it must beat popularity beyond noise (paired
    difference of per-seeker recall > 2 standard errors)."""
    ev = written.result
    if ev.popularity_pairs is None:
        return Verdict(
            True,
            f"not judged: {ev.universe.get('validation', 0)} ads in the "
            "validation window or no held-out applications",
        )
    k, muse_each, pop_each = ev.popularity_pairs
    muse, pop = float(muse_each.mean()), float(pop_each.mean())
    diff, se = paired_difference(muse_each, pop_each)
    ratio, miss_ratio = muse / max(pop, 1e-12), (1 - muse) / max(1 - pop, 1e-12)
    ok = (ratio >= 2 or miss_ratio <= 0.5) if k == 1000 else diff > 2 * se
    return Verdict(
        ok,
        f"validation Recall@{k}: muse0 {muse:.4f}, popularity {pop:.4f} "
        f"(ratio {ratio:.2f}, miss ratio {miss_ratio:.2f}, difference "
        f"{diff:+.4f} ± {se:.4f}, n={len(muse_each)})",
        {"k": k, "muse0": muse, "popularity": pop, "ratio": ratio, "miss_ratio": miss_ratio},
    )


def _below_oracle(step: Step, written: Written) -> Verdict:
    """On the oracle's seeker sample, Muse.0's Recall@k is not above the oracle's beyond noise
    (mean paired difference ≤ 2 standard errors)."""
    ev = written.result
    if not ev.oracle_pairs:
        return Verdict(True, "no oracle for this market: not judged")
    lines, ok = [], True
    for split, (k, model, truth) in ev.oracle_pairs.items():
        diff, se = paired_difference(model, truth)
        ok &= diff <= 2 * se + 1e-12
        lines.append(
            f"{split} Recall@{k}: muse0 {model.mean():.4f}, oracle {truth.mean():.4f}, "
            f"difference {diff:+.4f} ± {se:.4f} (n={len(model)})"
        )
    return Verdict(ok, "; ".join(lines))


@daily_asset(
    key=["metrics", "ranking_retrieval"],
    group=GROUPS["retrieval"],
    table="metrics.ranking",
    deps=[candidates, night_inputs, eval_forward_applications, eval_forward_hires],
    checks={"beats_popularity": _beats_popularity, "not_above_oracle": _below_oracle},
)
def retrieval_evaluation(step: Step) -> Written:
    """`metrics.ranking` rows of stages retrieval (muse0) and baseline (popularity, oracle):
    Recall, NDCG and hit rate at 10/100/1000 for applications and hires, on the validation
    window and, when the raw data holds it, the forward window; Muse.0's rows on the
    rerankers' held-out seekers (population rerank_holdout); the oracle's when the raw folder
    holds its rankings of the partition."""
    ev = retrieval.evaluate(
        step.con,
        step.run_date,
        step.settings.models_dir,
        step.settings.raw_dir,
        log=step.context.log.info,
    )
    rows = retrieval.write_evaluation(step.con, step.run_date, ev)
    summary = {
        f"{r.model}_{r.population}_{r.split}_recall_at_{r.k}": round(r.recall, 4)
        for r in ev.rows.itertuples()
        if r.relevance == "applications" and r.k in (100, 1000)
    }
    return Written(rows, {"universe_ads": ev.universe, **summary}, result=ev)


RETRIEVAL_ASSETS = [
    features,
    muse0,
    night_inputs,
    seeker_embeddings,
    ad_embeddings,
    candidates,
    retrieval_evaluation,
]
