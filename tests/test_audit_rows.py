"""audit.rows.insert_rows: one statement per chunk, values as parameters (pure DuckDB)."""

from __future__ import annotations

import duckdb
import pytest

from pgaudit_roles.audit import rows

COLUMNS = [("name", "VARCHAR"), ("n", "BIGINT"), ("ok", "BOOLEAN"), ("tags", "VARCHAR[]")]
ROWS = [
    ["plain", 1, True, ["a"]],
    ['it\'s "quoted"; DROP TABLE t; --', None, False, []],
    ["über\nline\u202e", 2**40, None, None],
    [None, -3, True, ["x", None, "y'z"]],
]


def table() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute('CREATE TABLE t ("name" VARCHAR, "n" BIGINT, "ok" BOOLEAN, "tags" VARCHAR[])')
    return con


@pytest.mark.parametrize("chunk", [1, 3, rows.CHUNK_ROWS])
def test_rows_arrive_exactly_whatever_the_chunking(
    monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    monkeypatch.setattr(rows, "CHUNK_ROWS", chunk)
    con = table()
    rows.insert_rows(con, "t", COLUMNS, ROWS)
    got = con.execute("SELECT * FROM t").fetchall()
    assert sorted(map(repr, got)) == sorted(repr(tuple(r)) for r in ROWS)
    assert con.execute("SHOW TABLES").fetchall() == [("t",)]  # nothing else was created


def test_no_rows_no_statement() -> None:
    con = table()
    rows.insert_rows(con, "t", COLUMNS, [])
    assert con.execute("SELECT count(*) FROM t").fetchone() == (0,)
