"""Alerts while the daemon runs: a failed run, and a night whose send list or report is late.

Both write one line to the alerts log (JOBREC_ALERTS_DIR, `alerts-<day>.jsonl`) and POST it to
JOBREC_ALERT_WEBHOOK when set (jobrec.alerts). Neither opens the warehouse.
"""

from __future__ import annotations

import datetime as dt

from dagster import (
    AssetKey,
    AssetRecordsFilter,
    DagsterEventType,
    DefaultSensorStatus,
    RunFailureSensorContext,
    SensorEvaluationContext,
    SkipReason,
    run_failure_sensor,
    sensor,
)

from jobrec.alerts import Alert, first_lines, send_alert
from jobrec.data.settings import Settings

# the send list and the report of day D are due by 06:00 UTC on D (the mailing system sends in
# the morning); the assets' freshness policies (assets.common.DUE_BY_0600) show the same in the UI
SEND_LIST_DEADLINE = dt.time(6, 0)
SEND_LIST = AssetKey(["outbox", "send_list_files"])
REPORT = AssetKey(["reports", "nightly"])
DUE_BY_DEADLINE = (SEND_LIST, REPORT)


def failure_alert(context: RunFailureSensorContext) -> Alert:
    """The failed run's id, partition, failed steps and the first lines of their errors."""
    run = context.dagster_run
    steps = context.get_step_failure_events()
    errors = [
        e.step_failure_data.error.message
        for e in steps
        if e.step_failure_data is not None and e.step_failure_data.error is not None
    ]
    # a blocking check's failure says only its name: its description says what failed
    checks = context.instance.get_records_for_run(
        run.run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION
    ).records
    for record in checks:
        evaluation = record.event_log_entry.dagster_event.event_specific_data
        if not evaluation.passed and evaluation.severity.value == "ERROR":
            what = f"{evaluation.asset_key.to_user_string()} {evaluation.check_name}"
            errors.append(f"{what}: {first_lines(evaluation.description, lines=3)}")
    step_keys = tuple(e.step_key for e in steps if e.step_key)
    partition = run.tags.get("dagster/partition")
    where = f"partition {partition}" if partition else "no partition"
    return Alert(
        kind="run_failure",
        summary=f"run {run.run_id[:8]} failed ({where}): {', '.join(step_keys) or 'the run'}",
        run_id=run.run_id,
        partition=partition,
        steps=step_keys,
        error=first_lines("\n".join(errors) or context.failure_event.message),
    )


@run_failure_sensor(
    default_status=DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    description="Every failed run: one line in the alerts log, and the webhook when set.",
)
def run_failure_alert(context: RunFailureSensorContext) -> None:
    settings = Settings.from_env()
    problem = send_alert(failure_alert(context), settings.alerts_dir, settings.alert_webhook)
    if problem:
        context.log.warning(problem)


def late_send_list(instance, day: dt.date, now: dt.datetime) -> Alert | None:
    """An alert when the send list (or the report) of `day` is not there by the deadline, else
    None."""
    if now < dt.datetime.combine(day, SEND_LIST_DEADLINE, tzinfo=dt.UTC):
        return None
    missing = [
        key.to_user_string()
        for key in DUE_BY_DEADLINE
        if not instance.fetch_materializations(
            AssetRecordsFilter(asset_key=key, asset_partitions=[day.isoformat()]), limit=1
        ).records
    ]
    if not missing:
        return None
    return Alert(
        kind="late",
        summary=(
            f"{' and '.join(missing)} of {day} not written at {now:%H:%M} UTC "
            f"(due {SEND_LIST_DEADLINE:%H:%M})"
        ),
        partition=day.isoformat(),
    )


@sensor(
    minimum_interval_seconds=300,
    default_status=DefaultSensorStatus.RUNNING,
    description=(
        "After 06:00 UTC: alerts once a day when that day's send list (outbox) or report is "
        "not written."
    ),
)
def late_send_list_alert(context: SensorEvaluationContext) -> SkipReason:
    now = dt.datetime.now(dt.UTC)
    day = now.date()
    if context.cursor == day.isoformat():
        return SkipReason(f"{day}: already alerted")
    alert = late_send_list(context.instance, day, now)
    if alert is None:
        return SkipReason(f"{day}: send list on time or not yet due")
    settings = Settings.from_env()
    problem = send_alert(alert, settings.alerts_dir, settings.alert_webhook)
    context.update_cursor(day.isoformat())  # one alert a day
    return SkipReason(alert.summary + (f"; {problem}" if problem else ""))
