"""Partition D sees nothing of day D or later; analysts read the published copy during runs."""

from __future__ import annotations

import ast
import datetime as dt
import subprocess
import sys
import textwrap

import pytest

from tests.chain.rewrite_future import rewrite_future
from tests.conftest import make_settings, partition_rows, run_foundation, table_rows
from tests.minimarket import RUN_DATE
from tests.minimarket import write as write_minimarket

PARTITIONED = [
    "clean.jobseekers",
    "clean.job_ads",
    "clean.applications",
    "clean.hires",
    "clean.recommendation_feedback",
]


def _snapshot(db, day):
    return partition_rows(db, day, PARTITIONED)


@pytest.mark.parametrize("day", [RUN_DATE, RUN_DATE - dt.timedelta(days=20)])
def test_future_rows_do_not_change_the_partition(tmp_path, day):
    base = make_settings(tmp_path / "a", write_minimarket(tmp_path / "a" / "raw"))
    assert run_foundation(base, day).success
    before = _snapshot(base.warehouse, day)

    raw = write_minimarket(tmp_path / "b" / "raw")
    touched = rewrite_future(raw, day)
    assert sum(touched.values()) > 0  # the test really changed something
    other = make_settings(tmp_path / "b", raw)
    assert run_foundation(other, day).success
    assert _snapshot(other.warehouse, day) == before


def test_past_rows_do_change_the_partition(tmp_path):
    """The comparison above can fail: a change before D shows up in partition D."""
    base = make_settings(tmp_path / "a", write_minimarket(tmp_path / "a" / "raw"))
    assert run_foundation(base, RUN_DATE).success
    raw = write_minimarket(tmp_path / "b" / "raw")
    rewrite_future(raw, RUN_DATE - dt.timedelta(days=30))
    other = make_settings(tmp_path / "b", raw)
    assert run_foundation(other, RUN_DATE).success
    assert _snapshot(other.warehouse, RUN_DATE) != _snapshot(base.warehouse, RUN_DATE)


ANALYST = textwrap.dedent(
    """
    import sys, time, duckdb
    path, stop, out = sys.argv[1:]
    # one analyst keeps a connection open through the whole run
    held = duckdb.connect(path, read_only=True)
    held_rows = held.execute("SELECT count(*) FROM clean.jobseekers").fetchall()[0][0]
    reads, errors, seen = 0, [], set()
    open(out + ".ready", "w").close()
    while True:
        try:
            with duckdb.connect(path, read_only=True) as con:
                days = con.execute(
                    "SELECT run_date, count(*) FROM clean.jobseekers GROUP BY 1 ORDER BY 1"
                ).fetchall()
                seen.add(tuple((str(d), n) for d, n in days))
            reads += 1
        except Exception as exc:
            errors.append(repr(exc))
        import os
        if os.path.exists(stop):
            break
        time.sleep(0.01)
    again = held.execute("SELECT count(*) FROM clean.jobseekers").fetchall()[0][0]
    with open(out, "w") as f:
        f.write(repr(dict(reads=reads, errors=errors, seen=sorted(seen), held=(held_rows, again))))
    """
)


def test_analysts_read_the_published_copy_while_a_run_writes(tmp_path):
    settings = make_settings(tmp_path, write_minimarket(tmp_path / "raw"))
    first, second = RUN_DATE - dt.timedelta(days=1), RUN_DATE
    assert run_foundation(settings, first).success
    stop, out = tmp_path / "stop", tmp_path / "analyst.txt"
    script = tmp_path / "analyst.py"
    script.write_text(ANALYST)
    analyst = subprocess.Popen(
        [sys.executable, str(script), str(settings.published), str(stop), str(out)]
    )
    try:
        for _ in range(600):
            if (tmp_path / "analyst.txt.ready").exists():
                break
            analyst.wait(timeout=0.05) if analyst.poll() is not None else None
            import time

            time.sleep(0.05)
        assert run_foundation(settings, second).success  # the run is never blocked by the reader
    finally:
        stop.touch()
        analyst.wait(timeout=60)
    report = ast.literal_eval(out.read_text())
    assert report["errors"] == [] and report["reads"] > 10
    # every read saw a whole published state: the first night alone, or both nights
    f, s = str(first), str(second)
    assert set(report["seen"]) <= {((f, 3),), ((f, 3), (s, 3))}
    assert report["held"] == (3, 3)  # an open connection keeps its consistent old copy
    assert [r[0] for r in table_rows(settings.published, "clean.jobseekers")] == [first] * 3 + [
        second
    ] * 3
