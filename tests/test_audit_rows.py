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


SCALAR = COLUMNS[:3]


class _Spy:
    """A connection that records the statements it runs."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self.sql: list[str] = []

    def execute(self, sql: str, params: object = None) -> object:
        self.sql.append(sql)
        return self.con.execute(sql, params) if params is not None else self.con.execute(sql)


@pytest.mark.parametrize("columns", [COLUMNS, SCALAR], ids=["with a list", "scalars"])
def test_a_json_file_gives_the_rows_the_parameters_give(
    monkeypatch: pytest.MonkeyPatch, tmp_path, columns
) -> None:
    """From ``JSON_VALUES`` values on, with a directory, the rows go through a JSON file
    (scalars read as text, a list column as JSON): exactly the same rows, hostile text,
    NULL and extremes included, and the file is gone afterwards."""
    width = len(columns)
    data = [r[:width] for r in ROWS] + [
        [text, n, n % 2 == 0, [text]][:width]
        for n, text in enumerate(["", "a\x00b", "emoji \U0001f600", '{"j": 1}', "null", " 1 "])
    ]
    data.append(["max", 2**63 - 1, None, None][:width])
    data.append(["min", -(2**63), False, []][:width])
    got = {}
    for limit, json_dir in ((10**9, None), (0, None), (0, lambda: str(tmp_path))):
        monkeypatch.setattr(rows, "JSON_VALUES", limit)
        con = duckdb.connect()
        con.execute("CREATE TABLE t (" + ", ".join(f'"{n}" {ty}' for n, ty in columns) + ")")
        spy = _Spy(con)
        rows.insert_rows(spy, "t", columns, data, json_dir)
        assert ("read_json" in spy.sql[0]) == (json_dir is not None)
        got[json_dir is not None] = sorted(map(repr, con.execute("SELECT * FROM t").fetchall()))
    assert got[True] == got[False] == sorted(repr(tuple(r)) for r in data)
    assert list(tmp_path.iterdir()) == []
