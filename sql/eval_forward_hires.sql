-- Hires in [run_date, run_date + 7 days), for the forward evaluation of a backfilled day.
SELECT DISTINCT
    CAST($run_date AS DATE) AS run_date,
    jobseeker_id,
    ad_id,
    hired_at
FROM raw_hires
WHERE hired_at >= CAST($run_date AS TIMESTAMPTZ)
    AND hired_at < CAST($run_date AS TIMESTAMPTZ) + INTERVAL 7 DAY
