"""The raw input files as observable sources, and partition D's validated view of them.

`raw/<name>_file` are the five contract files where they are (no copy): observable sources whose
data version changes with the files' content (their parts' names, sizes and modification times),
observed by the arrival sensor every few minutes or by "Observe sources" in the UI.

`raw/validated_inputs` is the chain's first materialised asset: for partition D it reads every
file through typed views and runs two blocking checks, so that nothing downstream runs on a bad
or late input and every table keeps its last good partition:
- `contract`: columns, types, keys, references and ranges of every row dated before D, naming
  the file, the column and sample rows of any violation;
- `arrival`: each file reaches D − 1 within its cadence (jobrec.data.arrival), naming the input
  that is missing or stale; the schedule's deadline run stops here when the sensor never fired.
The checks sit on this asset, not on the sources: they are properties of a partition (rows before
D, a file reaching D − 1), while a source is one unpartitioned file.
"""

import duckdb
from dagster import (
    AssetKey,
    AssetObservation,
    AssetSpec,
    DataVersion,
    ObserveResult,
    multi_observable_source_asset,
)

from assets.common import GROUPS, Step, Verdict, Written, daily_asset
from jobrec.data.arrival import arrivals, file_version, last_day
from jobrec.data.contract import RAW_FILES, RawInputs, Violation, locate

SOURCE_KEYS = {name: AssetKey(["raw", f"{name}_file"]) for name in RAW_FILES}
VALIDATED_INPUTS = AssetKey(["raw", "validated_inputs"])


# how an observation carries its data version (Dagster's tag, as ObserveResult sets it)
DATA_VERSION_TAG = "dagster/data_version"


def file_facts(raw_dir, name: str) -> tuple[str, dict]:
    """The file's data version, and what an operator checks first: where, how big, how recent."""
    raw = locate(raw_dir, name)
    if raw is None:
        return "missing", {"missing": f"no {name}.parquet, {name}/ or {name}.csv in {raw_dir}"}
    with duckdb.connect() as con:
        latest = last_day(con, raw_dir, name)
    return file_version(raw_dir, name), {
        "path": str(raw.path),
        "format": raw.format,
        "parts": len(raw.parts),
        "bytes": sum(p.stat().st_size for p in raw.parts),
        "latest_day": str(latest) if latest else "none",
    }


def observe_file(raw_dir, name: str) -> ObserveResult:
    version, metadata = file_facts(raw_dir, name)
    return ObserveResult(
        asset_key=SOURCE_KEYS[name], data_version=DataVersion(version), metadata=metadata
    )


def file_observation(raw_dir, name: str) -> AssetObservation:
    """The same, as an event a sensor or a run records (the night records the files it read)."""
    version, metadata = file_facts(raw_dir, name)
    return AssetObservation(SOURCE_KEYS[name], metadata=metadata, tags={DATA_VERSION_TAG: version})


@multi_observable_source_asset(
    name="raw_files",
    specs=[
        AssetSpec(
            key,
            group_name=GROUPS["raw"],
            description=f"The `{name}` input file as delivered (Parquet, a folder of Parquet "
            "parts, or CSV) in JOBREC_RAW_DIR; observed, never copied.",
            kinds={"parquet"},
            owners=["team:jobrec"],
        )
        for name, key in SOURCE_KEYS.items()
    ],
    can_subset=True,
    required_resource_keys={"settings"},
)
def raw_files(context):
    for name, key in SOURCE_KEYS.items():
        if key in context.selected_asset_keys:
            yield observe_file(context.resources.settings.raw_dir, name)


def contract(step: Step, written: Written) -> Verdict:
    """Columns, types, keys, references and ranges of the input contract, for every row dated
    before the partition's day, in all five files."""
    reports: dict[str, list[Violation]] = written.result["contract"]
    violations = [v for vs in reports.values() for v in vs]
    if not violations:
        return Verdict(True, "input contract holds in all five files")
    refused = [name for name, vs in reports.items() if vs]
    return Verdict(
        False,
        f"{len(violations)} contract violation(s) in {', '.join(refused)}\n"
        + "\n".join(v.message() for v in violations),
        {"violations": len(violations), "refused_files": ", ".join(refused)},
    )


def arrival(step: Step, written: Written) -> Verdict:
    """Every input reaches the day before the partition, within its usual gap between dated
    days (or JOBREC_INPUT_TOLERANCE_DAYS): the night does not run on a missing or stale file."""
    found = written.result["arrival"]
    late = [a for a in found.values() if not a.arrived]
    text = "\n".join(a.message() for a in late + [a for a in found.values() if a.arrived])
    head = (
        f"input(s) missing or stale: {', '.join(a.name for a in late)}\n"
        if late
        else "every input has arrived\n"
    )
    return Verdict(
        not late,
        head + text,
        {a.name: a.lag_days if a.lag_days is not None else -1 for a in found.values()},
    )


def plausibility(step: Step, written: Written) -> Verdict:
    """Implausible but usable rows, counted (never refused): events after the seeker's exit,
    events of seekers not yet registered, dates over a year ahead."""
    found = written.result["findings"]
    items = [v for vs in found.values() for v in vs]
    for v in items:
        step.context.log.warning(f"partition {step.run_date}: {v.message()}")
    return Verdict(
        not items,
        "\n".join(v.message() for v in items) or "no implausible rows",
        {"implausible_rows": sum(v.rows for v in items)},
    )


@daily_asset(
    key=VALIDATED_INPUTS.path,
    group=GROUPS["raw"],
    deps=list(SOURCE_KEYS.values()),
    checks={"contract": contract, "arrival": arrival},
    warnings={"plausibility": plausibility},
    kinds={"duckdb"},
)
def validated_inputs(step: Step) -> Written:
    """Partition D's raw inputs, validated by the input contract and checked for arrival:
    nothing downstream runs on a file that breaks the contract or has not reached D − 1."""
    # Validation reads the files with its own in-memory DuckDB: nothing is copied.
    with duckdb.connect() as con:
        inputs = RawInputs(con, step.settings.raw_dir, step.run_date)
        reports = inputs.validate()
        settings = step.settings
        arrived = arrivals(con, settings.raw_dir, step.run_date, settings.input_tolerances)
        # findings need every file valid (typed views); computed here, reported by the check
        valid = not any(reports.values())
        found = inputs.findings() if valid else {}
        rows, files = dict(inputs.rows), dict(inputs.files)
    for name in RAW_FILES:  # the versions of the files this partition read, in the lineage
        step.context.log_event(file_observation(step.settings.raw_dir, name))
    step.context.log.info("raw inputs: " + ", ".join(f"{n} {r:,} rows" for n, r in rows.items()))
    return Written(
        sum(rows.values()),
        {
            **{f"rows_{name}": rows.get(name, 0) for name in RAW_FILES},
            "files": {n: str(f.path) for n, f in files.items()},
        },
        result={"contract": reports, "arrival": arrived, "findings": found},
    )


RAW_ASSETS = [raw_files, validated_inputs]
