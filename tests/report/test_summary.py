"""The printed night summary: every table's rows, and metrics that may be undefined."""

from __future__ import annotations

import datetime as dt

import duckdb

from jobrec.report.summary import night_summary

DAY = dt.date(2026, 12, 3)


def _warehouse() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("CREATE SCHEMA metrics; CREATE SCHEMA recs")
    con.execute(
        "CREATE TABLE metrics.runs (run_date DATE, asset VARCHAR, seconds DOUBLE, "
        "peak_rss_mb DOUBLE, rows BIGINT, finished_at TIMESTAMP)"
    )
    con.execute(
        "INSERT INTO metrics.runs VALUES (?, 'recs/to_send', 1.5, 300, 12, now()), "
        "(?, 'recs/to_send', 2.5, 310, 14, now() + INTERVAL 1 MINUTE)",
        [DAY, DAY],
    )
    con.execute(
        "CREATE TABLE metrics.nights (run_date DATE, status VARCHAR, run_id VARCHAR, "
        "detail VARCHAR, updated_at TIMESTAMP)"
    )
    con.execute(
        "INSERT INTO metrics.nights VALUES (?, 'failed', 'r1', 'metrics/market: check x failed', "
        "now())",
        [DAY],
    )
    con.execute("CREATE TABLE recs.to_send (run_date DATE, ad_id BIGINT)")
    con.execute("INSERT INTO recs.to_send SELECT ?, range FROM range(14)", [DAY])
    con.execute(
        "CREATE TABLE metrics.ranking (run_date DATE, stage VARCHAR, model VARCHAR, "
        "relevance VARCHAR, split VARCHAR, k INTEGER, recall DOUBLE, seekers BIGINT, "
        "population VARCHAR)"
    )
    # hires of a population in which no seeker was hired: recall is undefined (NULL)
    con.execute(
        "INSERT INTO metrics.ranking VALUES "
        "(?, 'rerank', 'muse2', 'applications', 'validation', 10, 0.25, 40, 'rerank_holdout'), "
        "(?, 'rerank', 'muse2', 'applications', 'validation', 100, 0.75, 40, 'rerank_holdout'), "
        "(?, 'rerank', 'muse2', 'hires', 'validation', 10, NULL, 0, 'rerank_holdout'), "
        "(?, 'rerank', 'muse2', 'hires', 'validation', 100, NULL, 0, 'rerank_holdout')",
        [DAY] * 4,
    )
    return con


def test_summary_prints_rows_latest_runs_and_undefined_recall_as_na():
    with _warehouse() as con:
        text = night_summary(con, None)  # the latest partition
    lines = text.splitlines()
    assert lines[0] == f"partition {DAY}: night failed (metrics/market: check x failed)"
    assert any(line.split() == ["recs.to_send", "14"] for line in lines)
    # the latest run of an asset only
    runs = [line.split() for line in lines if line.startswith("recs/to_send")]
    assert runs == [["recs/to_send", "2.50", "310", "14"]]
    applications = next(line for line in lines if "applications rerank/muse2" in line)
    assert "@10 0.2500  @100 0.7500  n=40" in applications
    hires = next(line for line in lines if "hires rerank/muse2" in line)
    assert "@10    n/a  @100    n/a  n=0" in hires


def test_summary_shows_the_whole_population_not_the_slices():
    with _warehouse() as con:
        con.execute("ALTER TABLE metrics.ranking ADD COLUMN slice VARCHAR DEFAULT 'all'")
        con.execute(
            "INSERT INTO metrics.ranking VALUES (?, 'rerank', 'muse2', 'applications', "
            "'validation', 10, 0.9, 5, 'rerank_holdout', 'history:0')",
            [DAY],
        )
        text = night_summary(con, None)
    applications = [line for line in text.splitlines() if "applications rerank/muse2" in line]
    assert len(applications) == 1 and "@10 0.2500  @100 0.7500  n=40" in applications[0]
