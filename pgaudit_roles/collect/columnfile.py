"""Column files read back with DuckDB: the one reader for the CSV the server sent and the
Parquet an archive holds.

Why its own module: the snapshot's tables (``tables.Table``), the spool that writes the
files and the audit-schema loader all read column files; keeping the reader below all of
them means none of them imports another in a circle. See ``spool`` for why the rows stay
in files.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from .tables import Table

ACL_ITEMS = "csv-acl-items"
"""File format of the ``acl`` table as the collector receives it: CSV with one row per
object (or column) and its whole ACL in one field, ``grantor:grantee:SELECT,*UPDATE;...``
(OIDs; ``*`` = grantable). Five times fewer rows than one per privilege, which is most of
the collection's cost at scale; DuckDB expands it into the snapshot's ``acl`` columns
(``reader_sql``)."""

ACL_WIRE: list[tuple[str, str, str]] = [
    ("object_class", "VARCHAR", ""),
    ("object_oid", "BIGINT", ""),
    ("subid", "INTEGER", ""),
    ("name", "VARCHAR", ""),
    ("items", "VARCHAR", ""),
]

ACL_COLUMNS = "csv-acl-columns"
"""The ``columns`` table read from the acl transfer: its column rows carry the name."""


def duckdb_literal(value: str) -> str:
    """A DuckDB string literal (quotes doubled); DuckDB has no backslash escapes."""
    return "'" + value.replace("'", "''") + "'"


def _read_csv(file_list: str, columns: Sequence[tuple[str, str]], filename: bool) -> str:
    """DuckDB's reader for PostgreSQL's CSV: no sniffing, and ``""`` is an empty string."""
    col_map = ", ".join(f"{duckdb_literal(c)}: {duckdb_literal(t)}" for c, t in columns)
    return (
        f"read_csv({file_list}, header=false, auto_detect=false, delim=',', "
        f"quote='\"', escape='\"', allow_quoted_nulls=false, "
        f"filename={'true' if filename else 'false'}, columns={{{col_map}}})"
    )


def reader_sql(
    files: Sequence[str],
    columns: Sequence[str],
    types: Sequence[str],
    file_format: str,
    *,
    filename: bool = False,
) -> str:
    """A DuckDB ``SELECT`` of typed columns (plus ``filename`` if asked) from the files."""
    file_list = "[" + ", ".join(duckdb_literal(f) for f in files) + "]"
    names = [f'"{c}"' for c in columns]
    if file_format == "parquet":
        source = f"read_parquet({file_list}, filename={'true' if filename else 'false'})"
        exprs = names
    elif file_format == "csv":
        read_types = ["VARCHAR" if t.endswith("[]") else t for t in types]
        source = _read_csv(file_list, list(zip(columns, read_types, strict=True)), filename)
        exprs = [
            f"CAST(CAST({n} AS JSON) AS {t}) AS {n}" if t.endswith("[]") else n
            for n, t in zip(names, types, strict=True)
        ]
    elif file_format in (ACL_ITEMS, ACL_COLUMNS):
        csv = _read_csv(file_list, [(c, t) for c, t, _d in ACL_WIRE], filename)
        if file_format == ACL_COLUMNS:
            source = f"(SELECT * FROM {csv} WHERE object_class = 'column')"  # noqa: S608
            derived = {"table_oid": "object_oid", "attnum": "subid"}
        else:
            keep = ", ".join(
                ["object_class", "object_oid", "subid"] + (["filename"] if filename else [])
            )
            source = (
                f"(SELECT {keep}, item, "  # noqa: S608 - quoted file names
                "unnest(string_split(split_part(item, ':', 3), ',')) AS p "
                f"FROM (SELECT {keep}, unnest(string_split(items, ';')) AS item "
                f"FROM {csv}))"
            )
            derived = {
                "grantor_oid": "CAST(split_part(item, ':', 1) AS BIGINT)",
                "grantee_oid": "CAST(split_part(item, ':', 2) AS BIGINT)",
                "privilege": "ltrim(p, '*')",
                "grantable": "starts_with(p, '*')",
            }
        exprs = [
            f"{derived[c]} AS {n}" if c in derived else n
            for c, n in zip(columns, names, strict=True)
        ]
    else:
        raise ValueError(f"unknown column file format {file_format!r}")
    if filename:
        exprs = [*exprs, "filename"]
    return f"SELECT {', '.join(exprs)} FROM {source}"  # noqa: S608 - quoted file names


def scratch_connection(threads: int | None = 1) -> Any:
    """A throwaway in-memory DuckDB for reading or converting column files (one thread
    unless told otherwise: these reads are small next to the audit schema's)."""
    import duckdb

    con = duckdb.connect(":memory:")
    if threads is not None:
        con.execute(f"SET threads = {int(threads)}")
    return con


_readers = threading.local()
"""Each thread's reader connection for :func:`_query_file`: opening an in-memory DuckDB
costs 11-14 ms, more than reading a small snapshot's table, and a run reads many."""


def _reader() -> Any:
    con = getattr(_readers, "con", None)
    if con is None:
        con = _readers.con = scratch_connection()
    return con


def _query_file(table: Table, wrap: str = "{}") -> list[tuple[Any, ...]]:
    """Run ``wrap`` (a SELECT with ``{}`` for the table's reader) over a file-backed table.

    The connection is the thread's own and holds nothing between calls (each is one
    read-only SELECT of files); one that failed is closed and replaced, so an interrupted
    query never leaves a broken connection to the next read."""
    if table.file is None or table.types is None:
        return []
    con = _reader()
    try:
        sql = reader_sql([table.file], table.columns, table.types, table.file_format)
        return list(con.execute(wrap.format(sql)).fetchall())
    except BaseException:
        _readers.con = None
        con.close()
        raise


def read_rows(table: Table) -> list[list[Any]]:
    """All rows of a file-backed table as lists (for small snapshots, drift and tests)."""
    return [list(r) for r in _query_file(table)]


def count_rows(table: Table) -> int:
    rows = _query_file(table, "SELECT count(*) FROM ({})")
    return int(rows[0][0]) if rows else 0
