"""Events stored once, entities as versions: the clean views against the definition they keep
(every entity registered or posted before D, every event dated before D, in the raw files), in
any order of nights, re-runs, late rows, changed entities and the migration of an old warehouse."""

from __future__ import annotations

import datetime as dt

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from jobrec.data import clean
from jobrec.data.contract import RAW_SCHEMAS, open_raw_views
from tests import minimarket
from tests.conftest import TINY_END
from tests.minimarket import RUN_DATE, ts

STORED = list(clean.STORED)
DAY = dt.timedelta(days=1)

# The definition the views keep: each day straight from the raw files (the pre-store statements).
ORACLE = {
    "clean.jobseekers": """
        SELECT CAST($run_date AS DATE) AS run_date, * EXCLUDE (exited_on),
            CASE WHEN exited_on < $run_date THEN exited_on END AS exited_on,
            coalesce(exited_on >= $run_date, true) AS active
        FROM ({incoming_jobseekers})""",
    "clean.job_ads": """
        SELECT CAST($run_date AS DATE) AS run_date, * EXCLUDE (closed_on),
            CASE WHEN closed_on < $run_date THEN closed_on END AS closed_on,
            coalesce(closed_on >= $run_date, true) AS active
        FROM ({incoming_job_ads})""",
}
for _name in ("applications", "hires", "recommendation_feedback"):
    ORACLE[f"clean.{_name}"] = f"""
        SELECT CAST($run_date AS DATE) AS run_date, i.* FROM ({{incoming_{_name}}}) AS i
        WHERE i.jobseeker_id IN (SELECT jobseeker_id FROM oracle_jobseekers)
          AND i.ad_id IN (SELECT ad_id FROM oracle_job_ads)"""


def _sql(template: str) -> str:
    from jobrec.data import warehouse

    names = {
        f"incoming_{s.name}": warehouse.sql(f"incoming_{s.name}") for s in clean.STORED.values()
    }
    return template.format(**names)


def oracle(con, raw_dir, day: dt.date) -> dict[str, set]:
    open_raw_views(con, raw_dir, day)
    out = {}
    for table in STORED:
        if table == "clean.applications":  # events name entities known on the day
            for entity in ("jobseekers", "job_ads"):
                con.execute(
                    f"CREATE OR REPLACE TEMP TABLE oracle_{entity} AS "
                    + _sql(ORACLE[f"clean.{entity}"]),
                    {"run_date": day},
                )
        rel = con.execute(_sql(ORACLE[table]), {"run_date": day})
        columns = [d[0] for d in rel.description]
        out[table] = {_row(dict(zip(columns, r, strict=True))) for r in rel.fetchall()}
    return out


def views(con, day: dt.date) -> dict[str, set]:
    out = {}
    for table in STORED:
        rel = con.execute(f"SELECT * FROM {table} WHERE run_date = ?", [day])
        columns = [d[0] for d in rel.description]
        out[table] = {_row(dict(zip(columns, r, strict=True))) for r in rel.fetchall()}
    return out


def _row(record: dict) -> tuple:
    return tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in record.items()))


def night(con, raw_dir, day: dt.date) -> dict[str, clean.Ingest]:
    """One night of the clean stage, in the chain's order, in one transaction."""
    con.execute("BEGIN")
    written = {t: clean.write_clean_partition(con, t, raw_dir, day) for t in STORED}
    con.execute("COMMIT")
    return written


def store_rows(con) -> dict[str, list]:
    return {
        s.name: sorted(map(repr, con.execute(f"SELECT * FROM store.{s.name}").fetchall()))
        for s in clean.STORED.values()
    }


def test_views_equal_the_raw_definition_in_any_order_of_nights_and_reruns(tiny_market):
    days = [TINY_END - dt.timedelta(days=n) for n in (6, 3, 0)]
    con = duckdb.connect()
    for day in (days[2], days[0], days[1]):  # a backfill of earlier days after the latest
        night(con, tiny_market, day)
    before = store_rows(con)
    night(con, tiny_market, days[1])  # a re-run changes nothing
    assert store_rows(con) == before
    for day in days:
        expected = oracle(con, tiny_market, day)
        found = views(con, day)
        for table in STORED:
            assert found[table] == expected[table], (table, day)
            assert len(expected[table]) > 0
    # events are stored once: as many stored rows as the latest day's partition holds
    latest = oracle(con, tiny_market, days[2])
    for s in ("applications", "hires", "recommendation_feedback"):
        (n,) = con.execute(f"SELECT count(*) FROM store.{s}").fetchone()
        assert n == len(latest[f"clean.{s}"])


def test_a_later_night_adds_only_its_own_day(tiny_market):
    con = duckdb.connect()
    first = night(con, tiny_market, TINY_END - DAY)
    second = night(con, tiny_market, TINY_END)
    (day_rows,) = con.execute(
        "SELECT count(*) FROM store.applications WHERE CAST(timezone('UTC', applied_at) AS DATE)"
        " = ?",
        [TINY_END - DAY],
    ).fetchone()
    assert first["clean.applications"].ingested == first["clean.applications"].rows
    assert 0 < second["clean.applications"].ingested == day_rows
    assert second["clean.applications"].rows == first["clean.applications"].rows + day_rows
    # seekers and ads: only new or changed ones start a version (here: new registrations)
    assert 0 < second["clean.jobseekers"].ingested < first["clean.jobseekers"].ingested / 10


def _late_market(raw_dir, late: bool):
    """The hand market; with `late`, one more application dated before RUN_DATE."""
    rows = minimarket.tables()["applications"]
    if late:
        rows = rows + [
            dict(
                jobseeker_id="S1", ad_id="A3", applied_at=ts("2026-03-08T10:00"), channel="organic"
            )
        ]
    pq.write_table(
        pa.Table.from_pylist(rows, schema=RAW_SCHEMAS["applications"]),
        raw_dir / "applications.parquet",
    )


def _late_rows(con, day=None):
    where = "jobseeker_id = 'S1' AND ad_id = 'A3'"
    if day is None:
        return con.execute(f"SELECT ingested_on FROM store.applications WHERE {where}").fetchall()
    return con.execute(
        f"SELECT count(*) FROM clean.applications WHERE run_date = ? AND {where}", [day]
    ).fetchone()[0]


def test_a_late_event_is_stored_once_and_appears_when_its_day_is_rerun(tmp_path):
    raw = minimarket.write(tmp_path / "raw")
    con = duckdb.connect()
    night(con, raw, RUN_DATE)
    night(con, raw, RUN_DATE + DAY)
    _late_market(raw, late=True)  # arrives after both nights ran
    night(con, raw, RUN_DATE + 2 * DAY)
    assert _late_rows(con) == [(RUN_DATE + 2 * DAY,)]
    assert (_late_rows(con, RUN_DATE), _late_rows(con, RUN_DATE + 2 * DAY)) == (0, 1)
    night(con, raw, RUN_DATE)  # the re-run of its day takes it in
    assert _late_rows(con) == [(RUN_DATE,)]
    assert [_late_rows(con, RUN_DATE + n * DAY) for n in range(3)] == [1, 1, 1]
    night(con, raw, RUN_DATE + 2 * DAY)  # and a re-run of the later night does not store it again
    assert _late_rows(con) == [(RUN_DATE,)]


def _ads_with_a3_closing(raw_dir, closed_on):
    t = minimarket.raw_table("job_ads")
    values = t["closed_on"].to_pylist()
    values[2] = closed_on  # A3
    pq.write_table(
        t.set_column(
            t.schema.get_field_index("closed_on"), "closed_on", pa.array(values, pa.date32())
        ),
        raw_dir / "job_ads.parquet",
    )


def _a3(con, day):
    return con.execute(
        "SELECT closed_on, active FROM clean.job_ads WHERE run_date = ? AND ad_id = 'A3'", [day]
    ).fetchone()


def test_a_changed_ad_is_a_new_version_and_earlier_days_keep_the_old_one(tmp_path):
    raw = minimarket.write(tmp_path / "raw")
    con = duckdb.connect()
    _ads_with_a3_closing(raw, None)
    night(con, raw, RUN_DATE)
    _ads_with_a3_closing(raw, RUN_DATE)  # closed early: the employer filled it on RUN_DATE
    written = night(con, raw, RUN_DATE + DAY)
    assert (written["clean.job_ads"].ingested, written["clean.job_ads"].ended) == (1, 1)
    assert _a3(con, RUN_DATE) == (None, True)
    assert _a3(con, RUN_DATE + DAY) == (RUN_DATE, False)
    versions = con.execute(
        "SELECT valid_from, valid_to, closed_on FROM store.job_ads WHERE ad_id = 'A3' ORDER BY 1"
    ).fetchall()
    assert versions == [(RUN_DATE, RUN_DATE + DAY, None), (RUN_DATE + DAY, None, RUN_DATE)]
    # a re-run of the first night with the new files: that night now sees the new content, and
    # the versions stay non-overlapping
    night(con, raw, RUN_DATE)
    assert _a3(con, RUN_DATE) == (None, True)  # closed on RUN_DATE: not passed yet on that day
    (overlaps,) = con.execute(
        "SELECT count(*) FROM store.job_ads AS a JOIN store.job_ads AS b ON a.ad_id = b.ad_id "
        "AND a.valid_from < b.valid_from AND (a.valid_to IS NULL OR a.valid_to > b.valid_from)"
    ).fetchone()
    assert overlaps == 0
    assert views(con, RUN_DATE + DAY) == oracle(con, raw, RUN_DATE + DAY)


def test_an_entity_gone_from_the_files_ends_and_its_return_starts_again(tmp_path):
    raw = minimarket.write(tmp_path / "raw")
    con = duckdb.connect()
    night(con, raw, RUN_DATE)
    t = minimarket.raw_table("jobseekers")
    pq.write_table(
        t.filter(pa.compute.not_equal(t["jobseeker_id"], "S3")), raw / "jobseekers.parquet"
    )
    night(con, raw, RUN_DATE + DAY)
    ids = lambda day: [  # noqa: E731
        r[0]
        for r in con.execute(
            "SELECT jobseeker_id FROM clean.jobseekers WHERE run_date = ? ORDER BY 1", [day]
        ).fetchall()
    ]
    assert (ids(RUN_DATE), ids(RUN_DATE + DAY)) == (["S1", "S2", "S3"], ["S1", "S2"])
    minimarket.write(raw)
    night(con, raw, RUN_DATE + 2 * DAY)
    assert ids(RUN_DATE + 2 * DAY) == ["S1", "S2", "S3", "S4"]


def test_an_old_warehouse_migrates_into_the_store(tiny_market, tmp_path):
    """A warehouse of full copies per partition (the layout before the store) becomes the store
    and the views, with the same rows on every old day."""
    days = [TINY_END - DAY, TINY_END]
    db = tmp_path / "old.duckdb"
    con = duckdb.connect(str(db))
    con.execute("CREATE SCHEMA clean")
    expected = {}
    for day in days:
        expected[day] = oracle(con, tiny_market, day)
        for table in STORED:
            statement = _sql(ORACLE[table])
            if table == "clean.applications":
                for entity in ("jobseekers", "job_ads"):
                    con.execute(
                        f"CREATE OR REPLACE TEMP TABLE oracle_{entity} AS "
                        + _sql(ORACLE[f"clean.{entity}"]),
                        {"run_date": day},
                    )
            if day == days[0]:
                con.execute(f"CREATE TABLE {table} AS {statement}", {"run_date": day})
            else:
                con.execute(f"INSERT INTO {table} BY NAME {statement}", {"run_date": day})
    con.execute("BEGIN")
    clean.ensure_store(con)
    con.execute("COMMIT")
    kinds = dict(
        con.execute(
            "SELECT table_schema || '.' || table_name, table_type FROM information_schema.tables "
            "WHERE table_schema = 'clean'"
        ).fetchall()
    )
    assert kinds == {t: "VIEW" for t in STORED}
    for day in days:
        assert views(con, day) == expected[day]
    # the next night goes on from the migrated store
    night(con, tiny_market, TINY_END + DAY)
    assert views(con, TINY_END + DAY) == oracle(con, tiny_market, TINY_END + DAY)


@pytest.mark.parametrize("table", STORED)
def test_retention_drops_the_view_partition_not_the_stored_rows(tmp_path, table):
    raw = minimarket.write(tmp_path / "raw")
    con = duckdb.connect()
    night(con, raw, RUN_DATE)
    night(con, raw, RUN_DATE + 9 * DAY)
    stored_before = store_rows(con)
    assert clean.prune_partitions(con, table, RUN_DATE + 9 * DAY, keep_days=7) == 1
    assert clean.prune_partitions(con, table, RUN_DATE + 9 * DAY, keep_days=7) == 0
    days = [r[0] for r in con.execute(f"SELECT DISTINCT run_date FROM {table}").fetchall()]
    assert days == [RUN_DATE + 9 * DAY]
    assert store_rows(con) == stored_before
