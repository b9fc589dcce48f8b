-- One partition of clean.recommendation_feedback as the GX suite reads it, with the event's distance to the run date.
SELECT
    *,
    epoch(CAST(run_date AS TIMESTAMPTZ)) - epoch(sent_at) AS seconds_before_run
FROM clean.recommendation_feedback
WHERE run_date = $run_date
