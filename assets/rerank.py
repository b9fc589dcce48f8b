"""Rerank: Muse.1, Muse.2 and the XGBoost baseline on the Muse.0 candidates, `recs.reranked`, and
their evaluation (logic in jobrec.rerank)."""

from assets.common import GROUPS, Step, Verdict, Written, daily_asset, problems_verdict
from assets.retrieval import candidates, night_inputs
from jobrec import rerank
from jobrec.data import lists, warehouse
from jobrec.evaluation.offline import paired_difference
from jobrec.evaluation.oracle import has_rankings


def _learned(step: Step, written: Written) -> Verdict:
    """On the held-out seekers' candidate lists, the model's Recall@10 is not below Muse.0's own
    order of the same lists beyond noise (paired difference ≥ -2 standard errors): a reranker
    that loses to its input is broken."""
    m = written.metadata
    diff, se = m["recall_at_10_gain_over_muse0"], m["recall_at_10_gain_se"]
    return Verdict(
        diff >= -2 * se,
        f"held-out candidate Recall@10 {m['holdout_candidate_recall_at_10']:.4f} against "
        f"Muse.0's {m['muse0_candidate_recall_at_10']:.4f} ({diff:+.4f} ± {se:.4f}); Recall@100 "
        f"{m['holdout_candidate_recall_at_100']:.4f} against "
        f"{m['muse0_candidate_recall_at_100']:.4f}",
    )


def _model_asset(kind: str, description: str):
    @daily_asset(
        key=["models", kind],
        group=GROUPS["rerank"],
        model=kind,
        kinds={"xgboost"} if kind == "xgboost" else {"torch"},
        deps=[night_inputs],
        checks={"beats_its_input": _learned},
        description=description,
    )
    def _compute(step: Step) -> Written:
        stats = rerank.train_model(
            step.settings.models_dir,
            step.run_date,
            kind,
            log=step.context.log.info,
            pair_hidden=step.settings.pair_hidden,
            recon_weight=step.settings.recon_weight,
        )
        keep = {k: v for k, v in stats.items() if isinstance(v, int | float | str)}
        return Written(0, keep)

    return _compute


muse1 = _model_asset("muse1", "Muse.1: one-head factored reranker (listwise, hires weighted).")
muse2 = _model_asset(
    "muse2",
    "Muse.2: factored reranker with an application head, a hiring head (P(hire | application)) "
    "and a top head giving the final hiring score.",
)
xgboost = _model_asset(
    "xgboost", "XGBoost baseline: rank:ndcg on flat rows of the same information as Muse.2."
)


def _reranked_check(step: Step, written: Written) -> Verdict:
    """Per model, every seeker's list has min(keep, candidates) distinct ads among its
    candidates, ranks 1..n, finite scores non-increasing by rank: Muse's lists for every seeker
    with candidates, XGBoost's for every one with JOBREC_XGBOOST_SCOPE=all, none by default."""
    params = {
        "run_date": step.run_date,
        **rerank.RERANK_KEEP,
        "xgboost_seekers": None if written.metadata["xgboost_scope"] == "all" else [],
    }
    problems = warehouse.problem_rows(step.con, "check_reranked", params)
    by_model = [(f"{m} {p}", n, s) for m, p, n, s in problems]
    return problems_verdict(
        by_model, f"{written.rows} reranked rows, every list complete and sorted"
    )


@daily_asset(
    key=["recs", "reranked"],
    group=GROUPS["rerank"],
    table="recs.reranked",
    kinds={"torch", "xgboost"},
    deps=[muse1, muse2, xgboost, candidates],
    checks={"complete_sorted_lists": _reranked_check},
)
def reranked(step: Step) -> Written:
    """`recs.reranked`: tonight's candidates reranked by Muse.2 (top 300, the redistribution's
    edges) and Muse.1 (top 100), and by XGBoost (top 100) with JOBREC_XGBOOST_SCOPE=all (by
    default the evaluation scores the lists it compares XGBoost on itself)."""
    stats = rerank.write_reranked(
        step.con,
        step.run_date,
        step.settings.models_dir,
        xgboost_scope=step.settings.xgboost_scope,
        log=step.context.log.info,
    )
    pruned = lists.prune_partitions(
        step.con, "recs.reranked", step.run_date, step.settings.intermediate_nights
    )
    rows = sum(v for k, v in stats.items() if k.startswith("rows_"))
    return Written(rows, {**stats, "pruned_partitions": pruned})


def _muse2_not_below_muse0(step: Step, written: Written) -> Verdict:
    """On the validation window's held-out seekers, Muse.2's Recall@100 (applications) is not
    below Muse.0's beyond noise (paired difference ≥ -2 standard errors)."""
    each = written.result.holdout_recall_at_100
    if "muse2" not in each or not len(each["muse2"]):
        return Verdict(True, "no held-out seekers with applications: not judged")
    diff, se = paired_difference(each["muse2"], each["muse0"])
    return Verdict(
        diff >= -2 * se,
        f"held-out Recall@100: muse2 {each['muse2'].mean():.4f}, "
        f"muse0 {each['muse0'].mean():.4f}, difference {diff:+.4f} ± {se:.4f} "
        f"(n={len(each['muse2'])})",
    )


def _muse2_against_xgboost(step: Step, written: Written) -> Verdict:
    """Muse.2 − XGBoost at the top of the list, seeker by seeker (applications, k = 10, every
    evaluated seeker; the forward window when the raw data holds it, else the held-out
    seekers): a warning when Muse.2 trails with the whole 95% interval below 0."""
    top = rerank.headline_pairs(written.result.pairs)
    if not len(top):
        return Verdict(True, "no paired rows (no XGBoost model or no seeker): not judged")
    whole = top[top["model"] == "muse2"]
    split = "forward" if (whole["split"] == "forward").any() else "validation"
    at = {r.metric: r for r in whole[whole["split"] == split].itertuples()}
    if "recall" not in at:
        return Verdict(True, f"no Muse.2 pair row on {split}: not judged")
    text = "; ".join(
        f"{m}@10 muse2 {r.model_value:.4f} xgboost {r.reference_value:.4f}, "
        f"{r.difference:+.4f} ({r.relative:+.1%}) [{r.ci_low:+.4f}, {r.ci_high:+.4f}]"
        for m, r in at.items()
    )
    return Verdict(at["recall"].ci_high >= 0, f"{split}, {at['recall'].seekers} seekers: {text}")


@daily_asset(
    key=["metrics", "ranking_rerank"],
    group=GROUPS["rerank"],
    table="metrics.ranking",
    deps=[reranked],
    checks={"muse2_not_below_muse0": _muse2_not_below_muse0},
    warnings={"muse2_against_xgboost": _muse2_against_xgboost},
)
def rerank_evaluation(step: Step) -> Written:
    """`metrics.ranking` rows of stage rerank (muse1, muse2, xgboost; k 10 and 100; both
    relevances; applications also by slice): validation on the held-out seekers of the
    validation window with Muse.0 beside them (population rerank_holdout), forward on tonight's
    lists of the evaluated seekers when the raw data holds it (Muse's from recs.reranked,
    XGBoost's scored here); and `metrics.ranking_pairs`, Muse.2 and Muse.1 against XGBoost
    seeker by seeker, whole and by slice."""
    has_oracle = has_rankings(step.settings.raw_dir, step.run_date)
    ev = rerank.evaluate(
        step.con, step.run_date, step.settings.models_dir, has_oracle, log=step.context.log.info
    )
    rows = rerank.write_evaluation(step.con, step.run_date, ev)
    summary = {
        f"{r.model}_{r.split}_{r.relevance}_recall_at_{r.k}": round(r.recall, 4)
        for r in ev.rows.itertuples()
        if r.k == 100
    }
    summary["xgboost_forward_seekers"] = ev.xgboost_forward_seekers
    for r in rerank.headline_pairs(ev.pairs).itertuples():  # Muse.1/2 - XGBoost at k = 10
        key = f"{r.model}_minus_xgboost_{r.split}_{r.metric}_at_10"
        summary[key] = round(r.difference, 4)
        summary[f"{key}_se"] = round(r.se, 4)
    return Written(rows, summary, result=ev)


RERANK_ASSETS = [muse1, muse2, xgboost, reranked, rerank_evaluation]
