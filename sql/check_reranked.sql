-- recs.reranked of one partition: per model, each seeker's list holds min(keep, its candidates)
-- distinct ads with ranks 1..n, finite scores non-increasing by rank, every ad among the
-- seeker's candidates. Muse reranks every seeker with candidates, XGBoost those of
-- $xgboost_seekers (ids; NULL: every one) and no other. One row per (model, problem) with a
-- few sample seekers.
-- the lists are re-read by each problem rather than materialised (several GB at scale); their
-- per-list counts (`got`) and the expected lengths are computed once for the three problems
-- that read them
WITH r AS NOT MATERIALIZED (
    SELECT * FROM recs.reranked WHERE run_date = $run_date
),
keep AS (
    SELECT * FROM (VALUES ('muse2', $muse2), ('muse1', $muse1), ('xgboost', $xgboost)) AS t(model, n)
),
cand AS NOT MATERIALIZED (
    SELECT jobseeker_id, count(*) AS n FROM recs.candidates WHERE run_date = $run_date
    GROUP BY ALL
),
xgboost_seekers AS (
    SELECT unnest($xgboost_seekers::VARCHAR[]) AS jobseeker_id
),
expected AS MATERIALIZED (
    SELECT k.model, c.jobseeker_id, least(k.n, c.n) AS n FROM keep AS k CROSS JOIN cand AS c
    WHERE k.model <> 'xgboost' OR $xgboost_seekers::VARCHAR[] IS NULL
        OR c.jobseeker_id IN (SELECT jobseeker_id FROM xgboost_seekers)
),
got AS MATERIALIZED (
    SELECT model, jobseeker_id, count(*) AS n, count(DISTINCT ad_id) AS n_ads,
        min("rank") AS min_rank, max("rank") AS max_rank
    FROM r GROUP BY ALL
),
problems AS (
    SELECT * FROM (
        SELECT e.model, 'wrong list length' AS problem, e.jobseeker_id,
            format('expected {}, got {}', e.n, coalesce(g.n, 0)) AS detail
        FROM expected AS e LEFT JOIN got AS g USING (model, jobseeker_id)
        WHERE coalesce(g.n, 0) <> e.n
        UNION ALL
        SELECT g.model, 'list of a seeker the model does not rerank', g.jobseeker_id,
            format('{} rows', g.n)
        FROM got AS g SEMI JOIN keep USING (model) ANTI JOIN expected AS e USING (model, jobseeker_id)
        UNION ALL
        SELECT model, 'duplicate ads or ranks not 1..n', jobseeker_id,
            format('{} rows, {} ads, ranks {}..{}', n, n_ads, min_rank, max_rank)
        FROM got WHERE n_ads <> n OR min_rank <> 1 OR max_rank <> n
    )
    UNION ALL
    -- a rank given twice shows as equal neighbours in rank order; with n rows, min 1 and max n,
    -- none twice means exactly 1..n
    SELECT model, CASE WHEN "rank" = previous_rank THEN 'duplicate ads or ranks not 1..n'
        ELSE 'score not finite or increasing with rank' END, jobseeker_id, format('rank {}', "rank")
    FROM (SELECT model, jobseeker_id, "rank", score,
                 lag(score) OVER w AS previous, lag("rank") OVER w AS previous_rank
          FROM r WINDOW w AS (PARTITION BY model, jobseeker_id ORDER BY "rank"))
    WHERE "rank" = previous_rank OR score > previous OR NOT isfinite(score)
    UNION ALL
    SELECT r.model, 'ad not among the candidates', r.jobseeker_id, r.ad_id
    FROM r ANTI JOIN recs.candidates AS c
        ON c.run_date = $run_date AND c.jobseeker_id = r.jobseeker_id AND c.ad_id = r.ad_id
    UNION ALL
    SELECT model, 'unknown model', jobseeker_id, '' FROM r ANTI JOIN keep USING (model)
)
SELECT model, problem, count(*) AS n,
    list(jobseeker_id || ' ' || detail ORDER BY jobseeker_id)[1:3] AS sample
FROM problems
GROUP BY ALL
ORDER BY ALL
