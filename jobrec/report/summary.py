"""Print what a night produced, read from the analysts' published copy:
`python -m jobrec.report.summary [--day D]` (default: the latest partition)."""

from __future__ import annotations

import argparse
import datetime as dt

import duckdb

from jobrec.data.settings import Settings


def night_summary(con: duckdb.DuckDBPyConnection, day: dt.date | None) -> str:
    tables = con.execute(
        "SELECT table_schema || '.' || table_name FROM information_schema.columns "
        "WHERE column_name = 'run_date' AND table_schema <> 'metrics' ORDER BY 1"
    ).fetchall()
    if day is None:
        day = con.execute("SELECT max(run_date) FROM metrics.runs").fetchall()[0][0]
    lines = [f"partition {day}{night_status(con, day)}", f"{'table':<34}{'rows':>12}"]
    for (table,) in tables:
        (n,) = con.execute(f"SELECT count(*) FROM {table} WHERE run_date = ?", [day]).fetchall()[0]
        lines.append(f"{table:<34}{n:>12,}")
    lines += ["", f"{'asset (latest run)':<34}{'seconds':>10}{'peak MB':>10}{'rows':>12}"]
    for asset, seconds, peak, rows in con.execute(
        "SELECT asset, seconds, peak_rss_mb, rows FROM metrics.runs WHERE run_date = ? "
        "QUALIFY row_number() OVER (PARTITION BY asset ORDER BY finished_at DESC) = 1 "
        "ORDER BY finished_at",
        [day],
    ).fetchall():
        lines.append(f"{asset:<34}{seconds:>10.2f}{peak:>10.0f}{rows:>12,}")
    lines += ranking_lines(con, day)
    lines += market_lines(con, day)
    lines += threshold_lines(con, day)
    return "\n".join(lines)


def _has_table(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return bool(
        con.execute(
            "SELECT count(*) FROM information_schema.tables "
            "WHERE table_schema = ? AND table_name = ?",
            [schema, table],
        ).fetchall()[0][0]
    )


def night_status(con: duckdb.DuckDBPyConnection, day: dt.date) -> str:
    """The night's status from metrics.nights (complete, running, failed and why)."""
    if not _has_table(con, "metrics", "nights"):
        return ""
    row = con.execute(
        "SELECT status, detail FROM metrics.nights WHERE run_date = ?", [day]
    ).fetchone()
    if row is None:
        return ""
    status, detail = row
    return f": night {status}" + (f" ({detail})" if status == "failed" else "")


def _number(value: float | None, width: int) -> str:
    """A metric to 4 decimals, or `n/a` where it is undefined (NULL)."""
    return f"{'n/a':>{width}}" if value is None else f"{value:>{width}.4f}"


def market_lines(con: duckdb.DuckDBPyConnection, day: dt.date) -> list[str]:
    """Congestion, coverage and Gini at each k, before (muse0, muse2) and after OT."""
    if not _has_table(con, "metrics", "market"):
        return []
    rows = con.execute(
        "SELECT population, k, model, congestion, coverage, gini FROM metrics.market "
        "WHERE run_date = ? ORDER BY population, k, CASE model WHEN 'muse0' THEN 0 "
        "WHEN 'muse2' THEN 1 ELSE 2 END",
        [day],
    ).fetchall()
    lines = [
        "",
        "market before/after redistribution (congestion: -1 perfectly spread; "
        "[all]: tonight's lists of every seeker, [validation]: the window's seekers)",
        f"  {'population':<16}{'k':>4}  {'model':<7}{'congestion':>12}{'coverage':>10}{'gini':>8}",
    ]
    for population, k, model, congestion, coverage, gini in rows:
        lines.append(
            f"  {population:<16}{k:>4}  {model:<7}"
            f"{_number(congestion, 12)}{_number(coverage, 10)}{_number(gini, 8)}"
        )
    return lines


def ranking_lines(con: duckdb.DuckDBPyConnection, day: dt.date) -> list[str]:
    """Recall@k of every model and baseline (applications; the oracle's sample beside it)."""
    if not _has_table(con, "metrics", "ranking"):
        return []
    # the whole population's rows; a warehouse from before the slices has only those
    columns = {r[0] for r in con.execute("DESCRIBE metrics.ranking").fetchall()}
    whole = " AND slice = 'all'" if "slice" in columns else ""
    rows = con.execute(
        "SELECT split, stage, model, population, relevance, "
        "list(recall ORDER BY k), list(k ORDER BY k), max(seekers) "
        f"FROM metrics.ranking WHERE run_date = ?{whole} GROUP BY ALL "
        "ORDER BY split DESC, relevance, population, stage DESC, model",
        [day],
    ).fetchall()
    lines = [
        "",
        "ranking (Recall@k by split, relevance, stage/model; [oracle_sample]: the seekers the "
        "oracle is scored on, [rerank_holdout]: the seekers held out of the rerankers' training)",
    ]
    for split, stage, model, population, relevance, recalls, ks, seekers in rows:
        # recall is NULL where no seeker of the population had a relevant item (tiny markets' hires)
        values = "  ".join(f"@{k} {_number(r, 6)}" for k, r in zip(ks, recalls, strict=True))
        seekers_of = "" if population == "all" else f" [{population}]"
        label = f"{split} {relevance} {stage}/{model}{seekers_of}"
        lines.append(f"  {label:<60}{values}  n={seekers:,}")
    return lines


def threshold_lines(con: duckdb.DuckDBPyConnection, day: dt.date) -> list[str]:
    """Per segment: the greedy search's thresholds, objective, evaluations against the grid's,
    the SLOs, and the held-out week's objective."""
    if not _has_table(con, "recs", "segment_thresholds"):
        return []
    rows = con.execute(
        "SELECT g.segment, g.theta_response, g.theta_apply, g.theta_positive, "
        "coalesce(g.tuned_objective, g.objective), r.objective, g.evaluations, r.evaluations, "
        "g.sends, g.slo_met, g.improved, coalesce(g.tuned_holdout_objective, g.holdout_objective) "
        "FROM recs.segment_thresholds AS g JOIN recs.segment_thresholds AS r "
        "ON r.run_date = g.run_date AND r.segment = g.segment AND r.method = 'grid' "
        "WHERE g.run_date = ? AND g.method = 'greedy' ORDER BY g.segment",
        [day],
    ).fetchall()
    lines = [
        "",
        "thresholds per segment (applied θ; greedy: the search's objective Σ 0.25 Δ_i "
        "against the defaults, grid: the optimum's; held-out: the greedy triple's objective "
        "on the week after tuning, which must be > 0 for the thresholds to move)",
        f"  {'segment':<8}{'θ_JR':>8}{'θ_JA':>8}{'θ_PO':>8}{'greedy':>9}{'grid':>9}"
        f"{'evals':>7}{'/grid':>7}{'sends':>8}{'SLOs':>6}{'moved':>7}"
        f"{'held-out':>10}",
    ]
    for seg, tr, ta, tp, og, orr, eg, er, n, slo, moved, hold in rows:
        lines.append(
            f"  {seg:<8}{tr:>8.4f}{ta:>8.4f}{tp:>8.4f}{og:>9.4f}{orr:>9.4f}{eg:>7}"
            f"{er:>7}{n:>8}{'met' if slo else 'no':>6}{'yes' if moved else 'no':>7}"
            f"{_number(hold, 10)}"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--day", type=dt.date.fromisoformat, default=None)
    args = parser.parse_args()
    settings = Settings.from_env()
    with duckdb.connect(str(settings.published), read_only=True) as con:
        print(night_summary(con, args.day))
        day = args.day or con.execute("SELECT max(run_date) FROM metrics.runs").fetchall()[0][0]
    report = settings.reports_dir / str(day) / "report.md"
    if report.exists():
        print(f"\nthe night's report: {report}")


if __name__ == "__main__":
    main()
