-- Past sends of partition $run_date in [$start, $end) (UTC days), with their funnel outcomes.
SELECT jobseeker_id, ad_id, CAST(timezone('UTC', sent_at) AS DATE) AS day,
    responded, applied, positive_outcome, unsubscribed, negative_feedback
FROM clean.recommendation_feedback
WHERE run_date = $run_date
  AND sent_at >= CAST($start AS DATE) AND sent_at < CAST($end AS DATE)
ORDER BY sent_at, jobseeker_id, ad_id
