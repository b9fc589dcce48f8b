"""Runs killed with SIGKILL (an out-of-memory kill, a reboot): the next run is not blocked, a
re-run writes exactly the tables of a clean run, and the analysts' copy is the previous one
whole, without temporaries left behind."""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from dagster import DagsterInstance, DagsterRunStatus
from dagster._core.instance.ref import InstanceRef

from tests import minimarket
from tests.conftest import make_settings, partition_rows, run_foundation
from tests.faults.cli import POOL, instance_env, kill, start_run, wait_for

pytestmark = pytest.mark.slow

DAY = minimarket.RUN_DATE
PREVIOUS = DAY - dt.timedelta(days=1)
TABLES = minimarket.DATA_LAYER_TABLES


@pytest.fixture(scope="module")
def nights(tmp_path_factory):
    """The previous night done (warehouse and published copy), and what a clean run of DAY
    writes on top of it: the reference every recovered run must reproduce."""
    root = tmp_path_factory.mktemp("reference")
    settings = make_settings(root, minimarket.write(root / "raw"))
    assert run_foundation(settings, PREVIOUS).success
    previous = root / "previous"
    previous.mkdir()
    shutil.copy(settings.warehouse, previous / "warehouse.duckdb")
    shutil.copy(settings.published, previous / "published.duckdb")
    assert run_foundation(settings, DAY).success
    reference = {day: partition_rows(settings.warehouse, day, TABLES) for day in (PREVIOUS, DAY)}
    return dataclasses.make_dataclass("Nights", ["raw", "previous", "reference"])(
        settings.raw_dir, previous, reference
    )


def _setup(tmp_path, nights):
    env = instance_env(tmp_path, nights.raw)
    for name, key in (("warehouse", "JOBREC_WAREHOUSE"), ("published", "JOBREC_PUBLISHED")):
        target = tmp_path / ("wh" if name == "warehouse" else "pub") / "jobrec.duckdb"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(nights.previous / f"{name}.duckdb", target)
        assert env[key] == str(target)
    instance = DagsterInstance.from_ref(InstanceRef.from_dir(env["DAGSTER_HOME"]))
    return env, instance


def _recover(env) -> str:
    return subprocess.run(
        [sys.executable, "-m", "orchestration.recovery"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def _rerun_and_compare(env, nights):
    rerun = start_run(env, DAY.isoformat())
    log = rerun.communicate(timeout=600)[0]
    assert rerun.returncode == 0, log[-3000:]
    warehouse = env["JOBREC_WAREHOUSE"]
    for day in (PREVIOUS, DAY):
        assert partition_rows(warehouse, day, TABLES) == nights.reference[day]
        assert partition_rows(env["JOBREC_PUBLISHED"], day, TABLES) == nights.reference[day]
    pub_dir = Path(env["JOBREC_PUBLISHED"]).parent
    assert sorted(p.name for p in pub_dir.iterdir()) == ["jobrec.duckdb"]  # no temporary left


def test_a_killed_run_does_not_block_the_next(tmp_path, nights):
    env, instance = _setup(tmp_path, nights)
    # Holding the warehouse's write lock makes the run's first write wait inside its pool slot:
    # the kill lands on a run that holds the slot, deterministically.
    holder = duckdb.connect(env["JOBREC_WAREHOUSE"])
    run = start_run(env, DAY.isoformat())
    try:
        info = wait_for(
            lambda: instance.event_log_storage.get_concurrency_info(POOL).claimed_slots,
            120,
            "the run to claim the warehouse pool slot",
        )
    finally:
        kill(run)
        holder.close()
    (slot,) = info
    killed = instance.get_run_by_id(slot.run_id)
    # the fault: the dead run still claims to run and holds the only slot
    assert killed.status == DagsterRunStatus.STARTED
    assert instance.event_log_storage.get_concurrency_info(POOL).claimed_slots

    out = _recover(env)  # what scripts/nightly does before every night

    assert slot.run_id in out
    assert instance.get_run_by_id(slot.run_id).status == DagsterRunStatus.FAILURE
    assert not instance.event_log_storage.get_concurrency_info(POOL).claimed_slots
    assert _recover(env) == ""  # nothing more to recover; a live run is never touched
    _rerun_and_compare(env, nights)


@pytest.mark.parametrize("step", ["clean__job_ads", "clean__applications", "publish__warehouse"])
def test_kill_at_a_step_then_rerun_writes_the_clean_runs_tables(tmp_path, nights, step):
    env, _ = _setup(tmp_path, nights)
    published = partition_rows(env["JOBREC_PUBLISHED"], PREVIOUS, TABLES)
    run = start_run(env, DAY.isoformat())
    marker = f'STEP_START - Started execution of step "{step}"'
    try:
        for line in run.stdout:
            if marker in line:
                break
        else:
            pytest.fail(f"the run ended before step {step}")
    finally:
        kill(run)
    # a publish killed while copying leaves its temporary behind: simulate the worst case
    pub = Path(env["JOBREC_PUBLISHED"])
    (pub.parent / f".{pub.name}.0123abcd.tmp").write_bytes(b"half a copy")
    # analysts still have the previous copy, whole
    assert partition_rows(env["JOBREC_PUBLISHED"], PREVIOUS, TABLES) == published
    with duckdb.connect(str(pub), read_only=True) as con:
        assert not con.execute(
            "SELECT count(*) FROM clean.jobseekers WHERE run_date = ?", [DAY]
        ).fetchone()[0]
    assert _recover(env).count("marked failed") == 1
    _rerun_and_compare(env, nights)
