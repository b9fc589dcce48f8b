CREATE SCHEMA IF NOT EXISTS metrics;
-- The redistribution's trade-off curve on the validation window, one row per (τ, ε, α) and Muse.2's
-- own lists first (model muse2); `chosen` marks the night's parameters.
CREATE TABLE IF NOT EXISTS metrics.ot_tradeoff (
    run_date DATE NOT NULL,
    model VARCHAR NOT NULL,
    epsilon DOUBLE,
    alpha DOUBLE NOT NULL,
    tau DOUBLE,
    cost VARCHAR NOT NULL,
    temperature DOUBLE NOT NULL,
    recall_at_10 DOUBLE, ndcg_at_10 DOUBLE, recall_at_100 DOUBLE, ndcg_at_100 DOUBLE,
    congestion_at_10 DOUBLE, coverage_at_10 DOUBLE, gini_at_10 DOUBLE,
    congestion_at_100 DOUBLE, coverage_at_100 DOUBLE, gini_at_100 DOUBLE,
    iterations INTEGER, converged BOOLEAN, seeker_marginal_error DOUBLE,
    ad_marginal_error DOUBLE,
    qualifies BOOLEAN NOT NULL,
    chosen BOOLEAN NOT NULL
);
-- issue 19: how the night's Muse.2 was trained (plain, or with the ReCon congestion term of
-- weight λ) and each row's method: muse2 / muse2+ot, or recon / recon+ot. Earlier nights were
-- all plain.
ALTER TABLE metrics.ot_tradeoff ADD COLUMN IF NOT EXISTS method VARCHAR;
ALTER TABLE metrics.ot_tradeoff ADD COLUMN IF NOT EXISTS recon_weight DOUBLE DEFAULT 0;
UPDATE metrics.ot_tradeoff SET method = CASE WHEN model = 'muse2' THEN 'muse2' ELSE 'muse2+ot' END
WHERE method IS NULL;
