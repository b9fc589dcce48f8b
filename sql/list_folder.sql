-- The Parquet files of one folder of lists, with their night (the folder name) and path.
SELECT run_date, {columns}, filename
FROM read_parquet(
    {pattern}, hive_partitioning = true, hive_types = {{'run_date': 'DATE'}}, filename = true
)
