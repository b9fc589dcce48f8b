"""The malformed-input corpus: every case is either refused by the contract, with a message that
names the file, the column and sample rows, or accepted, with what it becomes said (a count in
the plausibility findings, or nothing). Validation only (the Dagster path of refusals is in
tests/data/test_refused_inputs.py, run on its 15 cases, which this corpus includes)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from jobrec.data.contract import RAW_SCHEMAS, RawInputs
from tests import minimarket
from tests.data.test_refused_inputs import CASES as DAGSTER_CASES

pytestmark = pytest.mark.slow

with_value, raw_table = minimarket.with_value, minimarket.raw_table
UTC = dt.UTC


@dataclasses.dataclass(frozen=True)
class Case:
    file: str  # the file the outcome is about
    write: Callable[[Path], None]  # breaks the market written in the folder
    column: str | None = None  # refused: the column named; None: a file-level problem
    shown: str | None = None  # text the message must show (the offending value)
    accepted: bool = False  # True: no violation at all
    finding: str | None = None  # accepted with this plausibility finding


def replace(name: str, table_of: Callable[[], pa.Table]):
    def write(raw: Path) -> None:
        pq.write_table(table_of(), raw / f"{name}.parquet")

    return write


def value(name, target, row, v, type_=None, **kw) -> Case:
    """`name` with the value of column `target` at `row` replaced by `v`."""
    return Case(name, replace(name, lambda: with_value(name, target, row, v, type_)), **kw)


def as_csv(name: str, edit: Callable[[str], str] = lambda text: text, encoding="utf-8"):
    """The file as CSV text (optionally edited, in another encoding), its Parquet removed."""

    def write(raw: Path) -> None:
        (raw / f"{name}.parquet").unlink()
        t = raw_table(name)
        if "skills" in t.column_names:  # CSV lists: ';'-separated codes
            joined = [";".join(v or []) for v in t["skills"].to_pylist()]
            t = t.set_column(t.schema.get_field_index("skills"), "skills", pa.array(joined))
        path = raw / f"{name}.csv"
        pacsv.write_csv(t, path)
        path.write_bytes(edit(path.read_text()).encode(encoding))

    return write


def as_parts(name: str, second: Callable[[pa.Table], pa.Table]):
    """The file as a folder of two Parquet parts, the second rewritten by `second`."""

    def write(raw: Path) -> None:
        (raw / f"{name}.parquet").unlink()
        t = raw_table(name)
        (raw / name).mkdir()
        pq.write_table(t.slice(0, 2), raw / name / "part-0.parquet")
        pq.write_table(second(t.slice(2)), raw / name / "part-1.parquet")

    return write


def retyped(name: str, column: str, type_: pa.DataType) -> pa.Table:
    t = raw_table(name)
    i = t.schema.get_field_index(column)
    return t.set_column(i, pa.field(column, type_), t[column].cast(type_))


def everything_closed() -> pa.Table:
    t = raw_table("job_ads")
    closed = pa.array([minimarket.d("2026-03-01")] * t.num_rows, pa.date32())
    return t.set_column(t.schema.get_field_index("closed_on"), "closed_on", closed)


def ts(s: str) -> dt.datetime:
    return dt.datetime.fromisoformat(s).replace(tzinfo=UTC)


def naive(name: str, column: str) -> pa.Table:
    return retyped(name, column, pa.timestamp("us"))


def dictionary_strings() -> pa.Table:
    t = raw_table("job_ads")
    i = t.schema.get_field_index("occupation")
    return t.set_column(i, "occupation", t["occupation"].dictionary_encode())


def no_file(name: str):
    return lambda raw: (raw / f"{name}.parquet").unlink()


NEW_CASES: dict[str, Case] = {
    # numbers that are not numbers, or not plausible ones
    "NaN wage (float32 Parquet, min/max statistics without it)": value(
        "job_ads", "wage", 0, float("nan"), column="wage", shown="wage=nan"
    ),
    "+inf desired wage": value(
        "jobseekers", "desired_wage", 1, float("inf"), column="desired_wage", shown="inf"
    ),
    "-inf longitude (float64)": value(
        "jobseekers", "longitude", 0, float("-inf"), column="longitude", shown="-inf"
    ),
    "NaN in a whole-number column": value(
        "job_ads",
        "required_education",
        0,
        float("nan"),
        pa.float64(),
        column="required_education",
        shown="nan",
    ),
    "NaN as CSV text": Case(
        "job_ads",
        as_csv("job_ads", lambda text: text.replace("2200", "nan", 1)),
        column="wage",
        shown="nan",
    ),
    "positions 5e9 (int64: would overflow the clean SMALLINT)": value(
        "job_ads", "positions", 0, 5_000_000_000, pa.int64(), column="positions", shown="5000000000"
    ),
    "wage in cents (5e7)": value("job_ads", "wage", 1, 5e7, column="wage", shown="50000000"),
    "500 years of experience": value(
        "jobseekers", "experience_years", 0, 500.0, column="experience_years", shown="500"
    ),
    "mobility of 1e9 km": value(
        "jobseekers", "mobility_km", 0, 1e9, column="mobility_km", shown="1000000000"
    ),
    "200 hours a week": value(
        "job_ads", "hours_per_week", 0, 200.0, column="hours_per_week", shown="200"
    ),
    "born in 1850": value("jobseekers", "birth_year", 0, 1850, column="birth_year", shown="1850"),
    # dates
    "ad posted in 1900 (would count as open)": value(
        "job_ads",
        "posted_on",
        0,
        dt.date(1900, 1, 1),
        column="posted_on",
        shown="1900-01-01",
    ),
    "application in 1969": value(
        "applications",
        "applied_at",
        2,
        ts("1969-07-21T02:56"),
        column="applied_at",
        shown="1969-07-21",
    ),
    "seeker registered in 1900": value(
        "jobseekers",
        "registered_on",
        0,
        dt.date(1900, 1, 1),
        column="registered_on",
        shown="1900-01-01",
    ),
    "exit before registration": value(
        "jobseekers",
        "exited_on",
        0,
        dt.date(2026, 1, 1),
        column="exited_on",
        shown="2026-01-01",
    ),
    "ad closed before it was posted": value(
        "job_ads", "closed_on", 0, dt.date(2026, 1, 1), column="closed_on", shown="2026-01-01"
    ),
    "a day without one open ad": Case(
        "job_ads", replace("job_ads", everything_closed), shown="no ad is open on 2026-03-10"
    ),
    # codes
    "gender spelled out": value(
        "jobseekers", "gender", 0, "female", column="gender", shown="female"
    ),
    "unknown contract type": value(
        "job_ads", "contract", 0, "freelance", column="contract", shown="freelance"
    ),
    "unknown channel": value(
        "applications", "channel", 0, "email", column="channel", shown="email"
    ),
    # keys and required values
    "duplicate seeker id": Case(
        "jobseekers",
        replace(
            "jobseekers",
            lambda: pa.concat_tables(
                [raw_table("jobseekers"), raw_table("jobseekers").slice(0, 1)]
            ),
        ),
        column="jobseeker_id",
        shown="S1",
    ),
    "required department missing": value(
        "job_ads", "department", 1, None, column="department", shown="A2"
    ),
    # types and encodings
    "dates as text in Parquet": Case(
        "jobseekers",
        replace("jobseekers", lambda: retyped("jobseekers", "registered_on", pa.string())),
        column="registered_on",
        shown="2026-01-05",
    ),
    "skills as one string": Case(
        "job_ads",
        replace(
            "job_ads",
            lambda: raw_table("job_ads").set_column(13, "skills", pa.array(["SK1 SK2"] * 4)),
        ),
        column="skills",
        shown="SK1 SK2",
    ),
    "a CSV date that is not one": Case(
        "job_ads",
        as_csv("job_ads", lambda text: text.replace("2026-02-10", "yesterday", 1)),
        column="posted_on",
        shown="yesterday",
    ),
    "Latin-1 CSV": Case(
        "jobseekers",
        as_csv("jobseekers", lambda text: text.replace("looking for", "cherche café"), "latin-1"),
        shown="not utf-8 encoded",
    ),
    "a Parquet part missing a column": Case(
        "applications",
        as_parts("applications", lambda t: t.drop_columns(["channel"])),
        column="channel",
        shown="part-1.parquet",
    ),
    "no hires file at all": Case("hires", no_file("hires"), shown="missing"),
    # accepted: valid variants and late or odd rows the partition must live with
    "the whole market as CSV": Case(
        "job_ads", lambda raw: [as_csv(n)(raw) for n in RAW_SCHEMAS], accepted=True
    ),
    "numbers as int32 and float64, booleans as 0/1": Case(
        "recommendation_feedback",
        lambda raw: (
            replace("job_ads", lambda: retyped("job_ads", "positions", pa.int32()))(raw),
            replace("jobseekers", lambda: retyped("jobseekers", "desired_wage", pa.float64()))(raw),
            replace(
                "recommendation_feedback",
                lambda: retyped("recommendation_feedback", "responded", pa.int8()),
            )(raw),
        ),
        accepted=True,
    ),
    "timestamps without a time zone (read as UTC)": Case(
        "applications",
        replace("applications", lambda: naive("applications", "applied_at")),
        accepted=True,
    ),
    "dictionary-encoded strings": Case(
        "job_ads", replace("job_ads", dictionary_strings), accepted=True
    ),
    "unknown optional values as nulls": value("job_ads", "wage", 0, None, accepted=True),
    "a broken row dated after the partition (not read yet)": value(
        "job_ads", "wage", 3, -5.0, accepted=True
    ),
    "an application after the seeker's exit (kept, counted)": value(
        "applications",
        "applied_at",
        2,
        ts("2026-03-05T10:00"),
        accepted=True,
        finding="dated after the seeker's exit (kept) (1 row)",
    ),
    "a seeker registered in 2062 with past events (left out, counted)": value(
        "jobseekers",
        "registered_on",
        0,
        dt.date(2062, 1, 1),
        accepted=True,
        finding="by a seeker not registered before the partition's day",
    ),
}


@dataclasses.dataclass(frozen=True)
class Outcome:
    violations: list[str]
    findings: list[str]


def _validate(raw: Path) -> Outcome:
    with duckdb.connect() as con:
        inputs = RawInputs(con, raw, minimarket.RUN_DATE)
        report = inputs.validate()
        found = inputs.findings() if not any(report.values()) else {}
    return Outcome(
        [v.message() for vs in report.values() for v in vs],
        [v.message() for vs in found.values() for v in vs],
    )


def _dagster_case(name: str) -> Case:
    file, broken, column, shown = DAGSTER_CASES[name]
    if broken == "truncate":

        def write(raw: Path) -> None:
            data = (raw / f"{file}.parquet").read_bytes()
            (raw / f"{file}.parquet").write_bytes(data[: len(data) // 2])

    else:
        write = replace(file, broken)
    return Case(file, write, column, shown)


CORPUS = {**{name: _dagster_case(name) for name in DAGSTER_CASES}, **NEW_CASES}


def test_the_corpus_holds_at_least_35_cases():
    assert len(CORPUS) >= 35


@pytest.mark.parametrize("name", list(CORPUS))
def test_corpus_case(name, tmp_path):
    case = CORPUS[name]
    raw = minimarket.write(tmp_path / "raw")
    case.write(raw)
    outcome = _validate(raw)
    if case.accepted:
        assert outcome.violations == []
        if case.finding:
            assert any(case.finding in f for f in outcome.findings), outcome.findings
        else:
            assert outcome.findings == []
        return
    labels = (f"{case.file}.parquet", f"{case.file}.csv", case.file)  # a file or a folder
    about = [v for v in outcome.violations if v.split(":")[0] in labels]
    assert about, outcome.violations  # refused, with the file named (.parquet, .csv or folder)
    message = about[0]
    if case.column:
        assert any(f"column '{case.column}'" in m for m in about), about
        message = next(m for m in about if f"column '{case.column}'" in m)
        located = "part-" in (case.shown or "") or "missing" in message
        assert located or "; sample: " in message, message  # sample rows, by key
    if case.shown:
        assert case.shown in message, message
    assert "seeker S" not in " ".join(outcome.violations)  # no profile text in any message
