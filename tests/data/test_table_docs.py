"""Table and column descriptions: DuckDB comments and the README's reference, from one dict."""

from __future__ import annotations

import datetime as dt

import duckdb

from jobrec.data import table_docs, warehouse

D1 = dt.date(2026, 3, 1)


def _comments(con, catalog: str) -> tuple[dict, dict]:
    tables = con.execute(
        "SELECT schema_name || '.' || table_name, comment FROM duckdb_tables() "
        "WHERE database_name = ? UNION ALL "
        "SELECT schema_name || '.' || view_name, comment FROM duckdb_views() "
        "WHERE database_name = ? AND NOT internal",
        [catalog, catalog],
    ).fetchall()
    columns = con.execute(
        "SELECT schema_name || '.' || table_name || '.' || column_name, comment "
        "FROM duckdb_columns() WHERE database_name = ?",
        [catalog],
    ).fetchall()
    return dict(tables), dict(columns)


def test_apply_comments_documents_tables_and_reports_undocumented_columns():
    con = duckdb.connect()
    con.execute(
        'CREATE SCHEMA recs; CREATE TABLE recs.candidates (run_date DATE, "rank" SMALLINT, '
        "surprise INTEGER); CREATE TABLE main.scratch (x INTEGER)"
    )
    missing = table_docs.apply_comments(con)
    assert missing == ["main.scratch.x", "recs.candidates.surprise"]
    tables, columns = _comments(con, "memory")
    assert tables["recs.candidates"] == table_docs.table_description("recs.candidates")
    assert tables["main.scratch"] is None
    docs = table_docs.column_descriptions("recs.candidates")
    assert columns["recs.candidates.run_date"] == docs["run_date"]
    assert columns["recs.candidates.rank"] == docs["rank"]  # a quoted keyword
    assert columns["recs.candidates.surprise"] is None


def test_apply_comments_on_an_attached_catalog_and_a_view(tmp_path):
    con = duckdb.connect()
    con.execute(f"ATTACH '{tmp_path / 'pub.duckdb'}' AS pub")
    con.execute("CREATE SCHEMA pub.metrics")
    con.execute('CREATE TABLE pub.metrics.runs AS SELECT 1 AS "rows", 2.0 AS seconds')
    con.execute("CREATE VIEW pub.metrics.nights AS SELECT 'complete' AS status")
    assert table_docs.apply_comments(con, catalog="pub") == []
    tables, columns = _comments(con, "pub")
    documented = ("metrics.runs", "metrics.nights")
    assert tables == {t: table_docs.table_description(t) for t in documented}
    assert columns["metrics.runs.rows"] == table_docs.column_descriptions("metrics.runs")["rows"]
    assert columns["metrics.nights.status"].startswith("`running`")
    assert _comments(con, "memory") == ({}, {})  # the connection's own database untouched


def test_publish_writes_the_comments_into_the_published_copy_only(tmp_path):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    warehouse.record_run(
        con, run_id="r", run_date=D1, asset="a", seconds=1.0, peak_rss_mb=1.0, rows=1
    )
    target = tmp_path / "pub" / "copy.duckdb"
    assert warehouse.publish(con, target) == {"metrics.runs": 1}
    assert _comments(con, "w")[0] == {"metrics.runs": None}
    with duckdb.connect(str(target), read_only=True) as pub:
        tables, columns = _comments(pub, "copy")
    assert tables == {"metrics.runs": table_docs.table_description("metrics.runs")}
    assert columns == {
        f"metrics.runs.{c}": text
        for c, text in table_docs.column_descriptions("metrics.runs").items()
    }


def test_every_table_and_column_has_a_description():
    for table, doc in table_docs.TABLES.items():
        assert doc.description.strip(), table
        assert doc.columns and all(text.strip() for text in doc.columns.values()), table
        assert "\n" not in doc.description + "".join(doc.columns.values()), table


def test_the_readme_holds_the_generated_reference():
    readme = table_docs.README.read_text()
    assert table_docs.readme_block(readme) == table_docs.readme_reference(), (
        "README.md's table reference differs from jobrec/data/table_docs.py: edit the dict, "
        "then run `python -m jobrec.data.table_docs`"
    )
    assert table_docs.replace_readme_reference(readme) == readme
    for table in table_docs.TABLES:
        assert f"**`{table}`**" in readme


def test_undescribed_columns_lists_the_columns_without_a_comment():
    con = duckdb.connect()
    con.execute("CREATE SCHEMA recs; CREATE TABLE recs.t (a INTEGER, b INTEGER)")
    con.execute("COMMENT ON COLUMN recs.t.a IS 'described'")
    assert table_docs.undescribed_columns(con) == ["recs.t.b"]
