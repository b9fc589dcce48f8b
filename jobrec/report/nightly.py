"""The nightly report: the night's figures gathered from the warehouse into one Markdown file
with its plots, under <reports_dir>/<D>/report.md."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

from jobrec.data import warehouse
from jobrec.report.plots import fairness_plot

SECTIONS = {
    "ranking": (
        "Ranking (Recall@k and NDCG@k by stage and model)",
        "SELECT split, relevance, population, stage, model, k, round(recall, 4) AS recall, "
        "round(ndcg, 4) AS ndcg, seekers FROM metrics.ranking "
        "WHERE run_date = ? AND k IN (10, 100) AND slice = 'all' "
        "ORDER BY split DESC, relevance, population, k, stage DESC, model",
    ),
    "ranking_pairs": (
        "Muse.2 and Muse.1 against XGBoost on the same seekers (applications; paired difference "
        "with its standard error and 95% interval, whole and by slice; p_holm across slices)",
        "SELECT split, slice, k, metric, model, seekers, round(model_value, 4) AS model_value, "
        "round(reference_value, 4) AS xgboost, round(difference, 4) AS difference, "
        "round(relative, 4) AS relative, round(se, 4) AS se, round(ci_low, 4) AS ci_low, "
        "round(ci_high, 4) AS ci_high, round(p_holm, 4) AS p_holm "
        "FROM metrics.ranking_pairs WHERE run_date = ? AND model = 'muse2' "
        "ORDER BY split DESC, k, metric DESC, slice <> 'all', slice",
    ),
    "market": (
        "Market before and after redistribution",
        "SELECT population, k, stage, model, round(congestion, 4) AS congestion, "
        "round(coverage, 4) AS coverage, round(gini, 4) AS gini FROM metrics.market "
        "WHERE run_date = ? ORDER BY population, k, stage DESC",
    ),
    "tradeoff": (
        "The redistribution's choice on the validation window: how Muse.2 was trained (method "
        "`muse2` plain or `recon` with the ReCon congestion term of weight λ), its own lists and "
        "the chosen OT point",
        "SELECT method, recon_weight AS recon_lambda, tau, epsilon, alpha, "
        "round(recall_at_10, 4) AS recall_at_10, round(recall_at_100, 4) AS recall_at_100, "
        "round(congestion_at_10, 4) AS congestion_at_10, "
        "round(congestion_at_100, 4) AS congestion_at_100, "
        "round(coverage_at_100, 4) AS coverage_at_100, round(gini_at_100, 4) AS gini_at_100, "
        "chosen FROM metrics.ot_tradeoff WHERE run_date = ? AND (model = 'muse2' OR chosen) "
        "ORDER BY model <> 'muse2'",
    ),
    "thresholds": (
        "Thresholds per segment (greedy search, the grid as reference; a tuned greedy triple "
        "moves the thresholds only when the held-out week agrees)",
        "SELECT segment, method, round(theta_response, 4) AS theta_jr, "
        "round(theta_apply, 4) AS theta_ja, round(theta_positive, 4) AS theta_po, "
        "round(objective, 4) AS objective, round(delta_applies, 4) AS d_applies, "
        "round(delta_apply_rate, 4) AS d_apply_rate, round(delta_positives, 4) AS d_positives, "
        "round(delta_positives_per_apply, 4) AS d_poa, evaluations, sends, slo_met, improved, "
        "round(holdout_objective, 4) AS holdout_objective, "
        "round(tuned_objective, 4) AS tuned_objective, "
        "round(tuned_holdout_objective, 4) AS tuned_holdout_objective, note "
        "FROM recs.segment_thresholds WHERE run_date = ? ORDER BY segment, method",
    ),
    "fairness": (
        "Gender gap by double ML (women − men, given search parameters and qualifications): "
        "the average gap women face (atte) first, the partially linear θ (plr) beside it",
        "SELECT estimand, source, outcome, round(gap, 4) AS gap, "
        "round(std_error, 4) AS std_error, round(ci_low, 4) AS ci_low, "
        "round(ci_high, 4) AS ci_high, n, left_out, trimmed, "
        "round(diff_applications, 4) AS vs_applications, round(p_holm, 4) AS p_holm "
        "FROM metrics.fairness WHERE run_date = ? "
        "ORDER BY estimand <> 'atte', estimand, outcome, source",
    ),
    "runs": (
        "Run time and memory per asset (the latest run of each)",
        "SELECT asset, round(seconds, 1) AS seconds, round(peak_rss_mb) AS peak_mb, rows "
        "FROM metrics.runs WHERE run_date = ? "
        "QUALIFY row_number() OVER (PARTITION BY asset ORDER BY finished_at DESC) = 1 "
        "ORDER BY finished_at",
    ),
}


def _frame(con, sql: str, run_date) -> pd.DataFrame | None:
    table = sql.split(" FROM ")[1].split()[0]
    if not warehouse.table_exists(con, table):
        return None
    return con.execute(sql, [run_date]).df()


def write_report(con, run_date: dt.date, reports_dir, amplification: list[str]) -> Path:
    """Write report.md (and fairness.png) for partition D; the trade-off and the thresholds'
    plots of the night are linked when present. Returns the report's path."""
    folder = Path(reports_dir) / run_date.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    lines = [f"# jobrec nightly report, {run_date}", ""]
    frames = {}
    for key, (title, sql) in SECTIONS.items():
        frame = _frame(con, sql, run_date)
        frames[key] = frame
        lines += [f"## {title}", ""]
        lines += [
            frame.to_markdown(index=False)
            if frame is not None and len(frame)
            else "(no rows tonight)",
            "",
        ]
        if key == "tradeoff" and (folder / "ot_tradeoff.png").exists():
            lines += ["![OT trade-off](ot_tradeoff.png)", ""]
        if key == "thresholds" and (folder / "segment_objective.png").exists():
            lines += ["![objective per segment](segment_objective.png)", ""]
        if key == "fairness" and frame is not None and len(frame):
            headline = frame[frame["estimand"] == "atte"]
            fairness_plot(headline if len(headline) else frame, folder / "fairness.png")
            lines += ["![gender gaps (atte)](fairness.png)", ""]
            lines += [
                "Amplification (a recommender's average gap further from 0 than the "
                "applications', by the joint one-sided test of the difference, Holm-corrected "
                "at 5%): " + ("; ".join(amplification) if amplification else "none found."),
                "",
            ]
    path = folder / "report.md"
    tmp = path.with_name("report.md.tmp")
    tmp.write_text("\n".join(lines))
    tmp.replace(path)
    return path
