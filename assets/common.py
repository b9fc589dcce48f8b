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
import hashlib
import importlib.metadata
import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import duckdb
from dagster import (
    AssetCheckKey,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetSpec,
    BackfillPolicy,
    FreshnessPolicy,
    MaterializeResult,
    ResourceParam,
    RetryRequested,
    TableColumn,
    TableSchema,
    multi_asset,
)

from assets.partitions import daily_partitions
from assets.resources import Warehouse
from jobrec.data import model_store
from jobrec.data.run_stats import StepTracker
from jobrec.data.settings import Settings
from jobrec.data.table_docs import column_descriptions
from jobrec.data.warehouse import is_lock_error, mark_night, record_run, transaction

# Every step that opens the warehouse for writing runs in this pool (limit 1: see dagster.yaml).
WAREHOUSE_POOL = "jobrec_warehouse"
OWNERS = ["team:jobrec"]
# The chain's groups, numbered so that the UI lists them in the order the night runs them (a
# name must not start with a digit: selection strings such as `group:step02_clean` need that).
GROUPS = {
    name: f"step{i:02d}_{name}"
    for i, name in enumerate(
        [
            "raw",
            "clean",
            "eval",
            "retrieval",
            "rerank",
            "redistribution",
            "send",
            "audit",
            "report",
            "publish",
        ],
        start=1,
    )
}
# A step that waited JOBREC_LOCK_WAIT_S for the warehouse's write lock (another process writing)
# is retried this many times, a few minutes apart: partition writes are idempotent. Nothing else
# is retried: a failed check or a bug fails the same way twice.
LOCK_RETRIES = 2
LOCK_RETRY_WAIT_S = 300
# The send list and the report are due by 06:00 UTC (the mailing system's pick-up).
DUE_BY_0600 = FreshnessPolicy.cron(
    deadline_cron="0 6 * * *", lower_bound_delta=dt.timedelta(hours=6)
)


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
    table: str | None = None,
    model: str | None = None,
    kinds: set[str] | None = None,
    code_version: str | None = None,
    freshness_policy: FreshnessPolicy | None = None,
) -> Callable[[Compute], Any]:
    """`transactional=False` is for steps that manage their own atomicity (publishing).
    `warnings`: checks that report (severity WARN) but never block nor roll back: findings such
    as an audit's must not stop the night's recommendations. `completes_night`: the step that
    marks the night whole itself (publishing) rather than 'running'. `table`: the warehouse
    table the asset writes (its row count, name and column schema go into the metadata);
    `model`: the models_dir folder it saves (its size goes into the metadata instead of rows).
    `code_version`: bump it when the asset's logic changes what it writes."""
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

        @multi_asset(
            name=asset_key.to_python_identifier(),
            specs=[
                AssetSpec(
                    asset_key,
                    deps=list(deps),
                    group_name=group,
                    description=description or compute.__doc__,
                    kinds=set(kinds or ()) | ({"duckdb"} if table else set()),
                    owners=OWNERS,
                    code_version=code_version or default_code_version(compute),
                    freshness_policy=freshness_policy,
                    tags={"jobrec/output": "table" if table else "model" if model else "files"},
                    metadata={"dagster/table_name": table} if table else None,
                    skippable=True,  # a refused partition materialises nothing
                )
            ],
            partitions_def=daily_partitions,
            backfill_policy=BackfillPolicy.single_run(),
            pool=WAREHOUSE_POOL,
            check_specs=specs,
            # check results are optional: a refused partition has no WARN findings to report
            # (they are computed on what passed the blocking checks)
            can_subset=True,
        )
        def _asset(
            context: AssetExecutionContext, warehouse: Warehouse, settings: ResourceParam[Settings]
        ):
            total_rows, days, refused = 0, [], None
            verdicts: dict[str, Verdict] = {}
            for run_date in sorted(dt.date.fromisoformat(k) for k in context.partition_keys):
                with warehouse_connection(warehouse) as con:
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
                        failed = [
                            f"{n} ({v.description.splitlines()[0][:200]})"
                            for n, v in verdicts.items()
                            if not v.passed
                        ]
                        detail = f"{asset_name(key)}: check {'; '.join(failed)} failed"
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
                what = f"{written.rows} rows" if table else "written"  # models: no row count
                context.log.info(f"{asset_name(key)} {run_date}: {what} in {tracker.seconds:.1f}s")
            if refused is None:
                meta = _metadata(days, total_rows, table is not None)
                if table:
                    meta["dagster/column_schema"] = _column_schema(warehouse, table)
                if model:
                    meta.update(_saved(settings.models_dir, days[-1][0], model))
                yield MaterializeResult(metadata=meta)
            # the partition the results speak of: the refused one, else the last of the run
            checked = refused or (days[-1][0] if days else None)
            for name, verdict in verdicts.items():
                if AssetCheckKey(asset_key, name) not in context.selected_asset_check_keys:
                    continue
                yield AssetCheckResult(
                    check_name=name,
                    passed=verdict.passed,
                    severity=AssetCheckSeverity.WARN
                    if name in warnings
                    else AssetCheckSeverity.ERROR,
                    description=(f"partition {checked}: " + verdict.description)[:4000],
                    metadata={"partition": str(checked), **verdict.metadata},
                )

        return _asset

    return decorate


def _maybe_transaction(con: duckdb.DuckDBPyConnection, transactional: bool):
    return transaction(con) if transactional else contextlib.nullcontext(con)


class _Refused(Exception):
    """Raised inside the transaction to roll it back when a blocking check fails."""


@contextlib.contextmanager
def warehouse_connection(warehouse: Warehouse):
    """The warehouse connection; a lock held past the wait (another process writing) asks
    Dagster to retry the step later instead of failing the night."""
    try:
        with warehouse.get_connection() as con:
            yield con
    except duckdb.IOException as exc:
        if not is_lock_error(exc):
            raise
        raise RetryRequested(max_retries=LOCK_RETRIES, seconds_to_wait=LOCK_RETRY_WAIT_S) from exc


def table_schema(con: duckdb.DuckDBPyConnection, table: str) -> TableSchema:
    """The table's columns as the warehouse has them, with the analysts' descriptions."""
    schema, name = table.split(".")
    columns = con.execute(
        "SELECT column_name, data_type FROM duckdb_columns() "
        "WHERE database_name = current_database() AND schema_name = ? "
        "AND table_name = ? ORDER BY column_index",
        [schema, name],
    ).fetchall()
    return _described_schema(columns, column_descriptions(table))


def _described_schema(columns: list[tuple[str, str]], described: dict[str, str]) -> TableSchema:
    # Built in a frame without a connection: Dagster compiles a record's constructor on first use
    # and keeps that caller frame's locals, which kept a DuckDB connection alive until exit.
    return TableSchema(
        columns=[TableColumn(name=c, type=t, description=described.get(c)) for c, t in columns]
    )


def _column_schema(warehouse: Warehouse, table: str) -> TableSchema:
    # its own frame: no connection object outlives the call in the asset's generator
    with warehouse_connection(warehouse) as con:
        return table_schema(con, table)


def _saved(models_dir, run_date: dt.date, model: str) -> dict[str, Any]:
    folder = model_store.model_dir(models_dir, run_date, model)
    files = [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []
    return {
        "saved_to": str(folder),
        "saved_files": len(files),
        "saved_mb": round(sum(p.stat().st_size for p in files) / 2**20, 2),
    }


def default_code_version(compute: Compute) -> str:
    """The package's version and a hash of the asset's own function: the UI marks a partition
    stale when the code that wrote it changed (bump the package version for changes deeper in
    jobrec/, or pass `code_version`)."""
    source = inspect.getsource(compute).encode()
    return f"{importlib.metadata.version('jobrec')}+{hashlib.sha256(source).hexdigest()[:8]}"


def _metadata(days: list, total_rows: int, is_table: bool) -> dict[str, Any]:
    run_date, written, tracker = days[-1]
    meta = {
        # a single-run backfill records this metadata on each of its partitions
        **({"dagster/row_count": written.rows} if is_table else {}),
        **({"rows_by_partition": {str(d): w.rows for d, w, _ in days}} if len(days) > 1 else {}),
        "partitions": len(days),
        "seconds": round(sum(t.seconds for _, _, t in days), 3),
        "peak_rss_mb": round(max(t.peak_rss_mb for _, _, t in days), 1),
    }
    meta.update(written.metadata)
    return meta
