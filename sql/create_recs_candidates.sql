CREATE SCHEMA IF NOT EXISTS recs;
CREATE TABLE IF NOT EXISTS recs.candidates (
    run_date DATE NOT NULL,
    jobseeker_id VARCHAR NOT NULL,
    ad_id VARCHAR NOT NULL,
    "rank" SMALLINT NOT NULL,  -- 1..1000 by decreasing Muse.0 score
    score FLOAT NOT NULL  -- Muse.0 score: cosine of the two unit embeddings, in [-1, 1]
);
