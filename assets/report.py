"""The nightly report (logic in jobrec.report)."""

from dagster import MetadataValue

from assets.audit import fairness
from assets.common import DUE_BY_0600, GROUPS, Step, Verdict, Written, daily_asset
from assets.redistribution import market_evaluation
from assets.rerank import rerank_evaluation
from assets.retrieval import retrieval_evaluation
from assets.send import segment_thresholds
from jobrec import audit, report
from jobrec.plotting import markdown_with_previews


def _report_written(step: Step, written: Written) -> Verdict:
    """The report exists and holds every section."""
    text = written.result
    missing = [t for t, _ in report.SECTIONS.values() if t not in text]
    return Verdict(
        not missing, f"{len(text):,} characters" + (f"; missing {missing}" if missing else "")
    )


@daily_asset(
    key=["reports", "nightly"],
    group=GROUPS["report"],
    kinds={"markdown"},
    freshness_policy=DUE_BY_0600,
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
    text = path.read_text()
    return Written(
        0,
        {
            "path": MetadataValue.path(str(path)),
            "plots": ", ".join(sorted(p.name for p in path.parent.glob("*.png"))),
            "report": MetadataValue.md(markdown_with_previews(text, path.parent)),
        },
        result=text,
    )


REPORT_ASSETS = [nightly_report]
