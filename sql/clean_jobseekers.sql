-- Every seeker registered before the run date, as known at the start of that day: an exit on or
-- after the run date is not known yet, so it is blanked and the seeker is active.
SELECT
    CAST($run_date AS DATE) AS run_date,
    jobseeker_id,
    registered_on,
    CASE WHEN exited_on < $run_date THEN exited_on END AS exited_on,
    gender,
    CAST(birth_year AS SMALLINT) AS birth_year,
    CAST(education_level AS TINYINT) AS education_level,
    CAST(experience_years AS FLOAT) AS experience_years,
    desired_occupation,
    desired_contract,
    CAST(desired_wage AS FLOAT) AS desired_wage,
    CAST(mobility_km AS FLOAT) AS mobility_km,
    latitude,
    longitude,
    department,
    list_sort(list_distinct(coalesce(skills, []::VARCHAR[]))) AS skills,
    profile_text,
    coalesce(exited_on >= $run_date, true) AS active
FROM raw_jobseekers
WHERE registered_on < $run_date
