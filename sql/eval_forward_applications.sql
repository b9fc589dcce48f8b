-- Applications in [run_date, run_date + 7 days): the forward evaluation window of a backfilled
-- day. Read only by evaluation assets, never by training.
SELECT DISTINCT
    CAST($run_date AS DATE) AS run_date,
    jobseeker_id,
    ad_id,
    applied_at,
    coalesce(channel, 'organic') AS channel
FROM raw_applications
WHERE applied_at >= CAST($run_date AS TIMESTAMPTZ)
    AND applied_at < CAST($run_date AS TIMESTAMPTZ) + INTERVAL 7 DAY
