-- One partition of eval.forward_hires as the GX suite reads it, with the event's distance to the run date.
SELECT
    *,
    epoch(CAST(run_date AS TIMESTAMPTZ)) - epoch(hired_at) AS seconds_before_run
FROM eval.forward_hires
WHERE run_date = $run_date
