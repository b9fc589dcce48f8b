CREATE SCHEMA IF NOT EXISTS metrics;
-- Gender gap (women - men) in the ads of each source, conditional on the seekers' search
-- parameters and qualifications (double ML, partially linear model).
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
