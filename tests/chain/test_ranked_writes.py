"""warehouse.insert_ranked (ranked lists joined to ids in DuckDB) and warehouse.replace_rows
(replacing the rows one writer owns in a shared table)."""

from __future__ import annotations

import datetime as dt

import duckdb
import numpy as np
import pandas as pd
import pytest

from jobrec.data import warehouse

D = dt.date(2026, 3, 10)
SEEKERS = ["S0", "S1", "S2"]
ADS = ["A0", "A1", "A2", "A3"]

RANKED_TABLE = (  # a table of ranked lists as insert_ranked fills one (recs.recommendations...)
    "CREATE SCHEMA IF NOT EXISTS recs; CREATE TABLE IF NOT EXISTS recs.candidates (run_date DATE, "
    'jobseeker_id VARCHAR, ad_id VARCHAR, "rank" SMALLINT, score FLOAT)'
)


@pytest.fixture
def con():
    con = duckdb.connect()
    yield con
    con.close()


def candidates(con, day=D):
    return con.execute(
        'SELECT jobseeker_id, ad_id, "rank", score FROM recs.candidates WHERE run_date = ? '
        'ORDER BY jobseeker_id, "rank"',
        [day],
    ).fetchall()


def test_insert_ranked_joins_ids_drops_padding_and_ranks_from_one(con):
    con.execute(RANKED_TABLE)
    rows = np.array([2, 0])  # lists of S2 and S0
    index = np.array([[3, 1, -1], [0, -1, -1]])
    scores = np.array([[0.875, 0.5, -np.inf], [0.75, -np.inf, -np.inf]], dtype=np.float32)
    n = warehouse.insert_ranked(con, "recs.candidates", D, SEEKERS, ADS, rows, index, scores)
    assert n == 3
    assert candidates(con) == [("S0", "A0", 1, 0.75), ("S2", "A3", 1, 0.875), ("S2", "A1", 2, 0.5)]
    # stored in (seeker position, rank) order
    assert con.execute('SELECT jobseeker_id, "rank" FROM recs.candidates').fetchall() == [
        ("S0", 1),
        ("S2", 1),
        ("S2", 2),
    ]
    # a second block appends; other days are separate
    n = warehouse.insert_ranked(
        con,
        "recs.candidates",
        D,
        SEEKERS,
        ADS,
        np.array([1]),
        np.array([[2, 0, 1]]),
        np.array([[3.0, 2.0, 1.0]]),
    )
    assert n == 3
    got = candidates(con)
    assert [r for r in got if r[0] == "S1"] == [
        ("S1", "A2", 1, 3.0),
        ("S1", "A0", 2, 2.0),
        ("S1", "A1", 3, 1.0),
    ]
    assert len(got) == 6 and candidates(con, D - dt.timedelta(days=1)) == []
    types = dict(
        con.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = 'candidates'"
        ).fetchall()
    )
    assert types["rank"] == "SMALLINT" and types["run_date"] == "DATE"
    # the temporary views are gone
    assert not con.execute(
        "SELECT count(*) FROM duckdb_views() WHERE view_name LIKE 'ranked_%'"
    ).fetchone()[0]


def test_insert_ranked_writes_nothing_for_all_padded_lists(con):
    con.execute(RANKED_TABLE)
    n = warehouse.insert_ranked(
        con,
        "recs.candidates",
        D,
        SEEKERS,
        ADS,
        np.array([0, 1]),
        np.full((2, 2), -1),
        np.zeros((2, 2)),
    )
    assert n == 0 and candidates(con) == []


def test_insert_ranked_constants_fill_extra_columns(con):
    con.execute(
        "CREATE TABLE ranked (run_date DATE, model VARCHAR, k INTEGER, jobseeker_id VARCHAR, "
        'ad_id VARCHAR, "rank" SMALLINT, score FLOAT)'
    )
    n = warehouse.insert_ranked(
        con,
        "ranked",
        D,
        SEEKERS,
        ADS,
        np.array([1]),
        np.array([[2, 3]]),
        np.array([[0.5, 0.25]]),
        constants={"model": "muse2", "k": 2},
    )
    assert n == 2
    assert con.execute('SELECT * FROM ranked ORDER BY "rank"').fetchall() == [
        (D, "muse2", 2, "S1", "A2", 1, 0.5),
        (D, "muse2", 2, "S1", "A3", 2, 0.25),
    ]
    with pytest.raises(ValueError):  # a constant's name must be a plain identifier
        warehouse.insert_ranked(
            con,
            "ranked",
            D,
            SEEKERS,
            ADS,
            np.array([1]),
            np.array([[2]]),
            np.array([[0.5]]),
            constants={"k; DROP TABLE ranked": 1},
        )


# -- replace_rows ---------------------------------------------------------------------------------

COLUMNS = [
    "run_date",
    "stage",
    "model",
    "relevance",
    "split",
    "k",
    "recall",
    "ndcg",
    "hit_rate",
    "seekers",
    "population",
]


def ranking_frame(day, stage, model, recall):
    return pd.DataFrame(
        [[day, stage, model, "applications", "validation", 10, recall, 0.0, 0.0, 5, "all"]],
        columns=COLUMNS,
    )


@pytest.fixture
def ranking(con):
    con.execute(warehouse.sql("create_metrics_ranking"))
    before = D - dt.timedelta(days=1)
    frame = pd.concat(
        [
            ranking_frame(D, "retrieval", "muse0", 0.1),
            ranking_frame(D, "baseline", "popularity", 0.2),
            ranking_frame(D, "rerank", "muse2", 0.3),
            ranking_frame(before, "retrieval", "muse0", 0.4),
            ranking_frame(before, "baseline", "popularity", 0.5),
        ]
    )
    con.register("seed_rows", frame)
    con.execute("INSERT INTO metrics.ranking BY NAME SELECT * FROM seed_rows")
    con.unregister("seed_rows")
    return con


def stored(con):
    return con.execute(
        "SELECT run_date, stage, model, recall FROM metrics.ranking ORDER BY run_date, stage"
    ).fetchall()


def test_replace_rows_deletes_only_the_owned_rows_of_that_day(ranking):
    new = pd.concat(
        [ranking_frame(D, "retrieval", "muse0", 0.6), ranking_frame(D, "baseline", "oracle", 0.7)]
    )
    new = new[COLUMNS[::-1]]  # columns matched by name
    owned = {"stage": ["retrieval", "baseline"]}
    assert warehouse.replace_rows(ranking, "metrics.ranking", D, new, owned) == 2
    before = D - dt.timedelta(days=1)
    assert stored(ranking) == [
        (before, "baseline", "popularity", 0.5),
        (before, "retrieval", "muse0", 0.4),
        (D, "baseline", "oracle", 0.7),
        (D, "rerank", "muse2", 0.3),  # another writer's row
        (D, "retrieval", "muse0", 0.6),
    ]
    # a re-run replaces, never duplicates
    warehouse.replace_rows(ranking, "metrics.ranking", D, new, owned)
    assert len(stored(ranking)) == 5


def test_replace_rows_owned_columns_combine(ranking):
    new = ranking_frame(D, "baseline", "popularity", 0.9)
    warehouse.replace_rows(
        ranking,
        "metrics.ranking",
        D,
        new,
        {"stage": ["baseline", "retrieval"], "model": ["popularity"]},
    )
    got = stored(ranking)
    assert (D, "retrieval", "muse0", 0.1) in got  # stage owned but model not: kept
    assert (D, "baseline", "popularity", 0.9) in got and len(got) == 5
    assert (D, "baseline", "popularity", 0.2) not in got
