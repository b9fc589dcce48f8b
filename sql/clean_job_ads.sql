-- Every ad posted before the run date; a closing on or after the run date is not known yet.
SELECT
    CAST($run_date AS DATE) AS run_date,
    ad_id,
    employer_id,
    posted_on,
    CASE WHEN closed_on < $run_date THEN closed_on END AS closed_on,
    occupation,
    contract,
    CAST(wage AS FLOAT) AS wage,
    CAST(hours_per_week AS FLOAT) AS hours_per_week,
    CAST(required_experience_years AS FLOAT) AS required_experience_years,
    CAST(required_education AS TINYINT) AS required_education,
    latitude,
    longitude,
    department,
    list_sort(list_distinct(coalesce(skills, []::VARCHAR[]))) AS skills,
    CAST(positions AS INTEGER) AS positions,
    title,
    description,
    coalesce(closed_on >= $run_date, true) AS active
FROM raw_job_ads
WHERE posted_on < $run_date
