-- Hires strictly before the run date, on known seekers and ads, exact duplicates removed.
SELECT DISTINCT
    CAST($run_date AS DATE) AS run_date,
    h.jobseeker_id,
    h.ad_id,
    h.hired_at
FROM raw_hires AS h
SEMI JOIN clean.jobseekers AS s
    ON s.jobseeker_id = h.jobseeker_id AND s.run_date = $run_date
SEMI JOIN clean.job_ads AS j
    ON j.ad_id = h.ad_id AND j.run_date = $run_date
WHERE h.hired_at < CAST($run_date AS TIMESTAMPTZ)
