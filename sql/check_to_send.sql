-- recs.to_send of one partition: every row passes its segment's (greedy) thresholds, no seeker
-- gets more than $per_seeker ads, ranks are 1..n, and no row breaks an exclusion (unsubscribed
-- seeker, ad applied to, hired on or sent since $recent, ad with every position filled), every
-- ad is one of the seeker's recommendations. One row per problem with a few samples.
WITH s AS (
    SELECT * FROM recs.to_send WHERE run_date = $run_date
),
problems AS (
    SELECT 'below its segment''s thresholds' AS problem, s.jobseeker_id || ' ' || s.ad_id AS sample
    FROM s JOIN recs.segment_thresholds AS t
        ON t.run_date = $run_date AND t.method = 'greedy' AND t.segment = s.segment
    WHERE s.p_response < t.theta_response OR s.p_apply < t.theta_apply
        OR s.p_positive < t.theta_positive
    UNION ALL
    SELECT 'more than the nightly cap or ranks not 1..n', jobseeker_id
    FROM s GROUP BY jobseeker_id
    HAVING count(*) > $per_seeker OR min("rank") <> 1 OR max("rank") <> count(*)
        OR count(DISTINCT "rank") <> count(*) OR count(DISTINCT ad_id) <> count(*)
    UNION ALL
    SELECT 'unsubscribed seeker', s.jobseeker_id FROM s
    WHERE s.jobseeker_id IN (SELECT jobseeker_id FROM clean.recommendation_feedback
                             WHERE run_date = $run_date AND unsubscribed)
    UNION ALL
    SELECT 'sent recently, applied to or hired on', s.jobseeker_id || ' ' || s.ad_id FROM s
    WHERE EXISTS (SELECT 1 FROM clean.recommendation_feedback AS f WHERE f.run_date = $run_date
                  AND f.sent_at >= CAST($recent AS DATE) AND f.jobseeker_id = s.jobseeker_id
                  AND f.ad_id = s.ad_id)
       OR EXISTS (SELECT 1 FROM clean.applications AS a WHERE a.run_date = $run_date
                  AND a.jobseeker_id = s.jobseeker_id AND a.ad_id = s.ad_id)
       OR EXISTS (SELECT 1 FROM clean.hires AS h WHERE h.run_date = $run_date
                  AND h.jobseeker_id = s.jobseeker_id AND h.ad_id = s.ad_id)
    UNION ALL
    SELECT 'positions all filled', s.ad_id FROM s
    JOIN clean.job_ads AS a ON a.run_date = $run_date AND a.ad_id = s.ad_id
    WHERE a.positions <= (SELECT count(*) FROM clean.hires AS h
                          WHERE h.run_date = $run_date AND h.ad_id = s.ad_id)
    UNION ALL
    SELECT 'not among the recommendations', s.jobseeker_id || ' ' || s.ad_id
    FROM s ANTI JOIN recs.recommendations AS r
        ON r.run_date = $run_date AND r.jobseeker_id = s.jobseeker_id AND r.ad_id = s.ad_id
)
SELECT problem, count(*) AS n, list(sample ORDER BY sample)[1:3] AS samples
FROM problems GROUP BY ALL ORDER BY ALL
