"""The raw-file reader accepts every valid variant of the contract's types, and gives the same
typed rows whatever the variant; its rules only look at rows the partition can read."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from jobrec.data.contract import RAW_FILES, RAW_SCHEMAS, ContractError, RawInputs, open_raw_views
from tests import minimarket
from tests.minimarket import RUN_DATE


def _typed(raw_dir, day=RUN_DATE):
    con = duckdb.connect()
    inputs = RawInputs(con, raw_dir, day)
    report = inputs.validate()
    assert {n: [v.message() for v in vs] for n, vs in report.items() if vs} == {}
    # an empty CSV field cannot tell an empty list from a missing one: both read as empty
    lists = {
        "jobseekers": " REPLACE (coalesce(skills, []) AS skills)",
        "job_ads": " REPLACE (coalesce(skills, []) AS skills)",
    }
    return {
        n: con.execute(
            f"SELECT * EXCLUDE (_row){lists.get(n, '')} FROM raw_{n} ORDER BY ALL"
        ).fetchall()
        for n in RAW_FILES
    }


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    return _typed(minimarket.write(tmp_path_factory.mktemp("ref")))


def _recast(name: str, casts: dict[str, pa.DataType]) -> pa.Table:
    t = pa.Table.from_pylist(minimarket.tables()[name], schema=RAW_SCHEMAS[name])
    for column, type_ in casts.items():
        i = t.schema.get_field_index(column)
        t = t.set_column(i, pa.field(column, type_), t[column].cast(type_))
    return t


VARIANTS = {
    "numbers as int32/float32": {
        "job_ads": {"wage": pa.int32(), "hours_per_week": pa.float64(), "positions": pa.int64()},
        "jobseekers": {"birth_year": pa.int64(), "education_level": pa.float64()},
    },
    "whole numbers as floats": {
        "job_ads": {"positions": pa.float32(), "required_education": pa.float64()},
    },
    "decimals": {"job_ads": {"wage": pa.decimal128(10, 2)}},
    "booleans as 0/1 integers": {
        "recommendation_feedback": {
            c: pa.int8()
            for c in (
                "responded",
                "applied",
                "positive_outcome",
                "unsubscribed",
                "negative_feedback",
            )
        },
    },
    "days as timestamps, times without zone": {
        "jobseekers": {"registered_on": pa.timestamp("ms"), "exited_on": pa.timestamp("s")},
        "applications": {"applied_at": pa.timestamp("ns")},
    },
    "large and dictionary strings": {
        "applications": {
            "jobseeker_id": pa.large_string(),
            "ad_id": pa.dictionary(pa.int32(), pa.string()),
        },
        "job_ads": {"skills": pa.large_list(pa.large_string())},
    },
}


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_valid_parquet_variants_are_accepted_and_read_alike(variant, tmp_path, reference):
    overrides = {name: _recast(name, casts) for name, casts in VARIANTS[variant].items()}
    assert _typed(minimarket.write(tmp_path, overrides)) == reference


def test_a_folder_of_parquet_parts(tmp_path, reference):
    raw = minimarket.write(tmp_path)
    apps = pq.read_table(raw / "applications.parquet")
    (raw / "applications.parquet").unlink()
    (raw / "applications").mkdir()
    pq.write_table(apps.slice(0, 3), raw / "applications" / "part-0.parquet")
    pq.write_table(apps.slice(3), raw / "applications" / "part-1.parquet")
    assert _typed(raw) == reference


def test_csv_files_read_like_parquet(tmp_path, reference):
    raw = minimarket.write(tmp_path / "pq")
    csv_dir = tmp_path / "csv"
    csv_dir.mkdir()
    for name in RAW_FILES:
        t = pq.read_table(raw / f"{name}.parquet")
        if "skills" in t.column_names:  # lists as "a;b" (or a DuckDB literal "[a, b]")
            joined = [
                ";".join(v) if i % 2 else f"[{', '.join(v)}]" if v else ""
                for i, v in enumerate(t["skills"].to_pylist())
            ]
            t = t.set_column(t.schema.get_field_index("skills"), "skills", pa.array(joined))
        if name == "recommendation_feedback":  # booleans as 0/1
            for c in ("responded", "applied"):
                i = t.schema.get_field_index(c)
                t = t.set_column(i, c, t[c].cast(pa.int8()))
        pacsv.write_csv(t, csv_dir / f"{name}.csv")
    assert _typed(csv_dir) == reference


def test_csv_value_that_is_not_a_date_is_refused(tmp_path):
    raw = minimarket.write(tmp_path / "pq")
    t = pq.read_table(raw / "jobseekers.parquet")
    days = [str(d) for d in t["registered_on"].to_pylist()]
    days[0] = "31/12/2025"
    t = t.set_column(1, "registered_on", pa.array(days))
    t = t.set_column(14, "skills", pa.array([";".join(v) for v in t["skills"].to_pylist()]))
    pacsv.write_csv(t, raw / "jobseekers.csv")
    (raw / "jobseekers.parquet").unlink()
    report = RawInputs(duckdb.connect(), raw, RUN_DATE).validate()
    (violation,) = report["jobseekers"]
    assert violation.column == "registered_on" and violation.problem == "not a valid date"
    assert "jobseeker_id=S1 registered_on=31/12/2025" in violation.message()


def _with_future_bad_wage(tmp_path):
    rows = minimarket.tables()["job_ads"]
    rows[3]["wage"] = -5.0  # A4, posted 2026-03-12: after RUN_DATE
    t = pa.Table.from_pylist(rows, schema=RAW_SCHEMAS["job_ads"])
    return minimarket.write(tmp_path, {"job_ads": t})


def test_rows_after_the_partition_day_are_not_validated_for_it(tmp_path):
    raw = _with_future_bad_wage(tmp_path)
    assert not any(RawInputs(duckdb.connect(), raw, RUN_DATE).validate().values())
    later = RawInputs(duckdb.connect(), raw, dt.date(2026, 3, 13)).validate()
    assert [v.message() for v in later["job_ads"]] == [
        "job_ads.parquet: column 'wage': must be within [0, 1,000,000] (monthly EUR) (1 row); "
        "sample: row=4 ad_id=A4 wage=-5.0"
    ]


def test_open_raw_views_raises_with_every_problem(tmp_path):
    t = pa.Table.from_pylist(minimarket.tables()["hires"], schema=RAW_SCHEMAS["hires"])
    raw = minimarket.write(tmp_path, {"hires": t.drop_columns(["hired_at"])})
    with pytest.raises(ContractError, match=r"hires.parquet: column 'hired_at': missing column"):
        open_raw_views(duckdb.connect(), raw, RUN_DATE)


def test_decimal_wage_values_survive(tmp_path):
    rows = minimarket.tables()["job_ads"]
    t = _recast("job_ads", {"wage": pa.decimal128(10, 2)})
    raw = minimarket.write(tmp_path, {"job_ads": t})
    con = duckdb.connect()
    open_raw_views(con, raw, RUN_DATE)
    wages = [r[0] for r in con.execute("SELECT wage FROM raw_job_ads ORDER BY ad_id").fetchall()]
    assert wages == [float(Decimal(str(r["wage"]))) for r in rows]
