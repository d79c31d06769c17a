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

from . import server_text
from .columnfile import ACL_COLUMNS, ACL_ITEMS, ACL_WIRE
from .tables import DATABASE_TABLES, Column, Table

if TYPE_CHECKING:  # pragma: no cover
    import psycopg


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
    return (
        f"COPY (SELECT {', '.join(cols)} FROM ({query}) AS q) "  # noqa: S608 - our constants
        f"TO STDOUT (FORMAT csv, ENCODING '{encoding}')"
    )


def derived_table(name: str, source: Table) -> Table:
    """The file-backed table ``name`` of :data:`DERIVED_TABLES`, read from ``source``'s file."""
    spec = DATABASE_TABLES[name]
    return Table(
        [c[0] for c in spec],
        file=source.file,
        file_format=DERIVED_TABLES[name][1],
        types=[c[1] for c in spec],
    )


def copy_to_file(conn: psycopg.Connection[Any], name: str, query: str, path: str) -> Table:
    """Run the per-database ``query`` for table ``name`` as COPY and stream its bytes into
    ``path``; a file-backed Table with the snapshot's columns for that table."""
    spec = DATABASE_TABLES[name]
    file_format, wire = WIRE_FORMATS.get(name, ("csv", spec))
    cur = conn.cursor()
    transcoder = server_text.Transcoder() if server_text.is_raw(conn) else None
    with (
        open(path, "wb") as fh,
        cur.copy(copy_statement(query, wire, server_text.copy_encoding(conn))) as copy,
    ):
        for data in copy:
            fh.write(data if transcoder is None else transcoder.feed(data))
        if transcoder is not None:
            fh.write(transcoder.finish())
    count = max(cur.rowcount, 0) if file_format == "csv" else None
    return Table(
        [c[0] for c in spec],
        file=path,
        file_format=file_format,
        types=[c[1] for c in spec],
        count=count,
    )
