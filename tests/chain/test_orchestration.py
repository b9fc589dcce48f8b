"""Definitions load and validate; one daily partitioning; the schedule targets the right day."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys

from dagster import AssetKey, DagsterInstance, DefaultScheduleStatus, RunRequest

from assets.partitions import daily_partitions
from orchestration.definitions import ALL_ASSETS, defs
from orchestration.jobs import deadline_request, nightly_schedule


def test_dagster_definitions_validate():
    env = {**os.environ, "DAGSTER_HOME": ""}
    env.pop("DAGSTER_HOME")
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "dagster",
            "definitions",
            "validate",
            "-m",
            "orchestration.definitions",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert "Validation successful" in out.stderr + out.stdout


def test_every_asset_is_daily_partitioned_with_a_blocking_check():
    graph = defs.resolve_asset_graph()
    for key in graph.materializable_asset_keys:  # the raw files are observed sources
        node = graph.get(key)
        assert node.partitions_def == daily_partitions, key
        checks = [graph.get(c) for c in node.check_keys]
        assert any(c.blocking for c in checks), key
    assert len(ALL_ASSETS) >= 9


def test_todays_partition_exists():
    today = dt.datetime.now(dt.UTC).date().isoformat()
    assert daily_partitions.get_last_partition_key() == today


def test_assets_say_who_owns_them_what_they_are_and_read_in_order():
    graph = defs.resolve_asset_graph()
    names = set()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assert node.owners == ["team:jobrec"], key
        assert node.kinds, key
        if node.is_materializable:
            assert node.code_version, key
        names.add(key.path[-1])
    # the graph shows the last part of a key: no two nodes look alike
    assert len(names) == len(graph.get_all_asset_keys())
    groups = sorted({graph.get(k).group_name for k in graph.get_all_asset_keys()})
    assert groups[0] == "step01_raw" and groups[-1] == "step10_publish" and len(groups) == 10
    to_send = graph.get(AssetKey(["recs", "to_send"]))
    assert to_send.metadata["dagster/table_name"] == "recs.to_send"
    publish = graph.get(AssetKey(["publish", "warehouse"]))
    assert len(publish.parent_keys) < 10  # not every asset of the chain


def test_schedule_runs_partition_d_at_two_on_day_d():
    request = deadline_request(DagsterInstance.ephemeral(), dt.date(2026, 11, 22))
    assert isinstance(request, RunRequest)
    assert request.partition_key == "2026-11-22"
    assert nightly_schedule.cron_schedule == "0 2 * * *"
    assert nightly_schedule.execution_timezone == "UTC"
    assert nightly_schedule.default_status == DefaultScheduleStatus.STOPPED


def test_model_stages_run_after_the_forward_window_tables():
    """Every model stage loads the market, forward window (eval.*) included: a selection such as
    `*models/muse2` must materialise eval.forward_* first (it failed when they were missing)."""
    from dagster import AssetKey, AssetSelection

    graph = defs.resolve_asset_graph()
    for model in ("features", "muse0", "muse2", "xgboost", "ot_policy"):
        upstream = AssetSelection.assets(AssetKey(["models", model])).upstream().resolve(graph)
        assert AssetKey(["eval", "forward_applications"]) in upstream, model
        assert AssetKey(["eval", "forward_hires"]) in upstream, model
