CREATE SCHEMA IF NOT EXISTS recs;
CREATE TABLE IF NOT EXISTS recs.recommendations (
    run_date DATE NOT NULL,
    jobseeker_id VARCHAR NOT NULL,
    ad_id VARCHAR NOT NULL,
    "rank" SMALLINT NOT NULL,
    score FLOAT NOT NULL,  -- the ranking key: (1 - α) log(plan mass) + α log p (p: calibrated Muse.2)
    plan_mass DOUBLE NOT NULL,  -- attention the transport plan sends from the seeker to the ad (row sum 1)
    rerank_rank SMALLINT NOT NULL,  -- the ad's rank in the seeker's Muse.2 list
    muse2_score FLOAT NOT NULL
);
