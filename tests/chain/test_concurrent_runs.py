"""Two runs (a nightly day and a backfill range) started at the same time on one warehouse both
succeed: the writer pool serialises their steps instead of failing on DuckDB's file lock."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb

from tests import minimarket


def test_overlapping_runs_share_the_warehouse(tmp_path):
    raw = minimarket.write(tmp_path / "raw")
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(Path(__file__).parents[2] / "orchestration" / "dagster.yaml", home)
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "JOBREC_RAW_DIR": str(raw),
        "JOBREC_WAREHOUSE": str(tmp_path / "wh" / "jobrec.duckdb"),
        "JOBREC_PUBLISHED": str(tmp_path / "pub" / "jobrec.duckdb"),
        "JOBREC_RETENTION_DAYS": "0",
    }
    # the instance's storage exists before the runs (as it does once `dagster dev` has run)
    subprocess.run(
        [sys.executable, "-m", "dagster", "instance", "migrate"],
        env=env,
        check=True,
        capture_output=True,
    )
    base = [
        sys.executable,
        "-m",
        "dagster",
        "asset",
        "materialize",
        "-m",
        "orchestration.definitions",
        "--select",
        "group:raw or group:clean or group:publish",
    ]  # the hand market is too small to train on
    runs = [
        subprocess.Popen(
            [*base, "--partition", "2026-03-10"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        ),
        subprocess.Popen(
            [*base, "--partition-range", "2026-03-06...2026-03-08"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        ),
    ]
    logs = [r.communicate(timeout=600)[0] for r in runs]
    for run, log in zip(runs, logs, strict=True):
        assert run.returncode == 0, log[-3000:]
        assert "RUN_SUCCESS" in log
    assert any("blocked by limit for pool jobrec_warehouse" in log for log in logs)
    with duckdb.connect(str(tmp_path / "wh" / "jobrec.duckdb"), read_only=True) as con:
        days = con.execute(
            "SELECT CAST(run_date AS VARCHAR), count(*) FROM clean.jobseekers GROUP BY 1 ORDER BY 1"
        ).fetchall()
    assert days == [("2026-03-06", 3), ("2026-03-07", 3), ("2026-03-08", 3), ("2026-03-10", 3)]
