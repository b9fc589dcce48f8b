"""Dagster definitions: every asset of the chain, its checks, resources, job and schedule."""

from __future__ import annotations

from dagster import Definitions, in_process_executor

from assets.audit import AUDIT_ASSETS
from assets.clean import CLEAN_ASSETS
from assets.publish import build_publish_asset
from assets.raw import RAW_ASSETS
from assets.redistribution import REDISTRIBUTION_ASSETS
from assets.report import REPORT_ASSETS
from assets.rerank import RERANK_ASSETS
from assets.resources import build_resources
from assets.retrieval import RETRIEVAL_ASSETS
from assets.send import SEND_ASSETS
from orchestration.alerts import late_send_list_alert, run_failure_alert
from orchestration.arrival import raw_arrival_sensor
from orchestration.jobs import nightly_job, nightly_schedule
from orchestration.recovery import dead_run_sensor

CHAIN = [
    *RAW_ASSETS,
    *CLEAN_ASSETS,
    *RETRIEVAL_ASSETS,
    *RERANK_ASSETS,
    *REDISTRIBUTION_ASSETS,
    *SEND_ASSETS,
    *AUDIT_ASSETS,
    *REPORT_ASSETS,
]


def last_assets(assets) -> list:
    """The leaves of `assets`: the keys nothing else in it depends on. Publishing after them runs
    after everything (each other asset is upstream of a leaf), and the graph stays readable."""
    keys = {key for a in assets for key in a.keys}
    upstream = {dep for a in assets for deps in a.asset_deps.values() for dep in deps}
    return sorted(keys - upstream, key=lambda k: k.to_user_string())


# after the chain's last assets, and the data layer's (so that a run of the data layer alone,
# raw to clean to publish, is ordered too); any other selection is guarded in the asset
publish_warehouse = build_publish_asset(
    sorted(
        set(last_assets(CHAIN)) | set(last_assets([*RAW_ASSETS, *CLEAN_ASSETS])),
        key=lambda k: k.to_user_string(),
    )
)
ALL_ASSETS = [*CHAIN, publish_warehouse]
# The inputs, clean tables and publishing without any model (tests of the data layer).
FOUNDATION_ASSETS = [*RAW_ASSETS, *CLEAN_ASSETS, publish_warehouse]

defs = Definitions(
    assets=ALL_ASSETS,
    jobs=[nightly_job],
    schedules=[nightly_schedule],
    sensors=[raw_arrival_sensor, dead_run_sensor, run_failure_alert, late_send_list_alert],
    resources=build_resources(),
    # One process per run: steps share the warehouse file one after the other, no per-step
    # process start (torch and GX imports), and a run never contends with itself for the lock.
    executor=in_process_executor,
)
