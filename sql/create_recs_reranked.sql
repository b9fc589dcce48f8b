CREATE SCHEMA IF NOT EXISTS recs;
CREATE TABLE IF NOT EXISTS recs.reranked (
    run_date DATE NOT NULL,
    model VARCHAR NOT NULL,  -- muse2 (top 300), muse1 (top 100), xgboost (top 100, scope all)
    jobseeker_id VARCHAR NOT NULL,
    ad_id VARCHAR NOT NULL,
    "rank" SMALLINT NOT NULL,
    score FLOAT NOT NULL  -- the model's ranking score (Muse.2: the top head's hiring score)
);
