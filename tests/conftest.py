from __future__ import annotations

import dataclasses
import datetime as dt
import os
from pathlib import Path

import duckdb
import pytest

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
# test partitions are days of hand-written and generated markets, whatever data/raw holds
os.environ.setdefault("JOBREC_START_DATE", "2025-01-01")
# Two xdist workers share the cores: OpenMP threads (torch, scikit-learn, numba) that spin while
# they wait starve the other worker. Passive waiting ran the tiny-chain tests 2.4x faster with
# -n 2 on 2 cores (298 s against 713 s). Set before any OpenMP runtime loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from jobrec.data.contract import RAW_FILES  # noqa: E402
from jobrec.data.settings import Settings  # noqa: E402

SPARSE_MARKET_TOLERANCES = {name: 400 for name in RAW_FILES}


def make_settings(root: Path, raw_dir: Path, **overrides) -> Settings:
    settings = Settings(
        raw_dir=raw_dir,
        warehouse=root / "warehouse" / "jobrec.duckdb",
        models_dir=root / "models",
        published=root / "published" / "jobrec.duckdb",
        reports_dir=root / "reports",
        outbox_dir=root / "outbox",
        alerts_dir=root / "alerts",
        start_date=None,
        retention_days=0,
        intermediate_nights=0,
        # the hand-written markets are a few sparse rows: arrival is tested on its own
        input_tolerances=SPARSE_MARKET_TOLERANCES,
    )
    return dataclasses.replace(settings, **overrides)


def run_day(settings: Settings, day: dt.date, assets=None, raise_on_error: bool = True):
    """Materialise `assets` (default: the whole chain) for one partition, in process."""
    from dagster import materialize

    from assets.resources import build_resources
    from orchestration.definitions import ALL_ASSETS

    return materialize(
        assets or ALL_ASSETS,
        partition_key=day.isoformat(),
        resources=build_resources(settings),
        raise_on_error=raise_on_error,
    )


def run_foundation(settings: Settings, day: dt.date, raise_on_error: bool = True):
    """Materialise the data layer only (raw checks, clean tables, publish): the hand-written
    market is far too small to train a model on."""
    from orchestration.definitions import FOUNDATION_ASSETS

    return run_day(settings, day, FOUNDATION_ASSETS, raise_on_error)


def table_rows(db: Path, table: str, day: dt.date | None = None) -> list[tuple]:
    """All rows of a table (one partition when `day` is given), in storage order."""
    with duckdb.connect(str(db), read_only=True) as con:
        where = f" WHERE run_date = DATE '{day}'" if day else ""
        return con.execute(f"SELECT * FROM {table}{where}").fetchall()


def partition_rows(db: Path, day: dt.date, tables: list[str]) -> dict:
    """Column types and rows of one partition of each table (for bit-identity comparisons): in
    storage order, or sorted for a view (clean.* over the store, the Parquet lists), whose
    order of rows is the query plan's."""
    with duckdb.connect(str(db), read_only=True) as con:
        views = {
            f"{s}.{v}"
            for s, v in con.execute("SELECT schema_name, view_name FROM duckdb_views()").fetchall()
        }
        return {
            t: (
                con.execute(f"DESCRIBE {t}").fetchall(),
                con.execute(
                    f"SELECT * FROM {t} WHERE run_date = ?"
                    + (" ORDER BY ALL" if t in views else ""),
                    [day],
                ).fetchall(),
            )
            for t in tables
        }


@pytest.fixture
def mini_settings(tmp_path):
    from tests import minimarket

    raw = minimarket.write(tmp_path / "raw")
    return make_settings(tmp_path, raw)


@pytest.fixture(scope="module")
def mini_frames():
    """The hand-written market's seekers and ads as data frames."""
    import pandas as pd

    from tests import minimarket

    t = minimarket.tables()
    return pd.DataFrame(t["jobseekers"]), pd.DataFrame(t["job_ads"])


@pytest.fixture(scope="module")
def mini_space(mini_frames):
    """A feature space fitted on the hand-written market."""
    from jobrec.features import FeatureSpace

    return FeatureSpace(seed=0).fit(*mini_frames)


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny models run faster on one thread, and immune to other processes on the machine."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# The tiny synthetic market, generated once per test session: its timeline ends on TINY_END, so
# TINY_DAY (mid-timeline) has a full forward window and TINY_END + 1 is "tonight".
TINY_END = dt.date(2026, 3, 31)
TINY_DAY = dt.date(2026, 3, 20)


@pytest.fixture(scope="session")
def tiny_market(tmp_path_factory) -> Path:
    from jobrec.synth import generate

    out = tmp_path_factory.mktemp("tiny") / "raw"
    tonight = TINY_END + dt.timedelta(days=1)
    generate(
        "tiny", out, seed=0, end_date=TINY_END, progress=False, oracle_days=[TINY_DAY, tonight]
    )
    return out


@pytest.fixture
def tiny_settings(tmp_path, tiny_market) -> Settings:
    return make_settings(tmp_path, tiny_market)
