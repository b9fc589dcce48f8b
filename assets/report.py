"""The nightly report (logic in jobrec.report)."""

from pathlib import Path

from dagster import MetadataValue

from assets.audit import fairness
from assets.common import Step, Verdict, Written, daily_asset
from assets.redistribution import market_evaluation
from assets.rerank import rerank_evaluation
from assets.retrieval import retrieval_evaluation
from assets.send import segment_thresholds
from jobrec import audit, report


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
    deps=[
        fairness,
        market_evaluation,
        rerank_evaluation,
        retrieval_evaluation,
        segment_thresholds,
    ],
    checks={"report_complete": _report_written},
)
def nightly_report(step: Step) -> Written:
    """The night's report (Markdown and PNG under the reports folder, shown here): ranking
    metrics by stage and model, the market before and after OT, thresholds per segment and
    their Δs, gender gaps, run time per asset."""
    found = audit.amplification(
        step.con.execute("SELECT * FROM metrics.fairness WHERE run_date = ?", [step.run_date]).df()
    )
    path = report.write_report(step.con, step.run_date, step.settings.reports_dir, found)
    return Written(0, {"path": str(path), "report": MetadataValue.md(path.read_text())})


REPORT_ASSETS = [nightly_report]
