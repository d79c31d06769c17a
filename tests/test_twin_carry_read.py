"""The twin's up-front read of the column files carry_over rewrites, without a server.

``carry._read_rewritten`` turns the rewritten tables of a freshly collected twin snapshot
into rows through the thread's reader connection (``columnfile.read_rows``) instead of a
scratch DuckDB of its own; these tests check it reads exactly what the reader query
gives (hostile strings, NULL against empty, arrays), leaves an empty file empty, and
touches neither the other tables nor a database that was not collected.
"""

from __future__ import annotations

from pathlib import Path

from test_spool import _csv_field as _csv

from pgaudit_roles.collect.columnfile import reader_sql, scratch_connection
from pgaudit_roles.collect.snapshot import DATABASE_TABLES, DatabaseSnapshot, Snapshot, Table
from pgaudit_roles.twin import carry

HOSTILE = ['Weird "quoted" name', "new\nline", "comma, here", "ünïcødé_名前", "", "back\\slash"]


def _table(tmp: Path, name: str, rows: list[list[object]]) -> Table:
    spec = DATABASE_TABLES[name]
    path = tmp / f"{name}-{len(rows)}.csv"
    path.write_text("".join(",".join(_csv(v) for v in r) + "\n" for r in rows), encoding="utf-8")
    return Table([c[0] for c in spec], file=str(path), types=[c[1] for c in spec])


def _scratch_rows(t: Table) -> list[list[object]]:
    """The rows as the earlier code read them: the same reader query, its own DuckDB."""
    assert t.file is not None and t.types is not None
    con = scratch_connection()
    try:
        sql = reader_sql([t.file], t.columns, t.types, t.file_format)
        return [list(r) for r in con.execute(sql).fetchall()]
    finally:
        con.close()


def test_rewritten_tables_are_read_as_the_reader_query_reads_them(tmp_path: Path) -> None:
    functions = [
        [16384 + i, i % 2 == 0, [f"search_path={n}"], n, None] for i, n in enumerate(HOSTILE)
    ]
    functions += [[20000, False, None, "plpgsql", True], [20001, True, [], "sql", False]]
    objects = [
        ["relation", 16500 + i, "table", 2200, n, None, 10, "explicit", None, None]
        for i, n in enumerate(HOSTILE)
    ]
    tables = {
        "functions": _table(tmp_path, "functions", functions),
        "objects": _table(tmp_path, "objects", objects),
        "schemas": _table(tmp_path, "schemas", []),  # an empty file: no rows, no error
    }
    untouched = _table(tmp_path, "columns", [[16500, 1, "id"]])
    other_db = DatabaseSnapshot(
        oid=6, name="gone", status="not_collected", tables={"columns": untouched}
    )
    expected = {n: _scratch_rows(t) for n, t in tables.items()}
    db = DatabaseSnapshot(oid=5, name="app", status="collected", tables=dict(tables))
    snap = Snapshot(meta={}, cluster={}, databases=[db, other_db])

    carry._read_rewritten(snap)

    for name, rows in expected.items():
        t = db.tables[name]
        assert t.in_memory, name
        assert t.rows == rows, name
    assert db.tables["functions"].rows[1][3] == "new\nline"
    assert db.tables["functions"].rows[-1][2] == [] and db.tables["functions"].rows[-2][2] is None
    assert db.tables["schemas"].rows == []
    # a database that was not collected keeps its file-backed table as it was
    assert not untouched.in_memory and untouched.file is not None
