"""The nightly job over the whole chain and its 02:00 schedule."""

from __future__ import annotations

import os

from dagster import (
    AssetSelection,
    DefaultScheduleStatus,
    RunRequest,
    ScheduleEvaluationContext,
    define_asset_job,
    schedule,
)

nightly_job = define_asset_job(
    "nightly",
    selection=AssetSelection.all(),
    description="The whole chain for one day: raw files to the published warehouse.",
    tags={"jobrec/warehouse": "writer"},
)

# Off by default, so that a clone or a test never starts runs on its own; turn it on in the UI
# (Automation tab) or start `dagster dev` with JOBREC_SCHEDULE_RUNNING=1.
_DEFAULT_STATUS = (
    DefaultScheduleStatus.RUNNING
    if os.environ.get("JOBREC_SCHEDULE_RUNNING") == "1"
    else DefaultScheduleStatus.STOPPED
)


@schedule(
    job=nightly_job,
    cron_schedule="0 2 * * *",
    execution_timezone="UTC",
    default_status=_DEFAULT_STATUS,
    description="02:00 UTC on day D: materialise partition D (world as known at D)",
)
def nightly_schedule(context: ScheduleEvaluationContext) -> RunRequest:
    day = context.scheduled_execution_time.date().isoformat()
    return RunRequest(run_key=f"nightly-{day}", partition_key=day)
