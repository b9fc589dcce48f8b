"""The night starts when its files are there: a sensor observes the five raw inputs every few
minutes and starts partition D (today, UTC) once each has reached D − 1 within its cadence
(jobrec.data.arrival). The 02:00 schedule stays as the deadline: it starts the night if the
sensor has not, and that run's blocking `arrival` check then names the input that is missing or
stale. Either way there is one nightly run per day.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import duckdb
from dagster import (
    AssetObservation,
    DagsterInstance,
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
    sensor,
)

from assets.partitions import daily_partitions
from assets.raw import file_observation
from jobrec.data.arrival import arrivals, file_version
from jobrec.data.contract import RAW_FILES
from jobrec.data.settings import Settings
from orchestration.jobs import DEFAULT_AUTOMATION_STATUS, night_started, nightly_job


@dataclasses.dataclass
class Tick:
    run_request: RunRequest | None
    observations: list[AssetObservation]
    cursor: str
    reason: str


def arrival_tick(
    instance: DagsterInstance, settings: Settings, now: dt.datetime, cursor: str | None
) -> Tick:
    """One evaluation of the arrival sensor (pure but for reading the files and the runs).

    The cursor keeps each file's last observed version, and the versions last found not yet
    arrived for today, so that unchanged files are not read again."""
    state = json.loads(cursor) if cursor else {}
    seen: dict = state.get("versions", {})
    versions = {name: file_version(settings.raw_dir, name) for name in RAW_FILES}
    observations = [
        file_observation(settings.raw_dir, name)
        for name, version in versions.items()
        if seen.get(name, "") != version
    ]
    day = now.date()
    waiting = state.get("waiting", {})

    def tick(run_request, reason, waiting_now=None):
        new = {"versions": versions, "waiting": waiting_now or {}}
        return Tick(run_request, observations, json.dumps(new, sort_keys=True), reason)

    if day.isoformat() not in daily_partitions.get_partition_keys(current_time=now):
        return tick(None, f"{day} is not a partition (partitions start {daily_partitions.start})")
    if night_started(instance, day):
        return tick(None, f"the night of {day} has started")
    if waiting.get("day") == day.isoformat() and waiting.get("versions") == versions:
        return tick(None, waiting["reason"], waiting)  # no file changed since the last look
    with duckdb.connect() as con:
        found = arrivals(con, settings.raw_dir, day, settings.input_tolerances)
    late = [a for a in found.values() if not a.arrived]
    if late:
        reason = f"waiting for {day}: " + "; ".join(a.message() for a in late)
        return tick(None, reason, {"day": day.isoformat(), "versions": versions, "reason": reason})
    request = RunRequest(
        run_key=f"nightly-{day}",
        partition_key=day.isoformat(),
        tags={"jobrec/started_by": "raw_arrival_sensor"},
    )
    return tick(request, f"every input has arrived for {day}")


@sensor(
    job=nightly_job,
    minimum_interval_seconds=300,
    default_status=DEFAULT_AUTOMATION_STATUS,
    description=(
        "Starts today's night once the five raw inputs have reached yesterday (within each "
        "input's cadence); observes the input files' data versions."
    ),
)
def raw_arrival_sensor(context: SensorEvaluationContext):
    tick = arrival_tick(
        context.instance, Settings.from_env(), dt.datetime.now(dt.UTC), context.cursor
    )
    return SensorResult(
        run_requests=[tick.run_request] if tick.run_request else [],
        skip_reason=None if tick.run_request else tick.reason,
        cursor=tick.cursor,
        asset_events=tick.observations,
    )
