CREATE SCHEMA IF NOT EXISTS embed;
CREATE TABLE IF NOT EXISTS embed.jobseekers (
    run_date DATE NOT NULL,
    jobseeker_id VARCHAR NOT NULL,
    embedding FLOAT[] NOT NULL  -- Muse.0 seeker tower output (unit vector)
);
CREATE TABLE IF NOT EXISTS embed.job_ads (
    run_date DATE NOT NULL,
    ad_id VARCHAR NOT NULL,
    embedding FLOAT[] NOT NULL  -- Muse.0 ad tower output (unit vector)
);
