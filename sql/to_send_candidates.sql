-- Tonight's recommendations that may be sent: never to a seeker who unsubscribed, never an ad
-- the seeker applied to, was hired on or was sent since $recent, never an ad whose positions are
-- all filled.
WITH unsubscribed AS (
    SELECT DISTINCT jobseeker_id FROM clean.recommendation_feedback
    WHERE run_date = $run_date AND unsubscribed
),
recently_sent AS (
    SELECT DISTINCT jobseeker_id, ad_id FROM clean.recommendation_feedback
    WHERE run_date = $run_date AND sent_at >= CAST($recent AS DATE)
),
filled AS (
    SELECT h.ad_id FROM clean.hires AS h
    JOIN clean.job_ads AS a ON a.run_date = h.run_date AND a.ad_id = h.ad_id
    WHERE h.run_date = $run_date
    GROUP BY h.ad_id, a.positions HAVING count(*) >= a.positions
)
SELECT r.jobseeker_id, r.ad_id, r."rank" AS recommendation_rank
FROM recs.recommendations AS r
WHERE r.run_date = $run_date
  AND r.jobseeker_id NOT IN (SELECT jobseeker_id FROM unsubscribed)
  AND r.ad_id NOT IN (SELECT ad_id FROM filled)
  AND NOT EXISTS (SELECT 1 FROM clean.applications AS x WHERE x.run_date = $run_date
                  AND x.jobseeker_id = r.jobseeker_id AND x.ad_id = r.ad_id)
  AND NOT EXISTS (SELECT 1 FROM clean.hires AS x WHERE x.run_date = $run_date
                  AND x.jobseeker_id = r.jobseeker_id AND x.ad_id = r.ad_id)
  AND NOT EXISTS (SELECT 1 FROM recently_sent AS x
                  WHERE x.jobseeker_id = r.jobseeker_id AND x.ad_id = r.ad_id)
ORDER BY r.jobseeker_id, r."rank"
