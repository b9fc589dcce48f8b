-- One night's ingest of an entity table as versions valid from one night to
-- the next that differs. Statements run in order inside the caller's transaction.

-- 1. Undo an earlier ingest of the same night: its versions go, the versions it closed reopen
--    up to the next version (or stay open).
DELETE FROM store.{name} WHERE valid_from = $run_date;

UPDATE store.{name} AS v SET valid_to = (
    SELECT min(n.valid_from) FROM store.{name} AS n
    WHERE n.{key} = v.{key} AND n.valid_from > $run_date
)
WHERE v.valid_to = $run_date;

-- 2. Tonight's rows with a hash of their content.
CREATE OR REPLACE TEMP TABLE incoming_versions AS
SELECT *, hash(*COLUMNS(*)) AS row_hash FROM ({incoming});

-- 3. What changes on the run date: entities whose content differs from the version current then
--    (new ones included), and entities current then that the files no longer hold (they end).
CREATE OR REPLACE TEMP TABLE version_changes AS
WITH current_versions AS (
    SELECT {key}, row_hash, valid_from, valid_to FROM store.{name}
    WHERE valid_from <= $run_date AND (valid_to IS NULL OR valid_to > $run_date)
)
SELECT
    coalesce(i.{key}, c.{key}) AS {key},
    i.row_hash IS NOT NULL AS has_new_version,
    c.valid_from AS current_from,
    CASE WHEN c.{key} IS NOT NULL THEN c.valid_to ELSE (
        SELECT min(n.valid_from) FROM store.{name} AS n
        WHERE n.{key} = i.{key} AND n.valid_from > $run_date
    ) END AS new_valid_to
FROM incoming_versions AS i
FULL JOIN current_versions AS c ON c.{key} = i.{key}
WHERE i.row_hash IS DISTINCT FROM c.row_hash;

-- 4. The current versions that change end on the run date; the new versions start on it.
UPDATE store.{name} AS v SET valid_to = $run_date
FROM version_changes AS x
WHERE v.{key} = x.{key} AND v.valid_from = x.current_from;

INSERT INTO store.{name} BY NAME
SELECT i.*, CAST($run_date AS DATE) AS valid_from, x.new_valid_to AS valid_to
FROM incoming_versions AS i
JOIN version_changes AS x ON x.{key} = i.{key} AND x.has_new_version
ORDER BY i.{key};
