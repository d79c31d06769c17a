"""Column files read back with DuckDB: the one reader for the CSV the server sent and the
Parquet an archive holds.

Why its own module: the snapshot's tables (``tables.Table``), the spool that writes the
files and the audit-schema loader all read column files; keeping the reader below all of
them means none of them imports another in a circle. See ``spool`` for why the rows stay
in files.
"""

from __future__ import annotations

import json
import os
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

ACL_PACKED = "csv-acl-packed"
"""The acl transfer read as it is, one row per object or column with its packed ``items``:
how the audit schema reads it (``audit_schema._Loader``), which expands each distinct ACL
once instead of every object's (``object_acls``, ``acl_items``)."""


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
    elif file_format in (ACL_ITEMS, ACL_COLUMNS, ACL_PACKED):
        csv = _read_csv(file_list, [(c, t) for c, t, _d in ACL_WIRE], filename)
        if file_format == ACL_PACKED:
            source, derived = csv, {}
        elif file_format == ACL_COLUMNS:
            source = f"(SELECT * FROM {csv} WHERE object_class = 'column')"  # noqa: S608
            derived = {"table_oid": "object_oid", "attnum": "subid"}
        else:
            # Each item is split once into its three parts and its OIDs cast once, before
            # its privileges are unnested; ltrim runs only on the grantable ones. Why: this
            # expansion is most of the audit-schema load's raw step (10 ms for a small
            # cluster's 41,000 privileges with split_part per part and privilege and
            # ltrim on every one, 4 ms like this). coalesce(s[k], '') is split_part's
            # answer for a missing part, so a malformed item fails or not as before.
            keep = ", ".join(
                ["object_class", "object_oid", "subid"] + (["filename"] if filename else [])
            )
            source = (
                f"(SELECT {keep}, "  # noqa: S608 - quoted file names
                "CAST(coalesce(s[1], '') AS BIGINT) AS grantor, "
                "CAST(coalesce(s[2], '') AS BIGINT) AS grantee, "
                "unnest(string_split(coalesce(s[3], ''), ',')) AS p "
                f"FROM (SELECT {keep}, string_split(unnest(string_split(items, ';')), ':') AS s "
                f"FROM {csv}))"
            )
            derived = {
                "grantor_oid": "grantor",
                "grantee_oid": "grantee",
                "privilege": "CASE WHEN starts_with(p, '*') THEN ltrim(p, '*') ELSE p END",
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
    sql = reader_sql([table.file], table.columns, table.types, table.file_format)
    return run_on_reader(wrap.format(sql))


def run_on_reader(sql: str) -> list[tuple[Any, ...]]:
    """All rows of one read-only statement on the thread's reader connection, which is
    closed and replaced if the statement fails (see :func:`_query_file`)."""
    con = _reader()
    try:
        return list(con.execute(sql).fetchall())
    except BaseException:
        _readers.con = None
        con.close()
        raise


def empty_csv(table: Table) -> bool:
    """A CSV file (no header) of zero bytes holds no rows: known without DuckDB, whose
    reader costs most of a millisecond even then (half the tables of a test database
    are empty; the audit-schema loader skips them too, 2-3 ms a statement)."""
    if table.file is None or table.file_format == "parquet":
        return False
    try:
        return os.path.getsize(table.file) == 0
    except OSError:
        return False  # DuckDB says what is wrong


def read_rows(table: Table) -> list[list[Any]]:
    """All rows of a file-backed table as lists (for small snapshots, drift and tests)."""
    if empty_csv(table):
        return []
    return [list(r) for r in _query_file(table)]


def _json_sql(expr: str, duck_type: str, depth: int = 0) -> str:
    """DuckDB text of one value as ``json.dumps(value, ensure_ascii=False)`` writes it:
    ``null`` for NULL, and arrays with Python's ``", "`` separator (``to_json`` has none).
    Only text goes through ``to_json`` (its escapes); numbers and booleans are plain
    casts, cheaper to plan. A list comprehension, not a lambda: its syntax is the same in
    every DuckDB we support."""
    if duck_type.endswith("[]"):
        item = f"_e{depth}"
        inner = _json_sql(item, duck_type[:-2], depth + 1)
        return (
            f"coalesce('[' || array_to_string([{inner} for {item} in {expr}], ', ') || ']', 'null')"
        )
    if duck_type == "BOOLEAN":
        return f"CASE WHEN {expr} THEN 'true' WHEN NOT {expr} THEN 'false' ELSE 'null' END"
    if duck_type in ("BIGINT", "INTEGER"):
        return f"coalesce(CAST({expr} AS VARCHAR), 'null')"
    return f"coalesce(CAST(to_json({expr}) AS VARCHAR), 'null')"


def json_rows(table: Table) -> list[str]:
    """Each row of a file-backed table as its JSON text, byte for byte what
    ``json.dumps(row, ensure_ascii=False)`` gives for the row ``read_rows`` returns.

    Why: saving a snapshot as JSON read every column file into Python tuples and dumped
    them row by row (most of a save's CPU); DuckDB writes the text itself, one string a row.
    DuckDB spells nine control characters' escapes in upper case (``\\u001B``, Python
    ``\\u001b``): a row with any ``\\u00`` escape is re-dumped by Python from its own
    parse, which gives Python's bytes exactly."""
    if table.types is None or empty_csv(table):
        return []
    parts = [_json_sql(f'"{c}"', t) for c, t in zip(table.columns, table.types, strict=True)]
    row = f"concat_ws(', ', {', '.join(parts)})"
    wrap = f"SELECT '[' || {row} || ']' FROM ({{}})"  # noqa: S608 - quoted names
    lines = [r[0] for r in _query_file(table, wrap)]
    for n, line in enumerate(lines):
        if "\\u00" in line:
            lines[n] = json.dumps(json.loads(line), ensure_ascii=False)
    return lines


def count_rows(table: Table) -> int:
    if empty_csv(table):
        return 0
    rows = _query_file(table, "SELECT count(*) FROM ({})")
    return int(rows[0][0]) if rows else 0
