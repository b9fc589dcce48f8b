"""The one daily partitioning of the whole chain.

Partition D is the world as known at the start of day D; the 02:00 run on day D materialises
partition D, so the partition of the current day must exist (end_offset=1).
"""

from dagster import DailyPartitionsDefinition

from jobrec.data.settings import Settings

daily_partitions = DailyPartitionsDefinition(
    start_date=Settings.from_env().start_date.isoformat(),
    end_offset=1,
    timezone="UTC",
)
