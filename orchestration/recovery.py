"""Runs whose worker died (SIGKILL, out of memory, a reboot) are failed and their pool slots freed.

A killed run stays STARTED in the instance and keeps its `jobrec_warehouse` slot, so every later
run would wait for it forever. Dagster's run monitoring (dagster.yaml) covers runs that its
daemon launched; runs started from the command line (`scripts/nightly`, `dagster asset
materialize`) have no launcher to ask, so this module finds them by the process that started
them: the run's RUN_START event records the worker's pid. The warehouse is a local DuckDB file,
so every run that writes it runs on this machine and its pid can be checked here.

Called by `scripts/nightly` before each night (`python -m orchestration.recovery`) and by the
`dead_run_sensor` every minute while the daemon runs.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from dagster import (
    DagsterEventType,
    DagsterInstance,
    DagsterRunStatus,
    DefaultSensorStatus,
    RunsFilter,
    SensorEvaluationContext,
    SkipReason,
    sensor,
)

# Runs in these states claim to be in progress; each is checked for a living worker.
IN_PROGRESS = [DagsterRunStatus.STARTED, DagsterRunStatus.CANCELING]


def fail_dead_runs(instance: DagsterInstance) -> list[str]:
    """Mark every in-progress run whose worker process is gone as failed and free the pool
    slots it holds. Returns the ids of the runs it failed."""
    failed = []
    for record in instance.get_run_records(RunsFilter(statuses=IN_PROGRESS)):
        run = record.dagster_run
        pid = _worker_pid(instance, run.run_id)
        if pid is None or _alive(pid, started_at=record.start_time):
            continue
        instance.report_run_failed(
            run,
            message=(
                f"the run's worker (pid {pid}) is gone (killed or crashed); marked failed and "
                "its warehouse pool slot freed so that later runs can start. Its partition "
                "writes were transactions: re-run the partition."
            ),
        )
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        failed.append(run.run_id)
    return failed


def _worker_pid(instance: DagsterInstance, run_id: str) -> int | None:
    records = instance.get_records_for_run(
        run_id, of_type=DagsterEventType.RUN_START, limit=1
    ).records
    if not records or records[0].event_log_entry.dagster_event is None:
        return None  # not started executing yet: run monitoring's start timeout covers it
    return records[0].event_log_entry.dagster_event.pid


def _alive(pid: int, started_at: float | None) -> bool:
    """The process exists and is not a later process that reused the pid."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    started = _process_start(pid)
    # a process that began after the run started is another process with the same pid
    return started is None or started_at is None or started <= started_at + 1.0


def _process_start(pid: int) -> float | None:
    """The process's start as a Unix time, from /proc (None where /proc is not available)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        uptime = float(Path("/proc/uptime").read_text().split()[0])
    except (OSError, IndexError, ValueError):
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    started_after_boot = int(fields[19]) / ticks  # field 22 of stat; [0] here is field 3
    return time.time() - uptime + started_after_boot


@sensor(
    minimum_interval_seconds=60,
    default_status=DefaultSensorStatus.RUNNING,
    description=(
        "Every minute: runs whose worker died (killed, out of memory) are marked failed and "
        "their warehouse pool slot freed, so that the next run does not wait for them."
    ),
)
def dead_run_sensor(context: SensorEvaluationContext) -> SkipReason:
    failed = fail_dead_runs(context.instance)
    for run_id in failed:
        context.log.warning(f"run {run_id}: worker gone; marked failed, pool slot freed")
    return SkipReason(f"{len(failed)} dead run(s) failed" if failed else "no dead run")


def main() -> None:
    with DagsterInstance.get() as instance:
        for run_id in fail_dead_runs(instance):
            print(f"run {run_id}: its worker is gone; marked failed and its pool slot freed")


if __name__ == "__main__":
    main()
