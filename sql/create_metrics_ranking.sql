CREATE SCHEMA IF NOT EXISTS metrics;
CREATE TABLE IF NOT EXISTS metrics.ranking (
    run_date DATE NOT NULL,
    stage VARCHAR NOT NULL,  -- retrieval / rerank / redistribution / send / baseline
    model VARCHAR NOT NULL,  -- muse0, muse1, muse2, xgboost, ot, popularity, oracle
    relevance VARCHAR NOT NULL,  -- applications / hires
    split VARCHAR NOT NULL,  -- validation (D-7..D-1, held out) / forward (D..D+6)
    k INTEGER NOT NULL,
    recall DOUBLE,
    ndcg DOUBLE,
    hit_rate DOUBLE,
    seekers BIGINT NOT NULL,  -- seekers with at least one relevant ad (the averages' base)
    population VARCHAR NOT NULL  -- all / oracle_sample (the fixed sample the oracle is scored on)
);
-- issue 17: rows by slice (jobrec.evaluation.compare); every earlier row is the whole population
ALTER TABLE metrics.ranking ADD COLUMN IF NOT EXISTS slice VARCHAR DEFAULT 'all';
