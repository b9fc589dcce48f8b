-- One night's ingest of an event table, statements run in order inside the caller's
-- transaction. The night's rows are the incoming ones (sql/incoming_<table>.sql) on seekers and
-- ads known at the run date; the clean view of a night shows the rows of nights up to it.

-- 1. A re-run replaces exactly the night's earlier ingest.
DELETE FROM store.{name} WHERE ingested_on = $run_date;

-- 2. Rows a later night stored that tonight's files hold now belong to this night (a re-run of an
--    earlier day takes in its late rows; every row stays stored once).
UPDATE store.{name} AS t SET ingested_on = CAST($run_date AS DATE)
FROM ({known}) AS i
WHERE t.ingested_on > $run_date AND {match};

-- 3. The rows not stored yet.
INSERT INTO store.{name} BY NAME
SELECT i.*, CAST($run_date AS DATE) AS ingested_on
FROM ({known}) AS i
ANTI JOIN store.{name} AS t USING ({identity})
ORDER BY {order_by};
