-- The seekers whose version night $run_date started (new or changed; the others were validated
-- when their version was ingested), as clean.jobseekers shows them that day and as the GX suite
-- reads them (no free text, derived day gaps).
SELECT
    v.* EXCLUDE (skills, profile_text),
    date_diff('day', v.registered_on, v.run_date) AS days_before_run,
    date_diff('day', v.exited_on, v.run_date) AS days_since_exit
FROM clean.jobseekers AS v
SEMI JOIN store.jobseekers AS s ON s.jobseeker_id = v.jobseeker_id AND s.valid_from = $run_date
WHERE v.run_date = $run_date
