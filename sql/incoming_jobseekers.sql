-- Every seeker the raw files say registered before the run date, typed, as the files hold it
-- tonight (the exit date as given: the clean view blanks an exit not yet passed).
SELECT
    jobseeker_id,
    registered_on,
    exited_on,
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
    profile_text
FROM raw_jobseekers
WHERE registered_on < $run_date
