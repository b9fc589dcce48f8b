CREATE SCHEMA IF NOT EXISTS recs;
-- Per segment (occupation family of the ad) and search method (greedy: the one applied; grid:
-- the exhaustive reference): the thresholds and their metrics on the tuning window's sends, the
-- relative changes against the defaults, and the same on the held-out week. A greedy triple is
-- applied only when the held-out week's objective agrees (> 0); otherwise the row holds the
-- defaults and `tuned_objective` / `tuned_holdout_objective` what the search had found.
CREATE TABLE IF NOT EXISTS recs.segment_thresholds (
    run_date DATE NOT NULL,
    segment VARCHAR NOT NULL,
    method VARCHAR NOT NULL,
    theta_response DOUBLE NOT NULL, theta_apply DOUBLE NOT NULL, theta_positive DOUBLE NOT NULL,
    objective DOUBLE NOT NULL,  -- Σ 0.25 Δ_i (0 when the segment keeps the defaults)
    sends BIGINT NOT NULL, applies BIGINT NOT NULL, apply_rate DOUBLE,
    positives BIGINT NOT NULL, positives_per_apply DOUBLE,
    unsubscribe_rate DOUBLE, negative_ratio DOUBLE,
    evaluations BIGINT NOT NULL,  -- distinct triples the search evaluated
    delta_applies DOUBLE, delta_apply_rate DOUBLE, delta_positives DOUBLE,
    delta_positives_per_apply DOUBLE,
    slo_met BOOLEAN NOT NULL,  -- Wilson 95% upper bounds under the SLOs minus 10%
    improved BOOLEAN NOT NULL,  -- false: the defaults are kept (`note` says why)
    note VARCHAR,
    holdout_sends BIGINT, holdout_objective DOUBLE,
    holdout_delta_applies DOUBLE, holdout_delta_apply_rate DOUBLE, holdout_delta_positives DOUBLE,
    holdout_delta_positives_per_apply DOUBLE, holdout_slo_met BOOLEAN
);
-- the search's own result before the held-out week's veto (greedy rows: the triple that moved
-- only if the held-out week agreed); added after the first release, hence ALTER
ALTER TABLE recs.segment_thresholds ADD COLUMN IF NOT EXISTS tuned_objective DOUBLE;
ALTER TABLE recs.segment_thresholds ADD COLUMN IF NOT EXISTS tuned_holdout_objective DOUBLE;
