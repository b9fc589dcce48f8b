-- Outcomes of recommendations sent strictly before the run date, on known seekers and ads.
SELECT DISTINCT
    CAST($run_date AS DATE) AS run_date,
    f.jobseeker_id,
    f.ad_id,
    f.sent_at,
    f.responded,
    f.applied,
    f.positive_outcome,
    f.unsubscribed,
    f.negative_feedback
FROM raw_recommendation_feedback AS f
SEMI JOIN clean.jobseekers AS s
    ON s.jobseeker_id = f.jobseeker_id AND s.run_date = $run_date
SEMI JOIN clean.job_ads AS j
    ON j.ad_id = f.ad_id AND j.run_date = $run_date
WHERE f.sent_at < CAST($run_date AS TIMESTAMPTZ)
