-- The incoming events of a night on seekers and ads known at its run date.
SELECT i.*
FROM ({incoming}) AS i
SEMI JOIN clean.jobseekers AS s ON s.run_date = $run_date AND s.jobseeker_id = i.jobseeker_id
SEMI JOIN clean.job_ads AS j ON j.run_date = $run_date AND j.ad_id = i.ad_id
