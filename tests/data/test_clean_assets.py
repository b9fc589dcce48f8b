"""The clean stage on the hand-written market: every output row checked by hand."""

from __future__ import annotations

import datetime as dt

from tests.conftest import run_foundation, table_rows
from tests.minimarket import RUN_DATE


def _ids(db, table, cols="jobseeker_id, ad_id"):
    import duckdb

    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(
            f"SELECT {cols} FROM {table} WHERE run_date = ? ORDER BY ALL", [RUN_DATE]
        ).fetchall()


def test_clean_tables_by_hand(mini_settings):
    result = run_foundation(mini_settings, RUN_DATE)
    assert result.success
    db = mini_settings.warehouse
    # S4 registers after the run date; S3's exit (2026-03-12) is not known yet -> active.
    assert _ids(db, "clean.jobseekers", "jobseeker_id, exited_on, active") == [
        ("S1", None, True),
        ("S2", dt.date(2026, 3, 1), False),
        ("S3", None, True),
    ]
    # A4 is posted after the run date; A3's closing (2026-03-20) is in the future.
    assert _ids(db, "clean.job_ads", "ad_id, closed_on, active, skills") == [
        ("A1", None, True, ["SK1", "SK2"]),
        ("A2", dt.date(2026, 3, 5), False, ["SK1", "SK2"]),
        ("A3", None, True, ["SK1", "SK2"]),
    ]
    # duplicate removed, null channel -> organic, events at/after the run date excluded
    assert _ids(db, "clean.applications", "jobseeker_id, ad_id, channel") == [
        ("S1", "A1", "organic"),
        ("S2", "A2", "recommendation"),
        ("S3", "A3", "organic"),
    ]
    assert _ids(db, "clean.hires") == [("S2", "A2")]
    assert _ids(db, "clean.recommendation_feedback") == [("S1", "A1"), ("S2", "A2")]
    assert _ids(db, "eval.forward_applications") == [("S3", "A3"), ("S4", "A4")]
    assert _ids(db, "eval.forward_hires") == [("S3", "A3")]
    # every asset of the run is accounted for, with its own rows
    runs = {r[1]: r for r in table_rows(db, "metrics.runs", RUN_DATE)}
    assert runs["clean/jobseekers"][4] == 3
    assert runs["clean/applications"][4] == 3
    assert {"raw/validated_inputs", "publish/warehouse", "eval/forward_hires"} <= set(runs)
    assert all(r[2] > 0 and r[3] > 0 for r in runs.values())


def test_rematerialising_is_idempotent(mini_settings):
    run_foundation(mini_settings, RUN_DATE)
    tables = ["clean.jobseekers", "clean.job_ads", "clean.applications", "clean.hires"]
    first = {t: table_rows(mini_settings.warehouse, t) for t in tables}
    run_foundation(mini_settings, RUN_DATE)
    assert {t: table_rows(mini_settings.warehouse, t) for t in tables} == first
