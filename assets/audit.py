"""The gender-gap audit: metrics.fairness (logic in jobrec.audit)."""

from dagster import MetadataValue

from assets.common import GROUPS, Step, Verdict, Written, daily_asset
from assets.send import to_send
from jobrec import audit
from jobrec.data import warehouse


def _estimated(step: Step, written: Written) -> Verdict:
    """Every source that has seekers of both genders got its four gaps by both estimands (ATTE
    and PLR), finite with positive standard errors."""
    rows = written.result
    bad = rows[~(rows["std_error"] > 0) | rows["gap"].isna()]
    counts = rows.groupby("source").size()
    short = [s for s, n in counts.items() if n != len(audit.OUTCOMES) * len(audit.ESTIMANDS)]
    ok = bad.empty and not short and {"applications"} <= set(counts.index)
    return Verdict(
        ok,
        f"{len(rows)} gaps over {len(counts)} sources"
        + (f"; incomplete: {short}" if short else "")
        + ("" if bad.empty else f"; not finite: {len(bad)}"),
    )


def _no_amplification(step: Step, written: Written) -> Verdict:
    """No recommender source's gap (ATTE) lies further from 0 than the applications' beyond
    noise: the joint one-sided test of their difference, Holm-corrected over sources and
    outcomes at 5%. A finding to read, not a reason to stop the night."""
    found = audit.amplification(written.result)
    return Verdict(not found, "; ".join(found) or "no amplification of the applications' gaps")


@daily_asset(
    key=["metrics", "fairness"],
    group=GROUPS["audit"],
    table="metrics.fairness",
    kinds={"scikitlearn"},
    deps=[to_send],
    checks={"gaps_estimated": _estimated},
    warnings={"no_amplification": _no_amplification},
)
def fairness(step: Step) -> Written:
    """`metrics.fairness`: the gender gap (women − men) in log wage, permanent contract, hours and
    distance of the ads of each source — Muse.2's and OT's top 10, the send list, the
    applications and hires of the last 28 days — given the seekers' search parameters and
    qualifications (double ML, 5 folds; the average gap women face (ATTE) and the partially
    linear θ; other or unknown genders left out and counted)."""
    rows = audit.nightly_audit(step.con, step.run_date, log=step.context.log.info)
    step.con.execute(warehouse.sql("create_metrics_fairness"))
    n = warehouse.replace_rows(step.con, "metrics.fairness", step.run_date, rows, {})
    meta = {
        f"{r.source}_{r.outcome}": MetadataValue.text(
            f"{r.gap:+.4f} [{r.ci_low:+.4f}, {r.ci_high:+.4f}] n={r.n}"
        )
        for r in rows.itertuples()
        if r.estimand == audit.ESTIMANDS[0]  # the headline: the average gap women face
    }
    return Written(n, meta, result=rows)


AUDIT_ASSETS = [fairness]
