CREATE SCHEMA IF NOT EXISTS metrics;
-- Gender gap (women - men) in the ads of each source, conditional on the seekers' search
-- parameters and qualifications (double ML): the average gap women face (ATTE of the
-- interactive model, the headline) and the partially linear model's θ beside it.
CREATE TABLE IF NOT EXISTS metrics.fairness (
    run_date DATE NOT NULL,
    source VARCHAR NOT NULL,  -- muse2 / ot (top k) / send / applications / hires (last days)
    outcome VARCHAR NOT NULL,  -- log_wage / permanent / hours / distance_km (seeker's mean)
    gap DOUBLE NOT NULL,
    std_error DOUBLE NOT NULL,
    ci_low DOUBLE NOT NULL,
    ci_high DOUBLE NOT NULL,
    n BIGINT NOT NULL,  -- seekers (women and men) in the estimate
    left_out BIGINT NOT NULL,  -- seekers of other or unknown gender, left out
    k INTEGER,  -- list depth for muse2 and ot
    days INTEGER  -- window for applications and hires
);
-- Warehouses written before the ATTE: their rows are PLR estimates.
ALTER TABLE metrics.fairness ADD COLUMN IF NOT EXISTS estimand VARCHAR DEFAULT 'plr';
ALTER TABLE metrics.fairness ADD COLUMN IF NOT EXISTS trimmed BIGINT DEFAULT 0;
-- recommender sources: the difference to the applications' gap, its joint standard error and
-- the Holm-corrected one-sided p-value of amplification
ALTER TABLE metrics.fairness ADD COLUMN IF NOT EXISTS diff_applications DOUBLE;
ALTER TABLE metrics.fairness ADD COLUMN IF NOT EXISTS diff_std_error DOUBLE;
ALTER TABLE metrics.fairness ADD COLUMN IF NOT EXISTS p_holm DOUBLE;
