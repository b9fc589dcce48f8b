"""Great Expectations suites for the clean tables, run on a pandas frame of one partition.

GX's SQL data source does not work on DuckDB, so the checks read the partition into pandas
(from the same connection, so they see a write before it commits) and validate it there. GX is
imported inside `run_suite`: its import takes seconds and most processes never need it.
"""

from __future__ import annotations

import dataclasses

import pandas as pd

from jobrec.data.contract import CHANNELS, CONTRACTS, GENDERS, OCCUPATION_PATTERN

SAMPLE = 5


@dataclasses.dataclass(frozen=True)
class Expectation:
    kind: str  # GX expectation class name
    column: str | None = None
    kwargs: tuple[tuple[str, object], ...] = ()

    def build(self, gx_expectations):
        cls = getattr(gx_expectations, self.kind)
        args = dict(self.kwargs)
        if self.column is not None:
            args["column"] = self.column
        return cls(**args)


def expect(kind: str, column: str | None = None, **kwargs) -> Expectation:
    return Expectation(kind, column, tuple(sorted(kwargs.items())))


def not_null(*cols: str) -> list[Expectation]:
    return [expect("ExpectColumnValuesToNotBeNull", c) for c in cols]


def _event_suite(time_column: str, forward: bool = False) -> list[Expectation]:
    # seconds_before_run = run_date - event time, computed by the query that loads the frame
    window = (
        {"min_value": -7 * 86400, "max_value": 0, "strict_min": True}
        if forward
        else {"min_value": 0, "strict_min": True}
    )
    return [
        *not_null("run_date", "jobseeker_id", "ad_id", time_column),
        expect("ExpectColumnValuesToBeBetween", "seconds_before_run", **window),
    ]


# What must hold of each clean/eval table's partition (DESIGN.md output contract).
SUITES: dict[str, list[Expectation]] = {
    "clean.jobseekers": [
        *not_null("run_date", "jobseeker_id", "registered_on", "desired_occupation", "active"),
        *not_null("latitude", "longitude", "department"),
        expect("ExpectColumnValuesToBeUnique", "jobseeker_id"),
        expect("ExpectColumnValuesToBeBetween", "days_before_run", min_value=1),
        expect("ExpectColumnValuesToBeInSet", "gender", value_set=list(GENDERS)),
        expect("ExpectColumnValuesToBeBetween", "education_level", min_value=0, max_value=8),
        expect("ExpectColumnValuesToBeBetween", "experience_years", min_value=0),
        expect("ExpectColumnValuesToBeBetween", "desired_wage", min_value=0),
        expect("ExpectColumnValuesToBeBetween", "mobility_km", min_value=0),
        expect("ExpectColumnValuesToBeBetween", "latitude", min_value=-90, max_value=90),
        expect("ExpectColumnValuesToBeBetween", "longitude", min_value=-180, max_value=180),
        expect("ExpectColumnValuesToMatchRegex", "desired_occupation", regex=OCCUPATION_PATTERN),
        expect("ExpectColumnValuesToBeInSet", "desired_contract", value_set=list(CONTRACTS)),
        expect("ExpectColumnValuesToBeInSet", "active", value_set=[True, False]),
        # exited_on is only known when it lies before the run date
        expect("ExpectColumnValuesToBeBetween", "days_since_exit", min_value=1),
    ],
    "clean.job_ads": [
        *not_null("run_date", "ad_id", "posted_on", "occupation", "positions", "active"),
        *not_null("latitude", "longitude", "department"),
        expect("ExpectColumnValuesToBeUnique", "ad_id"),
        expect("ExpectColumnValuesToBeBetween", "days_before_run", min_value=1),
        expect("ExpectColumnValuesToBeBetween", "positions", min_value=1),
        expect("ExpectColumnValuesToBeBetween", "wage", min_value=0),
        expect("ExpectColumnValuesToBeBetween", "hours_per_week", min_value=0, max_value=168),
        expect("ExpectColumnValuesToBeBetween", "required_education", min_value=0, max_value=8),
        expect("ExpectColumnValuesToBeBetween", "latitude", min_value=-90, max_value=90),
        expect("ExpectColumnValuesToBeBetween", "longitude", min_value=-180, max_value=180),
        expect("ExpectColumnValuesToMatchRegex", "occupation", regex=OCCUPATION_PATTERN),
        expect("ExpectColumnValuesToBeInSet", "contract", value_set=list(CONTRACTS)),
        expect("ExpectColumnValuesToBeBetween", "days_since_close", min_value=1),
    ],
    "clean.applications": [
        *_event_suite("applied_at"),
        expect("ExpectColumnValuesToBeInSet", "channel", value_set=list(CHANNELS)),
        expect(
            "ExpectCompoundColumnsToBeUnique", column_list=["jobseeker_id", "ad_id", "applied_at"]
        ),
    ],
    "clean.hires": [
        *_event_suite("hired_at"),
        expect(
            "ExpectCompoundColumnsToBeUnique", column_list=["jobseeker_id", "ad_id", "hired_at"]
        ),
    ],
    "clean.recommendation_feedback": [
        *_event_suite("sent_at"),
        *not_null("responded", "applied", "positive_outcome", "unsubscribed", "negative_feedback"),
    ],
    "eval.forward_applications": [
        *_event_suite("applied_at", forward=True),
        expect("ExpectColumnValuesToBeInSet", "channel", value_set=list(CHANNELS)),
    ],
    "eval.forward_hires": _event_suite("hired_at", forward=True),
}


@dataclasses.dataclass(frozen=True)
class SuiteResult:
    table: str
    success: bool
    evaluated: int
    failures: tuple[str, ...]  # one readable line per failed expectation

    def summary(self) -> str:
        if self.success:
            return f"{self.table}: all {self.evaluated} expectations met"
        return f"{self.table}: {len(self.failures)} of {self.evaluated} expectations failed\n" + (
            "\n".join(self.failures)
        )


def run_suite(table: str, frame: pd.DataFrame, key_columns: tuple[str, ...] = ()) -> SuiteResult:
    """Validate `frame` (one partition of `table`) against SUITES[table] with GX."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    batch_def = (
        context.data_sources.add_pandas("warehouse")
        .add_dataframe_asset(name=table.replace(".", "_"))
        .add_batch_definition_whole_dataframe("partition")
    )
    suite = gx.ExpectationSuite(name=table)
    for expectation in SUITES[table]:
        suite.add_expectation(expectation.build(gx.expectations))
    suite = context.suites.add(suite)
    frame = frame.reset_index(drop=True)
    result = batch_def.get_batch(batch_parameters={"dataframe": frame}).validate(
        suite, result_format="COMPLETE"
    )
    failures = []
    for r in result.results:
        if r.success:
            continue
        cfg = r.expectation_config
        column = cfg.kwargs.get("column") or cfg.kwargs.get("column_list")
        n = r.result.get("unexpected_count")
        rows = (r.result.get("unexpected_index_list") or [])[:SAMPLE]
        samples = []
        for i in rows:
            if isinstance(i, dict):  # compound-column expectations report the row itself
                samples.append(", ".join(f"{k}={v}" for k, v in i.items()))
                continue
            keys = " ".join(f"{k}={frame.at[i, k]}" for k in key_columns if k != column)
            value = frame.at[i, column] if isinstance(column, str) else ""
            samples.append(f"{keys} {column}={value}".strip())
        line = f"{table}: column {column}: {cfg.type} failed"
        if n is not None:
            line += f" ({n} rows)"
        if samples:
            line += "; sample: " + "; ".join(samples)
        failures.append(line)
    return SuiteResult(table, bool(result.success), len(result.results), tuple(failures))
