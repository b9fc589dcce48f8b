-- Applications in [run_date, run_date + 7 days): the forward evaluation window of a backfilled
-- day. Read only by evaluation assets, never by training. The contract validates rows before
-- run_date only, so rows of the window that refer to unknown seekers or ads are left out here.
SELECT DISTINCT
    CAST($run_date AS DATE) AS run_date,
    a.jobseeker_id,
    a.ad_id,
    a.applied_at,
    coalesce(a.channel, 'organic') AS channel
FROM raw_applications AS a
SEMI JOIN raw_jobseekers AS s ON s.jobseeker_id = a.jobseeker_id
SEMI JOIN raw_job_ads AS j ON j.ad_id = a.ad_id
WHERE a.applied_at >= CAST($run_date AS TIMESTAMPTZ)
    AND a.applied_at < CAST($run_date AS TIMESTAMPTZ) + INTERVAL 7 DAY
    AND a.jobseeker_id IS NOT NULL AND a.ad_id IS NOT NULL
