"""The gender-gap audit (metrics.fairness) and the nightly report (logic in jobrec.fairness and
jobrec.report)."""

from pathlib import Path

from dagster import MetadataValue

from assets.common import Step, Verdict, Written, daily_asset
from assets.redistribution import market_evaluation
from assets.rerank import rerank_evaluation
from assets.send import to_send
from jobrec import fairness as fr
from jobrec import report
from jobrec import warehouse as wh


def _estimated(step: Step, written: Written) -> Verdict:
    """Every source that has seekers of both genders got its four gaps, finite with positive
    standard errors."""
    rows = written.result
    bad = rows[~(rows["std_error"] > 0) | rows["gap"].isna()]
    counts = rows.groupby("source").size()
    short = [s for s, n in counts.items() if n != len(fr.OUTCOMES)]
    ok = bad.empty and not short and {"applications"} <= set(counts.index)
    return Verdict(
        ok,
        f"{len(rows)} gaps over {len(counts)} sources"
        + (f"; incomplete: {short}" if short else "")
        + ("" if bad.empty else f"; not finite: {len(bad)}"),
    )


def _no_amplification(step: Step, written: Written) -> Verdict:
    """No recommender source's gap exceeds the applications' beyond noise (|θ_rec| >
    |θ_applications| + 2·SE): a finding to read, not a reason to stop the night."""
    found = fr.amplification(written.result)
    return Verdict(not found, "; ".join(found) or "no amplification of the applications' gaps")


@daily_asset(
    key=["metrics", "fairness"],
    group="report",
    deps=[to_send],
    checks={"gaps_estimated": _estimated},
    warnings={"no_amplification": _no_amplification},
)
def fairness(step: Step) -> Written:
    """`metrics.fairness`: the gender gap (women − men) in log wage, permanent contract, hours and
    distance of the ads of each source — Muse.2's and OT's top 10, the send list, the
    applications and hires of the last 28 days — given the seekers' search parameters and
    qualifications (double ML, 5 folds; other or unknown genders left out and counted)."""
    rows = fr.nightly_audit(step.con, step.run_date, log=step.context.log.info)
    step.con.execute(wh.sql("create_metrics_fairness"))
    n = wh.replace_rows(step.con, "metrics.fairness", step.run_date, rows, {})
    meta = {
        f"{r.source}_{r.outcome}": MetadataValue.text(
            f"{r.gap:+.4f} [{r.ci_low:+.4f}, {r.ci_high:+.4f}] n={r.n}"
        )
        for r in rows.itertuples()
    }
    return Written(n, meta, result=rows)


def _report_written(step: Step, written: Written) -> Verdict:
    """The report exists and holds every section."""
    text = Path(written.metadata["path"]).read_text()
    missing = [t for t, _ in report.SECTIONS.values() if t not in text]
    return Verdict(
        not missing, f"{len(text):,} characters" + (f"; missing {missing}" if missing else "")
    )


@daily_asset(
    key=["reports", "nightly"],
    group="report",
    deps=[fairness, market_evaluation, rerank_evaluation],
    checks={"report_complete": _report_written},
)
def nightly_report(step: Step) -> Written:
    """The night's report (Markdown and PNG under the reports folder, shown here): ranking
    metrics by stage and model, the market before and after OT, thresholds per segment and
    their Δs, gender gaps, run time per asset."""
    found = fr.amplification(
        step.con.execute("SELECT * FROM metrics.fairness WHERE run_date = ?", [step.run_date]).df()
    )
    path = report.write_report(step.con, step.run_date, step.config.reports_dir, found)
    return Written(0, {"path": str(path), "report": MetadataValue.md(path.read_text())})


REPORT_ASSETS = [fairness, nightly_report]
