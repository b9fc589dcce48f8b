-- Hires the raw files date before the run date, exact duplicates removed.
SELECT DISTINCT
    jobseeker_id,
    ad_id,
    hired_at
FROM raw_hires
WHERE hired_at < CAST($run_date AS TIMESTAMPTZ)
