"""The one daily partitioning of the whole chain.

Partition D is the world as known at the start of day D; the 02:00 run on day D materialises
partition D, so the partition of the current day must exist (end_offset=1). The partitions
start on JOBREC_START_DATE, else on the raw files' first day (the first application), so that
the UI's partition bar covers the data rather than years of empty days.
"""

import datetime as dt

import duckdb
from dagster import DailyPartitionsDefinition

from jobrec.data.arrival import first_day
from jobrec.data.settings import Settings

# Before any raw file exists (a fresh clone): a start early enough for any generated timeline.
FALLBACK_START = dt.date(2025, 1, 1)


def partition_start(settings: Settings) -> dt.date:
    if settings.start_date is not None:
        return settings.start_date
    with duckdb.connect() as con:
        return first_day(con, settings.raw_dir, "applications") or FALLBACK_START


daily_partitions = DailyPartitionsDefinition(
    start_date=partition_start(Settings.from_env()).isoformat(),
    end_offset=1,
    timezone="UTC",
)
