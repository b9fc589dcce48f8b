-- One partition of clean.jobseekers as the GX suite reads it (no free text, derived day gaps).
SELECT
    * EXCLUDE (skills, profile_text),
    date_diff('day', registered_on, run_date) AS days_before_run,
    date_diff('day', exited_on, run_date) AS days_since_exit
FROM clean.jobseekers
WHERE run_date = $run_date
