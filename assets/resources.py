"""Resources: the DuckDB warehouse and the project's settings."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import duckdb
from dagster_duckdb import DuckDBResource
from pydantic import Field

from jobrec.data import warehouse
from jobrec.data.settings import Settings


class Warehouse(DuckDBResource):
    """The working DuckDB warehouse.

    Waits for the file lock instead of failing (DuckDB allows one writing process per file; the
    Dagster pool serialises writers, this covers any other writer), always closes its connection,
    and works in UTC.
    """

    lock_wait_s: float = Field(default=1800.0, description="How long to wait for the write lock.")

    @contextmanager
    def get_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        con = warehouse.connect(self.database, wait_s=self.lock_wait_s)
        try:
            con.execute("SET TimeZone = 'UTC'")
            yield con
        finally:
            con.close()


def build_resources(settings: Settings | None = None) -> dict[str, object]:
    """The warehouse, and the project's Settings as they are (a plain-object resource: assets
    take it as `settings: ResourceParam[Settings]`; nothing is copied field by field)."""
    settings = settings or Settings.from_env()
    return {"warehouse": Warehouse(database=str(settings.warehouse)), "settings": settings}
