-- The ads whose version night $run_date started (new or changed; the others were validated when
-- their version was ingested), as clean.job_ads shows them that day and as the GX suite reads
-- them (no free text, derived day gaps).
SELECT
    v.* EXCLUDE (skills, title, description),
    date_diff('day', v.posted_on, v.run_date) AS days_before_run,
    date_diff('day', v.closed_on, v.run_date) AS days_since_close
FROM clean.job_ads AS v
SEMI JOIN store.job_ads AS s ON s.ad_id = v.ad_id AND s.valid_from = $run_date
WHERE v.run_date = $run_date
