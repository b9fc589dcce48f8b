"""Input and output contracts (pyarrow schemas) and validation of raw input files.

The raw schemas are the canonical types the synthetic generator writes. Readers accept the valid
variants DESIGN.md lists (any integer/float for numeric columns, 0/1 integers for booleans, CSV).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pyarrow.types as pat

RAW_FILES = ("jobseekers", "job_ads", "applications", "hires", "recommendation_feedback")

JOBSEEKERS = pa.schema(
    [
        ("jobseeker_id", pa.string()),
        ("registered_on", pa.date32()),
        ("exited_on", pa.date32()),
        ("gender", pa.string()),
        ("birth_year", pa.int16()),
        ("education_level", pa.int8()),
        ("experience_years", pa.float32()),
        ("desired_occupation", pa.string()),
        ("desired_contract", pa.string()),
        ("desired_wage", pa.float32()),
        ("mobility_km", pa.float32()),
        ("latitude", pa.float64()),
        ("longitude", pa.float64()),
        ("department", pa.string()),
        ("skills", pa.list_(pa.string())),
        ("profile_text", pa.string()),
    ]
)

JOB_ADS = pa.schema(
    [
        ("ad_id", pa.string()),
        ("employer_id", pa.string()),
        ("posted_on", pa.date32()),
        ("closed_on", pa.date32()),
        ("occupation", pa.string()),
        ("contract", pa.string()),
        ("wage", pa.float32()),
        ("hours_per_week", pa.float32()),
        ("required_experience_years", pa.float32()),
        ("required_education", pa.int8()),
        ("latitude", pa.float64()),
        ("longitude", pa.float64()),
        ("department", pa.string()),
        ("skills", pa.list_(pa.string())),
        ("positions", pa.int16()),
        ("title", pa.string()),
        ("description", pa.string()),
    ]
)

APPLICATIONS = pa.schema(
    [
        ("jobseeker_id", pa.string()),
        ("ad_id", pa.string()),
        ("applied_at", pa.timestamp("us", tz="UTC")),
        ("channel", pa.string()),
    ]
)

HIRES = pa.schema(
    [
        ("jobseeker_id", pa.string()),
        ("ad_id", pa.string()),
        ("hired_at", pa.timestamp("us", tz="UTC")),
    ]
)

RECOMMENDATION_FEEDBACK = pa.schema(
    [
        ("jobseeker_id", pa.string()),
        ("ad_id", pa.string()),
        ("sent_at", pa.timestamp("us", tz="UTC")),
        ("responded", pa.bool_()),
        ("applied", pa.bool_()),
        ("positive_outcome", pa.bool_()),
        ("unsubscribed", pa.bool_()),
        ("negative_feedback", pa.bool_()),
    ]
)

RAW_SCHEMAS: dict[str, pa.Schema] = {
    "jobseekers": JOBSEEKERS,
    "job_ads": JOB_ADS,
    "applications": APPLICATIONS,
    "hires": HIRES,
    "recommendation_feedback": RECOMMENDATION_FEEDBACK,
}

GENDERS = ("F", "M", "X")
CONTRACTS = ("permanent", "fixed_term", "temp", "other")
CHANNELS = ("recommendation", "organic")
# ROME-like occupation code: family letter A-N, two-digit domain, two-digit code (e.g. K2204).
OCCUPATION_PATTERN = r"^[A-N][0-9]{4}$"


# --------------------------------------------------------------------------------------------
# Validation of raw input files
# --------------------------------------------------------------------------------------------
#
# Every column has a kind. The reader accepts every valid physical variant of a kind (any integer
# or float for numbers, 0/1 integers for booleans, date or timestamp for dates, CSV text for all)
# and exposes one typed temporary view `raw_<file>` per file, which the cleaning SQL reads.


ID, STRING, DATE, TIMESTAMP, NUMBER, WHOLE, BOOL, LIST = (
    "id",
    "string",
    "date",
    "timestamp",
    "number",
    "whole number",
    "boolean",
    "list of strings",
)

# column -> (kind, required): required columns must not hold nulls.
COLUMNS: dict[str, dict[str, tuple[str, bool]]] = {
    "jobseekers": {
        "jobseeker_id": (ID, True),
        "registered_on": (DATE, True),
        "exited_on": (DATE, False),
        "gender": (STRING, False),
        "birth_year": (WHOLE, False),
        "education_level": (WHOLE, False),
        "experience_years": (NUMBER, False),
        "desired_occupation": (STRING, True),
        "desired_contract": (STRING, False),
        "desired_wage": (NUMBER, False),
        "mobility_km": (NUMBER, False),
        "latitude": (NUMBER, True),
        "longitude": (NUMBER, True),
        "department": (STRING, True),
        "skills": (LIST, False),
        "profile_text": (STRING, False),
    },
    "job_ads": {
        "ad_id": (ID, True),
        "employer_id": (ID, False),
        "posted_on": (DATE, True),
        "closed_on": (DATE, False),
        "occupation": (STRING, True),
        "contract": (STRING, False),
        "wage": (NUMBER, False),
        "hours_per_week": (NUMBER, False),
        "required_experience_years": (NUMBER, False),
        "required_education": (WHOLE, False),
        "latitude": (NUMBER, True),
        "longitude": (NUMBER, True),
        "department": (STRING, True),
        "skills": (LIST, False),
        "positions": (WHOLE, True),
        "title": (STRING, False),
        "description": (STRING, False),
    },
    "applications": {
        "jobseeker_id": (ID, True),
        "ad_id": (ID, True),
        "applied_at": (TIMESTAMP, True),
        "channel": (STRING, False),
    },
    "hires": {
        "jobseeker_id": (ID, True),
        "ad_id": (ID, True),
        "hired_at": (TIMESTAMP, True),
    },
    "recommendation_feedback": {
        "jobseeker_id": (ID, True),
        "ad_id": (ID, True),
        "sent_at": (TIMESTAMP, True),
        "responded": (BOOL, True),
        "applied": (BOOL, True),
        "positive_outcome": (BOOL, True),
        "unsubscribed": (BOOL, True),
        "negative_feedback": (BOOL, True),
    },
}

# The columns that identify a row in error messages (never a personal field).
ROW_KEYS = {
    "jobseekers": ("jobseeker_id",),
    "job_ads": ("ad_id",),
    "applications": ("jobseeker_id", "ad_id", "applied_at"),
    "hires": ("jobseeker_id", "ad_id", "hired_at"),
    "recommendation_feedback": ("jobseeker_id", "ad_id", "sent_at"),
}

# The column that dates a row. Only rows dated before the partition's day are validated: the
# partition learns from nothing later, so a later row (even a broken one) can neither change nor
# refuse it. Rows of the forward evaluation window that break the contract are left out of
# eval.forward_* by its SQL instead.
TIME_COLUMN = {
    "jobseekers": "registered_on",
    "job_ads": "posted_on",
    "applications": "applied_at",
    "hires": "hired_at",
    "recommendation_feedback": "sent_at",
}
SAMPLE_ROWS = 5
EVENT_TIME = {
    name: TIME_COLUMN[name] for name in ("applications", "hires", "recommendation_feedback")
}

# Plausibility bounds: beyond them a value is a unit or export error, not a fact (and some would
# overflow the clean tables' narrow types: positions is a SMALLINT, wages FLOAT).
EARLIEST_DATE = dt.date(1990, 1, 1)  # before any digital record of the service
MAX_MONTHLY_WAGE = 1_000_000  # EUR a month
MAX_YEARS = 70  # of experience
MAX_MOBILITY_KM = 20_000  # half the Earth's circumference
MAX_POSITIONS = 10_000  # openings of one ad

# (file, column, problem, SQL predicate over the typed view that is true on offending rows)
VALUE_RULES: list[tuple[str, str, str, str]] = [
    ("jobseekers", "gender", "must be one of F, M, X or null", f"gender NOT IN {GENDERS}"),
    (
        "jobseekers",
        "birth_year",
        "must be within 1900-2100",
        "birth_year NOT BETWEEN 1900 AND 2100",
    ),
    ("jobseekers", "education_level", "must be within 0-8", "education_level NOT BETWEEN 0 AND 8"),
    (
        "jobseekers",
        "registered_on",
        f"is implausibly early (before {EARLIEST_DATE})",
        f"registered_on < DATE '{EARLIEST_DATE}'",
    ),
    (
        "jobseekers",
        "experience_years",
        f"must be within [0, {MAX_YEARS}]",
        f"experience_years NOT BETWEEN 0 AND {MAX_YEARS}",
    ),
    (
        "jobseekers",
        "desired_occupation",
        "is not a known occupation code (family A-N + 4 digits, e.g. K2204)",
        f"NOT regexp_full_match(desired_occupation, '{OCCUPATION_PATTERN[1:-1]}')",
    ),
    (
        "jobseekers",
        "desired_contract",
        f"must be one of {', '.join(CONTRACTS)} or null",
        f"desired_contract NOT IN {CONTRACTS}",
    ),
    (
        "jobseekers",
        "desired_wage",
        f"must be within [0, {MAX_MONTHLY_WAGE:,}] (monthly EUR)",
        f"desired_wage NOT BETWEEN 0 AND {MAX_MONTHLY_WAGE}",
    ),
    (
        "jobseekers",
        "mobility_km",
        f"must be within [0, {MAX_MOBILITY_KM:,}]",
        f"mobility_km NOT BETWEEN 0 AND {MAX_MOBILITY_KM}",
    ),
    ("jobseekers", "latitude", "must be within [-90, 90]", "latitude NOT BETWEEN -90 AND 90"),
    ("jobseekers", "longitude", "must be within [-180, 180]", "longitude NOT BETWEEN -180 AND 180"),
    ("jobseekers", "exited_on", "is before registered_on", "exited_on < registered_on"),
    (
        "job_ads",
        "occupation",
        "is not a known occupation code (family A-N + 4 digits, e.g. K2204)",
        f"NOT regexp_full_match(occupation, '{OCCUPATION_PATTERN[1:-1]}')",
    ),
    (
        "job_ads",
        "contract",
        f"must be one of {', '.join(CONTRACTS)} or null",
        f"contract NOT IN {CONTRACTS}",
    ),
    (
        "job_ads",
        "posted_on",
        f"is implausibly early (before {EARLIEST_DATE})",
        f"posted_on < DATE '{EARLIEST_DATE}'",
    ),
    (
        "job_ads",
        "wage",
        f"must be within [0, {MAX_MONTHLY_WAGE:,}] (monthly EUR)",
        f"wage NOT BETWEEN 0 AND {MAX_MONTHLY_WAGE}",
    ),
    (
        "job_ads",
        "hours_per_week",
        "must be within [0, 168]",
        "hours_per_week NOT BETWEEN 0 AND 168",
    ),
    (
        "job_ads",
        "required_experience_years",
        f"must be within [0, {MAX_YEARS}]",
        f"required_experience_years NOT BETWEEN 0 AND {MAX_YEARS}",
    ),
    (
        "job_ads",
        "required_education",
        "must be within 0-8",
        "required_education NOT BETWEEN 0 AND 8",
    ),
    (
        "job_ads",
        "positions",
        f"must be within [1, {MAX_POSITIONS:,}]",
        f"positions NOT BETWEEN 1 AND {MAX_POSITIONS}",
    ),
    ("job_ads", "latitude", "must be within [-90, 90]", "latitude NOT BETWEEN -90 AND 90"),
    ("job_ads", "longitude", "must be within [-180, 180]", "longitude NOT BETWEEN -180 AND 180"),
    ("job_ads", "closed_on", "is before posted_on", "closed_on < posted_on"),
    (
        "applications",
        "channel",
        f"must be one of {', '.join(CHANNELS)} or null",
        f"channel NOT IN {CHANNELS}",
    ),
    *(
        (
            name,
            column,
            f"is implausibly early (before {EARLIEST_DATE})",
            f"{column} < TIMESTAMPTZ '{EARLIEST_DATE} 00:00:00+00'",
        )
        for name, column in (
            ("applications", "applied_at"),
            ("hires", "hired_at"),
            ("recommendation_feedback", "sent_at"),
        )
    ),
]

# (file, column, referenced file, referenced column)
REFERENCES = [
    ("applications", "jobseeker_id", "jobseekers", "jobseeker_id"),
    ("applications", "ad_id", "job_ads", "ad_id"),
    ("hires", "jobseeker_id", "jobseekers", "jobseeker_id"),
    ("hires", "ad_id", "job_ads", "ad_id"),
    ("recommendation_feedback", "jobseeker_id", "jobseekers", "jobseeker_id"),
    ("recommendation_feedback", "ad_id", "job_ads", "ad_id"),
]

# (file, timestamp column, problem) — events on an ad must not precede the ad's posting day.
BEFORE_POSTING = [
    ("applications", "applied_at", "application dated before its ad was posted"),
    ("hires", "hired_at", "hire dated before its ad was posted"),
    ("recommendation_feedback", "sent_at", "recommendation sent before its ad was posted"),
]


@dataclasses.dataclass(frozen=True)
class Violation:
    file: str  # file name as found on disk, e.g. job_ads.parquet
    column: str | None
    problem: str
    rows: int = 0
    samples: tuple[str, ...] = ()

    def message(self) -> str:
        where = f"column '{self.column}'" if self.column else "file"
        text = f"{self.file}: {where}: {self.problem}"
        if self.rows:
            text += f" ({self.rows} row{'s' if self.rows > 1 else ''})"
        if self.samples:
            text += "; sample: " + "; ".join(self.samples)
        return text


class ContractError(ValueError):
    def __init__(self, violations: list[Violation]):
        self.violations = violations
        super().__init__("\n".join(v.message() for v in violations))


@dataclasses.dataclass(frozen=True)
class RawFile:
    name: str
    path: Path
    format: str  # parquet | csv

    @property
    def label(self) -> str:
        return self.path.name

    @property
    def parts(self) -> list[Path]:
        """The files read: the Parquet parts of a folder, or the file itself."""
        return _parts(self.path)


def locate(raw_dir: Path, name: str) -> RawFile | None:
    """The input file: <name>.parquet, a folder <name>/ of Parquet parts, or <name>.csv."""
    raw_dir = Path(raw_dir)
    for path, fmt in (
        (raw_dir / f"{name}.parquet", "parquet"),
        (raw_dir / name, "parquet"),
        (raw_dir / f"{name}.csv", "csv"),
    ):
        if path.is_file() or (path.is_dir() and any(path.glob("*.parquet"))):
            return RawFile(name, path, fmt)
    return None


def source_sql(raw: RawFile, row_numbers: bool = False) -> str:
    path = str(raw.path).replace("'", "''")
    if raw.format == "csv":
        return f"read_csv('{path}', all_varchar = true, header = true)"
    if not raw.path.is_dir():
        return f"read_parquet('{path}'{', file_row_number = true' if row_numbers else ''})"
    # Parts may hold different valid types (int32 here, double there): unify them by name
    # instead of casting every part to the first part's types.
    return (
        f"read_parquet('{path}/*.parquet', union_by_name = true"
        f"{', file_row_number = true' if row_numbers else ''})"
    )


def _row_expr(raw: RawFile) -> str:
    """The 1-based row number in the file, to point at rows whose id is missing."""
    if raw.format == "csv":
        return "row_number() OVER ()"
    return "file_row_number + 1"


def _numbered_source(raw: RawFile) -> str:
    """The untyped source with the 1-based row number of each row as "row"."""
    return f'(SELECT *, {_row_expr(raw)} AS "row" FROM {source_sql(raw, row_numbers=True)})'


def _keys(name: str, present, column: str) -> str:
    """The select list of the row number and the key columns present (for samples)."""
    return '"row", ' + "".join(f'"{k}", ' for k in ROW_KEYS[name] if k in present and k != column)


def _parquet_type_ok(kind: str, t) -> bool:
    if pat.is_dictionary(t):
        t = t.value_type
    if kind in (ID, STRING):
        return pat.is_string(t) or pat.is_large_string(t)
    if kind == DATE:
        return pat.is_date(t) or pat.is_timestamp(t)
    if kind == TIMESTAMP:
        return pat.is_timestamp(t) or pat.is_date(t)
    if kind in (NUMBER, WHOLE):
        return pat.is_integer(t) or pat.is_floating(t) or pat.is_decimal(t)
    if kind == BOOL:
        return pat.is_boolean(t) or pat.is_integer(t)
    if kind == LIST:
        if not (pat.is_list(t) or pat.is_large_list(t)):
            return False
        v = t.value_type.value_type if pat.is_dictionary(t.value_type) else t.value_type
        return pat.is_string(v) or pat.is_large_string(v)
    raise ValueError(kind)


_CSV_CAST = {
    DATE: "TRY_CAST({c} AS DATE)",
    TIMESTAMP: "TRY_CAST({c} AS TIMESTAMPTZ)",
    NUMBER: "TRY_CAST({c} AS DOUBLE)",
    WHOLE: "TRY_CAST({c} AS DOUBLE)",
    BOOL: (
        "CASE WHEN lower(trim({c})) IN ('true', 't', '1', 'yes') THEN true "
        "WHEN lower(trim({c})) IN ('false', 'f', '0', 'no') THEN false END"
    ),
    # a DuckDB list literal ([a, b]) or ';'-separated codes
    LIST: (
        "CASE WHEN trim({c}) LIKE '[%' THEN TRY_CAST({c} AS VARCHAR[]) "
        "WHEN trim({c}) = '' THEN []::VARCHAR[] "
        "ELSE list_transform(string_split({c}, ';'), lambda s: trim(s)) END"
    ),
}


def _typed_expr(kind: str, column: str, fmt: str, arrow_type=None) -> str:
    c = f'"{column}"'
    if fmt == "csv":
        return c if kind in (ID, STRING) else _CSV_CAST[kind].format(c=c)
    if kind in (ID, STRING):
        return f"CAST({c} AS VARCHAR)"
    if kind == DATE:
        return f"CAST({c} AS DATE)"
    if kind == TIMESTAMP:
        return f"CAST({c} AS TIMESTAMPTZ)"
    if kind in (NUMBER, WHOLE):
        return f"CAST({c} AS DOUBLE)"
    if kind == BOOL:
        if pat.is_boolean(arrow_type):
            return c
        return f"CASE {c} WHEN 1 THEN true WHEN 0 THEN false END"
    return f"CAST({c} AS VARCHAR[])"


def _parts(path: Path) -> list[Path]:
    return sorted(path.glob("*.parquet")) if path.is_dir() else [path]


def _in_scope(dates: pa.Array, horizon: dt.date) -> pa.Array:
    """True where a row's date (a date or a timestamp, naive ones read as UTC) is before the
    horizon or unknown: the rows a partition validates."""
    if pat.is_timestamp(dates.type):
        midnight = dt.datetime.combine(horizon, dt.time(), tzinfo=dt.UTC)
        epoch_us = pc.cast(pc.cast(dates, pa.timestamp("us", tz=dates.type.tz)), pa.int64())
        before = pc.less(epoch_us, int(midnight.timestamp()) * 1_000_000)
    else:
        before = pc.less(pc.cast(dates, pa.date32()), pa.scalar(horizon, pa.date32()))
    return pc.fill_null(before, True)


def _reason(exc: BaseException) -> str:
    """An exception's message for a refusal: its first line, whole up to a readable length."""
    # The message's first paragraph without the offending line itself: DuckDB's CSV errors quote
    # the line, which may hold a personal field (a profile text).
    paragraph = str(exc).strip().split("\n\n")[0].splitlines()
    text = "; ".join(line for line in paragraph if not line.startswith("Original Line"))
    text = text or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def _fmt(value) -> str:
    text = str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _samples(con, query: str, params=None) -> tuple[int, tuple[str, ...]]:
    """Run `query` (offending rows: key columns then the value) and format a sample."""
    rows = con.execute(f"SELECT count(*) FROM ({query})", params or {}).fetchall()[0][0]
    if not rows:
        return 0, ()
    desc_rows = con.execute(f"SELECT * FROM ({query}) LIMIT {SAMPLE_ROWS}", params or {})
    names = [d[0] for d in desc_rows.description]
    out = []
    for r in desc_rows.fetchall():
        out.append(" ".join(f"{n}={_fmt(v)}" for n, v in zip(names, r, strict=True)))
    return int(rows), tuple(out)


class RawInputs:
    """The raw input files of one partition, read through typed temporary views.

    `inspect()` checks each file's readability and schema; files that pass get a view
    `raw_<name>`; `validate()` then checks values, keys and references. Nothing is copied.
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, raw_dir: Path, run_date: dt.date):
        self.con = con
        self.raw_dir = Path(raw_dir)
        self.run_date = run_date
        self.horizon = run_date
        self.files: dict[str, RawFile] = {}
        self.rows: dict[str, int] = {}
        con.execute("SET TimeZone = 'UTC'")

    # -- schema stage -------------------------------------------------------------------------
    def inspect(self) -> dict[str, list[Violation]]:
        return {name: self._inspect_file(name) for name in RAW_FILES}

    def _inspect_file(self, name: str) -> list[Violation]:
        raw = locate(self.raw_dir, name)
        if raw is None:
            return [
                Violation(
                    f"{name}.parquet",
                    None,
                    f"missing: no {name}.parquet, {name}/*.parquet or {name}.csv in {self.raw_dir}",
                )
            ]
        try:
            problems, n_rows = self._inspect_located(name, raw)
        except Exception as exc:  # truncated / corrupt / not the format its name says
            return [Violation(raw.label, None, f"unreadable {raw.format} file ({_reason(exc)})")]
        if not problems:
            self.files[name] = raw
            self.rows[name] = int(n_rows)
        return problems

    def _inspect_located(self, name: str, raw: RawFile) -> tuple[list[Violation], int]:
        columns = COLUMNS[name]
        p = {"horizon": self.horizon}
        if raw.format == "parquet":
            paths = raw.parts
            schemas = {path.name: pq.read_schema(path) for path in paths}
            n_rows = sum(pq.ParquetFile(path).metadata.num_rows for path in paths)
            types = {}  # every part must have every column, with a valid type
            for schema in schemas.values():
                for f in schema:
                    types.setdefault(f.name, f.type)
        else:
            cur = self.con.execute(f"SELECT * FROM {source_sql(raw)} LIMIT 0")
            types = {d[0]: None for d in cur.description}
            cur.fetchall()
            n_rows = self.con.execute(f"SELECT count(*) FROM {source_sql(raw)}").fetchall()[0][0]
        problems = [Violation(raw.label, c, "missing column") for c in columns if c not in types]
        source = _numbered_source(raw)
        scope = self._source_scope(name, raw, types)
        if raw.format == "parquet":
            for c, (kind, _) in columns.items():
                if c not in types:
                    continue
                lacking = [part for part, schema in schemas.items() if c not in schema.names]
                if lacking:
                    problems.append(
                        Violation(raw.label, c, f"missing column in {', '.join(lacking[:3])}")
                    )
                wrong = {
                    part: schema.field(c).type
                    for part, schema in schemas.items()
                    if c in schema.names and not _parquet_type_ok(kind, schema.field(c).type)
                }
                if wrong:
                    n, sample = _samples(
                        self.con, f'SELECT {_keys(name, types, c)}"{c}" FROM {source}'
                    )
                    where = f" in {', '.join(wrong)}" if raw.path.is_dir() else ""
                    problems.append(
                        Violation(
                            raw.label,
                            c,
                            f"wrong type {next(iter(wrong.values()))}{where} (expected {kind})",
                            0,
                            sample,
                        )
                    )
                elif kind == BOOL and any(
                    pat.is_integer(schema.field(c).type)
                    for schema in schemas.values()
                    if c in schema.names
                ):
                    n, sample = _samples(
                        self.con,
                        f'SELECT {_keys(name, types, c)}"{c}" FROM {source} '
                        f'WHERE "{c}" NOT IN (0, 1) AND {scope}',
                        p,
                    )
                    if n:
                        problems.append(
                            Violation(
                                raw.label,
                                c,
                                "boolean given as an integer other than 0/1",
                                n,
                                sample,
                            )
                        )
        if n_rows == 0:
            problems.append(Violation(raw.label, None, "empty file (no rows)"))
        if problems:
            return problems, n_rows
        exprs = ", ".join(
            f'{_typed_expr(kind, c, raw.format, types[c])} AS "{c}"'
            for c, (kind, _) in columns.items()
        )
        self.con.execute(
            f"CREATE OR REPLACE TEMP VIEW raw_{name} AS "
            f"SELECT {exprs}, {_row_expr(raw)} AS _row "
            f"FROM {source_sql(raw, row_numbers=True)}"
        )
        if raw.format == "csv":
            problems += self._csv_type_problems(name, raw, scope)
        # Reading every value once surfaces corrupt pages that a valid footer hides (count(*),
        # count(c) and min(c) are answered from the metadata and read no page at all).
        reads = ", ".join(f'bit_xor(hash("{c}"))' for c in columns)
        self.con.execute(f"SELECT {reads} FROM raw_{name}").fetchall()
        return problems, n_rows

    def _source_scope(self, name: str, raw: RawFile, types: dict) -> str:
        """SQL over the untyped source: the row is dated before the horizon, or cannot be dated."""
        t = TIME_COLUMN[name]
        kind = COLUMNS[name][t][0]
        if t not in types or (raw.format == "parquet" and not _parquet_type_ok(kind, types[t])):
            return "($horizon IS NULL OR true)"  # no usable date: every row is in scope
        typed = _typed_expr(kind, t, raw.format, types[t])
        return f"({typed} IS NULL OR {typed} < $horizon)"

    def _csv_type_problems(self, name: str, raw: RawFile, scope: str) -> list[Violation]:
        problems = []
        for c, (kind, _) in COLUMNS[name].items():
            if kind in (ID, STRING):
                continue
            typed = _CSV_CAST[kind].format(c=f'"{c}"')
            n, sample = _samples(
                self.con,
                f'SELECT {_keys(name, COLUMNS[name], c)}"{c}" FROM {_numbered_source(raw)} '
                f"WHERE nullif(trim(\"{c}\"), '') IS NOT NULL AND ({typed}) IS NULL AND {scope}",
                {"horizon": self.horizon},
            )
            if n:
                problems.append(Violation(raw.label, c, f"not a valid {kind}", n, sample))
        return problems

    # -- value stage --------------------------------------------------------------------------
    def _scope(self, name: str, alias: str = "v") -> str:
        t = TIME_COLUMN[name]
        return f'({alias}."{t}" IS NULL OR {alias}."{t}" < $horizon)'

    def _offending(self, name: str, column: str, predicate: str, extra_from: str = "") -> str:
        """Offending rows of `name` (alias v): their key columns, then the column's value."""
        keys = "".join(f'v."{k}", ' for k in ROW_KEYS[name] if k != column)
        sel = f'v._row AS "row", {keys}v."{column}"'
        return (
            f"SELECT {sel} FROM raw_{name} v {extra_from} "
            f"WHERE ({predicate}) AND {self._scope(name)}"
        )

    def validate(self) -> dict[str, list[Violation]]:
        """All contract violations per file (empty lists: the file is valid)."""
        report = self.inspect()
        p = {"horizon": self.horizon}
        for name, raw in self.files.items():
            for c, (kind, required) in COLUMNS[name].items():
                checks = []
                if required:
                    checks.append(("is null" if kind != ID else "null id", f'v."{c}" IS NULL'))
                if kind == WHOLE:
                    checks.append(("must hold whole numbers", f'v."{c}" <> round(v."{c}")'))
                for problem, pred in checks:
                    n, s = _samples(self.con, self._offending(name, c, pred), p)
                    if n:
                        report[name].append(Violation(raw.label, c, problem, n, s))
                if kind in (NUMBER, WHOLE):
                    n, s = self._non_finite(name, raw, c)
                    if n:
                        problem = "is NaN or infinite (use null for unknown)"
                        report[name].append(Violation(raw.label, c, problem, n, s))
            if name in ("jobseekers", "job_ads"):
                key = ROW_KEYS[name][0]
                n, s = _samples(
                    self.con,
                    f'SELECT "{key}", count(*) AS copies FROM raw_{name} v '
                    f"WHERE {self._scope(name)} GROUP BY 1 HAVING count(*) > 1",
                    p,
                )
                if n:
                    report[name].append(Violation(raw.label, key, "duplicate id", n, s))
        for name, column, problem, predicate in VALUE_RULES:
            if name in self.files:
                n, s = _samples(self.con, self._offending(name, column, predicate), p)
                if n:
                    report[name].append(Violation(self.files[name].label, column, problem, n, s))
        for name, column, ref, ref_column in REFERENCES:
            if name in self.files and ref in self.files:
                n, s = _samples(
                    self.con,
                    self._offending(
                        name,
                        column,
                        f'v."{column}" IS NOT NULL AND NOT EXISTS (SELECT 1 FROM raw_{ref} r '
                        f'WHERE r."{ref_column}" = v."{column}")',
                    ),
                    p,
                )
                if n:
                    report[name].append(
                        Violation(
                            self.files[name].label,
                            column,
                            f"unknown {ref_column} (not in {self.files[ref].label})",
                            n,
                            s,
                        )
                    )
        for name, column, problem in BEFORE_POSTING:
            if name in self.files and "job_ads" in self.files:
                n, s = _samples(
                    self.con,
                    self._offending(
                        name,
                        column,
                        f'CAST(v."{column}" AS DATE) < a.posted_on',
                        extra_from="JOIN raw_job_ads a USING (ad_id)",
                    ),
                    p,
                )
                if n:
                    report[name].append(Violation(self.files[name].label, column, problem, n, s))
        report = self._open_on_the_day(report)
        return report

    def _open_on_the_day(self, report: dict[str, list[Violation]]) -> dict[str, list[Violation]]:
        """A night needs someone to recommend to and something to recommend: a day without one
        open ad or one registered seeker is an incomplete export, not a quiet day."""
        for name, start, end, what in (
            ("job_ads", "posted_on", "closed_on", "ad is open"),
            ("jobseekers", "registered_on", "exited_on", "seeker is registered"),
        ):
            if name not in self.files or report[name]:
                continue
            (n,) = self.con.execute(
                f"SELECT count(*) FROM raw_{name} WHERE {start} < $horizon "
                f"AND coalesce({end} >= $horizon, true)",
                {"horizon": self.horizon},
            ).fetchone()
            if not n:
                problem = f"no {what} on {self.run_date}: there is no night to compute"
                report[name].append(Violation(self.files[name].label, None, problem))
        return report

    def findings(self) -> dict[str, list[Violation]]:
        """Implausible but usable rows (call after validate): counted and reported, never
        refused. Events after the seeker's exit are kept; events of a seeker who is not yet
        registered at D are left out of the clean tables (the partition does not know them)."""
        found: dict[str, list[Violation]] = {name: [] for name in RAW_FILES}
        p = {"horizon": self.horizon}
        if "jobseekers" not in self.files:
            return found
        for name, column in EVENT_TIME.items():
            if name not in self.files:
                continue
            for problem, predicate in (
                (
                    "dated after the seeker's exit (kept)",
                    f'CAST(v."{column}" AS DATE) > s.exited_on',
                ),
                (
                    "by a seeker not registered before the partition's day "
                    "(left out of the clean tables)",
                    "s.registered_on >= $horizon",
                ),
            ):
                n, sample = _samples(
                    self.con,
                    self._offending(
                        name, column, predicate, "JOIN raw_jobseekers s USING (jobseeker_id)"
                    ),
                    p,
                )
                if n:
                    found[name].append(
                        Violation(self.files[name].label, column, problem, n, sample)
                    )
        for name in ("jobseekers", "job_ads"):
            t = TIME_COLUMN[name]
            if name in self.files:
                n, sample = _samples(
                    self.con,
                    f'SELECT v._row AS "row", v."{ROW_KEYS[name][0]}", v."{t}" FROM raw_{name} v '
                    f'WHERE v."{t}" > CAST($horizon AS DATE) + INTERVAL 1 YEAR',
                    p,
                )
                if n:
                    problem = "dated more than a year after the partition's day (not read yet)"
                    found[name].append(Violation(self.files[name].label, t, problem, n, sample))
        return found

    def _non_finite(self, name: str, raw: RawFile, column: str) -> tuple[int, tuple[str, ...]]:
        """Rows in scope whose number is NaN or ±inf. Parquet floats are read with pyarrow:
        DuckDB prunes `isnan` with the row groups' min/max statistics, which pyarrow writes
        without the NaNs (DuckDB 2.0.0 counted 0 NaN rows in a file that holds one)."""
        if raw.format == "csv":  # text has no statistics: the typed view sees every value
            return _samples(
                self.con,
                self._offending(name, column, f'NOT isfinite(v."{column}")'),
                {"horizon": self.horizon},
            )
        keys = [k for k in ROW_KEYS[name] if k != column]
        time = TIME_COLUMN[name]
        total, samples = 0, []
        for part in raw.parts:
            parquet = pq.ParquetFile(part)
            if not pat.is_floating(parquet.schema_arrow.field(column).type):
                continue  # integers and decimals hold no NaN
            wanted = list(dict.fromkeys([column, time, *keys]))
            offset = 0
            for batch in parquet.iter_batches(columns=wanted, batch_size=1 << 16):
                values = batch.column(column)
                bad = pc.and_(
                    pc.fill_null(pc.invert(pc.is_finite(values)), False),
                    _in_scope(batch.column(time), self.horizon),
                )
                hits = pc.indices_nonzero(bad).to_pylist()
                total += len(hits)
                for i in hits[: SAMPLE_ROWS - len(samples)]:
                    row = {"row": offset + i + 1, **{k: batch.column(k)[i].as_py() for k in keys}}
                    row[column] = values[i].as_py()
                    samples.append(" ".join(f"{k}={_fmt(v)}" for k, v in row.items()))
                offset += batch.num_rows
        return total, tuple(samples)

    def require_valid(self) -> None:
        """Raise ContractError unless every file is valid (used by the cleaning steps)."""
        problems = [v for vs in self.validate().values() for v in vs]
        if problems:
            raise ContractError(problems)


def open_raw_views(con: duckdb.DuckDBPyConnection, raw_dir: Path, run_date: dt.date) -> RawInputs:
    """Register the typed `raw_<file>` views on `con`; ContractError if a file is unreadable."""
    inputs = RawInputs(con, raw_dir, run_date)
    problems = [v for vs in inputs.inspect().values() for v in vs]
    if problems:
        raise ContractError(problems)
    return inputs
