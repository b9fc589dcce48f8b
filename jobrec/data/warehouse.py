"""DuckDB warehouse helpers: SQL files, idempotent partition writes, retention, publishing."""

from __future__ import annotations

import datetime as dt
import os
import re
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import duckdb
import pandas as pd

from jobrec.data.settings import PROJECT_ROOT
from jobrec.data.table_docs import apply_comments

SQL_DIR = PROJECT_ROOT / "sql"
_IDENT = re.compile(r"^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)?$")


@cache
def sql(name: str) -> str:
    """The text of sql/<name>.sql."""
    return (SQL_DIR / f"{name}.sql").read_text()


_CHECK_SAMPLES = 3  # the sample rows a check query keeps per problem (`[1:3]` in sql/check_*)


def problem_rows(
    con: duckdb.DuckDBPyConnection, name: str, params: Mapping[str, object]
) -> list[tuple]:
    """The rows of a check query (sql/<name>.sql) whose `problems` CTE is a UNION ALL of one
    branch per problem kind, each branch run as its own query and the rows concatenated in
    order: DuckDB runs a union's branches at once, and on the big lists their hash tables and
    sorts together outgrew the memory limit (each alone stays within it). A branch may itself
    be a union, indented further (`SELECT * FROM (... UNION ALL ...)`): it runs as one query, so
    that its parts share a MATERIALIZED CTE computed once. The query's rows end in (n, sample);
    a problem that several branches find is one row, its counts added and its samples the first
    `_CHECK_SAMPLES` of both."""
    # comments dropped: a parameter named in one would count as used
    text = "\n".join(line for line in sql(name).splitlines() if not line.lstrip().startswith("--"))
    start = text.index("problems AS (") + len("problems AS (")
    end = text.index("\n)\nSELECT", start)
    head, tail = text[:start], text[end:]
    branches = text[start:end].split("\n    UNION ALL\n")

    def run(query: str):  # DuckDB refuses parameters a query does not use
        used = {k: v for k, v in params.items() if re.search(rf"\${k}\b", query)}
        return con.execute(query, used)

    # the union's column names are the first branch's: name them for the others
    first = run(head + branches[0] + "\n)\nSELECT * FROM problems LIMIT 0")
    names = ", ".join(f'"{d[0]}"' for d in first.description)
    named = head[: -len("problems AS (")] + f"problems({names}) AS ("
    merged: dict[tuple, tuple[int, list]] = {}
    for branch in branches:
        for *key, n, sample in run(named + branch + tail).fetchall():
            if tuple(key) in merged:  # the same problem found by another branch: one row
                n0, sample0 = merged[tuple(key)]
                n, sample = n0 + n, sorted(sample0 + sample)[:_CHECK_SAMPLES]
            merged[tuple(key)] = (n, sample)
    return sorted((*key, n, sample) for key, (n, sample) in merged.items())


def checked_name(name: str) -> str:
    """`name` if it is a plain (schema.)table name, else ValueError (names built into SQL)."""
    return _ident(name)


def _ident(name: str) -> str:
    if not _IDENT.match(name):
        raise ValueError(f"not a plain table name: {name!r}")
    return name


def is_lock_error(exc: BaseException) -> bool:
    return isinstance(exc, duckdb.IOException) and "lock" in str(exc).lower()


def connect(
    path: str | Path, read_only: bool = False, wait_s: float = 1800.0
) -> duckdb.DuckDBPyConnection:
    """Open the warehouse, waiting (with backoff) while another process holds its write lock.

    DuckDB allows one writing process per file; runs are serialised by a Dagster pool, and this
    wait is the second line of defence (a backfill and the nightly run never fail on the lock).
    """
    path = Path(path)
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + wait_s
    delay = 0.05
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only, config=_duckdb_config())
        except duckdb.IOException as exc:
            if not is_lock_error(exc) or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 5.0)


def _duckdb_config() -> dict[str, str]:
    # DuckDB's default memory limit is 80% of the machine; the models share the process, so the
    # warehouse gets a bounded share (it spills to disk beyond it).
    return {"memory_limit": os.environ.get("JOBREC_DUCKDB_MEMORY_LIMIT", "4GB")}


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def table_exists(con: duckdb.DuckDBPyConnection, table: str, catalog: str | None = None) -> bool:
    """Whether `table` (a table or a view) exists in `catalog` (default: the current one)."""
    schema, _, name = _ident(table).rpartition(".")
    return bool(
        con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND "
            "table_name = ? AND table_catalog = coalesce(?, current_database())",
            [schema or "main", name, catalog],
        ).fetchone()[0]
    )


def replace_partition(
    con: duckdb.DuckDBPyConnection,
    table: str,
    run_date: dt.date,
    select_sql: str,
    params: Mapping[str, object] | None = None,
    order_by: str | None = None,
) -> int:
    """Replace the rows of `table` for `run_date` by the result of `select_sql`.

    Runs inside the caller's transaction (delete + insert commit together, so a re-run never
    duplicates or loses rows). `select_sql` must produce a `run_date` column. `order_by` fixes the
    physical row order so that re-materialising writes identical tables.
    """
    table = _ident(table)
    schema = table.rpartition(".")[0]
    if schema:
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    params = dict(params or {})
    body = f"SELECT * FROM ({select_sql}) AS s" + (f" ORDER BY {order_by}" if order_by else "")
    if not table_exists(con, table):
        con.execute(f"CREATE TABLE {table} AS SELECT * FROM ({body}) AS t LIMIT 0", params)
    con.execute(f"DELETE FROM {table} WHERE run_date = $run_date", {"run_date": run_date})
    con.execute(f"INSERT INTO {table} BY NAME {body}", params)
    (rows,) = con.execute(
        f"SELECT count(*) FROM {table} WHERE run_date = $run_date", {"run_date": run_date}
    ).fetchone()
    return int(rows)


def prune_partitions(
    con: duckdb.DuckDBPyConnection, table: str, run_date: dt.date, keep_days: int
) -> int:
    """Delete partitions older than `keep_days` before `run_date` (0 keeps everything).

    Relative to the partition being written, so back-filling an old day never deletes newer ones.
    """
    if keep_days <= 0 or not table_exists(con, table):
        return 0
    cutoff = run_date - dt.timedelta(days=keep_days)
    (n,) = con.execute(
        f"SELECT count(*) FROM {_ident(table)} WHERE run_date < ?", [cutoff]
    ).fetchone()
    if n:
        con.execute(f"DELETE FROM {_ident(table)} WHERE run_date < ?", [cutoff])
    return int(n)


def record_run(
    con: duckdb.DuckDBPyConnection,
    *,
    run_id: str,
    run_date: dt.date,
    asset: str,
    seconds: float,
    peak_rss_mb: float,
    rows: int,
    start_rss_mb: float = 0.0,
) -> None:
    """Append one row to metrics.runs (a log: one row per asset, partition and run)."""
    con.execute(sql("create_metrics_runs"))
    con.execute(
        "DELETE FROM metrics.runs WHERE run_id = ? AND asset = ? AND run_date = ?",
        [run_id, asset, run_date],
    )
    con.execute(
        "INSERT INTO metrics.runs BY NAME SELECT ? AS run_date, ? AS asset, ? AS seconds, "
        "? AS peak_rss_mb, ? AS rows, ? AS run_id, ? AS start_rss_mb, now() AS finished_at",
        [run_date, asset, float(seconds), float(peak_rss_mb), int(rows), run_id, start_rss_mb],
    )


NIGHT_STATUSES = ("running", "failed", "complete")
# Tables about the runs themselves: published whole, failed nights included (they say why).
RUN_LOG_TABLES = ("metrics.runs", "metrics.nights")


def mark_night(
    con: duckdb.DuckDBPyConnection, run_date: dt.date, status: str, run_id: str, detail: str
) -> None:
    """Set the status of a partition's night (inside the caller's transaction, where there is
    one, so that a partition's rows and its night's status commit together)."""
    if status not in NIGHT_STATUSES:
        raise ValueError(f"night status {status!r} is not one of {NIGHT_STATUSES}")
    con.execute(sql("create_metrics_nights"))
    if status == "running":
        # steps that do not depend on a failed one go on in the same run: the night stays failed
        failed_here = con.execute(
            "SELECT count(*) FROM metrics.nights WHERE run_date = ? AND status = 'failed' "
            "AND run_id = ?",
            [run_date, run_id],
        ).fetchone()[0]
        if failed_here:
            return
    con.execute("DELETE FROM metrics.nights WHERE run_date = ?", [run_date])
    con.execute(
        "INSERT INTO metrics.nights VALUES (?, ?, ?, ?, now())", [run_date, status, run_id, detail]
    )


def unfinished_nights(con: duckdb.DuckDBPyConnection) -> list[dt.date]:
    """Nights being written or failed: their partitions are kept out of the published copy.
    (Nights without a status row were written before statuses existed and were published.)"""
    if not table_exists(con, "metrics.nights"):
        return []
    rows = con.execute(
        "SELECT run_date FROM metrics.nights WHERE status <> 'complete' ORDER BY 1"
    ).fetchall()
    return [d for (d,) in rows]


def nights_rows(
    con: duckdb.DuckDBPyConnection, nights: list[dt.date], catalog: str | None = None
) -> dict[str, int]:
    """Rows of `nights` in every partitioned table of `catalog` (default: the connection's
    database) but the run log, by table; only tables that hold some."""
    if not nights:
        return {}
    catalog = catalog or con.execute("SELECT current_database()").fetchone()[0]
    tables = con.execute(  # base tables: a view (clean.*) shows the rows of its base tables
        "SELECT c.table_schema || '.' || c.table_name FROM information_schema.columns AS c "
        "JOIN information_schema.tables AS t USING (table_catalog, table_schema, table_name) "
        "WHERE c.table_catalog = ? AND c.column_name = 'run_date' "
        "AND t.table_type = 'BASE TABLE'",
        [catalog],
    ).fetchall()
    counts = {}
    for (table,) in tables:
        if table in RUN_LOG_TABLES:
            continue
        (n,) = con.execute(
            f'SELECT count(*) FROM "{catalog}".{table} WHERE list_contains(?, run_date)', [nights]
        ).fetchone()
        if n:
            counts[table] = int(n)
    return counts


def publish(con: duckdb.DuckDBPyConnection, destination: str | Path) -> dict[str, int]:
    """Copy the warehouse's complete nights to `destination` and swap the copy in atomically.

    The copy is written next to the destination and renamed over it: an analyst who has the old
    copy open keeps reading it, one who opens it afterwards sees the new one, nobody sees half.
    Partitions of unfinished nights (`unfinished_nights`) are left out of every table but the run
    log, so analysts see a night whole or not at all. The copy's tables and columns carry their
    descriptions as DuckDB comments (`table_docs`). Temporaries left by a publish that was
    killed are removed first (publishing runs one at a time, in the warehouse pool). Returns the
    row count of every published table.
    """
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    for stale in destination.parent.glob(f".{destination.name}.*.tmp*"):
        stale.unlink(missing_ok=True)
    tmp = destination.with_name(f".{destination.name}.{uuid.uuid4().hex}.tmp")
    source = con.execute("SELECT current_database()").fetchone()[0]
    hidden = unfinished_nights(con)
    con.execute(f"ATTACH '{tmp}' AS publish_target")
    try:
        con.execute(f'COPY FROM DATABASE "{source}" TO publish_target')
        hidden_rows = nights_rows(con, hidden, catalog="publish_target")
        for table in hidden_rows:
            con.execute(
                f"DELETE FROM publish_target.{table} WHERE list_contains(?, run_date)", [hidden]
            )
        if "store.list_files" in hidden_rows:
            from jobrec.data import lists  # lists builds on this module

            lists.refresh_views(con, "publish_target")  # their views name the files shown
        apply_comments(con, catalog="publish_target")
        counts = {}
        for schema, name in con.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_catalog = 'publish_target' AND table_type = 'BASE TABLE' ORDER BY 1, 2"
        ).fetchall():
            (n,) = con.execute(
                f'SELECT count(*) FROM publish_target."{schema}"."{name}"'
            ).fetchone()
            (m,) = con.execute(f'SELECT count(*) FROM "{source}"."{schema}"."{name}"').fetchone()
            m -= hidden_rows.get(f"{schema}.{name}", 0)
            if n != m:  # never swap in an incomplete copy
                raise RuntimeError(f"published copy of {schema}.{name} has {n} rows, not {m}")
            counts[f"{schema}.{name}"] = int(n)
    finally:
        con.execute("DETACH publish_target")
    try:
        os.replace(tmp, destination)
    finally:
        for leftover in (tmp, tmp.with_name(tmp.name + ".wal")):
            leftover.unlink(missing_ok=True)
    return counts


def replace_rows(
    con: duckdb.DuckDBPyConnection,
    table: str,
    run_date: dt.date,
    frame: pd.DataFrame,
    owned: Mapping[str, Sequence[object]],
) -> int:
    """Replace, in a table several assets write (metrics.ranking...), the rows of `run_date`
    this writer owns (`owned`: column -> values, e.g. {"stage": ["retrieval", "baseline"]}; empty:
    the whole partition)."""
    where = "".join(
        f" AND {_ident(c)} IN ({', '.join('?' for _ in vs)})" for c, vs in owned.items()
    )
    params = [v for vs in owned.values() for v in vs]
    con.execute(f"DELETE FROM {_ident(table)} WHERE run_date = ?{where}", [run_date, *params])
    if not len(frame):  # nothing to write (an empty frame may have no columns)
        return 0
    con.register("replacement_rows", frame)
    try:
        con.execute(f"INSERT INTO {_ident(table)} BY NAME SELECT * FROM replacement_rows")
    finally:
        con.unregister("replacement_rows")
    return len(frame)
