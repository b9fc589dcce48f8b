-- Outcomes of recommendations the raw files say were sent before the run date, exact duplicates
-- removed. A send whose outcomes change later arrives as a new row (the clean view keeps the
-- latest one ingested).
SELECT DISTINCT
    jobseeker_id,
    ad_id,
    sent_at,
    responded,
    applied,
    positive_outcome,
    unsubscribed,
    negative_feedback
FROM raw_recommendation_feedback
WHERE sent_at < CAST($run_date AS TIMESTAMPTZ)
