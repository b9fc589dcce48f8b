"""The chain on the tiny synthetic market, through Dagster: green checks, idempotent re-runs,
and partitions that see nothing of their own day or later."""

from __future__ import annotations

import shutil

import duckdb

from tests.conftest import TINY_DAY, TINY_END, make_settings, partition_rows, run_day
from tests.rewrite_future import rewrite_future

TABLES = [
    "clean.jobseekers",
    "clean.job_ads",
    "clean.applications",
    "clean.hires",
    "clean.recommendation_feedback",
]
FORWARD = ["eval.forward_applications", "eval.forward_hires"]


def _dump(db, day, tables=TABLES):
    return partition_rows(db, day, tables)


def _counts(db, day):
    with duckdb.connect(str(db), read_only=True) as con:
        return {
            t: con.execute(f"SELECT count(*) FROM {t} WHERE run_date = ?", [day]).fetchall()[0][0]
            for t in TABLES + FORWARD
        }


def test_tiny_chain_green_and_idempotent(tiny_settings):
    result = run_day(tiny_settings, TINY_DAY)
    assert result.success
    checks = result.get_asset_check_evaluations()
    assert checks and all(c.passed for c in checks)
    counts = _counts(tiny_settings.warehouse, TINY_DAY)
    assert all(n > 0 for n in counts.values()), counts  # every table holds the day, forward too
    first = _dump(tiny_settings.warehouse, TINY_DAY, TABLES + FORWARD)
    assert run_day(tiny_settings, TINY_DAY).success
    assert _dump(tiny_settings.warehouse, TINY_DAY, TABLES + FORWARD) == first


def test_tonight_has_no_forward_window(tiny_settings):
    tonight = TINY_END.fromordinal(TINY_END.toordinal() + 1)
    assert run_day(tiny_settings, tonight).success
    counts = _counts(tiny_settings.warehouse, tonight)
    assert counts["eval.forward_applications"] == 0 and counts["clean.applications"] > 0


def test_rewriting_the_future_leaves_the_partition_bit_identical(tmp_path, tiny_market):
    base = make_settings(tmp_path / "a", tiny_market)
    assert run_day(base, TINY_DAY).success
    raw = tmp_path / "b" / "raw"
    shutil.copytree(tiny_market, raw)
    touched = rewrite_future(raw, TINY_DAY)
    assert touched["applications"] > 100 and touched["jobseekers"] > 10
    other = make_settings(tmp_path / "b", raw)
    assert run_day(other, TINY_DAY).success
    assert _dump(other.warehouse, TINY_DAY) == _dump(base.warehouse, TINY_DAY)
    # the forward window, which reads the future by design, did change
    assert _dump(other.warehouse, TINY_DAY, FORWARD) != _dump(base.warehouse, TINY_DAY, FORWARD)
