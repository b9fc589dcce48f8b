"""Raw input files: one observable asset per contract file, each with its blocking contract check.

The files are read where they are (no copy); the check validates columns, types, keys,
references and ranges of every row the partition can read (known before D + 7 days) and names
the file, the column and sample rows of any violation. One failed file stops the whole night:
nothing downstream runs on it, and every table keeps its last good partition.
"""

import datetime as dt

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
    MaterializeResult,
    ResourceParam,
    multi_asset,
)

from assets.common import WAREHOUSE_POOL
from assets.partitions import daily_partitions
from assets.resources import Warehouse
from jobrec.data.contract import RAW_FILES, RawInputs
from jobrec.data.run_stats import StepTracker
from jobrec.data.settings import Settings
from jobrec.data.warehouse import mark_night, record_run

RAW_KEYS = {name: AssetKey(["raw", name]) for name in RAW_FILES}


@multi_asset(
    name="raw_inputs",
    specs=[
        AssetSpec(
            key,
            group_name="raw",
            description=f"The raw `{name}` input file (Parquet or CSV) in JOBREC_RAW_DIR.",
            skippable=True,
        )
        for name, key in RAW_KEYS.items()
    ],
    check_specs=[
        AssetCheckSpec(
            "contract",
            asset=key,
            blocking=True,
            description="Columns, types, keys, references and ranges of the input contract.",
        )
        for key in RAW_KEYS.values()
    ]
    + [
        AssetCheckSpec(
            "plausibility",
            asset=key,
            blocking=False,
            description=(
                "Implausible but usable rows, counted (never refused): events after the "
                "seeker's exit, events of seekers not yet registered, dates over a year ahead."
            ),
        )
        for key in RAW_KEYS.values()
    ],
    partitions_def=daily_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    pool=WAREHOUSE_POOL,
    # a subset of the inputs can be selected; and a refused partition has no plausibility
    # results (findings need every file valid), so check outputs must be optional
    can_subset=True,
)
def raw_inputs(
    context: AssetExecutionContext, warehouse: Warehouse, settings: ResourceParam[Settings]
):
    reports, findings, files, rows, refused = {}, {}, {}, {}, None
    accounting = []
    for run_date in sorted(dt.date.fromisoformat(k) for k in context.partition_keys):
        # Validation reads the files with an in-memory DuckDB: it never holds the warehouse lock.
        with StepTracker() as tracker, duckdb.connect() as con:
            inputs = RawInputs(con, settings.raw_dir, run_date)
            reports = inputs.validate()
            files, rows = inputs.files, inputs.rows
            if not any(reports.values()):
                found = inputs.findings()
                for name, items in found.items():
                    findings.setdefault(name, []).extend((run_date, v) for v in items)
        accounting.append((run_date, tracker))
        if any(reports.values()):
            refused = run_date
            break
    with warehouse.get_connection() as con:
        if refused is not None:
            detail = "raw inputs refused by the contract: " + ", ".join(
                name for name, violations in reports.items() if violations
            )
            mark_night(con, refused, "failed", context.run.run_id, detail)
        for run_date, tracker in accounting[: len(accounting) - (refused is not None)]:
            for name in RAW_FILES:
                record_run(
                    con,
                    run_id=context.run.run_id,
                    run_date=run_date,
                    asset=f"raw/{name}",
                    seconds=tracker.seconds,
                    peak_rss_mb=tracker.peak_rss_mb,
                    start_rss_mb=tracker.start_rss_mb,
                    rows=rows.get(name, 0),
                )
    selected_checks = context.selected_asset_check_keys
    for name, key in RAW_KEYS.items():
        if key not in context.selected_asset_keys:
            continue  # every file is validated (references span files), the selected reported
        violations = reports[name]
        # one refused file refuses the partition: no input of it is recorded as materialised
        if refused is None:
            raw = files[name]
            yield MaterializeResult(
                asset_key=key,
                metadata={
                    "path": str(raw.path),
                    "format": raw.format,
                    "rows": rows[name],
                    "bytes": sum(p.stat().st_size for p in raw.parts),
                },
            )
        problems = "\n".join(v.message() for v in violations)
        if AssetCheckKey(key, "contract") not in selected_checks:
            continue
        yield AssetCheckResult(
            asset_key=key,
            check_name="contract",
            passed=not violations,
            description=(
                f"partition {refused}: {len(violations)} contract violation(s)\n{problems}"
                if violations
                else "input contract holds"
            )[:4000],
            metadata={"violations": len(violations)},
        )
        found = findings.get(name, [])
        if refused is None and AssetCheckKey(key, "plausibility") in selected_checks:
            yield AssetCheckResult(
                asset_key=key,
                check_name="plausibility",
                passed=not found,
                severity=AssetCheckSeverity.WARN,
                description=(
                    "\n".join(f"partition {day}: {v.message()}" for day, v in found)
                    or "no implausible rows"
                )[:4000],
                metadata={"implausible_rows": sum(v.rows for _, v in found)},
            )
        for day, v in found:
            context.log.warning(f"partition {day}: {v.message()}")
    if refused is None:
        context.log.info(
            "raw inputs valid: " + ", ".join(f"{n} {r:,} rows" for n, r in rows.items())
        )
    else:
        context.log.error(
            "raw input refused for partition %s:\n%s",
            refused,
            "\n".join(v.message() for vs in reports.values() for v in vs),
        )
