"""The chain on the tiny synthetic market, through Dagster: green checks, idempotent re-runs,
and partitions that see nothing of their own day or later."""

from __future__ import annotations

import dataclasses
import json
import shutil

import duckdb
import numpy as np
import pandas as pd

from jobrec import audit, redistribution, rerank, retrieval, send
from jobrec.data import model_store, table_docs, warehouse
from jobrec.data.run_stats import build_counts
from jobrec.reranker_model import RerankConfig, load_reranker
from jobrec.retrieval import ad_prior, night_inputs
from tests.chain.rewrite_future import rewrite_future
from tests.conftest import TINY_DAY, TINY_END, make_settings, partition_rows, run_day

TABLES = [
    "clean.jobseekers",
    "clean.job_ads",
    "clean.applications",
    "clean.hires",
    "clean.recommendation_feedback",
]
FORWARD = ["eval.forward_applications", "eval.forward_hires"]
# the retrieval stage's outputs that depend on nothing at or after the partition's day
RETRIEVAL = [
    "embed.jobseekers",
    "embed.job_ads",
    "recs.candidates",
    "recs.reranked",
    "recs.recommendations",
    "recs.segment_thresholds",
    "recs.to_send",
]


def _dump(db, day, tables=TABLES):
    return partition_rows(db, day, tables)


def _counts(db, day):
    with duckdb.connect(str(db), read_only=True) as con:
        return {
            t: con.execute(f"SELECT count(*) FROM {t} WHERE run_date = ?", [day]).fetchall()[0][0]
            for t in TABLES + FORWARD
        }


def test_tiny_chain_green_and_idempotent(tiny_settings, tmp_path):
    build_counts.clear()
    result = run_day(tiny_settings, TINY_DAY)
    assert result.success
    # the night's shared inputs are built once: the market read from the clean tables, Muse.0's
    # tower inputs of the whole market, the inputs of the stages after retrieval
    assert build_counts == {"market": 1, "tower_inputs": 1, "night_inputs": 1}, build_counts
    assert result.get_asset_check_evaluations() and _failed_checks(result) <= TINY_MAY_WARN
    counts = _counts(tiny_settings.warehouse, TINY_DAY)
    assert all(n > 0 for n in counts.values()), counts  # every table holds the day, forward too
    metrics = ["metrics.ranking", "metrics.market", "metrics.ot_tradeoff", "metrics.fairness"]
    outputs = TABLES + FORWARD + RETRIEVAL + metrics
    first = _dump(tiny_settings.warehouse, TINY_DAY, outputs)
    assert run_day(tiny_settings, TINY_DAY).success  # a re-run retrains: seeded, same tables
    assert _dump(tiny_settings.warehouse, TINY_DAY, outputs) == first
    # the send list was handed over once: the re-run's identical list is no new version
    outbox = tiny_settings.outbox_dir / TINY_DAY.isoformat()
    assert sorted(p.name for p in outbox.iterdir()) == ["v1"]
    assert send.newest_complete(tiny_settings.outbox_dir, TINY_DAY) == outbox / "v1"
    with duckdb.connect(str(tiny_settings.published), read_only=True) as con:
        nights = con.execute("SELECT run_date, status FROM metrics.nights").fetchall()
    assert nights == [(TINY_DAY, "complete")]
    _check_published_comments(tiny_settings.published)
    _check_ui_metadata(result, tiny_settings.warehouse)
    _check_ranking_rows(tiny_settings.warehouse, TINY_DAY, forward=True)
    _check_ad_prior_columns(tiny_settings)
    _check_candidates_check_can_fail(tiny_settings.warehouse, tmp_path)
    _check_reranked_check_can_fail(tiny_settings.warehouse, tmp_path)
    _check_xgboost_scope(tiny_settings, tmp_path)
    _check_scoring_chunks(tiny_settings, tmp_path)
    _check_recon_option(tiny_settings, tmp_path)
    _check_market_rows(tiny_settings.warehouse, TINY_DAY)
    _check_recommendations_check_can_fail(tiny_settings.warehouse, tmp_path)
    _check_send_check_can_fail(tiny_settings.warehouse, tmp_path)
    _check_fairness_and_report(tiny_settings)


def _check_ui_metadata(result, db):
    """What the UI shows: tables with their row count, name and described columns; models with
    what they saved, not a row count; the report's plots inlined as previews; the raw files'
    versions observed by the night."""
    materialised = {
        e.asset_key.to_user_string(): e.step_materialization_data.materialization.metadata
        for e in result.get_asset_materialization_events()
    }
    to_send = materialised["recs/to_send"]
    with duckdb.connect(str(db), read_only=True) as con:
        (rows,) = con.execute(
            "SELECT count(*) FROM recs.to_send WHERE run_date = ?", [TINY_DAY]
        ).fetchone()
    assert to_send["dagster/row_count"].value == rows > 0
    columns = to_send["dagster/column_schema"].value.columns
    assert [c.name for c in columns][:3] == ["run_date", "jobseeker_id", "ad_id"]
    assert all(c.description for c in columns)
    muse0 = materialised["models/muse0"]
    assert "dagster/row_count" not in muse0 and "rows" not in muse0
    assert muse0["saved_files"].value > 0 and muse0["saved_mb"].value > 0
    assert muse0["epochs"].value > 0
    # the ad prior was chosen from its grid, on the validation window
    assert muse0["ad_prior_weight"].value in retrieval.SETTINGS.ad_prior_weights
    assert muse0["ad_prior_pseudo_days"].value in retrieval.SETTINGS.ad_prior_pseudo_days
    assert 0 < muse0["validation_recall_with_ad_prior"].value <= 1
    # XGBoost scored only the lists the evaluation compares it on, in the evaluation
    reranked = materialised["recs/reranked"]
    assert reranked["xgboost_scope"].value == "evaluation"
    assert reranked["xgboost_seekers"].value == reranked["rows_xgboost"].value == 0
    compared = materialised["metrics/ranking_rerank"]["xgboost_forward_seekers"].value
    assert 0 < compared < reranked["seekers"].value
    report = materialised["reports/nightly"]["report"].value
    assert report.count("](data:image/png;base64,") == 3 and ".png)" not in report
    observed = {
        e.asset_key.to_user_string()
        for e in result.all_events
        if e.event_type_value == "ASSET_OBSERVATION"
    }
    assert observed == {
        f"raw/{n}_file"
        for n in ("jobseekers", "job_ads", "applications", "hires", "recommendation_feedback")
    }


def _check_published_comments(db):
    """Every table and column of the published copy carries its description (table_docs), and
    every documented table and column is there."""
    schemas = ["recs", "metrics", "clean", "eval", "embed", "store"]
    with duckdb.connect(str(db), read_only=True) as con:
        bare = con.execute(
            "SELECT schema_name, table_name, column_name FROM duckdb_columns() "
            "WHERE list_contains(?, schema_name) AND (comment IS NULL OR comment = '')",
            [schemas],
        ).fetchall()
        bare += con.execute(
            "SELECT schema_name, table_name, NULL FROM duckdb_tables() "
            "WHERE list_contains($s, schema_name) AND (comment IS NULL OR comment = '') "
            "UNION ALL SELECT schema_name, view_name, NULL FROM duckdb_views() "
            "WHERE list_contains($s, schema_name) AND (comment IS NULL OR comment = '')",
            {"s": schemas},
        ).fetchall()
        published = con.execute(
            "SELECT schema_name || '.' || table_name, column_name FROM duckdb_columns() "
            "WHERE list_contains(?, schema_name)",
            [schemas],
        ).fetchall()
    assert bare == [], f"published without a description (jobrec/data/table_docs.py): {bare}"
    documented = {(t, c) for t, doc in table_docs.TABLES.items() for c in doc.columns}
    assert documented == set(published)


def _check_ranking_rows(db, day, forward: bool):
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute(
            "SELECT split, model, population, relevance, k, recall, seekers FROM metrics.ranking "
            "WHERE run_date = ?",
            [day],
        ).fetchall()
    keys = {(s, m, p, r, k) for s, m, p, r, k, *_ in rows}
    splits = ["validation", "forward"] if forward else ["validation"]
    for split in splits:
        for relevance in ("applications", "hires"):
            for k in (10, 100, 1000):
                assert (split, "muse0", "all", relevance, k) in keys
                assert (split, "popularity", "all", relevance, k) in keys
                assert (split, "oracle", "oracle_sample", relevance, k) in keys
                assert (split, "muse0", "oracle_sample", relevance, k) in keys
        for model in ("muse1", "muse2", "xgboost"):
            for relevance in ("applications", "hires"):
                for k in (10, 100):
                    population = "rerank_holdout" if split == "validation" else "all"
                    assert (split, model, population, relevance, k) in keys
                    if split == "forward":
                        assert (split, model, "oracle_sample", relevance, k) in keys
    assert ("validation", "muse0", "rerank_holdout", "applications", 100) in keys
    for relevance in ("applications", "hires"):
        for k in (10, 100):
            assert ("validation", "ot", "rerank_holdout", relevance, k) in keys
            if forward:
                assert ("forward", "ot", "all", relevance, k) in keys
                assert ("forward", "ot", "oracle_sample", relevance, k) in keys
    assert forward or not any(s == "forward" for s, *_ in keys)
    # recall is undefined (NULL) exactly where no seeker of the population had a relevant item
    assert all((recall is None) == (seekers == 0) for *_, recall, seekers in rows)
    assert all(0 <= recall <= 1 for *_, recall, _ in rows if recall is not None)


def _as_table(con, table: str) -> None:
    """Replace a view of Parquet lists by a table of its rows, so that a test can corrupt them."""
    con.execute(f"CREATE TABLE lists_copy AS SELECT * FROM {table}")
    con.execute(f"DROP VIEW {table}")
    con.execute(f"CREATE TABLE {table} AS SELECT * FROM lists_copy")
    con.execute("DROP TABLE lists_copy")


def _check_ad_prior_columns(settings):
    """embed.* end in the ad prior's column: τ·w for seekers, each ad's log application rate
    as known at D; and the candidates' scores are the dot products of the two (the prior on,
    and the rerankers' Muse.0 column without it: tests/chain/test_muse0_history.py)."""
    model, report = retrieval.load_muse0(settings.models_dir, TINY_DAY)
    prior = ad_prior.AdPrior.from_report(report)
    assert prior.weight == report["ad_prior"]["weight"] and report["ad_prior"]["grid"]
    market = night_inputs.load_market(settings.models_dir, TINY_DAY)
    rows = market.active_ads()
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        ad_ids, v = retrieval.stage.read_embeddings(con, TINY_DAY, "ads")
        seeker_ids, u = retrieval.stage.read_embeddings(con, TINY_DAY, "seekers")
        first = con.execute(
            "SELECT ad_id, score FROM recs.candidates WHERE run_date = ? AND jobseeker_id = ? "
            "ORDER BY rank",
            [TINY_DAY, seeker_ids[0]],
        ).fetchall()
    rates = ad_prior.ad_log_rates(market, rows, TINY_DAY, prior)
    order = np.argsort(market.ads["ad_id"].to_numpy()[rows])
    np.testing.assert_allclose(v[:, -1], rates[order], atol=1e-6)
    assert np.ptp(v[:, -1]) > 0  # the ads' histories differ
    np.testing.assert_allclose(u[:, -1], model.cfg.temperature * prior.weight, atol=1e-7)
    position = {a: i for i, a in enumerate(ad_ids)}
    listed = [position[a] for a, _ in first]
    np.testing.assert_allclose([s for _, s in first], v[listed] @ u[0], rtol=1e-5, atol=1e-6)


def _check_candidates_check_can_fail(db, tmp_path):
    """The blocking check's query finds a shuffled score, a removed row, an inactive ad and a
    rank given twice."""

    copy = tmp_path / "corrupted.duckdb"
    shutil.copy(db, copy)
    with duckdb.connect(str(copy)) as con:
        _as_table(con, "recs.candidates")
        params = {"run_date": TINY_DAY, "k": retrieval.CANDIDATES_K}
        assert warehouse.problem_rows(con, "check_candidates", params) == []
        (seeker,) = con.execute(
            "SELECT min(jobseeker_id) FROM recs.candidates WHERE run_date = ?", [TINY_DAY]
        ).fetchone()
        con.execute(
            "UPDATE recs.candidates SET score = score + 100 WHERE jobseeker_id = ? AND rank = 5",
            [seeker],
        )
        con.execute("DELETE FROM recs.candidates WHERE rank = 7 AND jobseeker_id = ?", [seeker])
        (inactive,) = con.execute(
            "SELECT min(ad_id) FROM clean.job_ads WHERE run_date = ? AND NOT active", [TINY_DAY]
        ).fetchone()
        con.execute(
            "UPDATE recs.candidates SET ad_id = ? WHERE jobseeker_id = ? AND rank = 9",
            [inactive, seeker],
        )
        # another seeker's list with rank 3 twice (n rows, ranks from 1 to n, the ads distinct)
        con.execute(
            "UPDATE recs.candidates SET rank = 3 WHERE rank = 4 AND jobseeker_id = "
            "(SELECT max(jobseeker_id) FROM recs.candidates WHERE run_date = ?)",
            [TINY_DAY],
        )
        problems = {p: n for p, n, _ in warehouse.problem_rows(con, "check_candidates", params)}
    assert problems == {
        "duplicate ads or ranks not 1..n": 2,
        "inactive ad": 1,
        "score increases with rank": 1,
        "wrong number of candidates": 1,
    }


# at `tiny` every ad is in some top 100 (coverage 1.0): OT has nothing to spread, and its warning
# (Muse.2's lists sent instead) may fire on a change of the models' noise; every other check,
# blocking or warning, must pass
TINY_MAY_WARN = {("recs/recommendations", "redistribution_helped")}


def _failed_checks(result) -> set[tuple[str, str]]:
    return {
        (c.asset_key.to_user_string(), c.check_name)
        for c in result.get_asset_check_evaluations()
        if not c.passed
    }


def _materialised(result) -> dict:
    return {
        e.asset_key.to_user_string(): e.step_materialization_data.materialization.metadata
        for e in result.get_asset_materialization_events()
    }


def test_tonight_starts_warm_from_last_night_and_has_no_forward_window(tiny_settings):
    """The night before tonight trains from scratch; tonight reuses its feature space and starts
    Muse.0 from its model, keeps only tonight's big intermediates, and has no forward window."""
    tiny_settings = dataclasses.replace(tiny_settings, intermediate_nights=1)
    tonight = TINY_END.fromordinal(TINY_END.toordinal() + 1)
    first = _materialised(run_day(tiny_settings, TINY_END))
    assert first["models/features"]["space"].value == "fitted"
    assert first["models/muse0"]["start"].value == "full retrain: no model from the last nights"
    result = run_day(tiny_settings, tonight)
    assert result.success and _failed_checks(result) <= TINY_MAY_WARN
    second = _materialised(result)
    assert second["models/features"]["space"].value == "reused"
    assert second["models/features"]["fitted_on"].value == str(TINY_END)
    assert second["models/muse0"]["start"].value == f"warm start from {TINY_END}"
    assert second["models/muse0"]["epochs"].value <= retrieval.SETTINGS.warm_epochs
    # Muse.0 too continues at its warm rate and keeps any epoch better than its start, after a
    # full training at the configured rate and stopping rule
    cold = retrieval.Muse0Config()
    warm = dataclasses.replace(
        cold,
        max_epochs=retrieval.SETTINGS.warm_epochs,
        learning_rate=retrieval.SETTINGS.warm_learning_rate,
        min_improvement=retrieval.SETTINGS.warm_min_improvement,
    )
    for day, expected in ((TINY_END, cold), (tonight, warm)):
        trained = retrieval.load_muse0(tiny_settings.models_dir, day)[0].cfg
        # validation_k follows each night's validation window
        assert trained == dataclasses.replace(expected, validation_k=trained.validation_k)
    for kind in ("muse1", "muse2"):
        assert second[f"models/{kind}"]["start"].value == f"warm start from {TINY_END}"
        assert second[f"models/{kind}"]["epochs"].value <= rerank.SETTINGS.warm_epochs
        # resumed at the warm rate; last night's full training ran at the configured one
        folders = [
            model_store.model_dir(tiny_settings.models_dir, d, kind) for d in (TINY_END, tonight)
        ]
        rates = [load_reranker(f / "model.pt")[0].cfg.learning_rate for f in folders]
        assert rates == [RerankConfig().learning_rate, rerank.SETTINGS.warm_learning_rate]
    # the hiring head trained on the applications settled at the cut (their count in metadata)
    market = retrieval.load_market(tiny_settings.models_dir, tonight)
    hiring = second["models/muse2"]
    assert hiring["hire_settle_days"].value == rerank.settle_days(market, market.train_end)
    assert hiring["hire_applications"].value > 0
    # XGBoost continues last night's trees (up to its best) with at most warm_trees new ones
    xgb_tonight = second["models/xgboost"]
    assert xgb_tonight["start"].value == f"warm start from {TINY_END}"
    assert xgb_tonight["start_trees"].value == first["models/xgboost"]["best_iteration"].value + 1
    assert (
        xgb_tonight["trees"].value == xgb_tonight["start_trees"].value + rerank.SETTINGS.warm_trees
    )
    # last night's lists and caches are gone, its models stay (warm starts read them)
    with duckdb.connect(str(tiny_settings.published), read_only=True) as con:
        nights = con.execute("SELECT DISTINCT run_date FROM recs.candidates").fetchall()
    assert nights == [(tonight,)]
    last_night = tiny_settings.models_dir / TINY_END.isoformat()
    assert sorted(p.name for p in last_night.iterdir() if p.name in ("features", "muse0")) == [
        "muse0"
    ]
    counts = _counts(tiny_settings.warehouse, tonight)
    assert counts["eval.forward_applications"] == 0 and counts["clean.applications"] > 0
    _check_ranking_rows(tiny_settings.warehouse, tonight, forward=False)
    # by default XGBoost writes no list of tonight (nor scores any: no forward window)
    assert _reranked_seekers(tiny_settings.warehouse, tonight) == {
        "muse1": _candidate_seekers(tiny_settings.warehouse, tonight),
        "muse2": _candidate_seekers(tiny_settings.warehouse, tonight),
    }


def test_rewriting_the_future_leaves_the_partition_bit_identical(tmp_path, tiny_market):
    base = make_settings(tmp_path / "a", tiny_market)
    assert run_day(base, TINY_DAY).success
    raw = tmp_path / "b" / "raw"
    shutil.copytree(tiny_market, raw)
    touched = rewrite_future(raw, TINY_DAY)
    assert touched["applications"] > 100 and touched["jobseekers"] > 10
    other = make_settings(tmp_path / "b", raw)
    assert run_day(other, TINY_DAY).success
    assert _dump(other.warehouse, TINY_DAY, TABLES + RETRIEVAL) == _dump(
        base.warehouse, TINY_DAY, TABLES + RETRIEVAL
    )
    # the forward window, which reads the future by design, did change
    assert _dump(other.warehouse, TINY_DAY, FORWARD) != _dump(base.warehouse, TINY_DAY, FORWARD)


def _reranked_seekers(db, day) -> dict[str, set[str]]:
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute(
            "SELECT DISTINCT model, jobseeker_id FROM recs.reranked WHERE run_date = ?", [day]
        ).fetchall()
    out: dict[str, set[str]] = {}
    for model, seeker in rows:
        out.setdefault(model, set()).add(seeker)
    return out


def _candidate_seekers(db, day) -> set[str]:
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute(
            "SELECT DISTINCT jobseeker_id FROM recs.candidates WHERE run_date = ?", [day]
        ).fetchall()
    return {s for (s,) in rows}


def _check_xgboost_scope(settings, tmp_path):
    """By default recs.reranked holds Muse's lists of every seeker and no XGBoost list (the
    evaluation scores the lists it compares XGBoost on); JOBREC_XGBOOST_SCOPE=all writes every
    seeker's XGBoost list again, and the evaluation's rows stay the same numbers."""
    listed = _candidate_seekers(settings.warehouse, TINY_DAY)
    assert _reranked_seekers(settings.warehouse, TINY_DAY) == {"muse1": listed, "muse2": listed}

    from assets.rerank import rerank_evaluation, reranked

    copy = tmp_path / "scope_all" / "jobrec.duckdb"
    copy.parent.mkdir()
    shutil.copy(settings.warehouse, copy)
    everyone = dataclasses.replace(settings, warehouse=copy, xgboost_scope="all")
    result = run_day(everyone, TINY_DAY, [reranked, rerank_evaluation])
    assert result.success and all(c.passed for c in result.get_asset_check_evaluations())
    got = _reranked_seekers(copy, TINY_DAY)
    assert got == {"muse1": listed, "muse2": listed, "xgboost": listed}
    ranking = (
        "SELECT model, split, population, relevance, k, recall, ndcg, hit_rate, seekers "
        "FROM {}.metrics.ranking WHERE run_date = ? AND stage = 'rerank'"
    )
    with duckdb.connect(str(copy), read_only=True) as con:
        con.execute(f"ATTACH '{settings.warehouse}' AS scoped (READ_ONLY)")
        (n_all,) = con.execute(
            "SELECT count(*) FROM recs.reranked WHERE run_date = ? AND model = 'xgboost'",
            [TINY_DAY],
        ).fetchone()
        assert n_all == len(listed) * rerank.RERANK_KEEP["xgboost"]
        default, every = (
            sorted(con.execute(ranking.format(db), [TINY_DAY]).fetchall())
            for db in ("scoped", "jobrec")
        )
    assert ("xgboost", "forward", "oracle_sample") in {r[:3] for r in default}
    assert default == every  # XGBoost's forward rows included


def _check_scoring_chunks(settings, tmp_path):
    """The night scores a block's lists in chunks whose pair features stay in the cache: other
    block and chunk sizes (a last chunk shorter than the others) write the same lists."""
    copy = tmp_path / "chunks" / "jobrec.duckdb"
    copy.parent.mkdir()
    shutil.copy(settings.warehouse, copy)
    with duckdb.connect(str(copy)) as con:
        stats = rerank.write_reranked(
            con, TINY_DAY, settings.models_dir, block_seekers=50, score_chunk=7
        )
    assert stats["seekers"] > 50  # several blocks of 50 lists, each ending in a chunk of 1
    table = ["recs.reranked"]
    assert _dump(copy, TINY_DAY, table) == _dump(settings.warehouse, TINY_DAY, table)


def _check_reranked_check_can_fail(db, tmp_path):
    """The blocking check's query finds a swapped score, a missing row, a foreign ad, a rank
    given twice, an XGBoost list of a seeker it was not asked to rerank, and missing XGBoost
    lists."""

    copy = tmp_path / "corrupted_reranked.duckdb"
    shutil.copy(db, copy)
    with duckdb.connect(str(copy)) as con:
        _as_table(con, "recs.reranked")
        params = {"run_date": TINY_DAY, **rerank.RERANK_KEEP, "xgboost_seekers": []}
        assert warehouse.problem_rows(con, "check_reranked", params) == []
        # with scope `all` every seeker's XGBoost list is expected
        everyone = {**params, "xgboost_seekers": None}
        missing = warehouse.problem_rows(con, "check_reranked", everyone)
        assert [(m, p) for m, p, *_ in missing] == [("xgboost", "wrong list length")]
        (seeker, other) = con.execute(
            "SELECT min(jobseeker_id), max(jobseeker_id) FROM recs.reranked WHERE run_date = ?",
            [TINY_DAY],
        ).fetchone()
        where = "run_date = ? AND model = ? AND jobseeker_id = ?"
        con.execute(
            f"UPDATE recs.reranked SET score = score + 100 WHERE {where} AND rank = 3",
            [TINY_DAY, "muse2", seeker],
        )
        con.execute(
            f"DELETE FROM recs.reranked WHERE {where} AND rank = 5", [TINY_DAY, "muse1", seeker]
        )
        # an ad known that night but not among the seeker's candidates (on tiny a seeker's
        # 1,000 candidates can be every active ad: the foreign ad may be a closed one)
        (foreign,) = con.execute(
            "SELECT min(ad_id) FROM clean.job_ads WHERE run_date = ? "
            "AND ad_id NOT IN (SELECT ad_id FROM recs.candidates WHERE run_date = ? "
            "AND jobseeker_id = ?)",
            [TINY_DAY, TINY_DAY, seeker],
        ).fetchone()
        assert foreign is not None
        con.execute(
            f"UPDATE recs.reranked SET ad_id = ? WHERE {where} AND rank = 7",
            [foreign, TINY_DAY, "muse1", seeker],
        )
        # a complete, sorted XGBoost list (Muse.1's) of a seeker XGBoost was not asked for
        con.execute(
            "INSERT INTO recs.reranked SELECT run_date, 'xgboost', jobseeker_id, ad_id, rank, "
            f"score FROM recs.reranked WHERE {where}",
            [TINY_DAY, "muse1", other],
        )
        con.execute(  # rank 3 twice in a list otherwise whole
            f"UPDATE recs.reranked SET rank = 3 WHERE {where} AND rank = 4",
            [TINY_DAY, "muse2", other],
        )
        problems = {
            (m, p): n for m, p, n, _ in warehouse.problem_rows(con, "check_reranked", params)
        }
        # asked for, that list passes
        asked = {**params, "xgboost_seekers": [other]}
        found = warehouse.problem_rows(con, "check_reranked", asked)
        assert not any(m == "xgboost" for m, *_ in found)
    assert problems == {
        ("muse2", "score not finite or increasing with rank"): 1,
        ("muse2", "duplicate ads or ranks not 1..n"): 1,
        ("muse1", "wrong list length"): 1,
        ("muse1", "duplicate ads or ranks not 1..n"): 1,
        ("muse1", "ad not among the candidates"): 1,
        ("xgboost", "list of a seeker the model does not rerank"): 1,
    }


def _tradeoff_methods(db) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(
            "SELECT DISTINCT model, method, recon_weight FROM metrics.ot_tradeoff "
            "WHERE run_date = ? ORDER BY ALL",
            [TINY_DAY],
        ).fetchall()


def _check_recon_option(settings, tmp_path):
    """With the ReCon term on (JOBREC_RECON_WEIGHT), Muse.2 and everything after it run green on
    copies of the night: Muse.2 trains with the term, and the trade-off curve records the
    method (recon, recon+ot) and its λ; the night without it recorded muse2 / muse2+ot."""
    from dagster import AssetKey, AssetSelection, materialize

    from assets.resources import build_resources
    from orchestration.definitions import ALL_ASSETS

    assert _tradeoff_methods(settings.warehouse) == [
        ("muse2", "muse2", 0.0),
        ("ot", "muse2+ot", 0.0),
    ]
    on = make_settings(tmp_path / "recon", settings.raw_dir, recon_weight=0.5)
    shutil.copytree(settings.models_dir, on.models_dir)
    on.warehouse.parent.mkdir(parents=True)
    shutil.copy(settings.warehouse, on.warehouse)
    result = materialize(
        ALL_ASSETS,
        selection=AssetSelection.assets(AssetKey(["models", "muse2"])).downstream(),
        partition_key=TINY_DAY.isoformat(),
        resources=build_resources(on),
    )
    assert result.success and _failed_checks(result) <= TINY_MAY_WARN
    folder = model_store.model_dir(on.models_dir, TINY_DAY, "muse2")
    report = json.loads((folder / "training.json").read_text())
    assert all(h["recon_loss"] > 0 for h in report["history"])
    assert _tradeoff_methods(on.warehouse) == [("muse2", "recon", 0.5), ("ot", "recon+ot", 0.5)]


def _check_market_rows(db, day):
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute(
            "SELECT population, model, k, congestion, coverage, gini FROM metrics.market "
            "WHERE run_date = ?",
            [day],
        ).fetchall()
        chosen = con.execute(
            "SELECT count(*) FILTER (chosen), count(*) FILTER (model = 'ot') "
            "FROM metrics.ot_tradeoff WHERE run_date = ?",
            [day],
        ).fetchone()
    keys = {(p, m, k) for p, m, k, *_ in rows}
    assert keys == {
        (p, m, k)
        for p in ("all", "validation")
        for m in ("muse0", "muse2", "ot")
        for k in (1, 10, 100)
    }
    assert all(-1 <= c <= 0 and 0 < cov <= 1 and 0 <= g <= 1 for *_, c, cov, g in rows)
    assert chosen[0] <= 1 and chosen[1] >= 5  # the whole grid recorded, at most one chosen


def _check_recommendations_check_can_fail(db, tmp_path):
    """The blocking check's query finds a NaN mass, a missing row, an ad from outside the
    seeker's Muse.2 list and a rank given twice."""

    copy = tmp_path / "corrupted_recommendations.duckdb"
    shutil.copy(db, copy)
    with duckdb.connect(str(copy)) as con:
        _as_table(con, "recs.recommendations")
        params = {"run_date": TINY_DAY, "k": redistribution.LIST_K}
        assert warehouse.problem_rows(con, "check_recommendations", params) == []
        (seeker,) = con.execute(
            "SELECT min(jobseeker_id) FROM recs.recommendations WHERE run_date = ?", [TINY_DAY]
        ).fetchone()
        con.execute(
            "UPDATE recs.recommendations SET plan_mass = 'nan' WHERE jobseeker_id = ? AND rank = 2",
            [seeker],
        )
        con.execute(
            "DELETE FROM recs.recommendations WHERE jobseeker_id = ? AND rank = 3", [seeker]
        )
        (foreign,) = con.execute(
            "SELECT min(ad_id) FROM clean.job_ads WHERE run_date = ? AND ad_id NOT IN (SELECT "
            "ad_id FROM recs.reranked WHERE run_date = ? AND jobseeker_id = ? AND model = "
            "'muse2')",
            [TINY_DAY, TINY_DAY, seeker],
        ).fetchone()
        con.execute(
            "UPDATE recs.recommendations SET ad_id = ? WHERE jobseeker_id = ? AND rank = 4",
            [foreign, seeker],
        )
        con.execute(  # another seeker's list with rank 1 twice
            "UPDATE recs.recommendations SET rank = 1 WHERE rank = 2 AND jobseeker_id = "
            "(SELECT max(jobseeker_id) FROM recs.recommendations WHERE run_date = ?)",
            [TINY_DAY],
        )
        problems = {
            p: n for p, n, _ in warehouse.problem_rows(con, "check_recommendations", params)
        }
    assert problems == {
        "ad not among the Muse.2 reranked ads": 1,
        "duplicate ads or ranks not 1..n": 2,
        "plan mass NaN, infinite or negative": 1,
        "wrong list length": 1,
    }


def _check_send_check_can_fail(db, tmp_path):
    """The send list's blocking check finds a send below its thresholds, one to an unsubscribed
    seeker and one over the nightly cap."""
    import datetime as dt

    copy = tmp_path / "corrupted_send.duckdb"
    shutil.copy(db, copy)
    with duckdb.connect(str(copy)) as con:
        recent = TINY_DAY - dt.timedelta(days=send.RECENT_SEND_DAYS)
        params = {"run_date": TINY_DAY, "per_seeker": send.SENDS_PER_SEEKER, "recent": recent}
        assert con.execute(warehouse.sql("check_to_send"), params).fetchall() == []
        (seeker, n) = con.execute(
            "SELECT jobseeker_id, count(*) FROM recs.to_send WHERE run_date = ? GROUP BY 1 "
            "ORDER BY 2 DESC, 1 LIMIT 1",
            [TINY_DAY],
        ).fetchone()
        con.execute(
            "UPDATE recs.to_send SET p_response = -1 WHERE jobseeker_id = ? AND rank = 1", [seeker]
        )
        con.execute(  # an unsubscription the night ingested (clean.* are views of the store)
            "INSERT INTO store.recommendation_feedback VALUES (?, 'A-none', "
            "TIMESTAMP '2020-01-01', false, false, false, true, false, ?)",
            [seeker, TINY_DAY],
        )
        (twice,) = con.execute(  # another seeker with two sends: the second's rank made 1
            "SELECT min(jobseeker_id) FROM recs.to_send WHERE run_date = ? AND rank = 2 "
            "AND jobseeker_id <> ?",
            [TINY_DAY, seeker],
        ).fetchone()
        con.execute("UPDATE recs.to_send SET rank = 1 WHERE jobseeker_id = ? AND rank = 2", [twice])
        problems = {
            p: c for p, c, _ in con.execute(warehouse.sql("check_to_send"), params).fetchall()
        }
    assert problems == {
        "below its segment's thresholds": 1,
        "unsubscribed seeker": n,
        "more than the nightly cap or ranks not 1..n": 1,
    }


def _check_fairness_and_report(settings):
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        rows = con.execute(
            "SELECT source, outcome, gap, ci_low, ci_high, n FROM metrics.fairness "
            "WHERE run_date = ?",
            [TINY_DAY],
        ).fetchall()
        assets = {
            a
            for (a,) in con.execute(
                "SELECT DISTINCT asset FROM metrics.runs WHERE run_date = ?", [TINY_DAY]
            ).fetchall()
        }
    sources = {s for s, *_ in rows}
    assert {"applications", "muse2", "ot", "send"} <= sources
    assert all(lo <= g <= hi and n > 0 for _, _, g, lo, hi, n in rows)
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        estimands = con.execute(
            "SELECT source, list(DISTINCT estimand ORDER BY estimand), "
            "bool_and(p_holm BETWEEN 0 AND 1 AND diff_std_error > 0) "
            "FROM metrics.fairness WHERE run_date = ? GROUP BY source",
            [TINY_DAY],
        ).fetchall()
    for source, found, tested in estimands:
        assert found == ["atte", "plr"], source
        # a recommender is compared with the applications, jointly; the others are not
        assert tested is (True if source in ("muse2", "ot", "send") else None), source
    # the sources estimated in worker processes or one after the other: the same estimates
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        serial, parallel = (audit.nightly_audit(con, TINY_DAY, workers=w) for w in (1, 2))
    pd.testing.assert_frame_equal(serial, parallel)
    assert len(serial) == len(rows)
    report = settings.reports_dir / TINY_DAY.isoformat() / "report.md"
    text = report.read_text()
    assert "Gender gap" in text and "Market before and after" in text
    fairness = text.split("## Gender gap")[1]
    assert fairness.split("\n|")[3].lstrip().startswith("atte")  # the report leads with it
    assert (report.parent / "fairness.png").exists()
    assert {"metrics/fairness", "reports/nightly", "recs/to_send"} <= assets  # every asset timed
