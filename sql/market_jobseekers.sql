-- The seekers of a partition as the models see them: every column but gender (the audit reads
-- gender on its own), in a fixed order so that row numbers are stable indices.
SELECT
    jobseeker_id,
    registered_on,
    exited_on,
    birth_year,
    education_level,
    experience_years,
    desired_occupation,
    desired_contract,
    desired_wage,
    mobility_km,
    latitude,
    longitude,
    department,
    skills,
    profile_text,
    active
FROM clean.jobseekers
WHERE run_date = $run_date
ORDER BY jobseeker_id
