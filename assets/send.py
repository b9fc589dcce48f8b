"""Send: the funnel models, the per-segment thresholds (greedy search beside the exhaustive
grid) and tonight's send list (logic in jobrec.send_pipeline, jobrec.thresholds, jobrec.funnel).
"""

import datetime as dt
from pathlib import Path

import pyarrow.parquet as pq
from dagster import MetadataValue

from assets.clean import clean_recommendation_feedback
from assets.common import DUE_BY_0600, GROUPS, Step, Verdict, Written, daily_asset, problems_verdict
from assets.redistribution import recommendations
from assets.rerank import muse2
from jobrec import send
from jobrec.data import warehouse

THRESHOLD_COLUMNS = [
    "segment",
    "method",
    "theta_response",
    "theta_apply",
    "theta_positive",
    "objective",
    "sends",
    "applies",
    "evaluations",
    "slo_met",
    "improved",
    "holdout_objective",
    "tuned_objective",
    "tuned_holdout_objective",
]


def _calibrated(step: Step, written: Written) -> Verdict:
    """On the held-out week's sends, no funnel model's Brier score is worse than the base rate's
    (predicting the mean) beyond noise (2 standard errors of the paired difference): a model
    worse than a constant is broken."""
    report = written.result["calibration"]
    judged = {m: r for m, r in report.items() if r.get("brier") == r.get("brier")}
    worse = [
        m
        for m, r in judged.items()
        if r["brier"] - r["brier_base_rate"] > 2 * r["brier_difference_se"]
    ]
    text = "; ".join(
        f"{m}: Brier {r['brier']:.4f} vs base rate {r['brier_base_rate']:.4f}, "
        f"AUC {r['auc']:.3f} (n={r['rows']})"
        for m, r in judged.items()
    )
    if not judged:
        return Verdict(True, "no held-out sends with both outcomes: not judged")
    return Verdict(not worse, text)


@daily_asset(
    key=["models", "funnel"],
    group=GROUPS["send"],
    model="funnel",
    kinds={"scikitlearn"},
    deps=[muse2, clean_recommendation_feedback],
    checks={"better_than_base_rate": _calibrated},
)
def funnel(step: Step) -> Written:
    """Funnel models P(response | sent), P(apply | response), P(positive | apply): logistic
    regressions on the pair features of the sends of the 56 days before D - 7 (each send's
    computed once, by the first night that needed them: store.send_features); calibration
    (Brier, AUC, reliability by decile) on the sends of [D - 7, D)."""
    stats = send.train(step.con, step.run_date, step.settings.models_dir)
    meta = {
        k: stats[k]
        for k in ("train_sends", "holdout_sends", "features_computed", "features_recomputed")
    }
    for model, r in stats["calibration"].items():
        if "brier_base_rate" in r:
            meta[f"{model}_brier"] = round(r["brier"], 5)
            meta[f"{model}_brier_base_rate"] = round(r["brier_base_rate"], 5)
            meta[f"{model}_auc"] = round(r["auc"], 4)
    return Written(0, meta, result=stats)


def _thresholds_check(step: Step, written: Written) -> Verdict:
    """Every segment of the tuning window has a greedy and a grid row; where the thresholds
    moved, the SLOs hold (Wilson bounds), all four Δ_i > 0 and the held-out week agrees; the
    greedy never claims more than the grid's optimum."""
    rows = written.result.rows
    problems = send.threshold_problems(written.result)
    moved = int((rows["improved"] & rows["method"].eq("greedy")).sum())
    text = f"{rows['segment'].nunique()} segments, {moved} moved by the greedy search"
    return Verdict(not problems, "; ".join([text, *problems]))


@daily_asset(
    key=["recs", "segment_thresholds"],
    group=GROUPS["send"],
    table="recs.segment_thresholds",
    deps=[funnel],
    checks={"slos_and_deltas": _thresholds_check},
)
def segment_thresholds(step: Step) -> Written:
    """`recs.segment_thresholds`: per segment (the ad's occupation family), the greedy search's
    thresholds and the exhaustive grid's, with their metrics on the 28 days of sends before
    D - 7 and on the held-out week; segments without an admissible triple, or whose triple the
    held-out week does not confirm, keep the defaults."""
    tuned = send.choose_thresholds(
        step.con, step.run_date, step.settings.models_dir, log=step.context.log.info
    )
    rows = send.write_thresholds(step.con, step.run_date, tuned)
    greedy = tuned.rows[tuned.rows["method"] == "greedy"].set_index("segment")
    png = send.segment_objective_plot(
        tuned.tables,
        tuned.default,
        tuned.chosen,
        tuned.segment_names,
        Path(step.settings.reports_dir) / step.run_date.isoformat() / "segment_objective.png",
    )
    table = tuned.rows[THRESHOLD_COLUMNS].to_markdown(index=False, floatfmt=".4f")
    evals = tuned.rows.pivot(index="segment", columns="method", values="evaluations")
    meta = {
        "segments": len(tuned.segment_names),
        "improved_segments": int(greedy["improved"].sum()),
        "grid_over_greedy_evaluations": round(float((evals["grid"] / evals["greedy"]).mean()), 2),
        "default_triple": MetadataValue.json(
            dict(
                zip(
                    ["theta_response", "theta_apply", "theta_positive"],
                    [float(tuned.grid[m, i]) for m, i in enumerate(tuned.default)],
                    strict=True,
                )
            )
        ),
        "thresholds": MetadataValue.md(table),  # the plot: in reports/nightly
        "objective_plot": MetadataValue.path(str(png)),
    }
    return Written(rows, meta, result=tuned)


def _send_check(step: Step, written: Written) -> Verdict:
    """Every send passes its segment's thresholds, respects the nightly cap and every exclusion
    (unsubscribed, applied, hired, sent in the last 14 days, positions filled), and is one of
    the seeker's recommendations."""
    problems = step.con.execute(
        warehouse.sql("check_to_send"),
        {
            "run_date": step.run_date,
            "per_seeker": send.SENDS_PER_SEEKER,
            "recent": written.metadata["recent_send_cutoff"],
        },
    ).fetchall()
    return problems_verdict(
        problems, f"{written.rows} sends to {written.metadata['seekers']} seekers"
    )


@daily_asset(
    key=["recs", "to_send"],
    group=GROUPS["send"],
    table="recs.to_send",
    freshness_policy=DUE_BY_0600,
    deps=[segment_thresholds, recommendations],
    checks={"passes_thresholds_and_exclusions": _send_check},
)
def to_send(step: Step) -> Written:
    """`recs.to_send`: tonight's redistributed recommendations scored by the funnel, kept when
    they pass their segment's thresholds and no exclusion, at most 10 a seeker."""
    stats = send.write_to_send(step.con, step.run_date, step.settings.models_dir)
    pruned = warehouse.prune_partitions(
        step.con, "recs.to_send", step.run_date, step.settings.retention_days
    )
    cutoff = (step.run_date - dt.timedelta(days=send.RECENT_SEND_DAYS)).isoformat()
    return Written(stats["rows"], {**stats, "pruned_rows": pruned, "recent_send_cutoff": cutoff})


def _outbox_check(step: Step, written: Written) -> Verdict:
    """The version the mailer will take is complete: its marker is there, and its Parquet file
    holds the night's send list row for row (count and checksum as the marker says)."""
    folder = send.newest_complete(step.settings.outbox_dir, step.run_date)
    if folder is None:
        return Verdict(False, f"no complete outbox version for {step.run_date}")
    marker = written.result
    (rows,) = step.con.execute(
        "SELECT count(*) FROM recs.to_send WHERE run_date = ?", [step.run_date]
    ).fetchone()
    on_disk = pq.ParquetFile(folder / "to_send.parquet").metadata.num_rows
    ok = folder == marker.folder and marker.rows == rows == on_disk
    return Verdict(
        ok,
        f"{folder.name}: {on_disk} rows ({rows} in recs.to_send), "
        + ("written tonight" if marker.written else "unchanged: the same list was there"),
    )


@daily_asset(
    key=["outbox", "send_list_files"],  # not "to_send": the graph shows the last part
    group=GROUPS["send"],
    kinds={"parquet", "csv"},
    freshness_policy=DUE_BY_0600,
    deps=[to_send],
    checks={"complete_for_the_mailer": _outbox_check},
)
def outbox(step: Step) -> Written:
    """The night's send list as files for the mailing system, complete or absent:
    `JOBREC_OUTBOX_DIR/<day>/v<n>/to_send.parquet` and `.csv`, then the `_READY` marker. A
    re-run never replaces a version: a different list becomes the next version."""
    version = send.write_outbox(
        send.mailer_list(step.con, step.run_date), step.settings.outbox_dir, step.run_date
    )
    meta = {
        "path": str(version.folder),
        "version": version.version,
        "written": version.written,
        "parquet_sha256": version.sha256["to_send.parquet"],
    }
    return Written(version.rows, meta, result=version)


SEND_ASSETS = [funnel, segment_thresholds, to_send, outbox]
