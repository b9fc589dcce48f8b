-- The ads of a partition, in a fixed order so that row numbers are stable indices.
SELECT * EXCLUDE (run_date)
FROM clean.job_ads
WHERE run_date = $run_date
ORDER BY ad_id
