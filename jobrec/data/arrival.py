"""Have the day's input files arrived? Partition D learns from everything dated before D, so each
raw file must reach day D − 1, within what its own cadence allows: recommendation feedback
exists only on mail days and hires are sparse, so a file may lag D − 1 by the longest gap its
history shows (or by a configured tolerance).

Used twice with the same rule: by the arrival sensor, which starts partition D once every input
has arrived, and by the first materialised asset's blocking `arrival` check, which stops a run
started at the deadline (or by hand) on an input that is missing or stale, naming it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from collections.abc import Mapping
from pathlib import Path

import duckdb

from jobrec.data.contract import RAW_FILES, TIME_COLUMN, locate, source_sql

# How far back the history of a file is read to learn its usual gaps between dated days.
HISTORY_DAYS = 90


@dataclasses.dataclass(frozen=True)
class Arrival:
    name: str
    path: str | None  # None: no file
    latest_day: dt.date | None  # the last day dated before the partition
    tolerance_days: int  # days the file may lag D − 1
    tolerance_from: str  # "history" or "setting"
    needed_day: dt.date  # D − 1
    unreadable: bool = False  # the file is there but cannot be read (the contract says why)

    @property
    def lag_days(self) -> int | None:
        return None if self.latest_day is None else (self.needed_day - self.latest_day).days

    @property
    def arrived(self) -> bool:
        """A file with no row dated before D has nothing to be late with (a young market's
        first hires); a missing file has not arrived."""
        if self.path is None or self.unreadable:
            return False
        return self.lag_days is None or self.lag_days <= self.tolerance_days

    def message(self) -> str:
        if self.path is None:
            return f"{self.name}: missing (no {self.name}.parquet, {self.name}/ or {self.name}.csv)"
        if self.unreadable:
            return f"{self.name} ({self.path}): unreadable (the contract check says why)"
        if self.latest_day is None:
            return f"{self.name} ({self.path}): arrived, no row dated before the partition yet"
        state = "arrived" if self.arrived else "stale"
        return (
            f"{self.name} ({self.path}): {state}, latest {TIME_COLUMN[self.name]} day "
            f"{self.latest_day}, the partition needs {self.needed_day} "
            f"(lag {self.lag_days} day(s), {self.tolerance_days} tolerated, from the "
            f"{self.tolerance_from})"
        )


def file_version(raw_dir: Path, name: str) -> str | None:
    """A version of the input that changes when its content does: a hash of its parts' names,
    sizes and modification times (no read of the content; None when the file is missing)."""
    raw = locate(Path(raw_dir), name)
    if raw is None:
        return None
    digest = hashlib.sha256()
    for part in raw.parts:
        stat = part.stat()
        digest.update(f"{part.name}:{stat.st_size}:{stat.st_mtime_ns};".encode())
    return digest.hexdigest()[:16]


def dated_days(con: duckdb.DuckDBPyConnection, raw_dir: Path, name: str, run_date: dt.date):
    """The distinct days of the file's time column before `run_date`, ascending (rows that
    cannot be dated are ignored: the contract reports them)."""
    raw = locate(Path(raw_dir), name)
    if raw is None:
        return None
    con.execute("SET TimeZone = 'UTC'")
    day = f'CAST(TRY_CAST("{TIME_COLUMN[name]}" AS TIMESTAMPTZ) AS DATE)'
    rows = con.execute(
        f"SELECT DISTINCT {day} AS d FROM {source_sql(raw)} WHERE {day} < $run_date ORDER BY d",
        {"run_date": run_date},
    ).fetchall()
    return [d for (d,) in rows]


def usual_lag(days: list[dt.date]) -> int:
    """The longest run of undated days between two dated days of the history: a file that has
    gone that long without a row before is not late yet."""
    return max(((b - a).days - 1 for a, b in zip(days, days[1:], strict=False)), default=0)


def arrivals(
    con: duckdb.DuckDBPyConnection,
    raw_dir: Path,
    run_date: dt.date,
    tolerances: Mapping[str, int] | None = None,
) -> dict[str, Arrival]:
    """Each input's arrival for partition `run_date`; `tolerances` (days, by input) replace the
    lag learnt from the file's history."""
    tolerances = tolerances or {}
    found = {}
    for name in RAW_FILES:
        raw = locate(Path(raw_dir), name)
        try:
            days, unreadable = (dated_days(con, raw_dir, name, run_date) if raw else []), False
        except duckdb.Error:
            days, unreadable = [], True
        if name in tolerances:
            tolerance, source = int(tolerances[name]), "setting"
        else:
            since = run_date - dt.timedelta(days=HISTORY_DAYS + 1)
            tolerance, source = usual_lag([d for d in days if d >= since]), "history"
        found[name] = Arrival(
            name=name,
            path=str(raw.path) if raw else None,
            latest_day=days[-1] if days else None,
            tolerance_days=tolerance,
            tolerance_from=source,
            needed_day=run_date - dt.timedelta(days=1),
            unreadable=unreadable,
        )
    return found


def parse_tolerances(text: str | None) -> dict[str, int]:
    """ "recommendation_feedback=7,hires=3" → {"recommendation_feedback": 7, "hires": 3}."""
    found = {}
    for item in filter(None, (p.strip() for p in (text or "").split(","))):
        name, _, days = item.partition("=")
        name = name.strip()
        if name not in RAW_FILES or not days.strip().isdigit():
            raise ValueError(
                f"JOBREC_INPUT_TOLERANCE_DAYS: {item!r} is not <input>=<days> with <input> one of "
                f"{', '.join(RAW_FILES)}"
            )
        found[name] = int(days)
    return found


def first_day(con: duckdb.DuckDBPyConnection, raw_dir: Path, name: str) -> dt.date | None:
    """The first dated day of an input (None: no file, or no datable row)."""
    return _day_bound(con, raw_dir, name, "min")


def last_day(con: duckdb.DuckDBPyConnection, raw_dir: Path, name: str) -> dt.date | None:
    """The last dated day of an input, whatever the partition (None: no file, or no datable
    row)."""
    return _day_bound(con, raw_dir, name, "max")


def _day_bound(con: duckdb.DuckDBPyConnection, raw_dir: Path, name: str, bound: str):
    raw = locate(Path(raw_dir), name)
    if raw is None:
        return None
    con.execute("SET TimeZone = 'UTC'")
    try:
        (day,) = con.execute(
            f'SELECT {bound}(CAST(TRY_CAST("{TIME_COLUMN[name]}" AS TIMESTAMPTZ) AS DATE)) '
            f"FROM {source_sql(raw)}"
        ).fetchone()
    except duckdb.Error:
        return None  # unreadable: the contract check says why
    return day
