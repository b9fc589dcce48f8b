-- recs.recommendations of one partition: every seeker with Muse.2 edges gets min($k, edges)
-- distinct ads with ranks 1..n, each among its Muse.2 reranked ads, finite non-negative plan
-- mass and a ranking key non-increasing by rank. One row per problem with a few sample seekers.
WITH r AS (
    SELECT * FROM recs.recommendations WHERE run_date = $run_date
),
edges AS (
    SELECT jobseeker_id, count(*) AS n FROM recs.reranked
    WHERE run_date = $run_date AND model = 'muse2' GROUP BY ALL
),
got AS (
    SELECT jobseeker_id, count(*) AS n, count(DISTINCT ad_id) AS n_ads,
        min("rank") AS min_rank, max("rank") AS max_rank
    FROM r GROUP BY ALL
),
problems AS (
    SELECT 'wrong list length' AS problem, e.jobseeker_id,
        format('expected {}, got {}', least($k, e.n), coalesce(g.n, 0)) AS detail
    FROM edges AS e LEFT JOIN got AS g USING (jobseeker_id)
    WHERE coalesce(g.n, 0) <> least($k, e.n)
    UNION ALL
    SELECT 'duplicate ads or ranks not 1..n', jobseeker_id,
        format('{} rows, {} ads, ranks {}..{}', n, n_ads, min_rank, max_rank)
    FROM got WHERE n_ads <> n OR min_rank <> 1 OR max_rank <> n
    UNION ALL
    SELECT 'plan mass NaN, infinite or negative', jobseeker_id, format('rank {}', "rank")
    FROM r WHERE NOT isfinite(plan_mass) OR plan_mass < 0
    UNION ALL
    -- a rank given twice shows as equal neighbours in rank order; with n rows, min 1 and max n,
    -- none twice means exactly 1..n
    SELECT CASE WHEN "rank" = previous_rank THEN 'duplicate ads or ranks not 1..n'
        ELSE 'score not finite or increasing with rank' END, jobseeker_id, format('rank {}', "rank")
    FROM (SELECT jobseeker_id, "rank", score,
                 lag(score) OVER w AS previous, lag("rank") OVER w AS previous_rank
          FROM r WINDOW w AS (PARTITION BY jobseeker_id ORDER BY "rank"))
    WHERE "rank" = previous_rank OR score > previous OR NOT isfinite(score)
    UNION ALL
    SELECT 'ad not among the Muse.2 reranked ads', r.jobseeker_id, r.ad_id
    FROM r ANTI JOIN recs.reranked AS m
        ON m.run_date = $run_date AND m.model = 'muse2' AND m.jobseeker_id = r.jobseeker_id
        AND m.ad_id = r.ad_id
)
SELECT problem, count(*) AS n, list(jobseeker_id || ' ' || detail ORDER BY jobseeker_id)[1:3] AS sample
FROM problems
GROUP BY ALL
ORDER BY ALL
