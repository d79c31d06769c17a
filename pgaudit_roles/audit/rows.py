"""Rows from Python into a DuckDB table in one statement.

Why not ``executemany``: DuckDB runs it as one execution of the prepared INSERT per row,
about 0.4-1.5 ms each for the escalation tables (15 ms for ten route rows with list
columns); one ``INSERT ... SELECT unnest($1), unnest($2), ...`` over a typed list per column
costs about a millisecond whatever the row count. Values travel as parameters, never as
SQL text; only the table and column names (the code's own constants) are spliced in.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

CHUNK_ROWS = 200_000
"""Rows per statement: bounds the parameter lists DuckDB holds at once."""


def insert_rows(
    con: Any, table: str, columns: Sequence[tuple[str, str]], rows: Sequence[Sequence[Any]]
) -> None:
    """Insert ``rows`` (sequences in ``columns`` order; (name, DuckDB type)) into ``table``."""
    if not rows:
        return
    names = ", ".join(f'"{n}"' for n, _t in columns)
    unnests = ", ".join(f"unnest(${i}::{ty}[])" for i, (_n, ty) in enumerate(columns, start=1))
    sql = f"INSERT INTO {table} ({names}) SELECT {unnests}"  # noqa: S608 - constant names only
    for start in range(0, len(rows), CHUNK_ROWS):
        chunk = rows[start : start + CHUNK_ROWS]
        con.execute(sql, [[r[i] for r in chunk] for i in range(len(columns))])
