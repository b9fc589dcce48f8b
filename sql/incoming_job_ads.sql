-- Every ad the raw files say was posted before the run date, typed, as the files hold it
-- tonight (the closing date as given: the clean view blanks a closing not yet passed).
SELECT
    ad_id,
    employer_id,
    posted_on,
    closed_on,
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
    description
FROM raw_job_ads
WHERE posted_on < $run_date
