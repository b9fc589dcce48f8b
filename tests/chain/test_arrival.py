"""The night starts when its files are there: the arrival rule (jobrec.data.arrival), the sensor
that starts one run for D once every input has arrived, and the deadline run that stops on the
input that has not, naming it."""

from __future__ import annotations

import datetime as dt
import os
import uuid

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dagster import DagsterInstance, DagsterRun, RunRequest, SkipReason

from jobrec.data.arrival import arrivals, file_version, parse_tolerances, usual_lag
from jobrec.data.contract import RAW_SCHEMAS
from orchestration.arrival import arrival_tick
from orchestration.jobs import NIGHTLY_JOB, deadline_request
from tests import minimarket
from tests.conftest import make_settings, run_foundation

DAY = minimarket.RUN_DATE  # 2026-03-10: the hand market's applications reach 03-09


def d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def test_usual_lag_is_the_longest_gap_between_dated_days():
    assert usual_lag([]) == 0
    assert usual_lag([d("2026-03-01")]) == 0
    assert usual_lag([d("2026-03-01"), d("2026-03-02"), d("2026-03-03")]) == 0
    # mail days on Mondays and Thursdays: two and three days without feedback
    mails = [d("2026-03-02"), d("2026-03-05"), d("2026-03-09"), d("2026-03-12")]
    assert usual_lag(mails) == 3


def test_tolerances_setting_is_parsed_and_bad_names_refused():
    assert parse_tolerances("recommendation_feedback=7, hires=3") == {
        "recommendation_feedback": 7,
        "hires": 3,
    }
    assert parse_tolerances("") == {}
    with pytest.raises(ValueError, match="JOBREC_INPUT_TOLERANCE_DAYS: 'hire=3'"):
        parse_tolerances("hire=3")


def test_arrival_on_the_hand_market_by_history_and_by_setting(tmp_path):
    raw = minimarket.write(tmp_path / "raw")
    with duckdb.connect() as con:
        found = arrivals(con, raw, DAY)
        # applications reach D - 1; the last hire is 2026-02-28, and hires had no gap before
        assert found["applications"].arrived and found["applications"].lag_days == 0
        assert not found["hires"].arrived
        assert found["hires"].latest_day == d("2026-02-28") and found["hires"].lag_days == 9
        assert "hires" in found["hires"].message() and "stale" in found["hires"].message()
        assert arrivals(con, raw, DAY, {"hires": 9})["hires"].arrived
        assert arrivals(con, raw, DAY, {"hires": 9})["hires"].tolerance_from == "setting"
        # nothing dated after D - 1 counts: the partition of an earlier day sees less
        assert arrivals(con, raw, d("2026-03-01"))["applications"].needed_day == d("2026-02-28")
    (raw / "hires.parquet").unlink()
    with duckdb.connect() as con:
        missing = arrivals(con, raw, DAY)["hires"]
    assert not missing.arrived and missing.message().startswith("hires: missing")


def _settings(tmp_path, raw, **tolerances):
    return make_settings(tmp_path, raw, input_tolerances=tolerances)


def _at(day: dt.date, hour: int = 1) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=dt.UTC)


def test_sensor_starts_no_run_until_the_last_input_arrives_then_exactly_one(tmp_path):
    raw = minimarket.write(tmp_path / "raw")
    # hires and feedback are sparse in the hand market: let them lag, but not the feedback yet
    settings = _settings(tmp_path, raw, hires=9, recommendation_feedback=0)
    instance = DagsterInstance.ephemeral()

    first = arrival_tick(instance, settings, _at(DAY), None)
    assert first.run_request is None and "recommendation_feedback" in first.reason
    assert len(first.observations) == 5  # every file observed once, with its data version
    # nothing changed: the files are not read again, still no run
    again = arrival_tick(instance, settings, _at(DAY, 2), first.cursor)
    assert again.run_request is None and again.observations == [] and again.reason == first.reason

    # the last input arrives: feedback up to D - 1
    feedback = minimarket.tables()["recommendation_feedback"]
    late = dict(feedback[-1], sent_at=dt.datetime(2026, 3, 9, 6, tzinfo=dt.UTC))
    table = pa.Table.from_pylist([*feedback, late], schema=RAW_SCHEMAS["recommendation_feedback"])
    pq.write_table(table, raw / "recommendation_feedback.parquet")  # that file only
    assert file_version(raw, "recommendation_feedback") != file_version(raw, "hires")
    ready = arrival_tick(instance, settings, _at(DAY, 3), again.cursor)
    assert [o.asset_key.to_user_string() for o in ready.observations] == [
        "raw/recommendation_feedback_file"
    ]
    assert isinstance(ready.run_request, RunRequest)
    assert ready.run_request.partition_key == DAY.isoformat()

    # the run exists: later ticks (and the deadline schedule) start no second one
    instance.add_run(
        DagsterRun(
            job_name=NIGHTLY_JOB, run_id=str(uuid.uuid4()), tags={"dagster/partition": str(DAY)}
        )
    )
    after = arrival_tick(instance, settings, _at(DAY, 4), ready.cursor)
    assert after.run_request is None and "has started" in after.reason
    deadline = deadline_request(instance, DAY)
    assert isinstance(deadline, SkipReason)


def test_deadline_starts_the_night_when_the_sensor_did_not():
    request = deadline_request(DagsterInstance.ephemeral(), DAY)
    assert isinstance(request, RunRequest) and request.partition_key == DAY.isoformat()
    assert request.tags["jobrec/started_by"] == "deadline"


def test_deadline_run_on_a_stale_input_fails_naming_it(tmp_path):
    """The schedule's run at the deadline: hires stop 9 days before D, the history tolerates
    none: the arrival check fails and names hires; nothing is materialised."""
    settings = _settings(tmp_path, minimarket.write(tmp_path / "raw"), recommendation_feedback=40)
    result = run_foundation(settings, DAY, raise_on_error=False)
    assert not result.success
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert checks["contract"].passed
    assert not checks["arrival"].passed
    description = checks["arrival"].description
    assert description.startswith(f"partition {DAY}: input(s) missing or stale: hires\n")
    assert "latest hired_at day 2026-02-28, the partition needs 2026-03-09" in description
    assert result.get_asset_materialization_events() == []


def test_partitions_start_on_the_raw_files_first_day(tmp_path):
    """Without JOBREC_START_DATE the first partition is the first application's day."""
    import subprocess
    import sys

    raw = minimarket.write(tmp_path / "raw")
    env = {k: v for k, v in os.environ.items() if k != "JOBREC_START_DATE"}
    env["JOBREC_RAW_DIR"] = str(raw)
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "from assets.partitions import daily_partitions as p; print(p.start)",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    with duckdb.connect() as con:
        (first,) = con.execute(
            f"SELECT min(applied_at)::DATE FROM '{raw}/applications.parquet'"
        ).fetchone()
    assert out.stdout.strip().startswith(first.isoformat())


def test_deadline_run_on_a_missing_input_fails_naming_it(tmp_path):
    raw = minimarket.write(tmp_path / "raw")
    (raw / "hires.parquet").unlink()
    result = run_foundation(_settings(tmp_path, raw, recommendation_feedback=40), DAY, False)
    assert not result.success
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert not checks["arrival"].passed and not checks["contract"].passed
    assert "hires: missing (no hires.parquet, hires/ or hires.csv)" in checks["arrival"].description
    assert result.get_asset_materialization_events() == []
