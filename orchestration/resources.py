"""Resources: the DuckDB warehouse and the project's paths and settings."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import duckdb
from dagster import ConfigurableResource
from dagster_duckdb import DuckDBResource
from pydantic import Field

from jobrec import warehouse as wh
from jobrec.config import Settings


class Warehouse(DuckDBResource):
    """The working DuckDB warehouse.

    Waits for the file lock instead of failing (DuckDB allows one writing process per file; the
    Dagster pool serialises writers, this covers any other writer), always closes its connection,
    and works in UTC.
    """

    lock_wait_s: float = Field(default=1800.0, description="How long to wait for the write lock.")

    @contextmanager
    def get_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        con = wh.connect(self.database, wait_s=self.lock_wait_s)
        try:
            con.execute("SET TimeZone = 'UTC'")
            yield con
        finally:
            con.close()


class JobrecConfig(ConfigurableResource):
    """Paths and knobs (defaults from the JOBREC_* environment variables)."""

    raw_dir: str
    models_dir: str
    published: str
    reports_dir: str
    retention_days: int
    ot_cost: str = Field(default="neglogp", description="OT edge cost: neglogp, linear or rank.")

    @classmethod
    def from_settings(cls, settings: Settings) -> JobrecConfig:
        return cls(
            raw_dir=str(settings.raw_dir),
            models_dir=str(settings.models_dir),
            published=str(settings.published),
            reports_dir=str(settings.reports_dir),
            retention_days=settings.retention_days,
            ot_cost=settings.ot_cost,
        )


def build_resources(settings: Settings | None = None) -> dict[str, object]:
    settings = settings or Settings.from_env()
    return {
        "warehouse": Warehouse(database=str(settings.warehouse)),
        "jobrec": JobrecConfig.from_settings(settings),
    }
