"""Analysts see a night whole or not at all: a night that fails a blocking check late (after
other tables of it committed) stays out of the published copy, later nights publish without it,
and its successful re-run brings it in whole; metrics.nights says which night is what."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

import assets.clean
from jobrec.data.quality import SuiteResult
from tests import minimarket
from tests.conftest import make_settings, partition_rows, run_foundation

pytestmark = pytest.mark.slow

DAY = minimarket.RUN_DATE
FAILING, LATER = DAY - dt.timedelta(days=1), DAY
EARLIER = DAY - dt.timedelta(days=2)
TABLES = minimarket.DATA_LAYER_TABLES


def _published_days(settings) -> dict[str, set[dt.date]]:
    with duckdb.connect(str(settings.published), read_only=True) as con:
        return {
            t: {d for (d,) in con.execute(f"SELECT DISTINCT run_date FROM {t}").fetchall()}
            for t in TABLES
        }


def _nights(db) -> dict[dt.date, tuple[str, str]]:
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute("SELECT run_date, status, detail FROM metrics.nights").fetchall()
    return {d: (status, detail) for d, status, detail in rows}


def test_a_night_failing_late_is_never_published_until_it_succeeds(tmp_path, monkeypatch):
    settings = make_settings(tmp_path, minimarket.write(tmp_path / "raw"))
    assert run_foundation(settings, EARLIER).success

    # the last clean table of FAILING fails its Great Expectations suite, after the others of
    # that night (clean.jobseekers, clean.job_ads, ...) have committed their partitions
    real_suite = assets.clean.run_suite

    def failing_suite(table, frame, keys=()):
        if table == "eval.forward_hires":
            return SuiteResult(table, False, 1, ("injected: hired_at out of the window",))
        return real_suite(table, frame, keys)

    monkeypatch.setattr(assets.clean, "run_suite", failing_suite)
    assert not run_foundation(settings, FAILING, raise_on_error=False).success
    monkeypatch.undo()
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        (written,) = con.execute(
            "SELECT count(*) FROM clean.jobseekers WHERE run_date = ?", [FAILING]
        ).fetchone()
    assert written  # the working warehouse holds part of the failed night
    status, detail = _nights(settings.warehouse)[FAILING]
    assert status == "failed" and "eval/forward_hires" in detail and "great_expectations" in detail

    assert run_foundation(settings, LATER).success  # the next night publishes without it
    days = _published_days(settings)
    assert all(d == {EARLIER, LATER} for d in days.values()), days
    published_nights = _nights(settings.published)
    assert published_nights[FAILING][0] == "failed"  # analysts can see why it is missing
    assert published_nights[LATER][0] == published_nights[EARLIER][0] == "complete"

    assert run_foundation(settings, FAILING).success  # the re-run completes it: published whole
    days = _published_days(settings)
    assert all(d == {EARLIER, FAILING, LATER} for d in days.values()), days
    assert partition_rows(settings.published, FAILING, TABLES) == partition_rows(
        settings.warehouse, FAILING, TABLES
    )
    assert _nights(settings.published)[FAILING][0] == "complete"


def test_a_refused_input_fails_the_night_and_records_no_input(tmp_path):
    settings = make_settings(tmp_path, minimarket.write(tmp_path / "raw"))
    assert run_foundation(settings, EARLIER).success
    broken = minimarket.tables()["job_ads"]
    broken[0]["wage"] = float("nan")
    import pyarrow as pa

    from jobrec.data.contract import RAW_SCHEMAS

    minimarket.write(
        settings.raw_dir,
        overrides={"job_ads": pa.Table.from_pylist(broken, schema=RAW_SCHEMAS["job_ads"])},
    )
    result = run_foundation(settings, DAY, raise_on_error=False)
    assert not result.success
    # no raw input of the refused partition is recorded as materialised, valid files included
    assert result.get_asset_materialization_events() == []
    # the step stops on the blocking contract check (not on a check output it failed to yield)
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    assert "blocking asset check failed" in failure.step_failure_data.error.message
    # findings need every file valid: a refused partition has no plausibility results
    assert {c.check_name for c in result.get_asset_check_evaluations()} == {"contract", "arrival"}
    status, detail = _nights(settings.warehouse)[DAY]
    assert status == "failed" and "job_ads" in detail
    assert all(d == {EARLIER} for d in _published_days(settings).values())
