-- One partition of clean.job_ads as the GX suite reads it (no free text, derived day gaps).
SELECT
    * EXCLUDE (skills, title, description),
    date_diff('day', posted_on, run_date) AS days_before_run,
    date_diff('day', closed_on, run_date) AS days_since_close
FROM clean.job_ads
WHERE run_date = $run_date
