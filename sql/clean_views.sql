-- The clean tables as analysts and the chain read them: one partition per retained run date
-- (store.partitions), each "as known at the start of that day" over rows stored once.
-- Events: every event dated before the run date that a night up to it ingested (a row that
-- arrives late enters with the first night that sees it, and an earlier day shows it once that
-- day is re-run). Entities: the version current on that day, with exits and closings not yet
-- passed blanked and the `active` flag derived.
CREATE OR REPLACE VIEW clean.jobseekers AS
SELECT
    p.run_date,
    v.jobseeker_id,
    v.registered_on,
    CASE WHEN v.exited_on < p.run_date THEN v.exited_on END AS exited_on,
    v.gender,
    v.birth_year,
    v.education_level,
    v.experience_years,
    v.desired_occupation,
    v.desired_contract,
    v.desired_wage,
    v.mobility_km,
    v.latitude,
    v.longitude,
    v.department,
    v.skills,
    v.profile_text,
    coalesce(v.exited_on >= p.run_date, true) AS active
FROM store.partitions AS p
JOIN store.jobseekers AS v
    ON v.valid_from <= p.run_date AND (v.valid_to IS NULL OR p.run_date < v.valid_to)
WHERE p.table_name = 'clean.jobseekers' AND v.registered_on < p.run_date;

CREATE OR REPLACE VIEW clean.job_ads AS
SELECT
    p.run_date,
    v.ad_id,
    v.employer_id,
    v.posted_on,
    CASE WHEN v.closed_on < p.run_date THEN v.closed_on END AS closed_on,
    v.occupation,
    v.contract,
    v.wage,
    v.hours_per_week,
    v.required_experience_years,
    v.required_education,
    v.latitude,
    v.longitude,
    v.department,
    v.skills,
    v.positions,
    v.title,
    v.description,
    coalesce(v.closed_on >= p.run_date, true) AS active
FROM store.partitions AS p
JOIN store.job_ads AS v
    ON v.valid_from <= p.run_date AND (v.valid_to IS NULL OR p.run_date < v.valid_to)
WHERE p.table_name = 'clean.job_ads' AND v.posted_on < p.run_date;

CREATE OR REPLACE VIEW clean.applications AS
SELECT p.run_date, e.jobseeker_id, e.ad_id, e.applied_at, e.channel
FROM store.partitions AS p
JOIN store.applications AS e
    ON e.applied_at < CAST(p.run_date AS TIMESTAMPTZ) AND e.ingested_on <= p.run_date
WHERE p.table_name = 'clean.applications';

CREATE OR REPLACE VIEW clean.hires AS
SELECT p.run_date, e.jobseeker_id, e.ad_id, e.hired_at
FROM store.partitions AS p
JOIN store.hires AS e
    ON e.hired_at < CAST(p.run_date AS TIMESTAMPTZ) AND e.ingested_on <= p.run_date
WHERE p.table_name = 'clean.hires';

-- A send's outcomes as the latest night up to the run date that ingested a row for it says.
CREATE OR REPLACE VIEW clean.recommendation_feedback AS
SELECT
    p.run_date,
    e.jobseeker_id,
    e.ad_id,
    e.sent_at,
    e.responded,
    e.applied,
    e.positive_outcome,
    e.unsubscribed,
    e.negative_feedback
FROM store.partitions AS p
JOIN store.recommendation_feedback AS e
    ON e.sent_at < CAST(p.run_date AS TIMESTAMPTZ) AND e.ingested_on <= p.run_date
WHERE p.table_name = 'clean.recommendation_feedback'
QUALIFY rank() OVER (
    PARTITION BY p.run_date, e.jobseeker_id, e.ad_id, e.sent_at ORDER BY e.ingested_on DESC
) = 1
ORDER BY p.run_date, e.jobseeker_id, e.ad_id, e.sent_at;  -- the window leaves order to chance
