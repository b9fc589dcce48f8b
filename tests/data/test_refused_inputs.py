"""Broken raw inputs are refused by the blocking `contract` check of their raw asset, with a
message naming the file, the column and sample rows; nothing downstream runs, and the previous
partition's tables and the published copy stay as they were."""

from __future__ import annotations

import datetime as dt
import shutil

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from tests import minimarket
from tests.conftest import make_settings, run_foundation

PREVIOUS = minimarket.RUN_DATE - dt.timedelta(days=1)
TABLES = minimarket.DATA_LAYER_TABLES


table, with_value = minimarket.raw_table, minimarket.with_value


def _drop(name, column):
    return table(name).drop_columns([column])


def _as_text(name, column, row, value):
    """The column stored as strings (a wrong type), one of them not even a number."""
    values = [str(v) for v in table(name)[column].to_pylist()]
    values[row] = value
    t = table(name)
    return t.set_column(t.schema.get_field_index(column), column, pa.array(values))


def _duplicate(name):
    t = table(name)
    return pa.concat_tables([t, with_value(name, "wage", 0, 9999.0).slice(0, 1)])


# case -> (file, broken table or raw bytes, column named in the message, offending value)
CASES = {
    "missing column": ("job_ads", lambda: _drop("job_ads", "wage"), "wage", None),
    "wrong type": ("job_ads", lambda: _as_text("job_ads", "wage", 0, "lots"), "wage", "lots"),
    "duplicate id": ("job_ads", lambda: _duplicate("job_ads"), "ad_id", "A1"),
    "application to an unknown ad": (
        "applications",
        lambda: with_value("applications", "ad_id", 2, "A999"),
        "ad_id",
        "A999",
    ),
    "hire of an unknown seeker": (
        "hires",
        lambda: with_value("hires", "jobseeker_id", 0, "S999"),
        "jobseeker_id",
        "S999",
    ),
    "negative wage": (
        "job_ads",
        lambda: with_value("job_ads", "wage", 1, -1900.0),
        "wage",
        "-1900",
    ),
    "latitude out of range": (
        "jobseekers",
        lambda: with_value("jobseekers", "latitude", 0, 148.8),
        "latitude",
        "148.8",
    ),
    "empty file": ("hires", lambda: table("hires").slice(0, 0), None, None),
    "truncated parquet": ("applications", "truncate", None, None),
    "application before the ad was posted": (
        "applications",
        lambda: with_value(
            "applications", "applied_at", 2, dt.datetime(2026, 2, 5, 10, tzinfo=dt.UTC)
        ),
        "applied_at",
        "2026-02-05",
    ),
    "null id": (
        "jobseekers",
        lambda: with_value("jobseekers", "jobseeker_id", 1, None),
        "jobseeker_id",
        "None",
    ),
    "unknown occupation code": (
        "job_ads",
        lambda: with_value("job_ads", "occupation", 0, "Z9999"),
        "occupation",
        "Z9999",
    ),
    "integer boolean other than 0/1": (
        "recommendation_feedback",
        lambda: table("recommendation_feedback").set_column(
            3, "responded", pa.array([1, 2, 0], pa.int8())
        ),
        "responded",
        "2",
    ),
    "positions below one": (
        "job_ads",
        lambda: with_value("job_ads", "positions", 0, 0),
        "positions",
        "0",
    ),
    "fractional education level": (
        "jobseekers",
        lambda: with_value("jobseekers", "education_level", 0, 4.5, pa.float64()),
        "education_level",
        "4.5",
    ),
}


@pytest.fixture(scope="module")
def good_previous_night(tmp_path_factory):
    """A warehouse and published copy holding the previous partition of the good market."""
    root = tmp_path_factory.mktemp("previous")
    settings = make_settings(root, minimarket.write(root / "raw"))
    assert run_foundation(settings, PREVIOUS).success
    return settings


def _snapshot(settings):
    out = {}
    for db in (settings.warehouse, settings.published):
        with duckdb.connect(str(db), read_only=True) as con:
            out[str(db)] = {t: con.execute(f"SELECT * FROM {t}").fetchall() for t in TABLES}
    return out


@pytest.mark.parametrize("case", list(CASES))
def test_broken_input_is_refused(case, good_previous_night, tmp_path):
    name, broken, column, value = CASES[case]
    settings = make_settings(
        tmp_path,
        tmp_path / "raw",
        warehouse=tmp_path / "wh" / "jobrec.duckdb",
        published=tmp_path / "pub" / "jobrec.duckdb",
    )
    for src, dst in (
        (good_previous_night.warehouse, settings.warehouse),
        (good_previous_night.published, settings.published),
    ):
        dst.parent.mkdir(parents=True)
        shutil.copy(src, dst)
    before = _snapshot(settings)
    if broken == "truncate":
        raw = minimarket.write(settings.raw_dir)
        data = (raw / f"{name}.parquet").read_bytes()
        (raw / f"{name}.parquet").write_bytes(data[: len(data) // 2])
    else:
        minimarket.write(settings.raw_dir, overrides={name: broken()})

    result = run_foundation(settings, minimarket.RUN_DATE, raise_on_error=False)

    assert not result.success
    failed = [c for c in result.get_asset_check_evaluations() if not c.passed]
    failed = {(tuple(c.asset_key.path), c.check_name): c for c in failed}
    # the contract refuses the broken file (a broken id also orphans the events that refer to
    # it); a file that cannot be read or dated is also reported by the arrival check
    assert set(failed) - {(("raw", "validated_inputs"), "arrival")} == {
        (("raw", "validated_inputs"), "contract")
    }
    message = failed[("raw", "validated_inputs"), "contract"].description
    assert message.startswith(f"partition {minimarket.RUN_DATE}: ")
    assert f"{name}.parquet" in message
    if column:
        assert f"column '{column}'" in message
    if value:
        assert value in message
    assert "seeker S" not in message  # no free-text personal field (profile_text) leaks
    # nothing ran downstream, and the refused partition records no materialisation
    assert not result.get_asset_materialization_events()
    assert _snapshot(settings) == before  # the last good partition and its copy are untouched


def test_messages_show_sample_rows_without_personal_fields(tmp_path):
    settings = make_settings(tmp_path, tmp_path / "raw")
    t = table("job_ads")
    t = t.set_column(6, "wage", pc.multiply(t["wage"], -1))
    minimarket.write(settings.raw_dir, overrides={"job_ads": t})
    result = run_foundation(settings, minimarket.RUN_DATE, raise_on_error=False)
    (failed,) = [c for c in result.get_asset_check_evaluations() if not c.passed]
    message = failed.description
    assert (
        "job_ads.parquet: column 'wage': must be within [0, 1,000,000] (monthly EUR) (3 rows)"
        in (message)
    )
    assert "ad_id=A1 wage=-2200.0" in message
    assert "title" not in message and "description" not in message
