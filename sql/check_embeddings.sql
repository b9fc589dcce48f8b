-- One partition of an embedding table against the active entities of the same partition:
-- rows, distinct ids, active entities without a vector, vectors with a non-finite value, and
-- the range of norms (of the unit part: the first {unit_dims} values; the rest is the distance
-- term's) and of dimensions. {table}, {entities}, {id}, {unit_dims} are filled in by the caller.
WITH e AS (
    SELECT
        {id} AS id,
        len(embedding) AS dims,
        list_bool_and(list_transform(embedding, lambda x: isfinite(x))) AS finite,
        sqrt(list_sum(list_transform(embedding[1:{unit_dims}], lambda x: x * x))) AS norm
    FROM {table}
    WHERE run_date = $run_date
)
SELECT
    (SELECT count(*) FROM e) AS n_rows,
    (SELECT count(DISTINCT id) FROM e) AS n_ids,
    (SELECT count(*) FROM {entities} AS x
     WHERE x.run_date = $run_date AND x.active AND x.{id} NOT IN (SELECT id FROM e)) AS n_missing,
    (SELECT count(*) FROM e WHERE NOT finite) AS n_not_finite,
    (SELECT min(norm) FROM e) AS min_norm,
    (SELECT max(norm) FROM e) AS max_norm,
    (SELECT min(dims) FROM e) AS min_dims,
    (SELECT max(dims) FROM e) AS max_dims
