-- Past sends of partition $run_date in [$start, $end) (UTC days), with their funnel outcomes and
-- their pair features when a night up to $run_date computed them (NULL otherwise).
WITH computed AS (
    SELECT jobseeker_id, ad_id, sent_at, features FROM store.send_features
    WHERE computed_on <= $run_date
    QUALIFY row_number() OVER (
        PARTITION BY jobseeker_id, ad_id, sent_at ORDER BY computed_on DESC
    ) = 1
)
SELECT f.jobseeker_id, f.ad_id, f.sent_at, CAST(timezone('UTC', f.sent_at) AS DATE) AS day,
    f.responded, f.applied, f.positive_outcome, f.unsubscribed, f.negative_feedback, c.features,
    coalesce(len(c.features), 0) AS n_features
FROM clean.recommendation_feedback AS f
LEFT JOIN computed AS c USING (jobseeker_id, ad_id, sent_at)
WHERE f.run_date = $run_date
  AND f.sent_at >= CAST($start AS DATE) AND f.sent_at < CAST($end AS DATE)
ORDER BY f.sent_at, f.jobseeker_id, f.ad_id
