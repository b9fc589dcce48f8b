"""Warehouse helpers: idempotent partition writes, retention, publishing, run accounting."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time

import duckdb
import pytest

from jobrec.data import warehouse
from jobrec.data.run_stats import StepTracker, descendant_pids

D1, D2, D3 = dt.date(2026, 3, 1), dt.date(2026, 3, 2), dt.date(2026, 3, 9)
SELECT = "SELECT CAST($run_date AS DATE) AS run_date, i AS x FROM range($n) t(i)"


def test_replace_partition_is_idempotent_and_leaves_other_partitions(tmp_path):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    with warehouse.transaction(con):
        assert warehouse.replace_partition(con, "s.t", D1, SELECT, {"run_date": D1, "n": 3}) == 3
        assert warehouse.replace_partition(con, "s.t", D2, SELECT, {"run_date": D2, "n": 2}) == 2
    for _ in range(2):  # re-running replaces, never duplicates
        with warehouse.transaction(con):
            warehouse.replace_partition(
                con, "s.t", D1, SELECT, {"run_date": D1, "n": 5}, order_by="x"
            )
    assert con.execute("SELECT run_date, count(*) FROM s.t GROUP BY 1 ORDER BY 1").fetchall() == [
        (D1, 5),
        (D2, 2),
    ]


def test_failed_write_rolls_back(tmp_path):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    with warehouse.transaction(con):
        warehouse.replace_partition(con, "t", D1, SELECT, {"run_date": D1, "n": 3})
    with pytest.raises(RuntimeError), warehouse.transaction(con):
        warehouse.replace_partition(con, "t", D1, SELECT, {"run_date": D1, "n": 7})
        raise RuntimeError("check failed")
    assert con.execute("SELECT count(*) FROM t").fetchall() == [(3,)]


def test_prune_keeps_recent_partitions_relative_to_the_written_day(tmp_path):
    con = duckdb.connect()
    for day in (D1, D2, D3):
        warehouse.replace_partition(con, "t", day, SELECT, {"run_date": day, "n": 1})
    assert warehouse.prune_partitions(con, "t", D3, keep_days=7) == 1  # D1 < D3 - 7 days
    assert (
        warehouse.prune_partitions(con, "t", D1, keep_days=7) == 0
    )  # an old day deletes nothing newer
    assert warehouse.prune_partitions(con, "t", D3, keep_days=0) == 0  # 0 keeps everything
    assert [r[0] for r in con.execute("SELECT run_date FROM t ORDER BY 1").fetchall()] == [D2, D3]


def test_publish_swaps_a_complete_copy(tmp_path):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    warehouse.replace_partition(con, "s.t", D1, SELECT, {"run_date": D1, "n": 4})
    target = tmp_path / "pub" / "copy.duckdb"
    assert warehouse.publish(con, target) == {"s.t": 4}
    reader = duckdb.connect(str(target), read_only=True)  # held open across the next publish
    warehouse.replace_partition(con, "s.t", D2, SELECT, {"run_date": D2, "n": 6})
    assert warehouse.publish(con, target) == {"s.t": 10}
    assert reader.execute("SELECT count(*) FROM s.t").fetchall() == [(4,)]
    reader.close()  # DuckDB shares one instance per file and process: close it to reopen anew
    with duckdb.connect(str(target), read_only=True) as fresh:
        assert fresh.execute("SELECT count(*) FROM s.t").fetchall() == [(10,)]
    assert sorted(p.name for p in target.parent.iterdir()) == ["copy.duckdb"]  # no leftovers


def test_record_run_appends_one_row_per_asset_partition_and_run(tmp_path):
    con = duckdb.connect()
    for run_id in ("r1", "r1", "r2"):
        warehouse.record_run(
            con,
            run_id=run_id,
            run_date=D1,
            asset="a",
            seconds=1.5,
            peak_rss_mb=10,
            rows=3,
            start_rss_mb=8,
        )
    assert con.execute("SELECT run_id, rows FROM metrics.runs ORDER BY 1").fetchall() == [
        ("r1", 3),
        ("r2", 3),
    ]


def test_step_tracker_sees_the_step_peak():
    with StepTracker() as tracker:
        block = bytearray(200 * 2**20)  # 200 MiB touched, then freed inside the step
        block[::4096] = b"x" * len(block[::4096])
        time.sleep(0.1)
        del block
    assert tracker.peak_rss_mb - tracker.start_rss_mb > 150
    assert tracker.seconds >= 0.1


def test_step_tracker_counts_child_processes():
    # a worker process holding 300 MiB for a second: its memory is the step's too
    worker = "import time; block = b'x' * (300 * 2**20); time.sleep(1.0)"
    with StepTracker() as tracker:
        subprocess.run([sys.executable, "-c", worker], check=True)
    assert tracker.peak_rss_mb - tracker.start_rss_mb > 250


def test_descendant_pids_finds_a_grandchild():
    # a child that starts a grandchild and prints its pid: both are found under this process
    code = (
        "import subprocess, sys, time; "
        "g = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(5)']); "
        "print(g.pid, flush=True); g.wait()"
    )
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        grandchild = int(child.stdout.readline())
        found = descendant_pids(os.getpid())
        assert child.pid in found and grandchild in found
        os.kill(grandchild, 9)
    finally:
        child.kill()
        child.wait()


def _hold_lock(path, seconds: float):
    """Another process that opens the warehouse for writing and keeps it for `seconds`."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, time; c = duckdb.connect({str(path)!r}); print('held', flush=True); "
            f"time.sleep({seconds}); c.close()",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "held"
    return holder


def test_connect_waits_for_the_write_lock(tmp_path):
    """A second writer process waits for the lock instead of failing."""
    path = tmp_path / "w.duckdb"
    holder = _hold_lock(path, 1.5)
    t0 = time.monotonic()
    con = warehouse.connect(path, wait_s=30)
    waited = time.monotonic() - t0
    con.close()
    holder.wait()
    assert waited > 0.5
    holder = _hold_lock(path, 3)
    try:
        with pytest.raises(duckdb.IOException):  # without waiting, the lock error surfaces
            warehouse.connect(path, wait_s=0)
    finally:
        holder.kill()


def test_a_step_that_cannot_get_the_lock_asks_to_be_retried(tmp_path):
    """Past its wait, a step's lock error becomes Dagster's RetryRequested (a transient fault:
    the write is idempotent); any other error of opening the warehouse stays an error."""
    from dagster import RetryRequested

    from assets.common import LOCK_RETRIES, warehouse_connection
    from assets.resources import Warehouse

    path = tmp_path / "w.duckdb"
    holder = _hold_lock(path, 10)
    try:
        busy = Warehouse(database=str(path), lock_wait_s=0)
        with pytest.raises(RetryRequested) as retry, warehouse_connection(busy):
            pass
        assert retry.value.max_retries == LOCK_RETRIES
    finally:
        holder.kill()
    (tmp_path / "dir.duckdb").mkdir()
    broken = Warehouse(database=str(tmp_path / "dir.duckdb"), lock_wait_s=0)
    with pytest.raises(duckdb.IOException), warehouse_connection(broken):  # not a lock: no retry
        pass
