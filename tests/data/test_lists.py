"""The nights' big lists as Parquet files read through views: a night is one registered file,
a rolled-back or replaced file is never read and is removed once no copy registers it, old
warehouses migrate, and the analysts' copy reads the same files."""

from __future__ import annotations

import datetime as dt
import shutil

import duckdb
import numpy as np
import pandas as pd
import pytest

from jobrec.data import lists, warehouse
from jobrec.data.market import Market, read_lists

D1, D2 = dt.date(2026, 3, 1), dt.date(2026, 3, 2)
SEEKERS = ["S0", "S1", "S2"]
ADS = ["A0", "A1", "A2", "A3"]

RANKED_TABLE = (  # a table of ranked lists as the warehouse held them before the Parquet lists
    "CREATE SCHEMA IF NOT EXISTS recs; CREATE TABLE IF NOT EXISTS recs.candidates (run_date DATE, "
    'jobseeker_id VARCHAR, ad_id VARCHAR, "rank" SMALLINT, score FLOAT)'
)


def _write(con, day, shift=0.0, table="recs.candidates", constants=None, per_pair=None):
    writer = lists.PartitionWriter(con, table, day)
    index = np.array([[2, 0, -1], [1, 3, 0]])  # S0: A2, A0 (a short list); S2: A1, A3, A0
    scores = np.array([[0.9, 0.5, np.nan], [0.8, 0.7, 0.1]], dtype=np.float32) + shift
    writer.append(SEEKERS, ADS, np.array([0, 2]), index, scores, constants, per_pair)
    return writer


def _rows(con, day, table="recs.candidates"):
    return con.execute(
        'SELECT jobseeker_id, ad_id, "rank", round(CAST(score AS DOUBLE), 3) '
        f'FROM {table} WHERE run_date = ? ORDER BY jobseeker_id, "rank"',
        [day],
    ).fetchall()


@pytest.fixture
def con(tmp_path):
    with duckdb.connect(str(tmp_path / "wh" / "w.duckdb")) as c:
        yield c


@pytest.fixture(autouse=True)
def _folder(tmp_path):
    (tmp_path / "wh").mkdir()


def test_a_night_is_its_registered_file_and_a_rerun_replaces_it(con, tmp_path):
    assert _write(con, D1).commit() == 5
    assert _rows(con, D1) == [
        ("S0", "A2", 1, 0.9),
        ("S0", "A0", 2, 0.5),
        ("S2", "A1", 1, 0.8),
        ("S2", "A3", 2, 0.7),
        ("S2", "A0", 3, 0.1),
    ]
    first = lists.registered_files(con)
    _write(con, D2).commit()
    _write(con, D1, shift=1.0).commit()  # a re-run of D1
    assert _rows(con, D1)[0] == ("S0", "A2", 1, 1.9)
    assert len(_rows(con, D2)) == 5
    folder = tmp_path / "wh" / "lists"
    assert len(list(folder.glob("*/*/*.parquet"))) == 3  # D1's first file is not read any more
    kept = lists.registered_files(con)
    assert lists.remove_orphans(folder, kept) == []  # within the grace period
    removed = lists.remove_orphans(folder, kept, grace_s=0)
    assert [str(p) for p in removed] == sorted(first)
    assert {str(p) for p in folder.glob("*/*/*.parquet")} == kept


def test_a_rolled_back_night_keeps_the_earlier_file(con, tmp_path):
    _write(con, D1).commit()
    con.execute("BEGIN")
    _write(con, D1, shift=1.0).commit()
    assert _rows(con, D1)[0][3] == 1.9  # the step's checks see tonight's file
    con.execute("ROLLBACK")  # a blocking check failed
    assert _rows(con, D1)[0][3] == 0.9
    removed = lists.remove_orphans(tmp_path / "wh" / "lists", lists.registered_files(con), 0)
    assert len(removed) == 1 and len(_rows(con, D1)) == 5


def test_reranked_lists_carry_their_model(con):
    _write(con, D1, table="recs.reranked", constants={"model": "muse2"}).commit()
    assert con.execute("SELECT DISTINCT model FROM recs.reranked").fetchall() == [("muse2",)]


def test_prune_keeps_the_last_nights_tonight_included(con):
    _write(con, D1).commit()
    _write(con, D1 + dt.timedelta(days=9)).commit()
    assert lists.prune_partitions(con, "recs.candidates", D1 + dt.timedelta(days=9), 7) == 1
    assert lists.prune_partitions(con, "recs.candidates", D1 + dt.timedelta(days=9), 1) == 0
    days = con.execute("SELECT DISTINCT run_date FROM recs.candidates").fetchall()
    assert days == [(D1 + dt.timedelta(days=9),)]


def test_an_old_warehouse_table_of_lists_migrates(con):
    con.execute(RANKED_TABLE)
    for day in (D1, D2):  # the rows _write writes, as the old layout held them
        con.execute(
            "INSERT INTO recs.candidates VALUES (?, 'S0', 'A2', 1, 0.9), (?, 'S0', 'A0', 2, 0.5), "
            "(?, 'S2', 'A1', 1, 0.8), (?, 'S2', 'A3', 2, 0.7), (?, 'S2', 'A0', 3, 0.1)",
            [day] * 5,
        )
    before = {day: _rows(con, day) for day in (D1, D2)}
    lists.ensure_view(con, "recs.candidates")
    kind = con.execute(
        "SELECT table_type FROM information_schema.tables WHERE table_name = 'candidates'"
    ).fetchone()
    assert kind == ("VIEW",)
    assert {day: _rows(con, day) for day in (D1, D2)} == before


def test_recommendations_carry_their_per_pair_columns_and_migrate(con):
    con.execute(
        "CREATE SCHEMA recs; CREATE TABLE recs.recommendations (run_date DATE, jobseeker_id "
        'VARCHAR, ad_id VARCHAR, "rank" SMALLINT, score FLOAT, plan_mass DOUBLE, rerank_rank '
        "SMALLINT, muse2_score FLOAT)"
    )
    con.execute(
        "INSERT INTO recs.recommendations VALUES (?, 'S1', 'A3', 1, -0.5, 0.75, 4, 1.5)", [D1]
    )
    mass = np.array([[0.5, 0.25, 0.0], [0.4, 0.35, 0.25]])
    rerank_rank = np.array([[3, 1, 2], [1, 2, 3]], dtype=np.int16)
    muse2 = np.array([[1.0, 2.0, 0.0], [3.0, 2.5, 1.0]], dtype=np.float32)
    _write(
        con,
        D2,
        table="recs.recommendations",
        per_pair={"plan_mass": mass, "rerank_rank": rerank_rank, "muse2_score": muse2},
    ).commit()
    got = con.execute(
        'SELECT run_date, jobseeker_id, ad_id, "rank", plan_mass, rerank_rank, muse2_score '
        'FROM recs.recommendations ORDER BY run_date, jobseeker_id, "rank"'
    ).fetchall()
    assert got == [
        (D1, "S1", "A3", 1, 0.75, 4, 1.5),  # the old table's night, migrated
        (D2, "S0", "A2", 1, 0.5, 3, 1.0),  # the padded pair of S0 is dropped with its columns
        (D2, "S0", "A0", 2, 0.25, 1, 2.0),
        (D2, "S2", "A1", 1, 0.4, 1, 3.0),
        (D2, "S2", "A3", 2, 0.35, 2, 2.5),
        (D2, "S2", "A0", 3, 0.25, 3, 1.0),
    ]


def test_the_published_copy_reads_the_same_files(con, tmp_path):
    _write(con, D1).commit()
    counts = warehouse.publish(con, tmp_path / "pub" / "p.duckdb")
    assert counts["store.list_files"] == 1
    with duckdb.connect(str(tmp_path / "pub" / "p.duckdb"), read_only=True) as pub:
        assert _rows(pub, D1) == _rows(con, D1)


def test_the_published_copy_leaves_out_an_unfinished_nights_lists(con, tmp_path):
    _write(con, D1).commit()
    _write(con, D2, shift=0.01).commit()
    warehouse.mark_night(con, D2, "running", "run-2", "recs/candidates")
    counts = warehouse.publish(con, tmp_path / "pub" / "p.duckdb")
    assert counts["store.list_files"] == 1
    with duckdb.connect(str(tmp_path / "pub" / "p.duckdb"), read_only=True) as pub:
        assert _rows(pub, D1) == _rows(con, D1)
        assert _rows(pub, D2) == [] and len(_rows(con, D2)) == 5
    warehouse.mark_night(con, D1, "running", "run-1", "recs/candidates")
    warehouse.publish(con, tmp_path / "pub" / "p.duckdb")
    with duckdb.connect(str(tmp_path / "pub" / "p.duckdb"), read_only=True) as pub:
        assert not warehouse.table_exists(pub, "recs.candidates")  # no night to show
        assert lists.registered_files(pub) == set()


def test_lists_need_a_warehouse_file():
    with pytest.raises(ValueError, match="beside a warehouse file"):
        lists.lists_dir(duckdb.connect())


def test_a_copied_warehouse_reads_old_nights_and_writes_beside_itself(con, tmp_path):
    _write(con, D1).commit()
    con.execute("CHECKPOINT")
    moved = tmp_path / "elsewhere" / "w.duckdb"
    moved.parent.mkdir()
    shutil.copy(tmp_path / "wh" / "w.duckdb", moved)
    with duckdb.connect(str(moved)) as other:
        _write(other, D2, shift=1.0).commit()
        assert _rows(other, D1) == _rows(con, D1)
        assert _rows(other, D2)[0][3] == 1.9
        (path,) = other.execute(
            "SELECT path FROM store.list_files WHERE run_date = ?", [D2]
        ).fetchone()
        assert path.startswith(str(moved.parent / "lists"))
    assert _rows(con, D2) == []  # the original warehouse is untouched


def test_a_partition_block_that_raises_leaves_no_file_and_no_night(con, tmp_path):
    with lists.partition(con, "recs.candidates", D1) as writer:
        writer.append(SEEKERS, ADS, np.array([0]), np.array([[1, 2]]), np.array([[0.9, 0.5]]))
    kept = _rows(con, D1)
    with pytest.raises(RuntimeError), lists.partition(con, "recs.candidates", D1) as writer:
        writer.append(SEEKERS, ADS, np.array([2]), np.array([[3, 0]]), np.array([[0.8, 0.1]]))
        raise RuntimeError("the step failed")
    assert not writer.path.exists()
    assert _rows(con, D1) == kept == [("S0", "A1", 1, 0.9), ("S0", "A2", 2, 0.5)]


def test_read_lists_gives_market_rows_ranked_and_padded():

    con = duckdb.connect()
    con.execute(
        "CREATE SCHEMA recs; CREATE TABLE recs.reranked (run_date DATE, jobseeker_id VARCHAR, "
        'ad_id VARCHAR, "rank" SMALLINT, score FLOAT, model VARCHAR)'
    )
    con.executemany(
        "INSERT INTO recs.reranked VALUES (?, ?, ?, ?, ?, ?)",
        [
            (D1, "S2", "A3", 2, 0.5, "muse2"),
            (D1, "S2", "A1", 1, 0.9, "muse2"),
            (D1, "S2", "A9", 3, 0.1, "muse2"),  # an ad the market does not know: -1
            (D1, "S2", "A0", 4, 0.0, "muse2"),  # beyond k
            (D1, "S0", "A2", 1, 0.7, "muse1"),  # another model
            (D2, "S0", "A2", 1, 0.6, "muse2"),  # another day
            (D1, "S0", "A0", 1, 0.8, "muse2"),
        ],
    )
    market = Market(
        D1,
        pd.DataFrame({"jobseeker_id": SEEKERS}),
        pd.DataFrame({"ad_id": ADS}),
        None,
        None,
        None,
        None,
    )
    ads, scores = read_lists(con, "recs.reranked", D1, market, np.array([2, 1, 0]), 3, "muse2")
    assert ads.tolist() == [[1, 3, -1], [-1, -1, -1], [0, -1, -1]]
    np.testing.assert_allclose(
        scores, [[0.9, 0.5, 0.1], [np.nan, np.nan, np.nan], [0.8, np.nan, np.nan]], rtol=1e-6
    )
    assert not {"wanted_seekers", "market_ad_rows"} & {
        n for (n,) in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()
    }
