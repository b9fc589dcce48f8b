-- A table of ranked lists as the Parquet files registered for it (jobrec.data.lists), named one
-- by one: a file a failed or re-run step left in a night's folder is never opened, and a filter
-- on run_date (the folder's name) opens that night's file only.
CREATE OR REPLACE VIEW {table} AS
SELECT run_date, {columns}
FROM read_parquet({files}, hive_partitioning = true, hive_types = {{'run_date': 'DATE'}})
