-- The Parquet files that hold the nights' big ranked lists (jobrec.data.lists): one a table and
-- night; a file is read only once its row here commits.
CREATE SCHEMA IF NOT EXISTS store;
CREATE TABLE IF NOT EXISTS store.list_files (
    table_name VARCHAR NOT NULL,
    run_date DATE NOT NULL,
    path VARCHAR NOT NULL,
    "rows" BIGINT NOT NULL,
    bytes BIGINT NOT NULL,
    written_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (table_name, run_date)
);
