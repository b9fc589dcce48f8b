-- One row per partition: whether its night is whole. A step that commits a partition marks the
-- night 'running'; a failed blocking check or a refused input marks it 'failed'; publishing marks
-- it 'complete' (every blocking check of the night passed). Only complete nights are published.
CREATE SCHEMA IF NOT EXISTS metrics;
CREATE TABLE IF NOT EXISTS metrics.nights (
    run_date DATE NOT NULL,
    status VARCHAR NOT NULL,  -- running | failed | complete
    run_id VARCHAR NOT NULL,  -- the Dagster run that last changed it
    detail VARCHAR,  -- the asset and check that failed, or the step that last wrote
    updated_at TIMESTAMP WITH TIME ZONE NOT NULL
);
