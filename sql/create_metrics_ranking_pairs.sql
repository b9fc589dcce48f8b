-- Paired differences of a model against a reference on the same seekers (issue 17), whole
-- (slice all) and by slice; jobrec.evaluation.compare.
CREATE SCHEMA IF NOT EXISTS metrics;
CREATE TABLE IF NOT EXISTS metrics.ranking_pairs (
    run_date DATE NOT NULL,
    stage VARCHAR NOT NULL,  -- rerank
    split VARCHAR NOT NULL,  -- validation / forward
    population VARCHAR NOT NULL,  -- rerank_holdout (validation) / all (forward)
    relevance VARCHAR NOT NULL,  -- applications
    slice VARCHAR NOT NULL,  -- all, history:0 / 1-2 / 3+, family:<letter>, ad_age:<3d / 3d+
    k INTEGER NOT NULL,
    metric VARCHAR NOT NULL,  -- recall / ndcg
    model VARCHAR NOT NULL,  -- muse2, muse1
    reference VARCHAR NOT NULL,  -- xgboost
    seekers BIGINT NOT NULL,  -- seekers of the slice with relevant ads (both models scored)
    model_value DOUBLE,
    reference_value DOUBLE,
    difference DOUBLE,  -- model - reference, mean over the seekers
    relative DOUBLE,  -- difference / reference_value
    se DOUBLE,  -- standard error of the paired mean
    ci_low DOUBLE,  -- 95% interval (normal)
    ci_high DOUBLE,
    p_value DOUBLE,  -- two-sided, difference = 0
    p_holm DOUBLE  -- Holm-adjusted across the slices (not all) of one model, k and metric
);
