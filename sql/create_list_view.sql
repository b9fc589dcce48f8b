-- A table of ranked lists as the registered Parquet files of its nights (jobrec.data.lists): the
-- folders that hold them (sql/list_folder.sql), the registered files only; a filter on run_date
-- reads that night's folder only.
CREATE OR REPLACE VIEW {table} AS
SELECT f.run_date, {columns}
FROM ({sources}) AS f
SEMI JOIN store.list_files AS r ON r.table_name = {table_literal} AND r.path = f.filename
