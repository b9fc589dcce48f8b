"""Two runs at once on one warehouse (a nightly day and a backfill range) both succeed: the
writer pool serialises their steps instead of failing on DuckDB's file lock. Meanwhile an
analyst reading the published copy in a loop never gets an error and only ever sees whole
nights."""

from __future__ import annotations

import threading
import time

import duckdb
import pytest

from tests import minimarket
from tests.faults.cli import instance_env, start_run

pytestmark = pytest.mark.slow

TABLES = minimarket.DATA_LAYER_TABLES


class AnalystReader(threading.Thread):
    """Opens the published copy read-only every 50 ms, as an analyst's notebook would, and
    records what each read saw: the nights of every table and the nights said complete."""

    def __init__(self, path):
        super().__init__(daemon=True)
        self.path, self.stop, self.errors, self.reads = path, threading.Event(), [], []

    def run(self):
        while not self.stop.is_set():
            if self.path.exists():
                try:
                    with duckdb.connect(str(self.path), read_only=True) as con:
                        days = {
                            t: {
                                d
                                for (d,) in con.execute(
                                    f"SELECT DISTINCT run_date FROM {t}"
                                ).fetchall()
                            }
                            for t in TABLES
                        }
                        complete = {
                            d
                            for (d,) in con.execute(
                                "SELECT run_date FROM metrics.nights WHERE status = 'complete'"
                            ).fetchall()
                        }
                    self.reads.append((days, complete))
                except Exception as exc:  # any error an analyst would see
                    self.errors.append(repr(exc))
            time.sleep(0.05)


def test_overlapping_runs_and_an_analyst_reading_throughout(tmp_path):
    raw = minimarket.write(tmp_path / "raw")
    env = instance_env(tmp_path, raw)
    reader = AnalystReader(tmp_path / "pub" / "jobrec.duckdb")
    reader.start()
    runs = [start_run(env, "2026-03-10"), start_run(env, "2026-03-06...2026-03-08")]
    logs = [r.communicate(timeout=600)[0] for r in runs]
    reader.stop.set()
    reader.join(timeout=30)
    for run, log in zip(runs, logs, strict=True):
        assert run.returncode == 0, log[-3000:]
        assert "RUN_SUCCESS" in log
    assert any("blocked by limit for pool jobrec_warehouse" in log for log in logs)
    with duckdb.connect(env["JOBREC_WAREHOUSE"], read_only=True) as con:
        days = con.execute(
            "SELECT CAST(run_date AS VARCHAR), count(*) FROM clean.jobseekers GROUP BY 1 ORDER BY 1"
        ).fetchall()
    assert days == [("2026-03-06", 3), ("2026-03-07", 3), ("2026-03-08", 3), ("2026-03-10", 3)]
    assert reader.errors == []
    assert len(reader.reads) > 10
    # every read saw whole nights only: the seekers of exactly the complete nights, and no
    # table with a night that is not complete
    for tables, complete in reader.reads:
        assert tables["clean.jobseekers"] == complete, (tables, complete)
        assert all(days <= complete for days in tables.values()), (tables, complete)
