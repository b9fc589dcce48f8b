-- Muse.2's per-seeker recall on the forward window of partition $run_date (benchmarks): each
-- seeker with a Muse.2 list tonight and an application in [D, D + 7), the distinct ads applied
-- to, and how many of them the list ranks in its top 10 and top 100.
WITH listed AS (
    SELECT jobseeker_id, ad_id, "rank" FROM recs.reranked
    WHERE run_date = $run_date AND model = 'muse2'
),
relevant AS (
    SELECT DISTINCT jobseeker_id, ad_id FROM eval.forward_applications
    WHERE run_date = $run_date AND jobseeker_id IN (SELECT jobseeker_id FROM listed)
)
SELECT
    r.jobseeker_id,
    count(*) AS relevant,
    count(*) FILTER (WHERE l."rank" <= 10) AS hits_at_10,
    count(*) FILTER (WHERE l."rank" <= 100) AS hits_at_100
FROM relevant AS r LEFT JOIN listed AS l USING (jobseeker_id, ad_id)
GROUP BY ALL
ORDER BY r.jobseeker_id
