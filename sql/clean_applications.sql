-- Applications strictly before the run date, exact duplicates removed, by seekers and on ads
-- known in this partition (an event cannot refer to an entity the partition does not know).
SELECT DISTINCT
    CAST($run_date AS DATE) AS run_date,
    a.jobseeker_id,
    a.ad_id,
    a.applied_at,
    coalesce(a.channel, 'organic') AS channel
FROM raw_applications AS a
SEMI JOIN clean.jobseekers AS s
    ON s.jobseeker_id = a.jobseeker_id AND s.run_date = $run_date
SEMI JOIN clean.job_ads AS j
    ON j.ad_id = a.ad_id AND j.run_date = $run_date
WHERE a.applied_at < CAST($run_date AS TIMESTAMPTZ)
