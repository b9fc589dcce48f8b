-- The (seeker, ad) pairs each audited source holds on partition $run_date: the top $k of Muse.2
-- and of the redistributed lists, the send list, and the applications and hires of the
-- $days days before the partition.
SELECT 'muse2' AS source, jobseeker_id, ad_id FROM recs.reranked
WHERE run_date = $run_date AND model = 'muse2' AND "rank" <= $k
UNION ALL
SELECT 'ot', jobseeker_id, ad_id FROM recs.recommendations
WHERE run_date = $run_date AND "rank" <= $k
UNION ALL
SELECT 'send', jobseeker_id, ad_id FROM recs.to_send WHERE run_date = $run_date
UNION ALL
SELECT 'applications', jobseeker_id, ad_id FROM clean.applications
WHERE run_date = $run_date AND applied_at >= CAST($run_date AS DATE) - to_days($days)
UNION ALL
SELECT 'hires', jobseeker_id, ad_id FROM clean.hires
WHERE run_date = $run_date AND hired_at >= CAST($run_date AS DATE) - to_days($days)
