"""warehouse.replace_rows: replacing the rows one writer owns in a shared table."""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd
import pytest

from jobrec.data import warehouse

D = dt.date(2026, 3, 10)


@pytest.fixture
def con():
    con = duckdb.connect()
    yield con
    con.close()


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
