-- recs.candidates of one partition against what each active seeker should get: min(k, active
-- ads not yet applied to) distinct ads, ranks 1..n, scores non-increasing by rank, only active
-- ads, no ad the seeker applied to before. One row per problem kind with a few sample seekers.
-- the lists are re-read by each problem rather than materialised (several GB at scale); their
-- per-seeker counts (`got`, a row a seeker) are computed once for the three problems that read them
WITH c AS NOT MATERIALIZED (
    SELECT * FROM recs.candidates WHERE run_date = $run_date
),
active_ads AS (
    SELECT ad_id FROM clean.job_ads WHERE run_date = $run_date AND active
),
seen_active AS (
    SELECT a.jobseeker_id, count(DISTINCT a.ad_id) AS n
    FROM clean.applications AS a SEMI JOIN active_ads USING (ad_id)
    WHERE a.run_date = $run_date
    GROUP BY ALL
),
expected AS (
    SELECT
        s.jobseeker_id,
        least($k, (SELECT count(*) FROM active_ads) - coalesce(x.n, 0)) AS n
    FROM clean.jobseekers AS s LEFT JOIN seen_active AS x USING (jobseeker_id)
    WHERE s.run_date = $run_date AND s.active
),
got AS MATERIALIZED (
    SELECT
        jobseeker_id,
        count(*) AS n,
        count(DISTINCT ad_id) AS n_ads,
        min("rank") AS min_rank,
        max("rank") AS max_rank
    FROM c GROUP BY ALL
),
problems AS (
    SELECT * FROM (
        SELECT 'wrong number of candidates' AS problem, e.jobseeker_id,
            format('expected {}, got {}', e.n, coalesce(g.n, 0)) AS detail
        FROM expected AS e LEFT JOIN got AS g USING (jobseeker_id)
        WHERE coalesce(g.n, 0) <> e.n
        UNION ALL
        SELECT 'not an active seeker', jobseeker_id, '' FROM got ANTI JOIN expected USING (jobseeker_id)
        UNION ALL
        SELECT 'duplicate ads or ranks not 1..n', jobseeker_id,
            format('{} rows, {} ads, ranks {}..{}', n, n_ads, min_rank, max_rank)
        FROM got WHERE n_ads <> n OR min_rank <> 1 OR max_rank <> n
    )
    UNION ALL
    -- a rank given twice shows as equal neighbours in rank order; with n rows, min 1 and max n,
    -- none twice means exactly 1..n
    SELECT CASE WHEN "rank" = previous_rank THEN 'duplicate ads or ranks not 1..n'
        ELSE 'score increases with rank' END, jobseeker_id, format('rank {}', "rank")
    FROM (SELECT jobseeker_id, "rank", score,
                 lag(score) OVER w AS previous, lag("rank") OVER w AS previous_rank
          FROM c WINDOW w AS (PARTITION BY jobseeker_id ORDER BY "rank"))
    WHERE "rank" = previous_rank OR score > previous OR NOT isfinite(score)
    UNION ALL
    SELECT 'inactive ad', jobseeker_id, ad_id FROM c ANTI JOIN active_ads USING (ad_id)
    UNION ALL
    SELECT 'ad applied to before', c.jobseeker_id, c.ad_id
    FROM c SEMI JOIN clean.applications AS a
        ON a.run_date = $run_date AND a.jobseeker_id = c.jobseeker_id AND a.ad_id = c.ad_id
)
SELECT problem, count(*) AS n, list(jobseeker_id || ' ' || detail ORDER BY jobseeker_id)[1:3] AS sample
FROM problems
GROUP BY problem
ORDER BY problem
