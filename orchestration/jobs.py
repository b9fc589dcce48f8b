"""The nightly job over the whole chain and its 02:00 deadline schedule (the arrival sensor,
orchestration.arrival, usually starts the night earlier)."""

from __future__ import annotations

import datetime as dt
import os

from dagster import (
    AssetSelection,
    DagsterInstance,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    RunRequest,
    RunsFilter,
    ScheduleEvaluationContext,
    SkipReason,
    define_asset_job,
    schedule,
)

NIGHTLY_JOB = "nightly"
nightly_job = define_asset_job(
    NIGHTLY_JOB,
    selection=AssetSelection.all(),  # the raw files are observed, not part of the run
    description="The whole chain for one day: raw files to the published warehouse.",
    tags={"jobrec/warehouse": "writer"},
)

# Off by default, so that a clone or a test never starts runs on its own; turn them on in the
# UI (Automation tab) or start `dagster dev` with JOBREC_SCHEDULE_RUNNING=1.
_RUNNING = os.environ.get("JOBREC_SCHEDULE_RUNNING") == "1"
DEFAULT_AUTOMATION_STATUS = DefaultSensorStatus.RUNNING if _RUNNING else DefaultSensorStatus.STOPPED


@schedule(
    job=nightly_job,
    cron_schedule="0 2 * * *",
    execution_timezone="UTC",
    default_status=DefaultScheduleStatus.RUNNING if _RUNNING else DefaultScheduleStatus.STOPPED,
    description=(
        "The deadline, 02:00 UTC on day D: starts partition D unless the arrival sensor has; "
        "a missing or stale input then fails the run's arrival check, naming it."
    ),
)
def nightly_schedule(context: ScheduleEvaluationContext) -> RunRequest | SkipReason:
    return deadline_request(context.instance, context.scheduled_execution_time.date())


def deadline_request(instance: DagsterInstance, day: dt.date) -> RunRequest | SkipReason:
    """The night of `day` at its deadline: started, unless it has been."""
    started = night_started(instance, day)
    if started:
        return SkipReason(f"the night of {day} has started (run {started})")
    return RunRequest(
        run_key=f"nightly-{day}",
        partition_key=day.isoformat(),
        tags={"jobrec/started_by": "deadline"},
    )


def night_started(instance: DagsterInstance, day: dt.date) -> str | None:
    """The id of a nightly run of partition `day`, if there is one (whatever its outcome: a
    failed night is re-run by an operator, never again by the automation)."""
    records = instance.get_run_records(
        RunsFilter(job_name=NIGHTLY_JOB, tags={"dagster/partition": day.isoformat()}), limit=1
    )
    return records[0].dagster_run.run_id if records else None
