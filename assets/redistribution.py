"""Redistribution: the nightly OT policy chosen on the validation window, tonight's
redistributed lists `recs.recommendations`, and the market metrics before and after OT
(logic in jobrec.redistribution and jobrec.transport)."""

from pathlib import Path

from dagster import MetadataValue

from assets.common import GROUPS, Step, Verdict, Written, daily_asset, problems_text
from assets.rerank import muse2, reranked
from assets.retrieval import candidates
from jobrec import redistribution
from jobrec.data import lists, warehouse
from jobrec.evaluation.oracle import has_rankings

CURVE_COLUMNS = [
    "model",
    "tau",
    "epsilon",
    "alpha",
    "recall_at_100",
    "ndcg_at_100",
    "congestion_at_100",
    "coverage_at_100",
    "gini_at_100",
    "iterations",
    "qualifies",
    "chosen",
]


def _policy_check(step: Step, written: Written) -> Verdict:
    """Every grid point's solve converged, and the chosen point keeps Recall@100 ≥ 95% of
    Muse.2's on the validation window (or none qualified and the lists stay Muse.2's)."""
    curve = written.result["curve"]
    ot_rows = curve[curve["model"] == "ot"]
    unconverged = ot_rows[~ot_rows["converged"].astype(bool)]
    policy = written.result["policy"]
    text = (
        f"ε={policy.epsilon:g}, α={policy.alpha:g}, τ={policy.tau:g}"
        if policy.qualified
        else "no grid point keeps 95% of Muse.2's recall: lists stay Muse.2's"
    )
    ok = unconverged.empty and redistribution.recall_floor_ok(curve)
    return Verdict(
        ok,
        f"{text}; {len(unconverged)} of {len(ot_rows)} solves unconverged",
        {"unconverged": len(unconverged)},
    )


@daily_asset(
    key=["models", "ot_policy"],
    group=GROUPS["redistribution"],
    model="ot",  # its folder under models_dir/<day>/
    kinds={"pot"},
    deps=[muse2],
    checks={"converged_and_recall_kept": _policy_check},
)
def ot_policy(step: Step) -> Written:
    """The night's OT parameters: on the validation window's held-out seekers, the Muse.2 scores
    are calibrated, the (ε, α) grid is solved, and the rule keeps the lowest Congestion@100 with
    Recall@100 ≥ 95% of Muse.2's. The whole curve goes to metrics.ot_tradeoff, its plot here."""
    out = redistribution.choose_policy(
        step.con,
        step.run_date,
        step.settings.models_dir,
        cost=step.settings.ot_cost,
        log=step.context.log.info,
    )
    curve, policy = out["curve"], out["policy"]
    png = redistribution.tradeoff_plot(
        curve, Path(step.settings.reports_dir) / step.run_date.isoformat() / "ot_tradeoff.png"
    )
    table = curve[CURVE_COLUMNS].to_markdown(index=False, floatfmt=".4f")
    meta = {
        "epsilon": policy.epsilon,
        "alpha": policy.alpha if policy.qualified else 1.0,
        "tau": policy.tau,
        "cost": policy.cost,
        "temperature": round(policy.temperature, 4),
        "qualified": policy.qualified,
        "plot_path": str(png),
        "tradeoff": MetadataValue.md(table),  # the plot: in reports/nightly
        "tradeoff_plot": MetadataValue.path(str(png)),
    }
    return Written(len(curve), meta, result=out)


def _recommendations_check(step: Step, written: Written) -> Verdict:
    """The plan converged (seeker and ad marginal errors under tolerance, no NaN mass), and
    every seeker with Muse.2 edges has its k distinct recommendations, ranked 1..k, each among
    its Muse.2 reranked ads."""
    m = written.metadata
    solver_ok = m["converged"] and m["ad_marginal_error"] <= 10 * m["tolerance"]
    problems = warehouse.problem_rows(
        step.con, "check_recommendations", {"run_date": step.run_date, "k": redistribution.LIST_K}
    )
    text = (
        f"{m['iterations']} iterations, seeker marginal error "
        f"{m['seeker_marginal_error']:.1e}, ad marginal error {m['ad_marginal_error']:.1e} "
        f"(tolerance {m['tolerance']:g})"
    )
    if problems:
        text += "; " + problems_text(problems)
    return Verdict(solver_ok and not problems, text, {p: n for p, n, _ in problems})


def _redistribution_helped(step: Step, written: Written) -> Verdict:
    """Tonight's OT lists are no more congested and cover no fewer ads than Muse.2's at k = 100;
    when they would not, the night sends Muse.2's lists instead (and this warns)."""
    m = written.metadata
    if m["fallback_to_muse2"]:
        return Verdict(False, f"OT did not spread tonight ({m['spread']}): Muse.2's lists sent")
    return Verdict(True, m["spread"])


@daily_asset(
    key=["recs", "recommendations"],
    group=GROUPS["redistribution"],
    table="recs.recommendations",
    kinds={"pot"},
    deps=[ot_policy, reranked],
    checks={"converged_complete_lists": _recommendations_check},
    warnings={"redistribution_helped": _redistribution_helped},
)
def recommendations(step: Step) -> Written:
    """`recs.recommendations`: every seeker's Muse.2 top-300 redistributed by entropic OT under
    the ads' capacities (the night's policy), top 100 by plan mass; Muse.2's own top 100 on a
    night when the redistribution would crowd the market more (check redistribution_helped)."""
    stats = redistribution.write_recommendations(
        step.con, step.run_date, step.settings.models_dir, log=step.context.log.info
    )
    # a Parquet list like the candidates, but kept as long as the other tables analysts query
    pruned = lists.prune_partitions(
        step.con, "recs.recommendations", step.run_date, step.settings.retention_days
    )
    return Written(stats["rows"], {**stats, "pruned_partitions": pruned})


def _spread(step: Step, written: Written) -> Verdict:
    """Tonight, at k = 100, OT's lists are no more congested and cover no fewer ads than
    Muse.2's (the point of the stage)."""
    m = written.result.market
    at = m[(m["k"] == 100) & (m["population"] == "all")].set_index("model")
    ot_, m2 = at.loc["ot"], at.loc["muse2"]
    ok = ot_["congestion"] <= m2["congestion"] + 1e-9 and ot_["coverage"] >= m2["coverage"] - 1e-9
    return Verdict(
        bool(ok),
        f"@100 congestion {m2['congestion']:.4f} → {ot_['congestion']:.4f}, "
        f"coverage {m2['coverage']:.4f} → {ot_['coverage']:.4f}, Gini "
        f"{m2['gini']:.4f} → {ot_['gini']:.4f}",
    )


@daily_asset(
    key=["metrics", "market"],
    group=GROUPS["redistribution"],
    table="metrics.market",
    deps=[recommendations, candidates],
    checks={"ot_spreads_exposure": _spread},
)
def market_evaluation(step: Step) -> Written:
    """`metrics.market` for muse0, muse2 and ot at k 1, 10, 100 (tonight's lists of every seeker,
    and the validation instance), and `metrics.ranking` rows of model ot (validation; forward
    when the raw data holds it)."""
    has_oracle = has_rankings(step.settings.raw_dir, step.run_date)
    m = redistribution.evaluate(step.con, step.run_date, step.settings.models_dir, has_oracle)
    rows = redistribution.write_evaluation(step.con, step.run_date, m)
    summary = {
        f"{r.model}_{r.population}_at_{r.k}": MetadataValue.text(
            f"congestion {r.congestion:.4f}, coverage {r.coverage:.4f}, gini {r.gini:.4f}"
        )
        for r in m.market.itertuples()
        if r.k == 100
    }
    return Written(rows, summary, result=m)


REDISTRIBUTION_ASSETS = [ot_policy, recommendations, market_evaluation]
