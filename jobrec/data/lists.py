"""The night's big ranked lists (recs.candidates, recs.reranked, recs.recommendations) as Parquet
files beside the warehouse, read through views.

A night's lists are written to one new Parquet file per table and night
(`<warehouse folder>/lists/<table>/run_date=D/<token>.parquet`); the file becomes the night's
partition when its row in `store.list_files` commits, in the step's transaction with its checks.
The view (`recs.candidates`, ...) reads the registered files only: a file a failed or re-run
step left is never read, and removed once no copy (warehouse or published) registers it. So the
warehouse and the analysts' copy hold a few rows about the lists, not the lists: copying the
warehouse costs what the night adds, not the nights kept.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from jobrec.data import warehouse

# table -> the Parquet schema of its rows (run_date is the folder's name)
LIST_TABLES = {
    "recs.candidates": pa.schema(
        [
            ("jobseeker_id", pa.string()),
            ("ad_id", pa.string()),
            ("rank", pa.int16()),
            ("score", pa.float32()),
        ]
    ),
    "recs.reranked": pa.schema(
        [
            ("model", pa.string()),
            ("jobseeker_id", pa.string()),
            ("ad_id", pa.string()),
            ("rank", pa.int16()),
            ("score", pa.float32()),
        ]
    ),
    "recs.recommendations": pa.schema(
        [
            ("jobseeker_id", pa.string()),
            ("ad_id", pa.string()),
            ("rank", pa.int16()),
            ("score", pa.float32()),
            ("plan_mass", pa.float64()),
            ("rerank_rank", pa.int16()),
            ("muse2_score", pa.float32()),
        ]
    ),
}
# a file no copy registers is removed after this long (a reader may still have it open)
ORPHAN_GRACE_S = 3600.0


def lists_dir(con: duckdb.DuckDBPyConnection) -> Path:
    """The folder of the warehouse's Parquet lists: `lists/` beside its database file."""
    ((path,),) = con.execute(  # fetchall: a pending result would block con.register
        "SELECT path FROM duckdb_databases() WHERE database_name = current_database()"
    ).fetchall()
    if not path:
        raise ValueError("the Parquet lists live beside a warehouse file, not in memory")
    return Path(path).resolve().parent / "lists"


def ensure_view(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """Create the registry and `table`'s view over its registered files (idempotent); a
    warehouse table of lists from before the Parquet lists is migrated first."""
    con.execute(warehouse.sql("create_list_files"))
    schema, name = warehouse.checked_name(table).split(".")
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    if warehouse.table_exists(con, table):
        kind = con.execute(
            "SELECT table_type FROM information_schema.tables WHERE table_schema = ? AND "
            "table_name = ? AND table_catalog = current_database()",
            [schema, name],
        ).fetchall()[0][0]
        if kind == "BASE TABLE":
            migrate_table(con, table)
            return
    refresh_view(con, table)


def refresh_view(con: duckdb.DuckDBPyConnection, table: str, catalog: str | None = None) -> None:
    """(Re)create `table`'s view over its registered files, named one by one, in `catalog`
    (default: the connection's database). Runs in the caller's transaction, after the registry
    changed: the view and the registry commit together."""
    prefix = f'"{catalog}".' if catalog else ""
    paths = [
        p
        for (p,) in con.execute(
            f"SELECT path FROM {prefix}store.list_files WHERE table_name = ? ORDER BY path",
            [table],
        ).fetchall()
    ]
    if not paths:
        if warehouse.table_exists(con, table, catalog):
            con.execute(f"DROP VIEW {prefix}{warehouse.checked_name(table)}")
        return
    con.execute(
        warehouse.sql("create_list_view").format(
            table=prefix + warehouse.checked_name(table),
            files="[" + ", ".join(_literal(p) for p in paths) + "]",
            columns=", ".join(f'"{c}"' for c in LIST_TABLES[table].names),
        )
    )


def refresh_views(con: duckdb.DuckDBPyConnection, catalog: str) -> None:
    """Every list view of `catalog` rebuilt from its own registry (a copy whose registry lost the
    nights it must not show)."""
    if not warehouse.table_exists(con, "store.list_files", catalog):
        return
    for table in LIST_TABLES:
        refresh_view(con, table, catalog)


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class PartitionWriter:
    """Writes one night's lists of one table to a new Parquet file, block by block; `commit`
    makes it the night's partition (inside the caller's transaction).

    Parameters
    ----------
    con : DuckDB connection
        The warehouse, inside the step's transaction.
    table : str
        One of `LIST_TABLES`.
    run_date : date
        The partition D.
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, table: str, run_date: dt.date):
        self.con, self.table, self.run_date = con, table, run_date
        self.schema = LIST_TABLES[table]
        folder = lists_dir(con) / table / f"run_date={run_date.isoformat()}"
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / f"{uuid.uuid4().hex}.parquet"
        self.rows = 0
        self._writer = pq.ParquetWriter(self.path, self.schema, compression="zstd")

    def append(
        self,
        seeker_ids: Sequence[str],
        ad_ids: Sequence[str],
        rows: np.ndarray,
        index: np.ndarray,
        scores: np.ndarray,
        constants: Mapping[str, object] | None = None,
        per_pair: Mapping[str, np.ndarray] | None = None,
    ) -> int:
        """Append ranked lists: `rows` (B,) positions in `seeker_ids`, `index`/`scores` (B, K)
        positions in `ad_ids` (-1 pads a short list) and scores, rank 1 first; `constants`
        columns with one value for all rows, `per_pair` columns with a (B, K) array like
        `scores`. Returns the rows appended."""
        b, k = index.shape
        keep = index.reshape(-1) >= 0
        seeker_pos = np.repeat(rows, k)[keep]
        columns = {
            "jobseeker_id": pc.take(_strings(seeker_ids), pa.array(seeker_pos)),
            "ad_id": pc.take(_strings(ad_ids), pa.array(index.reshape(-1)[keep])),
            "rank": pa.array(np.tile(np.arange(1, k + 1, dtype=np.int16), b)[keep]),
            "score": pa.array(scores.reshape(-1)[keep].astype(np.float32)),
        }
        for name, value in (constants or {}).items():
            columns[name] = pa.array(np.full(int(keep.sum()), value))
        for name, values in (per_pair or {}).items():
            columns[name] = pa.array(np.asarray(values).reshape(-1)[keep])
        self._writer.write_table(pa.table(columns).select(self.schema.names).cast(self.schema))
        self.rows += int(keep.sum())
        return int(keep.sum())

    def write_rows(self, rows: pa.Table) -> None:
        """Append rows already in the table's columns (a migration's)."""
        self._writer.write_table(rows.select(self.schema.names).cast(self.schema))
        self.rows += rows.num_rows

    def commit(self) -> int:
        """Close the file and register it as the night's partition in place of any earlier
        one; returns the rows written."""
        self._writer.close()
        ensure_view(self.con, self.table)
        self.con.execute(
            "DELETE FROM store.list_files WHERE table_name = ? AND run_date = ?",
            [self.table, self.run_date],
        )
        self.con.execute(
            "INSERT INTO store.list_files VALUES (?, ?, ?, ?, ?, now())",
            [self.table, self.run_date, str(self.path), self.rows, self.path.stat().st_size],
        )
        refresh_view(self.con, self.table)
        return self.rows

    def abandon(self) -> None:
        """Close and remove the file (an error before `commit`)."""
        self._writer.close()
        self.path.unlink(missing_ok=True)


@contextmanager
def partition(con: duckdb.DuckDBPyConnection, table: str, run_date: dt.date):
    """A `PartitionWriter` for the night's file of `table`, committed when the block ends and
    abandoned (file removed) when it raises."""
    writer = PartitionWriter(con, table, run_date)
    try:
        yield writer
    except BaseException:
        writer.abandon()
        raise
    writer.commit()


_ID_CACHE: dict[int, tuple[object, pa.Array]] = {}


def _strings(ids: Sequence[str]) -> pa.Array:
    # the same id array is passed for every block: convert it once
    cached = _ID_CACHE.get(id(ids))
    if cached is not None and cached[0] is ids:
        return cached[1]
    array = pa.array(np.asarray(ids, dtype=object), pa.string())
    _ID_CACHE.clear()
    _ID_CACHE[id(ids)] = (ids, array)
    return array


def prune_partitions(
    con: duckdb.DuckDBPyConnection, table: str, run_date: dt.date, keep_nights: int
) -> int:
    """Unregister the nights before the last `keep_nights` up to `run_date` (tonight included;
    0 keeps all); their files go with `remove_orphans`. Relative to `run_date`, so a backfill
    never drops a later night. Returns the nights unregistered."""
    if keep_nights <= 0 or not warehouse.table_exists(con, "store.list_files"):
        return 0
    cutoff = run_date - dt.timedelta(days=keep_nights - 1)
    (n,) = con.execute(
        "SELECT count(*) FROM store.list_files WHERE table_name = ? AND run_date < ?",
        [table, cutoff],
    ).fetchone()
    if n:
        con.execute(
            "DELETE FROM store.list_files WHERE table_name = ? AND run_date < ?", [table, cutoff]
        )
        refresh_view(con, table)
    return int(n)


def registered_files(con: duckdb.DuckDBPyConnection, catalog: str | None = None) -> set[str]:
    """The list files a database (default: the connection's) registers."""
    prefix = f'"{catalog}".' if catalog else ""
    if catalog is None and not warehouse.table_exists(con, "store.list_files"):
        return set()
    try:
        rows = con.execute(f"SELECT path FROM {prefix}store.list_files").fetchall()
    except duckdb.CatalogException:
        return set()
    return {p for (p,) in rows}


def remove_orphans(
    folder: Path, referenced: set[str], grace_s: float = ORPHAN_GRACE_S, now: float | None = None
) -> list[Path]:
    """Delete the list files under `folder` that no copy registers and that are older than
    `grace_s` (a failed step's file, a re-run's replaced one, a pruned night's); empty night
    folders go too. Returns the files removed."""
    now = time.time() if now is None else now
    removed = []
    for path in sorted(Path(folder).glob("*/run_date=*/*.parquet")):
        if str(path) in referenced or now - path.stat().st_mtime < grace_s:
            continue
        path.unlink(missing_ok=True)
        removed.append(path)
    for night in Path(folder).glob("*/run_date=*"):
        if night.is_dir() and not any(night.iterdir()):
            night.rmdir()
    return removed


def migrate_table(con: duckdb.DuckDBPyConnection, table: str) -> int:
    """Move a warehouse table of lists (the layout before Parquet) to one file per night and the
    view; returns the nights moved. Runs inside the caller's transaction."""
    schema, name = table.split(".")
    old = f"{schema}.migrating_{name}"
    con.execute(f"ALTER TABLE {table} RENAME TO migrating_{name}")
    days = [d for (d,) in con.execute(f"SELECT DISTINCT run_date FROM {old} ORDER BY 1").fetchall()]
    names = LIST_TABLES[table].names
    for day in days:
        writer = PartitionWriter(con, table, day)
        order = ("model, " if "model" in names else "") + 'jobseeker_id, "rank"'
        selected = ", ".join(f'"{c}"' for c in names)
        frame = con.sql(  # a relation's Arrow output makes no extra copy
            f"SELECT {selected} FROM {old} WHERE run_date = DATE '{day.isoformat()}' "
            f"ORDER BY {order}"
        ).to_arrow_table()
        writer.write_rows(frame)
        writer.commit()
    con.execute(f"DROP TABLE {old}")
    refresh_view(con, table)
    return len(days)
