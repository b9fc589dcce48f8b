"""Dagster definitions: every asset of the chain, its checks, resources, job and schedule."""

from __future__ import annotations

from dagster import Definitions, in_process_executor

from assets.audit import AUDIT_ASSETS
from assets.clean import CLEAN_ASSETS
from assets.publish import build_publish_asset
from assets.raw import raw_inputs
from assets.redistribution import REDISTRIBUTION_ASSETS
from assets.report import REPORT_ASSETS
from assets.rerank import RERANK_ASSETS
from assets.resources import build_resources
from assets.retrieval import RETRIEVAL_ASSETS
from assets.send import SEND_ASSETS
from orchestration.alerts import late_send_list_alert, run_failure_alert
from orchestration.jobs import nightly_job, nightly_schedule
from orchestration.recovery import dead_run_sensor

CHAIN = [
    raw_inputs,
    *CLEAN_ASSETS,
    *RETRIEVAL_ASSETS,
    *RERANK_ASSETS,
    *REDISTRIBUTION_ASSETS,
    *SEND_ASSETS,
    *AUDIT_ASSETS,
    *REPORT_ASSETS,
]
publish_warehouse = build_publish_asset(
    [key for a in CHAIN for key in a.keys]  # after everything else
)
ALL_ASSETS = [*CHAIN, publish_warehouse]
# The inputs, clean tables and publishing without any model (tests of the data layer).
FOUNDATION_ASSETS = [raw_inputs, *CLEAN_ASSETS, publish_warehouse]

defs = Definitions(
    assets=ALL_ASSETS,
    jobs=[nightly_job],
    schedules=[nightly_schedule],
    sensors=[dead_run_sensor, run_failure_alert, late_send_list_alert],
    resources=build_resources(),
    # One process per run: steps share the warehouse file one after the other, no per-step
    # process start (torch and GX imports), and a run never contends with itself for the lock.
    executor=in_process_executor,
)
