"""A hand-written market of a few rows, small enough to check every output by hand.

Timeline around RUN_DATE = 2026-03-10: entities and events on both sides of it.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from jobrec.data.contract import RAW_SCHEMAS

RUN_DATE = dt.date(2026, 3, 10)
# the data layer's tables: what a night of the raw, clean and publish assets writes
DATA_LAYER_TABLES = [
    "clean.jobseekers",
    "clean.job_ads",
    "clean.applications",
    "clean.hires",
    "clean.recommendation_feedback",
    "eval.forward_applications",
    "eval.forward_hires",
]
UTC = dt.UTC


def d(s: str) -> dt.date:
    return dt.date.fromisoformat(s)


def ts(s: str) -> dt.datetime:
    return dt.datetime.fromisoformat(s).replace(tzinfo=UTC)


def _seeker(sid, reg, exit_, gender, occ, lat, lon, dep, skills):
    return dict(
        jobseeker_id=sid,
        registered_on=d(reg),
        exited_on=d(exit_) if exit_ else None,
        gender=gender,
        birth_year=1990,
        education_level=4,
        experience_years=3.0,
        desired_occupation=occ,
        desired_contract="permanent",
        desired_wage=2100.0,
        mobility_km=30.0,
        latitude=lat,
        longitude=lon,
        department=dep,
        skills=skills,
        profile_text=f"seeker {sid} looking for {occ}",
    )


def _ad(aid, posted, closed, occ, wage, positions):
    return dict(
        ad_id=aid,
        employer_id="E1",
        posted_on=d(posted),
        closed_on=d(closed) if closed else None,
        occupation=occ,
        contract="permanent",
        wage=wage,
        hours_per_week=35.0,
        required_experience_years=1.0,
        required_education=3,
        latitude=48.85,
        longitude=2.35,
        department="75",
        skills=["SK2", "SK1", "SK1"],
        positions=positions,
        title=f"ad {aid}",
        description=f"job {occ}",
    )


def tables() -> dict[str, list[dict]]:
    return {
        "jobseekers": [
            _seeker("S1", "2026-01-05", None, "F", "K2204", 48.8, 2.3, "75", ["SK1", "SK2"]),
            _seeker("S2", "2026-02-01", "2026-03-01", "M", "K2204", 48.9, 2.4, "75", ["SK1"]),
            _seeker("S3", "2026-02-15", "2026-03-12", None, "A1101", 45.7, 4.8, "69", []),
            _seeker("S4", "2026-03-11", None, "X", "A1101", 45.8, 4.9, "69", ["SK3"]),  # future
        ],
        "job_ads": [
            _ad("A1", "2026-02-01", None, "K2204", 2200.0, 1),
            _ad("A2", "2026-02-10", "2026-03-05", "K2204", 1900.0, 2),
            _ad("A3", "2026-03-01", "2026-03-20", "A1101", 2500.0, 1),
            _ad("A4", "2026-03-12", None, "A1101", 2400.0, 3),  # posted after the run date
        ],
        "applications": [
            dict(
                jobseeker_id="S1", ad_id="A1", applied_at=ts("2026-02-03T09:00"), channel="organic"
            ),
            dict(
                jobseeker_id="S1", ad_id="A1", applied_at=ts("2026-02-03T09:00"), channel="organic"
            ),  # exact duplicate: dropped by cleaning
            dict(
                jobseeker_id="S2",
                ad_id="A2",
                applied_at=ts("2026-02-12T10:30"),
                channel="recommendation",
            ),
            dict(jobseeker_id="S3", ad_id="A3", applied_at=ts("2026-03-09T23:59:59"), channel=None),
            dict(
                jobseeker_id="S3", ad_id="A3", applied_at=ts("2026-03-10T00:00"), channel="organic"
            ),  # at the run date: forward window
            dict(
                jobseeker_id="S4", ad_id="A4", applied_at=ts("2026-03-13T08:00"), channel="organic"
            ),  # forward window
            dict(
                jobseeker_id="S1", ad_id="A4", applied_at=ts("2026-03-18T08:00"), channel="organic"
            ),  # beyond the forward window
        ],
        "hires": [
            dict(jobseeker_id="S2", ad_id="A2", hired_at=ts("2026-02-28T12:00")),
            dict(jobseeker_id="S3", ad_id="A3", hired_at=ts("2026-03-11T12:00")),  # forward
        ],
        "recommendation_feedback": [
            dict(
                jobseeker_id="S1",
                ad_id="A1",
                sent_at=ts("2026-02-02T06:00"),
                responded=True,
                applied=True,
                positive_outcome=False,
                unsubscribed=False,
                negative_feedback=False,
            ),
            dict(
                jobseeker_id="S2",
                ad_id="A2",
                sent_at=ts("2026-02-11T06:00"),
                responded=True,
                applied=True,
                positive_outcome=True,
                unsubscribed=False,
                negative_feedback=False,
            ),
            dict(
                jobseeker_id="S1",
                ad_id="A3",
                sent_at=ts("2026-03-10T06:00"),
                responded=False,
                applied=False,
                positive_outcome=False,
                unsubscribed=False,
                negative_feedback=False,
            ),  # at the run date: not yet known
        ],
    }


def write(raw_dir: Path, overrides: dict[str, pa.Table] | None = None) -> Path:
    """Write the market as Parquet files with the contract schemas (overrides replace files)."""
    raw_dir = Path(raw_dir)
    raw_dir.mkdir(parents=True, exist_ok=True)
    for name, rows in tables().items():
        table = (overrides or {}).get(name)
        if table is None:
            table = pa.Table.from_pylist(rows, schema=RAW_SCHEMAS[name])
        pq.write_table(table, raw_dir / f"{name}.parquet")
    return raw_dir


def raw_table(name: str) -> pa.Table:
    """One file of the market as an Arrow table with its contract schema."""
    return pa.Table.from_pylist(tables()[name], schema=RAW_SCHEMAS[name])


def with_value(name: str, column: str, row: int, value, type_=None) -> pa.Table:
    """The file with one value replaced (the column retyped to `type_` when given)."""
    t = raw_table(name)
    values = t[column].to_pylist()
    values[row] = value
    arr = pa.array(values, type=type_ or t.schema.field(column).type)
    return t.set_column(t.schema.get_field_index(column), pa.field(column, arr.type), arr)
