-- The partition registry of the clean views: which days `clean.<table>` answers for (the
-- retained partitions), and what each day's ingest added to the store.
CREATE SCHEMA IF NOT EXISTS store;
CREATE SCHEMA IF NOT EXISTS clean;
CREATE TABLE IF NOT EXISTS store.partitions (
    table_name VARCHAR NOT NULL,
    run_date DATE NOT NULL,
    ingested_rows BIGINT NOT NULL,
    ingested_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (table_name, run_date)
);
