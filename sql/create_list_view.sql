-- A table of ranked lists as the registered Parquet files of its nights (jobrec.data.lists): a
-- filter on run_date reads that night's folder only.
CREATE OR REPLACE VIEW {table} AS
SELECT f.run_date, {columns}
FROM read_parquet(
    {pattern}, hive_partitioning = true, hive_types = {{'run_date': 'DATE'}}, filename = true
) AS f
SEMI JOIN store.list_files AS r ON r.table_name = {table_literal} AND r.path = f.filename
