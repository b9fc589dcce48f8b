-- The funnel's pair features of each past send, computed once: by the first night whose send
-- windows hold the send, with that night's models (jobrec.send.stage.send_features); again by
-- the next night when the feature set grew since (a row of another length is not read).
CREATE SCHEMA IF NOT EXISTS store;
CREATE TABLE IF NOT EXISTS store.send_features (
    jobseeker_id VARCHAR NOT NULL,
    ad_id VARCHAR NOT NULL,
    sent_at TIMESTAMPTZ NOT NULL,
    features FLOAT[] NOT NULL,  -- jobrec.send.funnel.FEATURES, in order
    computed_on DATE NOT NULL
);
