CREATE SCHEMA IF NOT EXISTS recs;
CREATE TABLE IF NOT EXISTS recs.to_send (
    run_date DATE NOT NULL,
    jobseeker_id VARCHAR NOT NULL,
    ad_id VARCHAR NOT NULL,
    "rank" BIGINT NOT NULL,  -- position in the seeker's send list of the night
    recommendation_rank BIGINT NOT NULL,  -- the ad's rank in recs.recommendations
    segment VARCHAR NOT NULL,
    p_response DOUBLE NOT NULL, p_apply DOUBLE NOT NULL, p_positive DOUBLE NOT NULL
);
