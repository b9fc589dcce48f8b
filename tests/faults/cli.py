"""Runs of the chain as an operator starts them (`dagster asset materialize` in its own process,
on a Dagster instance with the project's dagster.yaml), for tests that kill or race them."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from tests.conftest import SPARSE_MARKET_TOLERANCES

# the data layer only (the hand market trains no model); the raw files are observed, not run
FOUNDATION = (
    "key:raw/validated_inputs or group:step02_clean or group:step03_eval or group:step10_publish"
)
POOL = "jobrec_warehouse"


def instance_env(root: Path, raw: Path) -> dict[str, str]:
    """The environment of runs on a fresh instance and warehouse under `root`."""
    home = root / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    shutil.copy(Path(__file__).parents[2] / "orchestration" / "dagster.yaml", home)
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "JOBREC_RAW_DIR": str(raw),
        "JOBREC_WAREHOUSE": str(root / "wh" / "jobrec.duckdb"),
        "JOBREC_PUBLISHED": str(root / "pub" / "jobrec.duckdb"),
        "JOBREC_MODELS_DIR": str(root / "models"),
        "JOBREC_REPORTS_DIR": str(root / "reports"),
        "JOBREC_OUTBOX_DIR": str(root / "outbox"),
        "JOBREC_RETENTION_DAYS": "0",
        "JOBREC_INPUT_TOLERANCE_DAYS": ",".join(
            f"{n}={d}" for n, d in SPARSE_MARKET_TOLERANCES.items()
        ),
    }
    # the instance's storage exists before any run (as it does once scripts/setup.sh has run)
    dagster(env, "instance", "migrate")
    return env


def dagster(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "dagster", *args],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )


def start_run(env: dict[str, str], partition: str, select: str = FOUNDATION) -> subprocess.Popen:
    """A run of one partition, or of a range `first...last` (a backfill as a single run), in its
    own process group (so that a kill takes all of it), stdout captured."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dagster",
            "asset",
            "materialize",
            "-m",
            "orchestration.definitions",
            "--select",
            select,
            "--partition-range" if "..." in partition else "--partition",
            partition,
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def kill(run: subprocess.Popen) -> None:
    os.killpg(run.pid, signal.SIGKILL)
    run.wait(timeout=30)


def wait_for(condition: Callable[[], object], timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")
