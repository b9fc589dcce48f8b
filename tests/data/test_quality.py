"""Great Expectations suites on the clean tables: they fail on bad rows with sample ids, and a
failing suite rolls back the partition it checked (the table keeps its previous content). A
night's suite reads what that night adds to the store: new events, new or changed entities."""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd

from jobrec.data import quality
from tests import minimarket
from tests.conftest import run_foundation
from tests.minimarket import RUN_DATE


def test_suite_reports_failed_expectations_with_sample_keys():
    frame = pd.DataFrame(
        {
            "run_date": [RUN_DATE] * 3,
            "jobseeker_id": ["S1", "S2", "S2"],
            "ad_id": ["A1", "A1", "A2"],
            "applied_at": pd.to_datetime(["2026-03-01", "2026-03-02", "2026-03-03"], utc=True),
            "channel": ["organic", "email", "organic"],
            "seconds_before_run": [100.0, -5.0, 50.0],
        }
    )
    result = quality.run_suite("clean.applications", frame, ("jobseeker_id", "ad_id"))
    assert not result.success
    text = result.summary()
    assert "column channel: expect_column_values_to_be_in_set failed (1 rows)" in text
    assert "jobseeker_id=S2 ad_id=A1 channel=email" in text
    assert "column seconds_before_run" in text  # an event at or after the run date
    good = frame.assign(channel="organic", seconds_before_run=[100.0, 5.0, 50.0])
    assert quality.run_suite("clean.applications", good).success


def test_failing_suite_rolls_back_and_stops_the_chain(mini_settings, monkeypatch):
    previous = RUN_DATE - dt.timedelta(days=1)
    assert run_foundation(mini_settings, previous).success
    with duckdb.connect(str(mini_settings.warehouse), read_only=True) as con:
        before = con.execute("SELECT * FROM clean.jobseekers ORDER BY ALL").fetchall()
    # a stricter suite that tonight's new rows cannot meet: nobody older than 1995; S1 changed
    # its profile since last night, so tonight stores (and validates) a new version of S1
    older = quality.expect("ExpectColumnValuesToBeBetween", "birth_year", min_value=1995)
    strict = [*quality.SUITES["clean.jobseekers"], older]
    monkeypatch.setitem(quality.SUITES, "clean.jobseekers", strict)
    minimarket.write(
        mini_settings.raw_dir,
        {"jobseekers": minimarket.with_value("jobseekers", "experience_years", 0, 4.0)},
    )

    result = run_foundation(mini_settings, RUN_DATE, raise_on_error=False)

    assert not result.success
    (failed,) = [c for c in result.get_asset_check_evaluations() if not c.passed]
    assert failed.asset_key.path == ["clean", "jobseekers"]
    assert "birth_year" in failed.description and "jobseeker_id=S1" in failed.description
    materialised = {tuple(e.asset_key.path) for e in result.get_asset_materialization_events()}
    assert ("clean", "jobseekers") not in materialised
    assert ("clean", "applications") not in materialised  # downstream of the refused table
    assert ("publish", "warehouse") not in materialised
    with duckdb.connect(str(mini_settings.warehouse), read_only=True) as con:
        after = con.execute("SELECT * FROM clean.jobseekers ORDER BY ALL").fetchall()
    assert after == before  # RUN_DATE's rows were rolled back, the previous night's remain
