"""Rows from Python into a DuckDB table in one statement.

Why not ``executemany``: DuckDB runs it as one execution of the prepared INSERT per row,
about 0.4-1.5 ms each for the escalation tables (15 ms for ten route rows with list
columns); one ``INSERT ... SELECT unnest($1), unnest($2), ...`` over a typed list per column
costs about a millisecond whatever the row count. Values travel as parameters, never as
SQL text; only the table and column names (the code's own constants) are spliced in.
Many values (:data:`JSON_VALUES`) go through a JSON file instead when the caller has a
private directory for it: past a few thousand values the parameters' per-value cost wins.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Sequence
from typing import Any

from ..collect.columnfile import duckdb_literal

CHUNK_ROWS = 200_000
"""Rows per statement: bounds the parameter lists DuckDB holds at once."""

JSON_VALUES = 5_000
"""From this many values (rows times columns) on, :func:`insert_rows` given a directory
writes the rows as one JSON file for DuckDB's reader instead: parameters cost about
0.7 microseconds a value and 0.6 ms a statement, the file about 1.5 ms a statement and
a third of that a value (a small cluster's 492 escalation edges of 26 columns: 7.6 ->
4.0 ms CPU)."""

JSON_TEXT_TYPES = frozenset({"VARCHAR", "BIGINT", "INTEGER", "BOOLEAN"})
"""Column types a JSON insert may read as text and cast (:func:`json_source`): a JSON
string, integer, boolean or null read as text is the value itself (no DOUBLE, whose
text form could round)."""


def write_json(path: str, rows: Sequence[Sequence[Any]]) -> None:
    """``rows`` as one JSON array of arrays, for :func:`json_source`."""
    with open(path, "w", encoding="utf-8") as fh:
        # dumps, not dump: the C encoder in one call is ~5x faster than dump's chunked
        # iterencode for millions of rows
        fh.write(json.dumps(rows, default=str))


def json_source(files: Sequence[str], columns: Sequence[tuple[str, str]]) -> tuple[list[str], str]:
    """The expressions of ``columns`` (typed, in order) and the ``read_json(...) r``
    they read, over files :func:`write_json` wrote; ``r.filename`` names each row's file.

    Rows of scalars are read as text lists and cast: 16 ms for a small snapshot's 41,177
    ACL rows where JSON values and ``->>`` took 25 ms. A list column keeps the JSON
    values (its text is JSON, not a DuckDB list literal). Both give the rows json.dumps
    was given (tests/test_audit_schema.py, tests/test_audit_rows.py)."""
    scalar = all(ty in JSON_TEXT_TYPES for _n, ty in columns)
    exprs = []
    for i, (_n, ty) in enumerate(columns, start=1):
        if ty == "VARCHAR":
            exprs.append(f"r.json[{i}]" if scalar else f"r.json[{i}]->>'$'")
        else:
            exprs.append(f"CAST(r.json[{i}] AS {ty})")
    file_list = "[" + ", ".join(duckdb_literal(f) for f in files) + "]"
    # The reader allocates this much per thread up front: bound it by the data, not by a
    # constant that alone would exceed the memory cap.
    biggest = max(os.path.getsize(f) for f in files)
    max_object = max(16 << 20, min(1 << 30, biggest + 1))
    read = "VARCHAR[]" if scalar else "JSON[]"
    source = (
        f"read_json({file_list}, format='array', records=false, columns={{'json': '{read}'}}, "
        f"filename=true, maximum_object_size={max_object}) r"
    )
    return exprs, source


def insert_rows(
    con: Any,
    table: str,
    columns: Sequence[tuple[str, str]],
    rows: Sequence[Sequence[Any]],
    json_dir: Callable[[], str] | None = None,
) -> None:
    """Insert ``rows`` (sequences in ``columns`` order; (name, DuckDB type)) into ``table``.

    ``json_dir``: a private directory for a JSON file (None: no file access), used from
    :data:`JSON_VALUES` values on."""
    if not rows:
        return
    if json_dir is not None and len(rows) * len(columns) >= JSON_VALUES:
        _insert_json(con, table, columns, rows, json_dir())
        return
    names = ", ".join(f'"{n}"' for n, _t in columns)
    unnests = ", ".join(f"unnest(${i}::{ty}[])" for i, (_n, ty) in enumerate(columns, start=1))
    sql = f"INSERT INTO {table} ({names}) SELECT {unnests}"  # noqa: S608 - constant names only
    for start in range(0, len(rows), CHUNK_ROWS):
        chunk = rows[start : start + CHUNK_ROWS]
        con.execute(sql, [[r[i] for r in chunk] for i in range(len(columns))])


def _insert_json(
    con: Any, table: str, columns: Sequence[tuple[str, str]], rows: Sequence[Sequence[Any]], d: str
) -> None:
    fd, path = tempfile.mkstemp(suffix=".json", prefix="rows-", dir=d)
    os.close(fd)
    try:
        write_json(path, rows)
        exprs, source = json_source([path], columns)
        names = ", ".join(f'"{n}"' for n, _t in columns)
        con.execute(f"INSERT INTO {table} ({names}) SELECT {', '.join(exprs)} FROM {source}")  # noqa: S608
    finally:
        os.unlink(path)
