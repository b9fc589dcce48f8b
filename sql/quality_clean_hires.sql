-- The rows night $run_date added to store.hires (not the whole history: that was validated
-- when it was ingested), as the GX suite reads them, with the event's distance to the run date.
SELECT
    CAST($run_date AS DATE) AS run_date,
    * EXCLUDE (ingested_on),
    epoch(CAST($run_date AS TIMESTAMPTZ)) - epoch(hired_at) AS seconds_before_run
FROM store.hires
WHERE ingested_on = $run_date
