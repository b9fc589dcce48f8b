-- Hires in [run_date, run_date + 7 days), for the forward evaluation of a backfilled day (rows
-- that refer to unknown seekers or ads are left out: see eval_forward_applications.sql).
SELECT DISTINCT
    CAST($run_date AS DATE) AS run_date,
    h.jobseeker_id,
    h.ad_id,
    h.hired_at
FROM raw_hires AS h
SEMI JOIN raw_jobseekers AS s ON s.jobseeker_id = h.jobseeker_id
SEMI JOIN raw_job_ads AS j ON j.ad_id = h.ad_id
WHERE h.hired_at >= CAST($run_date AS TIMESTAMPTZ)
    AND h.hired_at < CAST($run_date AS TIMESTAMPTZ) + INTERVAL 7 DAY
