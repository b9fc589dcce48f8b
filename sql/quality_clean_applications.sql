-- One partition of clean.applications as the GX suite reads it, with the event's distance to the run date.
SELECT
    *,
    epoch(CAST(run_date AS TIMESTAMPTZ)) - epoch(applied_at) AS seconds_before_run
FROM clean.applications
WHERE run_date = $run_date
