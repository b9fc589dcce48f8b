"""Compare one partition of two warehouses table by table, value by value (for "the change leaves
every output identical"): for each table or view of both, the rows of partition D in one and not the
other (EXCEPT ALL both ways, so duplicates count), over the columns both have.

    python benchmarks/compare_warehouses.py A.duckdb B.duckdb --day 2026-12-01 \
        [--tables recs.% metrics.ranking]

Prints a Markdown table; exits 1 when a compared table differs (other than the run's own
bookkeeping: `BOOKKEEPING`).
"""

from __future__ import annotations

import argparse
import sys

import duckdb

# what a run records about itself (run ids, times, file paths): differs between any two runs
BOOKKEEPING = {"metrics.runs", "metrics.nights", "store.list_files", "store.partitions"}


def tables_of(con: duckdb.DuckDBPyConnection, db: str) -> set[str]:
    """Tables and views (the Parquet lists and the clean history are read through views)."""
    return {
        f"{s}.{t}"
        for s, t in con.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = $db "
            "UNION ALL SELECT schema_name, view_name FROM duckdb_views() "
            "WHERE database_name = $db AND NOT internal",
            {"db": db},
        ).fetchall()
    }


def columns_of(con: duckdb.DuckDBPyConnection, db: str, table: str) -> list[str]:
    schema, name = table.split(".")
    return [
        c
        for (c,) in con.execute(
            "SELECT column_name FROM duckdb_columns() WHERE database_name = ? AND schema_name = ? "
            "AND table_name = ? ORDER BY column_index",
            [db, schema, name],
        ).fetchall()
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a")
    parser.add_argument("b")
    parser.add_argument("--day", required=True)
    parser.add_argument(
        "--tables", nargs="+", default=["%"], help="LIKE patterns of schema.table (default: all)"
    )
    args = parser.parse_args()
    con = duckdb.connect()
    con.execute(f"ATTACH '{args.a}' AS a (READ_ONLY)")
    con.execute(f"ATTACH '{args.b}' AS b (READ_ONLY)")
    both = tables_of(con, "a") & tables_of(con, "b")
    only = (tables_of(con, "a") ^ tables_of(con, "b")) - BOOKKEEPING
    wanted = sorted(
        t
        for t in both
        if any(con.execute("SELECT ? LIKE ?", [t, p]).fetchone()[0] for p in args.tables)
    )
    print(f"partition {args.day}: {args.a} (a) against {args.b} (b)")
    print("\n| table | rows a | rows b | only in a | only in b | columns compared | identical |")
    print("|---|---:|---:|---:|---:|---:|---|")
    differs = False
    for table in wanted:
        columns = [c for c in columns_of(con, "a", table) if c in columns_of(con, "b", table)]
        if "run_date" not in columns:
            continue
        cols = ", ".join(f'"{c}"' for c in columns)
        part = "WHERE run_date = CAST(? AS DATE)"

        def count(sql: str) -> int:
            return con.execute(f"SELECT count(*) FROM ({sql})", [args.day, args.day]).fetchone()[0]

        a_rows = con.execute(f"SELECT count(*) FROM a.{table} {part}", [args.day]).fetchone()[0]
        b_rows = con.execute(f"SELECT count(*) FROM b.{table} {part}", [args.day]).fetchone()[0]
        only_a = count(
            f"SELECT {cols} FROM a.{table} {part} EXCEPT ALL SELECT {cols} FROM b.{table} {part}"
        )
        only_b = count(
            f"SELECT {cols} FROM b.{table} {part} EXCEPT ALL SELECT {cols} FROM a.{table} {part}"
        )
        same = only_a == 0 and only_b == 0
        differs |= not same and table not in BOOKKEEPING
        verdict = "yes" if same else "no (run bookkeeping)" if table in BOOKKEEPING else "NO"
        print(
            f"| {table} | {a_rows:,} | {b_rows:,} | {only_a:,} | {only_b:,} | {len(columns)} | "
            f"{verdict} |"
        )
    if only:
        print(f"\ntables in one warehouse only: {', '.join(sorted(only))}")
    sys.exit(1 if differs else 0)


if __name__ == "__main__":
    main()
