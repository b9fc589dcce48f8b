"""Alerts: a failed run writes one line to the alerts log and calls the webhook once; a send
list not handed over by 06:00 UTC alerts, one that is does not."""

from __future__ import annotations

import datetime as dt
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pyarrow as pa
import pytest
from dagster import AssetMaterialization, DagsterInstance, build_run_status_sensor_context

from jobrec.alerts import Alert, first_lines, send_alert
from jobrec.data.contract import RAW_SCHEMAS
from orchestration.alerts import REPORT, SEND_LIST, late_send_list, run_failure_alert
from tests import minimarket
from tests.conftest import make_settings


@pytest.fixture
def webhook():
    """A local HTTP server on 127.0.0.1 that keeps every JSON body POSTed to it."""
    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/alerts", received
    server.shutdown()


def test_first_lines_and_an_unreachable_webhook_still_logs(tmp_path):
    assert first_lines("a\n\n  \nb\nc", lines=2) == "a\nb"
    alert = Alert(kind="late", summary="x", at="2026-03-10T06:00:00+00:00")
    problem = send_alert(alert, tmp_path, "http://127.0.0.1:9/nothing-listens-here")
    assert problem and "failed" in problem
    (line,) = (tmp_path / "alerts-2026-03-10.jsonl").read_text().splitlines()
    assert json.loads(line)["summary"] == "x"


def test_a_failed_run_writes_one_alert_line_and_one_webhook_call(tmp_path, webhook, monkeypatch):
    from dagster import materialize

    from assets.resources import build_resources
    from orchestration.definitions import FOUNDATION_ASSETS

    url, received = webhook
    settings = make_settings(tmp_path, tmp_path / "raw")
    broken = minimarket.tables()["job_ads"]
    broken[0]["wage"] = float("nan")
    minimarket.write(
        settings.raw_dir,
        overrides={"job_ads": pa.Table.from_pylist(broken, schema=RAW_SCHEMAS["job_ads"])},
    )
    instance = DagsterInstance.ephemeral()
    result = materialize(
        FOUNDATION_ASSETS,
        partition_key=minimarket.RUN_DATE.isoformat(),
        resources=build_resources(settings),
        instance=instance,
        raise_on_error=False,
    )
    assert not result.success
    context = build_run_status_sensor_context(
        sensor_name="run_failure_alert",
        dagster_event=result.get_run_failure_event(),
        dagster_instance=instance,
        dagster_run=result.dagster_run,
    ).for_run_failure()
    monkeypatch.setenv("JOBREC_ALERTS_DIR", str(settings.alerts_dir))
    monkeypatch.setenv("JOBREC_ALERT_WEBHOOK", url)

    run_failure_alert(context)

    (log,) = settings.alerts_dir.glob("alerts-*.jsonl")
    (line,) = log.read_text().splitlines()
    alert = json.loads(line)
    assert alert["kind"] == "run_failure" and alert["run_id"] == result.run_id
    assert alert["partition"] == "2026-03-10" and alert["steps"] == ["raw__validated_inputs"]
    assert "job_ads.parquet" in alert["error"] and "wage" in alert["error"]
    assert received == [alert]  # one webhook call, the same alert


def test_a_late_send_list_alerts_and_one_handed_over_does_not():
    instance = DagsterInstance.ephemeral()
    day = dt.date(2026, 3, 10)
    early = dt.datetime(2026, 3, 10, 5, 59, tzinfo=dt.UTC)
    late = dt.datetime(2026, 3, 10, 6, 1, tzinfo=dt.UTC)
    assert late_send_list(instance, day, early) is None  # not yet due
    alert = late_send_list(instance, day, late)
    assert alert is not None and alert.kind == "late" and alert.partition == "2026-03-10"
    assert "outbox/send_list_files and reports/nightly" in alert.summary
    instance.report_runless_asset_event(AssetMaterialization(SEND_LIST, partition="2026-03-10"))
    alert = late_send_list(instance, day, late)  # the report is still missing
    assert alert.summary.startswith("reports/nightly of 2026-03-10 not written at 06:01")
    instance.report_runless_asset_event(AssetMaterialization(REPORT, partition="2026-03-10"))
    assert late_send_list(instance, day, late) is None
    assert late_send_list(instance, day + dt.timedelta(days=1), late + dt.timedelta(days=1))
