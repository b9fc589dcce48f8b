-- Applications the raw files date before the run date, typed, exact duplicates removed (the
-- ingest keeps those not stored yet, on seekers and ads known at the run date).
SELECT DISTINCT
    jobseeker_id,
    ad_id,
    applied_at,
    coalesce(channel, 'organic') AS channel
FROM raw_applications
WHERE applied_at < CAST($run_date AS TIMESTAMPTZ)
