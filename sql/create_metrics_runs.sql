CREATE SCHEMA IF NOT EXISTS metrics;
CREATE TABLE IF NOT EXISTS metrics.runs (
    run_date DATE NOT NULL,
    asset VARCHAR NOT NULL,
    seconds DOUBLE NOT NULL,
    peak_rss_mb DOUBLE NOT NULL,  -- peak resident memory during the step, worker processes included
    "rows" BIGINT NOT NULL,
    run_id VARCHAR NOT NULL,
    start_rss_mb DOUBLE NOT NULL,  -- resident memory when the step began (own growth = peak - start)
    finished_at TIMESTAMP WITH TIME ZONE NOT NULL
);
