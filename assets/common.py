"""The shape every warehouse asset shares: daily partitions, one writer at a time, idempotent
partition writes committed only when the blocking checks pass, and run accounting.

An asset is a per-day function `compute(step) -> Written` plus per-day checks
`check(step, written) -> Verdict`. `daily_asset` turns them into a Dagster asset that, for each
partition of the run (several in a single-run backfill):
  1. opens a transaction on the warehouse,
  2. runs `compute` (which replaces its partition),
  3. runs the checks on what was written, still inside the transaction,
  4. commits if every check passed, with the night marked 'running' in metrics.nights (it is
     not whole again until publishing), else rolls back (the table keeps its previous content),
     marks the night 'failed' and stops, reporting the failed blocking check so that nothing
     downstream runs,
  5. appends the step's seconds, own peak memory and rows to metrics.runs.
"""

import contextlib
import dataclasses
import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import duckdb
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    BackfillPolicy,
    MaterializeResult,
    ResourceParam,
    asset,
)

from assets.partitions import daily_partitions
from assets.resources import Warehouse
from jobrec.data.run_stats import StepTracker
from jobrec.data.settings import Settings
from jobrec.data.warehouse import mark_night, record_run, transaction

# Every step that opens the warehouse for writing runs in this pool (limit 1: see dagster.yaml).
WAREHOUSE_POOL = "jobrec_warehouse"


@dataclasses.dataclass
class Step:
    context: AssetExecutionContext
    con: duckdb.DuckDBPyConnection
    settings: Settings
    run_date: dt.date


@dataclasses.dataclass
class Written:
    rows: int
    metadata: dict[str, Any] = dataclasses.field(default_factory=dict)
    result: Any = None  # what the checks need beyond the warehouse (not shown as metadata)


@dataclasses.dataclass
class Verdict:
    passed: bool
    description: str
    metadata: dict[str, Any] = dataclasses.field(default_factory=dict)


def problems_text(problems: Sequence[tuple]) -> str:
    """The rows of a check query — (problem, count, a few samples) — as one line."""
    return "; ".join(f"{p}: {n} (e.g. {', '.join(samples)})" for p, n, samples in problems)


def problems_verdict(problems: Sequence[tuple], ok_text: str) -> Verdict:
    """Passed when the check query found nothing; else its problems, counted by kind."""
    if not problems:
        return Verdict(True, ok_text)
    return Verdict(False, problems_text(problems), {p: n for p, n, _ in problems})


Compute = Callable[[Step], Written]
Check = Callable[[Step, Written], Verdict]


def asset_name(key: Sequence[str]) -> str:
    return "/".join(key)


def daily_asset(
    *,
    key: Sequence[str],
    group: str,
    checks: Mapping[str, Check],
    deps: Sequence[Any] = (),
    description: str | None = None,
    transactional: bool = True,
    warnings: Mapping[str, Check] | None = None,
    completes_night: bool = False,
) -> Callable[[Compute], Any]:
    """`transactional=False` is for steps that manage their own atomicity (publishing).
    `warnings`: checks that report (severity WARN) but never block nor roll back: findings such
    as an audit's must not stop the night's recommendations. `completes_night`: the step that
    marks the night whole itself (publishing) rather than 'running'."""
    warnings = dict(warnings or {})
    asset_key = AssetKey(list(key))

    def decorate(compute: Compute):
        specs = [
            AssetCheckSpec(name, asset=asset_key, blocking=True, description=fn.__doc__)
            for name, fn in checks.items()
        ] + [
            AssetCheckSpec(name, asset=asset_key, blocking=False, description=fn.__doc__)
            for name, fn in warnings.items()
        ]

        @asset(
            key=asset_key,
            deps=list(deps),
            group_name=group,
            description=description or compute.__doc__,
            partitions_def=daily_partitions,
            backfill_policy=BackfillPolicy.single_run(),
            pool=WAREHOUSE_POOL,
            check_specs=specs,
            output_required=False,  # a refused partition materialises nothing
        )
        def _asset(
            context: AssetExecutionContext, warehouse: Warehouse, settings: ResourceParam[Settings]
        ):
            total_rows, days, refused = 0, [], None
            verdicts: dict[str, Verdict] = {}
            for run_date in sorted(dt.date.fromisoformat(k) for k in context.partition_keys):
                with warehouse.get_connection() as con:
                    step = Step(context, con, settings, run_date)
                    try:
                        with StepTracker() as tracker, _maybe_transaction(con, transactional):
                            written = compute(step)
                            verdicts = {name: fn(step, written) for name, fn in checks.items()}
                            if not all(v.passed for v in verdicts.values()):
                                raise _Refused  # rolls back: the partition stays as it was
                            verdicts.update({n: fn(step, written) for n, fn in warnings.items()})
                            if not completes_night:
                                mark_night(
                                    con, run_date, "running", context.run.run_id, asset_name(key)
                                )
                    except _Refused:
                        refused = run_date
                        failed = [n for n, v in verdicts.items() if not v.passed]
                        detail = f"{asset_name(key)}: check {', '.join(failed)} failed"
                        mark_night(con, run_date, "failed", context.run.run_id, detail)
                        break
                    record_run(
                        con,
                        run_id=context.run.run_id,
                        run_date=run_date,
                        asset=asset_name(key),
                        seconds=tracker.seconds,
                        peak_rss_mb=tracker.peak_rss_mb,
                        start_rss_mb=tracker.start_rss_mb,
                        rows=written.rows,
                    )
                total_rows += written.rows
                days.append((run_date, written, tracker))
                context.log.info(
                    f"{asset_name(key)} {run_date}: {written.rows} rows in {tracker.seconds:.1f}s"
                )
            if refused is None:
                yield MaterializeResult(metadata=_metadata(days, total_rows))
            for name, verdict in verdicts.items():
                prefix = f"partition {refused}: " if refused and not verdict.passed else ""
                yield AssetCheckResult(
                    check_name=name,
                    passed=verdict.passed,
                    severity=AssetCheckSeverity.WARN
                    if name in warnings
                    else AssetCheckSeverity.ERROR,
                    description=(prefix + verdict.description)[:4000],
                    metadata=verdict.metadata,
                )

        return _asset

    return decorate


def _maybe_transaction(con: duckdb.DuckDBPyConnection, transactional: bool):
    return transaction(con) if transactional else contextlib.nullcontext(con)


class _Refused(Exception):
    """Raised inside the transaction to roll it back when a blocking check fails."""


def _metadata(days: list, total_rows: int) -> dict[str, Any]:
    run_date, written, tracker = days[-1]
    meta = {
        "rows": total_rows,
        "partitions": len(days),
        "seconds": round(sum(t.seconds for _, _, t in days), 3),
        "peak_rss_mb": round(max(t.peak_rss_mb for _, _, t in days), 1),
    }
    meta.update(written.metadata)
    return meta
