"""The clean tables: the raw files typed, deduplicated and cut at the partition's day, stored once.

Storage grows with the day, not with history. Events (applications, hires, recommendation
feedback) are append-only `store.*` tables: each night ingests the rows dated before its day that
are not stored yet, stamped with the night (`ingested_on`); a re-run of a night replaces exactly
its own ingest. Seekers and ads are `store.*` versions valid from the night that first saw a
content to the night that saw another (`valid_from`, `valid_to`). `clean.*` are views
(sql/clean_views.sql) that give each retained night (`store.partitions`) the world as known at
the start of that day, with today's meaning: every event dated before it in the raw files, every
entity registered or posted before it. eval.forward_* holds the 7 days from run_date on, for
evaluation only, as one small partition a night.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import duckdb

from jobrec.data import warehouse
from jobrec.data.contract import open_raw_views


@dataclasses.dataclass(frozen=True)
class Stored:
    """How one clean table is stored: its raw file, its kind and the columns that name a row."""

    name: str  # the store table and the raw file
    kind: str  # "events" or "versions"
    keys: tuple[str, ...]  # order rows and name them in messages; an entity's id first
    time: str | None = None  # an event's time column
    # an event already stored is one with the same keys (a later copy is not stored again), or
    # for feedback the same whole row (a send's changed outcomes are a new row)
    same_row_by_keys: bool = True


STORED = {
    "clean.jobseekers": Stored("jobseekers", "versions", ("jobseeker_id",)),
    "clean.job_ads": Stored("job_ads", "versions", ("ad_id",)),
    "clean.applications": Stored(
        "applications", "events", ("jobseeker_id", "ad_id", "applied_at"), "applied_at"
    ),
    "clean.hires": Stored("hires", "events", ("jobseeker_id", "ad_id", "hired_at"), "hired_at"),
    "clean.recommendation_feedback": Stored(
        "recommendation_feedback",
        "events",
        ("jobseeker_id", "ad_id", "sent_at"),
        "sent_at",
        same_row_by_keys=False,
    ),
}
# The forward evaluation window: a partition a night (7 days of events), replaced on a re-run.
FORWARD_TABLES = {
    "eval.forward_applications": ("jobseeker_id", "ad_id", "applied_at"),
    "eval.forward_hires": ("jobseeker_id", "ad_id", "hired_at"),
}
CLEAN_TABLES = {**{t: s.keys for t, s in STORED.items()}, **FORWARD_TABLES}


@dataclasses.dataclass(frozen=True)
class Ingest:
    """What one night's write of a clean table did."""

    rows: int  # the table's rows as known at the night (the clean view's partition)
    ingested: int  # rows the night added to the store (events) or versions it started
    ended: int = 0  # versions the night ended (changed or gone from the files)


def ensure_store(con: duckdb.DuckDBPyConnection) -> None:
    """Create the store's registry and the clean views (idempotent); migrate a warehouse whose
    clean tables are still one full copy per partition."""
    con.execute(warehouse.sql("create_store"))
    if any(_is_base_table(con, t) for t in STORED):
        migrate_partitioned_tables(con)
    else:
        create_views(con)


def _is_base_table(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    schema, name = table.split(".")
    return bool(
        con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? "
            "AND table_name = ? AND table_type = 'BASE TABLE' "
            "AND table_catalog = current_database()",
            [schema, name],
        ).fetchone()[0]
    )


def _create_store_table(con: duckdb.DuckDBPyConnection, stored: Stored, incoming: str) -> None:
    if warehouse.table_exists(con, f"store.{stored.name}"):
        return
    stamp = (
        "CAST(NULL AS DATE) AS ingested_on"
        if stored.kind == "events"
        else "CAST(NULL AS UBIGINT) AS row_hash, CAST(NULL AS DATE) AS valid_from, "
        "CAST(NULL AS DATE) AS valid_to"
    )
    con.execute(
        f"CREATE TABLE store.{stored.name} AS SELECT *, {stamp} FROM ({incoming}) LIMIT 0",
        {"run_date": dt.date(1970, 1, 1)},
    )
    create_views(con)


def create_views(con: duckdb.DuckDBPyConnection) -> None:
    """(Re)create the clean view of every table whose store table exists."""
    for table, statement in _view_statements().items():
        if warehouse.table_exists(con, f"store.{STORED[table].name}"):
            con.execute(statement)


def _view_statements() -> dict[str, str]:
    statements = _statements(warehouse.sql("clean_views"))
    return {t: next(s for s in statements if f"VIEW {t} AS" in s) for t in STORED}


def ingest(con: duckdb.DuckDBPyConnection, table: str, incoming: str, run_date: dt.date) -> Ingest:
    """Store night `run_date`'s rows of one clean table from the relation `incoming` (a SELECT
    with a `$run_date` parameter, over the raw views or, when migrating, an old partition), and
    register the night in the clean view. Runs inside the caller's transaction; a re-run of the
    night first undoes its own earlier ingest, so it is idempotent."""
    stored = STORED[table]
    _create_store_table(con, stored, incoming)
    params = {"run_date": run_date}
    ended = 0
    if stored.kind == "events":
        columns = [
            d[0] for d in con.execute(f"SELECT * FROM ({incoming}) LIMIT 0", params).description
        ]
        identity = stored.keys if stored.same_row_by_keys else columns
        statements = warehouse.sql("ingest_events").format(
            name=stored.name,
            known=warehouse.sql("known_events").format(incoming=incoming),
            match=" AND ".join(f"t.{c} = i.{c}" for c in identity),
            identity=", ".join(identity),
            order_by=", ".join(stored.keys),
        )
        for statement in _statements(statements):
            con.execute(statement, params)
        (added,) = con.execute(
            f"SELECT count(*) FROM store.{stored.name} WHERE ingested_on = ?", [run_date]
        ).fetchone()
    else:
        statements = warehouse.sql("ingest_versions").format(
            name=stored.name, key=stored.keys[0], incoming=incoming
        )
        for statement in _statements(statements):
            con.execute(statement, params if "$run_date" in statement else None)
            if statement.lstrip().startswith("CREATE OR REPLACE TEMP TABLE version_changes"):
                (ended,) = con.execute(
                    "SELECT count(*) FROM version_changes WHERE current_from IS NOT NULL"
                ).fetchone()
        (added,) = con.execute(
            f"SELECT count(*) FROM store.{stored.name} WHERE valid_from = ?", [run_date]
        ).fetchone()
        con.execute("DROP TABLE IF EXISTS incoming_versions")
        con.execute("DROP TABLE IF EXISTS version_changes")
    con.execute(
        "INSERT OR REPLACE INTO store.partitions VALUES (?, ?, ?, now())",
        [table, run_date, int(added)],
    )
    (rows,) = con.execute(f"SELECT count(*) FROM {table} WHERE run_date = ?", [run_date]).fetchone()
    return Ingest(int(rows), int(added), int(ended))


def _statements(text: str) -> list[str]:
    """The statements of a SQL file (`;` at a line's end ends one; comments dropped)."""
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))
    return [s.strip() for s in body.split(";\n") if s.strip().rstrip(";").strip()]


def write_clean_partition(
    con: duckdb.DuckDBPyConnection, table: str, raw_dir: str | Path, run_date: dt.date
) -> Ingest:
    """Write partition `run_date` of one clean table from the raw files.

    Parameters
    ----------
    con : DuckDB connection
        The warehouse (or an in-memory database), inside the caller's transaction.
    table : str
        One of `CLEAN_TABLES`.
    raw_dir : path
        The folder of the raw input files.
    run_date : date
        The partition: the world as known at the start of that day.

    Returns
    -------
    Ingest
        The partition's rows; for the stored tables also what the night added to the store.
    """
    open_raw_views(con, Path(raw_dir), run_date)
    if table in FORWARD_TABLES:
        rows = warehouse.replace_partition(
            con,
            table,
            run_date,
            warehouse.sql(table.replace(".", "_")),
            {"run_date": run_date},
            order_by=", ".join(FORWARD_TABLES[table]),
        )
        return Ingest(rows, rows)
    ensure_store(con)
    return ingest(con, table, warehouse.sql(f"incoming_{STORED[table].name}"), run_date)


def prune_partitions(
    con: duckdb.DuckDBPyConnection, table: str, run_date: dt.date, keep_days: int
) -> int:
    """Drop the clean view's partitions older than `keep_days` before `run_date` (0 keeps all).

    The stored rows stay: they are the history later nights train on. Forward windows are
    deleted. Relative to the partition being written, so a backfill never drops newer ones.
    """
    if table in FORWARD_TABLES:
        return warehouse.prune_partitions(con, table, run_date, keep_days)
    if keep_days <= 0:
        return 0
    cutoff = run_date - dt.timedelta(days=keep_days)
    (n,) = con.execute(
        "SELECT count(*) FROM store.partitions WHERE table_name = ? AND run_date < ?",
        [table, cutoff],
    ).fetchone()
    if n:
        con.execute(
            "DELETE FROM store.partitions WHERE table_name = ? AND run_date < ?", [table, cutoff]
        )
    return int(n)


def migrate_partitioned_tables(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Move a warehouse written before the store (one full copy of every clean table per
    partition) into it: each old partition is ingested in day order as if it were that night's
    raw files, then the old tables give way to the views. Returns the partitions moved per table.
    Runs inside the caller's transaction."""
    moved = {}
    for table in STORED:  # entities first: events are ingested on known entities
        if not _is_base_table(con, table):
            continue
        old = f"migrating_{STORED[table].name}"
        con.execute(f"ALTER TABLE {table} RENAME TO {old}")
        days = [
            d
            for (d,) in con.execute(
                f"SELECT DISTINCT run_date FROM clean.{old} ORDER BY 1"
            ).fetchall()
        ]
        dropped = ("run_date", "active") if STORED[table].kind == "versions" else ("run_date",)
        incoming = (
            f"SELECT * EXCLUDE ({', '.join(dropped)}) FROM clean.{old} "
            "WHERE run_date = CAST($run_date AS DATE)"
        )
        for day in days:
            ingest(con, table, incoming, day)
        con.execute(f"DROP TABLE clean.{old}")
        moved[table] = len(days)
    return moved
