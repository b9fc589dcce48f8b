"""Clean tables: the raw files typed, deduplicated and cut at the partition's day (logic and
statements in jobrec.data.clean and sql/).

clean.* holds every entity known before run_date (with its `active` flag) and every event strictly
before run_date; eval.forward_* holds the 7 days from run_date on, for evaluation only.
"""

from __future__ import annotations

from assets.common import GROUPS, Step, Verdict, Written, daily_asset
from assets.raw import VALIDATED_INPUTS
from jobrec.data import warehouse
from jobrec.data.clean import CLEAN_TABLES, FORWARD_TABLES, prune_partitions, write_clean_partition
from jobrec.data.quality import run_suite
from jobrec.data.table_docs import table_description


def write_table(step: Step, table: str) -> Written:
    written = write_clean_partition(step.con, table, step.settings.raw_dir, step.run_date)
    pruned = prune_partitions(step.con, table, step.run_date, step.settings.retention_days)
    active = {}
    if table in ("clean.jobseekers", "clean.job_ads"):
        (n_active,) = step.con.execute(
            f"SELECT count(*) FROM {table} WHERE run_date = ? AND active", [step.run_date]
        ).fetchone()
        active = {"active": int(n_active)}
    stored = (
        {}
        if table in FORWARD_TABLES
        else {"ingested_rows": written.ingested, "ended_versions": written.ended}
    )
    return Written(written.rows, {"table": table, **active, **stored, "pruned_partitions": pruned})


def great_expectations_check(table: str):
    keys = CLEAN_TABLES[table]

    def check(step: Step, written: Written) -> Verdict:
        frame = step.con.execute(
            warehouse.sql(f"quality_{table.replace('.', '_')}"), {"run_date": step.run_date}
        ).df()
        result = run_suite(table, frame, keys)
        return Verdict(
            result.success,
            result.summary(),
            {"expectations": result.evaluated, "failed": len(result.failures)},
        )

    check.__doc__ = (
        f"Great Expectations suite on what partition D added to {table} (new events or versions)."
        if table not in FORWARD_TABLES
        else f"Great Expectations suite on the partition of {table}."
    )
    return check


def _clean_asset(table: str, deps: list):
    schema, name = table.split(".")

    @daily_asset(
        key=[schema, name],
        group=GROUPS[schema],
        table=table,
        deps=deps,
        checks={"great_expectations": great_expectations_check(table)},
        description=f"`{table}`: {table_description(table)}",
        kinds={"great_expectations"},
    )
    def _compute(step: Step) -> Written:
        return write_table(step, table)

    return _compute


clean_jobseekers = _clean_asset("clean.jobseekers", [VALIDATED_INPUTS])
clean_job_ads = _clean_asset("clean.job_ads", [VALIDATED_INPUTS])
_entities = [clean_jobseekers, clean_job_ads]
clean_applications = _clean_asset("clean.applications", _entities)
clean_hires = _clean_asset("clean.hires", _entities)
clean_recommendation_feedback = _clean_asset("clean.recommendation_feedback", _entities)
eval_forward_applications = _clean_asset("eval.forward_applications", [VALIDATED_INPUTS])
eval_forward_hires = _clean_asset("eval.forward_hires", [VALIDATED_INPUTS])

CLEAN_ASSETS = [
    clean_jobseekers,
    clean_job_ads,
    clean_applications,
    clean_hires,
    clean_recommendation_feedback,
    eval_forward_applications,
    eval_forward_hires,
]
