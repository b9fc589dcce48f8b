"""The clean tables: the raw files typed, deduplicated and cut at the partition's day.

clean.* holds every entity known before run_date (with its `active` flag) and every event strictly
before run_date; eval.forward_* holds the 7 days from run_date on, for evaluation only. Each table
is one statement in sql/ (`CLEAN_TABLES`), run over the raw files' views of the partition.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb

from jobrec.data import warehouse
from jobrec.data.contract import open_raw_views

# table -> (SQL file, key columns that order the rows and name them in messages)
CLEAN_TABLES = {
    "clean.jobseekers": ("clean_jobseekers", ("jobseeker_id",)),
    "clean.job_ads": ("clean_job_ads", ("ad_id",)),
    "clean.applications": ("clean_applications", ("jobseeker_id", "ad_id", "applied_at")),
    "clean.hires": ("clean_hires", ("jobseeker_id", "ad_id", "hired_at")),
    "clean.recommendation_feedback": (
        "clean_recommendation_feedback",
        ("jobseeker_id", "ad_id", "sent_at"),
    ),
    "eval.forward_applications": (
        "eval_forward_applications",
        ("jobseeker_id", "ad_id", "applied_at"),
    ),
    "eval.forward_hires": ("eval_forward_hires", ("jobseeker_id", "ad_id", "hired_at")),
}


def write_clean_partition(
    con: duckdb.DuckDBPyConnection, table: str, raw_dir: str | Path, run_date: dt.date
) -> int:
    """Replace the partition `run_date` of one clean table from the raw files; its row count.

    Parameters
    ----------
    con : DuckDB connection
        The warehouse (or an in-memory database), inside the caller's transaction.
    table : str
        One of `CLEAN_TABLES`.
    raw_dir : path
        The folder of the raw input files.
    run_date : date
        The partition: the world as known at the start of that day.

    Returns
    -------
    int
        The rows of the partition written.
    """
    sql_name, keys = CLEAN_TABLES[table]
    open_raw_views(con, Path(raw_dir), run_date)
    return warehouse.replace_partition(
        con,
        table,
        run_date,
        warehouse.sql(sql_name),
        {"run_date": run_date},
        order_by=", ".join(keys),
    )
