"""Column files: per-database catalog rows that go from the server to DuckDB untouched.

Why: a cluster with a million tables yields tens of millions of ACL rows. Turning each
into a Python list costs seconds per million rows and ~200 bytes a row, which is the
difference between a nightly scan in one minute under 1 GiB and one in ten minutes that
needs 8 GiB. So the collector asks the server for ``COPY (query) TO STDOUT (FORMAT csv)``,
writes the bytes as they arrive into a file of a :class:`Spool` directory, and the audit
schema loader reads those files with DuckDB's own CSV reader. Python never sees a row.

CSV is PostgreSQL's text form, so two details matter when DuckDB reads it back:
NULL is an unquoted empty field and the empty string is ``""`` (hence
``allow_quoted_nulls=false``), and an array column is sent as JSON (``to_json``) because
DuckDB does not parse PostgreSQL's ``{a,"b c"}`` literal.

A snapshot archive (``snapshot.save`` to ``.tar``) keeps the same tables as Parquet,
which DuckDB reads with ``read_parquet``; :func:`reader_sql` hides the difference.
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import psycopg

    from .snapshot import Column, Table


class Spool:
    """A private temporary directory for column files; removed when no longer referenced.

    A Snapshot keeps its Spool alive (``Snapshot.spool``) as long as its tables point into
    it; the finaliser also runs at interpreter exit, so nothing is left in ``$TMPDIR``.
    """

    def __init__(self, prefix: str = "pgaudit-spool-") -> None:
        self.path = tempfile.mkdtemp(prefix=prefix)
        self._numbers = itertools.count(1)  # next() is atomic: threads may share a Spool
        self._finalizer = weakref.finalize(self, shutil.rmtree, self.path, True)

    def new_file(self, stem: str, suffix: str = ".csv") -> str:
        """A fresh file name in the spool (never reused, safe for concurrent callers)."""
        number = next(self._numbers)
        safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in stem)[:40]
        return os.path.join(self.path, f"{number:06d}-{safe}{suffix}")

    def cleanup(self) -> None:
        self._finalizer()


ACL_ITEMS = "csv-acl-items"
"""File format of the ``acl`` table as the collector receives it: CSV with one row per
object (or column) and its whole ACL in one field, ``grantor:grantee:SELECT,*UPDATE;...``
(OIDs; ``*`` = grantable). Five times fewer rows than one per privilege, which is most of
the collection's cost at scale; DuckDB expands it into the snapshot's ``acl`` columns
(``reader_sql``)."""

ACL_WIRE: list[tuple[str, str, str]] = [
    ("object_class", "VARCHAR", ""), ("object_oid", "BIGINT", ""), ("subid", "INTEGER", ""),
    ("name", "VARCHAR", ""), ("items", "VARCHAR", ""),
]

ACL_COLUMNS = "csv-acl-columns"
"""The ``columns`` table read from the acl transfer: its column rows carry the name."""

WIRE_FORMATS: dict[str, tuple[str, list[tuple[str, str, str]]]] = {"acl": (ACL_ITEMS, ACL_WIRE)}
"""Snapshot tables sent in another shape than they are stored: name -> (format, columns)."""

DERIVED_TABLES: dict[str, tuple[str, str]] = {"columns": ("acl", ACL_COLUMNS)}
"""Snapshot tables with no query of their own: name -> (table whose file holds them, format)."""


def copy_statement(query: str, spec: Sequence[Column], encoding: str = "UTF8") -> str:
    """``COPY`` of ``query``'s columns, in ``spec`` order, as UTF-8 CSV (``SQL_ASCII``:
    the stored bytes, for :class:`server_text.Transcoder` to make UTF-8).

    Selecting the columns by name from the query is also the column check: a query that
    lost a column fails on the server instead of shifting every later column.
    """
    cols = []
    for name, ty, _doc in spec:
        ref = f'q."{name}"'
        cols.append(f"pg_catalog.to_json({ref})" if ty.endswith("[]") else ref)
    return (f"COPY (SELECT {', '.join(cols)} FROM ({query}) AS q) "  # noqa: S608 - our constants
            f"TO STDOUT (FORMAT csv, ENCODING '{encoding}')")


def derived_table(name: str, source: Table) -> Table:
    """The file-backed table ``name`` of :data:`DERIVED_TABLES`, read from ``source``'s file."""
    from .snapshot import DATABASE_TABLES, Table

    spec = DATABASE_TABLES[name]
    return Table([c[0] for c in spec], file=source.file, file_format=DERIVED_TABLES[name][1],
                 types=[c[1] for c in spec])


def copy_to_file(conn: psycopg.Connection[Any], name: str, query: str, path: str) -> Table:
    """Run the per-database ``query`` for table ``name`` as COPY and stream its bytes into
    ``path``; a file-backed Table with the snapshot's columns for that table."""
    from .snapshot import DATABASE_TABLES, Table

    spec = DATABASE_TABLES[name]
    file_format, wire = WIRE_FORMATS.get(name, ("csv", spec))
    from . import server_text

    cur = conn.cursor()
    transcoder = server_text.Transcoder() if server_text.is_raw(conn) else None
    with open(path, "wb") as fh, cur.copy(copy_statement(
            query, wire, server_text.copy_encoding(conn))) as copy:
        for data in copy:
            fh.write(data if transcoder is None else transcoder.feed(data))
        if transcoder is not None:
            fh.write(transcoder.finish())
    count = max(cur.rowcount, 0) if file_format == "csv" else None
    return Table([c[0] for c in spec], file=path, file_format=file_format,
                 types=[c[1] for c in spec], count=count)


def duckdb_literal(value: str) -> str:
    """A DuckDB string literal (quotes doubled); DuckDB has no backslash escapes."""
    return "'" + value.replace("'", "''") + "'"


def _read_csv(file_list: str, columns: Sequence[tuple[str, str]], filename: bool) -> str:
    """DuckDB's reader for PostgreSQL's CSV: no sniffing, and ``""`` is an empty string."""
    col_map = ", ".join(f"{duckdb_literal(c)}: {duckdb_literal(t)}" for c, t in columns)
    return (f"read_csv({file_list}, header=false, auto_detect=false, delim=',', "
            f"quote='\"', escape='\"', allow_quoted_nulls=false, "
            f"filename={'true' if filename else 'false'}, columns={{{col_map}}})")


def reader_sql(files: Sequence[str], columns: Sequence[str], types: Sequence[str],
               file_format: str, *, filename: bool = False) -> str:
    """A DuckDB ``SELECT`` of typed columns (plus ``filename`` if asked) from the files."""
    file_list = "[" + ", ".join(duckdb_literal(f) for f in files) + "]"
    names = [f'"{c}"' for c in columns]
    if file_format == "parquet":
        source = f"read_parquet({file_list}, filename={'true' if filename else 'false'})"
        exprs = names
    elif file_format == "csv":
        read_types = ["VARCHAR" if t.endswith("[]") else t for t in types]
        source = _read_csv(file_list, list(zip(columns, read_types, strict=True)), filename)
        exprs = [f"CAST(CAST({n} AS JSON) AS {t}) AS {n}" if t.endswith("[]") else n
                 for n, t in zip(names, types, strict=True)]
    elif file_format in (ACL_ITEMS, ACL_COLUMNS):
        csv = _read_csv(file_list, [(c, t) for c, t, _d in ACL_WIRE], filename)
        if file_format == ACL_COLUMNS:
            source = f"(SELECT * FROM {csv} WHERE object_class = 'column')"  # noqa: S608
            derived = {"table_oid": "object_oid", "attnum": "subid"}
        else:
            keep = ", ".join(["object_class", "object_oid", "subid"]
                             + (["filename"] if filename else []))
            source = (f"(SELECT {keep}, item, "  # noqa: S608 - quoted file names
                      "unnest(string_split(split_part(item, ':', 3), ',')) AS p "
                      f"FROM (SELECT {keep}, unnest(string_split(items, ';')) AS item "
                      f"FROM {csv}))")
            derived = {"grantor_oid": "CAST(split_part(item, ':', 1) AS BIGINT)",
                       "grantee_oid": "CAST(split_part(item, ':', 2) AS BIGINT)",
                       "privilege": "ltrim(p, '*')", "grantable": "starts_with(p, '*')"}
        exprs = [f"{derived[c]} AS {n}" if c in derived else n
                 for c, n in zip(columns, names, strict=True)]
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


def _query_file(table: Table, wrap: str = "{}") -> list[tuple[Any, ...]]:
    """Run ``wrap`` (a SELECT with ``{}`` for the table's reader) over a file-backed table."""
    if table.file is None or table.types is None:
        return []
    con = scratch_connection()
    try:
        sql = reader_sql([table.file], table.columns, table.types, table.file_format)
        return list(con.execute(wrap.format(sql)).fetchall())
    finally:
        con.close()


def read_rows(table: Table) -> list[list[Any]]:
    """All rows of a file-backed table as lists (for small snapshots, drift and tests)."""
    return [list(r) for r in _query_file(table)]


def count_rows(table: Table) -> int:
    rows = _query_file(table, "SELECT count(*) FROM ({})")
    return int(rows[0][0]) if rows else 0
