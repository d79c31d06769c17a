"""Column files and snapshot archives, without a server.

The collector's COPY files are PostgreSQL CSV; these tests write that dialect by hand
(NULL = unquoted empty, "" = empty string, arrays as JSON) and check DuckDB reads back
exactly the values, hostile strings included, and that an archive round-trips a snapshot
and refuses what is not one.
"""

from __future__ import annotations

import gc
import io
import json
import os
import tarfile
from pathlib import Path

import pytest

from pgaudit_roles.collect.columnfile import reader_sql
from pgaudit_roles.collect.snapshot import (
    CLUSTER_TABLES,
    DATABASE_TABLES,
    DatabaseSnapshot,
    Snapshot,
    Table,
    is_archive_file,
    load,
    save,
)
from pgaudit_roles.collect.spool import Spool, copy_statement
from pgaudit_roles.core.errors import UsageError

FUNCTIONS = DATABASE_TABLES["functions"]
FUNCTION_TYPES = [c[1] for c in FUNCTIONS]
FUNCTION_COLUMNS = [c[0] for c in FUNCTIONS]

HOSTILE = [
    'Weird "quoted" name',
    "new\nline",
    "comma, here",
    "ünïcødé_名前",
    "<script>alert(1)</script>",
    "'; DROP TABLE x; --",
    "",
    "back\\slash",
]


def _csv_field(value: object) -> str:
    """PostgreSQL's CSV output for one value (what COPY ... (FORMAT csv) sends)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, list):
        value = json.dumps(value, ensure_ascii=False)
    text = str(value)
    if text == "" or any(ch in text for ch in ',"\n\r\\') or text != text.strip():
        return '"' + text.replace('"', '""') + '"'
    return text


def _write_csv(path: Path, rows: list[list[object]]) -> None:
    path.write_text(
        "".join(",".join(_csv_field(v) for v in r) + "\n" for r in rows), encoding="utf-8"
    )


def _function_rows() -> list[list[object]]:
    rows: list[list[object]] = []
    for i, name in enumerate(HOSTILE):
        rows.append([16384 + i, i % 2 == 0, [f"search_path={name}", "work_mem=1MB"], name, None])
    rows.append([20000, False, None, "plpgsql", True])
    rows.append([20001, True, [], "sql", False])
    return rows


def test_copy_statement_selects_spec_columns_in_order_and_sends_arrays_as_json():
    sql = copy_statement("SELECT 1 AS oid", FUNCTIONS)
    assert sql.startswith(
        'COPY (SELECT q."oid", q."security_definer", '
        'pg_catalog.to_json(q."config"), q."language", q."leakproof" FROM ('
    )
    assert sql.endswith(") AS q) TO STDOUT (FORMAT csv, ENCODING 'UTF8')")


def test_csv_column_file_reads_back_every_value_exactly(tmp_path):
    rows = _function_rows()
    path = tmp_path / "f.csv"
    _write_csv(path, rows)
    table = Table(FUNCTION_COLUMNS, file=str(path), types=FUNCTION_TYPES, count=len(rows))
    assert not table.in_memory
    assert len(table) == len(rows)
    assert table.rows == rows  # NULL vs "" vs [] kept apart, newlines and quotes intact


def test_len_counts_the_file_when_the_count_is_unknown(tmp_path):
    rows = _function_rows()
    path = tmp_path / "f.csv"
    _write_csv(path, rows)
    table = Table(FUNCTION_COLUMNS, file=str(path), types=FUNCTION_TYPES)
    assert len(table) == len(rows)


def test_looking_a_table_up_never_reads_its_file(tmp_path):
    """``Snapshot.table`` hands back a file-backed table without counting its rows: a
    ``Table``'s truth is its length, so ``get(name) or empty_table(...)`` read every
    column file once per lookup (a DuckDB connection each; most of a small scan's reads).
    The file here does not exist: any read of it fails the test."""
    missing = str(tmp_path / "never-read.csv")
    table = Table(FUNCTION_COLUMNS, file=missing, types=FUNCTION_TYPES)
    db = DatabaseSnapshot(oid=5, name="app", status="collected", tables={"functions": table})
    roles = CLUSTER_TABLES["roles"]
    cluster_table = Table([c[0] for c in roles], file=missing, types=[c[1] for c in roles])
    snap = Snapshot(meta={}, cluster={"roles": cluster_table}, databases=[db])
    assert db.table("functions") is table
    assert snap.table("roles") is cluster_table
    assert len(db.table("schemas")) == 0  # absent: an empty table of the spec's columns
    assert db.table("schemas").columns == [c[0] for c in DATABASE_TABLES["schemas"]]
    with pytest.raises(Exception, match="never-read"):
        len(table)  # the file really is unreadable: a lookup that read it would fail


def test_a_failed_read_leaves_the_next_read_whole(tmp_path):
    """Column files are read on one DuckDB connection per thread; a read that fails
    (a file gone) must not leave a broken connection to the next one."""
    rows = _function_rows()
    good = tmp_path / "f.csv"
    _write_csv(good, rows)
    gone = Table(FUNCTION_COLUMNS, file=str(tmp_path / "gone.csv"), types=FUNCTION_TYPES)
    for _ in range(2):
        with pytest.raises(Exception, match="gone"):
            gone.rows  # noqa: B018 - reading is the point
        assert Table(FUNCTION_COLUMNS, file=str(good), types=FUNCTION_TYPES).rows == rows


def test_reader_sql_tags_rows_with_their_file(tmp_path):
    import duckdb

    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    _write_csv(a, _function_rows()[:2])
    _write_csv(b, _function_rows()[2:5])
    sql = reader_sql([str(a), str(b)], FUNCTION_COLUMNS, FUNCTION_TYPES, "csv", filename=True)
    got = (
        duckdb.connect()
        .execute(f"SELECT filename, count(*) FROM ({sql}) GROUP BY 1 ORDER BY 1")
        .fetchall()
    )
    assert got == [(str(a), 2), (str(b), 3)]


def test_file_backed_table_refuses_rows_and_file_together(tmp_path):
    with pytest.raises(ValueError):
        Table(["oid"], rows=[[1]], file=str(tmp_path / "x.csv"), types=["BIGINT"])
    with pytest.raises(ValueError):
        Table(["oid"], file=str(tmp_path / "x.csv"))  # no types


def test_spool_is_removed_when_unreferenced():
    spool = Spool()
    path = spool.path
    Path(spool.new_file("x")).write_text("1\n")
    assert os.path.isdir(path)
    del spool
    gc.collect()
    assert not os.path.exists(path)


def test_spool_file_names_are_unique_and_tame():
    spool = Spool()
    names = {spool.new_file("../../etc/passwd") for _ in range(50)}
    assert len(names) == 50
    assert all(os.path.dirname(n) == spool.path for n in names)
    spool.cleanup()


# --- archives ---------------------------------------------------------------------------


def _snapshot(tmp_path: Path) -> Snapshot:
    """A small snapshot mixing in-memory tables and a CSV column file."""
    rows = _function_rows()
    csv = tmp_path / "functions.csv"
    _write_csv(csv, rows)
    roles_cols = [c[0] for c in CLUSTER_TABLES["roles"]]
    role = dict.fromkeys(roles_cols)
    role.update(oid=10, name="postgres", superuser=True, config=["a=1"], predefined=False)
    db = DatabaseSnapshot(
        oid=5,
        name=HOSTILE[1],
        status="collected",
        tables={
            "functions": Table(FUNCTION_COLUMNS, file=str(csv), types=FUNCTION_TYPES),
            "schemas": Table(
                [c[0] for c in DATABASE_TABLES["schemas"]],
                rows=[[2200, name, 10, "explicit", False] for name in HOSTILE],
            ),
        },
    )
    skipped = DatabaseSnapshot(
        oid=6, name="template0", status="not_collected", reason="connections are not allowed"
    )
    return Snapshot(
        meta={"server_version_num": 180001, "sources": {}},
        cluster={"roles": Table(roles_cols, rows=[[role[c] for c in roles_cols]])},
        databases=[db, skipped],
    )


def test_archive_round_trips_a_snapshot(tmp_path):
    snap = _snapshot(tmp_path)
    path = tmp_path / "snap.tar"
    save(snap, path)
    assert is_archive_file(path) and not is_archive_file(tmp_path / "functions.csv")
    with tarfile.open(path) as tar:
        names = tar.getnames()
    assert names[0] == "snapshot.json"
    assert sorted(names[1:]) == ["databases/5/functions.parquet", "databases/5/schemas.parquet"]
    back = load(path)
    assert back.meta == snap.meta
    assert back.cluster["roles"].rows == snap.cluster["roles"].rows
    assert [(d.oid, d.name, d.status, d.reason) for d in back.databases] == [
        (d.oid, d.name, d.status, d.reason) for d in snap.databases
    ]
    for name in ("functions", "schemas"):
        got = back.databases[0].tables[name]
        assert got.file_format == "parquet" and not got.in_memory
        assert len(got) == len(snap.databases[0].tables[name])
        assert got.rows == snap.databases[0].tables[name].rows


def test_archive_and_json_give_the_same_audit_schema(tmp_path):
    """The loader reads Parquet members, CSV files and in-memory rows the same way."""
    from pgaudit_roles.audit import audit_schema

    snap = _snapshot(tmp_path)
    save(snap, tmp_path / "snap.tar")
    save(snap, tmp_path / "snap.json")

    def dump(s: Snapshot) -> list[tuple]:
        con = audit_schema.load(s)
        return (
            con.execute("SELECT * FROM internal.db_functions_raw ORDER BY oid").fetchall()
            + con.execute("SELECT * FROM internal.db_schemas_raw ORDER BY name").fetchall()
        )

    expected = dump(snap)
    assert len(expected) == len(_function_rows()) + len(HOSTILE)
    assert dump(load(tmp_path / "snap.tar")) == expected
    assert dump(load(tmp_path / "snap.json")) == expected


def test_archive_write_is_atomic(tmp_path, monkeypatch):
    import pgaudit_roles.collect.snapshot as snapshot_mod

    snap = _snapshot(tmp_path)
    target = tmp_path / "out" / "snap.tar"

    def boom(*_a, **_k):
        raise OSError("disk full")

    monkeypatch.setattr(snapshot_mod, "_rows_to_parquet", boom)
    with pytest.raises(OSError):
        save(snap, target)
    assert not target.exists()
    assert [p.name for p in target.parent.iterdir()] == [] if target.parent.exists() else True


def _tar(path: Path, members: list[tuple[str, bytes]], symlink: str | None = None) -> None:
    with tarfile.open(path, "w") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        if symlink:
            info = tarfile.TarInfo(symlink)
            info.type = tarfile.SYMTYPE
            info.linkname = "/etc/passwd"
            tar.addfile(info)


@pytest.mark.parametrize(
    "case, message",
    [
        ("no_header", "does not start with snapshot.json"),
        ("empty", "has no snapshot.json"),
        ("symlink", "is not a regular file"),
        ("missing_member", "not in the archive"),
        ("bad_json", "not a readable snapshot archive"),
    ],
)
def test_bad_archives_are_one_line_usage_errors(tmp_path, case, message):
    good = tmp_path / "good.tar"
    save(_snapshot(tmp_path), good)
    with tarfile.open(good) as tar:
        header = tar.extractfile("snapshot.json").read()  # type: ignore[union-attr]
    path = tmp_path / "bad.tar"
    if case == "no_header":
        _tar(path, [("databases/5/functions.parquet", b"x"), ("snapshot.json", header)])
    elif case == "empty":
        _tar(path, [])
    elif case == "symlink":
        _tar(path, [("snapshot.json", header)], symlink="databases/5/functions.parquet")
    elif case == "missing_member":
        _tar(path, [("snapshot.json", header)])
    else:
        _tar(path, [("snapshot.json", b"{not json")])
    with pytest.raises(UsageError) as info:
        load(path)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


ALL_TYPES = ["BIGINT", "BOOLEAN", "VARCHAR", "VARCHAR[]", "INTEGER", "BIGINT[]"]
ALL_TYPE_COLUMNS = ["i", "b", "s", "a", "n", "ia"]


def _json_rows_input() -> list[list[object]]:
    """Every character JSON escapes (DuckDB spells some escapes differently from Python),
    text that looks like an escape, and the edges of every type."""
    texts = [chr(c) for c in range(1, 0x20)] + [
        *HOSTILE,
        "\x7f",
        "\\u001B literal",
        "\\\\u00",
        "tab\there",
        "\u202eevil\u2028sep\u2029",
        "emoji \U0001f600",
        "/slash",
    ]
    rows: list[list[object]] = []
    for n, text in enumerate(texts):
        rows.append([n - 2**62, n % 2 == 0, text, [text, None, "x"], n - 5, [n, None]])
    rows.append([2**63 - 1, None, None, None, 2**31 - 1, None])
    rows.append([-(2**63), True, "", [], -(2**31), []])
    return rows


@pytest.mark.parametrize("file_format", ["csv", "parquet"])
def test_duckdb_json_of_a_column_file_is_pythons_byte_for_byte(tmp_path, file_format):
    """``columnfile.json_rows`` (DuckDB writes a big table's JSON when a snapshot is saved)
    gives exactly ``json.dumps(row, ensure_ascii=False)`` of the rows read back."""
    from pgaudit_roles.collect.columnfile import json_rows, scratch_connection

    rows = _json_rows_input()
    path = tmp_path / "t.csv"
    _write_csv(path, rows)
    if file_format == "parquet":
        con = scratch_connection()
        select = reader_sql([str(path)], ALL_TYPE_COLUMNS, ALL_TYPES, "csv")
        con.execute(f"COPY ({select}) TO '{tmp_path / 't.parquet'}' (FORMAT parquet)")
        con.close()
        path = tmp_path / "t.parquet"
    table = Table(ALL_TYPE_COLUMNS, file=str(path), file_format=file_format, types=ALL_TYPES)
    assert table.rows == rows
    table = Table(ALL_TYPE_COLUMNS, file=str(path), file_format=file_format, types=ALL_TYPES)
    assert json_rows(table) == [json.dumps(r, ensure_ascii=False) for r in rows]
    assert not table.in_memory and table._rows is None  # written without reading the rows


@pytest.mark.parametrize("threshold", [0, 10**9])
def test_saving_a_file_backed_table_writes_the_bytes_of_its_rows(tmp_path, monkeypatch, threshold):
    """A snapshot saves to the same bytes whether a table's rows are in memory or in a
    column file, on both ways a column file is written (DuckDB for big ones, Python)."""
    import pgaudit_roles.collect.tables as tables_mod

    monkeypatch.setattr(tables_mod, "JSON_IN_DUCKDB_ROWS", threshold)
    rows = _function_rows()
    path = tmp_path / "f.csv"
    _write_csv(path, rows)
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")

    def snap(in_memory: bool) -> Snapshot:
        def table(file: Path, content: list[list[object]]) -> Table:
            if in_memory:
                return Table(FUNCTION_COLUMNS, rows=[list(r) for r in content])
            return Table(FUNCTION_COLUMNS, file=str(file), types=FUNCTION_TYPES)

        tables = {"functions": table(path, rows)}
        db = DatabaseSnapshot(5, "d\nb", "collected", tables=tables)
        db2 = DatabaseSnapshot(6, "e", "collected", tables={"functions": table(empty, [])})
        return Snapshot(meta={}, cluster={}, databases=[db, db2])

    save(snap(True), tmp_path / "mem.json")
    file_backed = snap(False)
    save(file_backed, tmp_path / "file.json")
    assert (tmp_path / "file.json").read_bytes() == (tmp_path / "mem.json").read_bytes()
    assert load(tmp_path / "file.json").databases[0].tables["functions"].rows == rows
    assert len(file_backed.databases[1].tables["functions"]) == 0


def test_an_empty_csv_column_file_has_no_rows_without_a_read(tmp_path, monkeypatch):
    """Zero bytes of header-less CSV is zero rows, answered without DuckDB."""
    import pgaudit_roles.collect.columnfile as columnfile

    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    table = Table(FUNCTION_COLUMNS, file=str(empty), types=FUNCTION_TYPES)

    def no_read(*_args: object) -> None:
        raise AssertionError("read an empty file")

    monkeypatch.setattr(columnfile, "_query_file", no_read)
    assert len(table) == 0
    assert columnfile.json_rows(table) == []
    assert table.rows == []


def test_row_encoder_writes_what_json_dumps_writes():
    """``rowjson.encode_row`` (the C encoder built once) and its fallback give
    ``json.dumps(row, default=str, ensure_ascii=False)`` exactly, and in-memory tables
    save through it."""
    from pgaudit_roles.collect import rowjson

    rows = [*_json_rows_input(), [1.5, {"k": [2]}, Path("p")]]
    want = [json.dumps(r, default=str, ensure_ascii=False) for r in rows]
    assert [rowjson.encode_row(r) for r in rows] == want
    assert [rowjson._plain()(r) for r in rows] == want
    assert Table(ALL_TYPE_COLUMNS, rows=rows[:-1]).json_lines() == want[:-1]


ACL_SPEC = DATABASE_TABLES["acl"]
ACL_TYPES = [c[1] for c in ACL_SPEC]
ACL_COLUMNS_SPEC = [c[0] for c in ACL_SPEC]

_SPLIT_PART_ACL = """SELECT object_class, object_oid, subid,
       CAST(split_part(item, ':', 1) AS BIGINT) AS grantor_oid,
       CAST(split_part(item, ':', 2) AS BIGINT) AS grantee_oid,
       ltrim(p, '*') AS privilege, starts_with(p, '*') AS grantable
FROM (SELECT object_class, object_oid, subid, item,
             unnest(string_split(split_part(item, ':', 3), ',')) AS p
      FROM (SELECT object_class, object_oid, subid, unnest(string_split(items, ';')) AS item
            FROM read_csv('{}', header=false, auto_detect=false, delim=',', quote='"',
                          escape='"', allow_quoted_nulls=false,
                          columns={{'object_class': 'VARCHAR', 'object_oid': 'BIGINT',
                                   'subid': 'INTEGER', 'name': 'VARCHAR',
                                   'items': 'VARCHAR'}})))"""
"""The ACL items expansion as first written (split_part per part and privilege): the
definition ``reader_sql``'s cheaper form must agree with, malformed items included."""


ACL_ITEM_CASES = [
    ["10:0:SELECT,*UPDATE;10:16384:*INSERT", "16384:0:USAGE", "10:10:ALTER SYSTEM,SET"],
    [None, "", "10:0:", "10:0:**X,Y*Z,*,", "10:0:A:extra"],
    ["10::SELECT"],  # an empty OID: a cast error both ways
    [";10:0:SELECT"],
    ["10:0"],  # no privilege part
    ["10"],
]
"""Packed ACL items, well-formed and not, each case one object's per row (also read by
``tests/test_object_acls.py``: the loader expands them as the reader does)."""


@pytest.mark.parametrize("items", ACL_ITEM_CASES)
def test_acl_items_expand_as_split_part_does(tmp_path, items):
    """``reader_sql`` splits each ACL item once and trims only grantable privileges (the
    raw step's biggest cost); on well-formed and malformed items alike it gives exactly
    the rows, or the error, of the split_part form."""
    import duckdb

    path = tmp_path / "acl.csv"
    _write_csv(path, [["relation", 1000 + n, 0, None, it] for n, it in enumerate(items)])
    con = duckdb.connect()

    def run(sql: str) -> object:
        try:
            return sorted(con.execute(sql).fetchall(), key=repr)
        except duckdb.Error as exc:
            return type(exc).__name__

    new = reader_sql([str(path)], ACL_COLUMNS_SPEC, ACL_TYPES, "csv-acl-items")
    old = _SPLIT_PART_ACL.format(path)
    assert run(new) == run(old)
    if items[0] is not None and items[0].startswith("10:0:SELECT"):
        assert run(new) == sorted(
            [
                ("relation", 1000, 0, 10, 0, "SELECT", False),
                ("relation", 1000, 0, 10, 0, "UPDATE", True),
                ("relation", 1000, 0, 10, 16384, "INSERT", True),
                ("relation", 1001, 0, 16384, 0, "USAGE", False),
                ("relation", 1002, 0, 10, 10, "ALTER SYSTEM", False),
                ("relation", 1002, 0, 10, 10, "SET", False),
            ],
            key=repr,
        )


def test_the_loader_reads_no_empty_column_file(tmp_path, monkeypatch):
    """Empty CSV files are left out of the raw step (no statement when every database's
    file of a table is empty), and the audit schema is the one the same rows in memory
    give."""
    from pgaudit_roles.audit import audit_schema

    rows = _function_rows()
    full = tmp_path / "f.csv"
    _write_csv(full, rows)
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")

    def snap(files: bool) -> Snapshot:
        def table(name: str, path: Path, content: list[list[object]]) -> Table:
            spec = DATABASE_TABLES[name]
            if not files:
                return Table([c[0] for c in spec], rows=[list(r) for r in content])
            return Table([c[0] for c in spec], file=str(path), types=[c[1] for c in spec])

        dbs = [
            DatabaseSnapshot(
                5,
                "a",
                "collected",
                tables={
                    "functions": table("functions", full, rows),
                    "policies": table("policies", empty, []),
                },
            ),
            DatabaseSnapshot(
                6,
                "b",
                "collected",
                tables={
                    "functions": table("functions", empty, []),
                    "policies": table("policies", empty, []),
                },
            ),
        ]
        return Snapshot(meta={"server_version_num": 180001}, cluster={}, databases=dbs)

    read: list[str] = []
    real = audit_schema._Loader.x

    def spy(self: object, sql: str, params: object = None) -> object:
        if "read_csv" in sql:
            read.append(sql)
        return real(self, sql, params)  # type: ignore[arg-type]

    monkeypatch.setattr(audit_schema._Loader, "x", spy)
    from_files = audit_schema.load(snap(True))
    assert len(read) == 1 and str(full) in read[0] and str(empty) not in read[0]
    in_memory = audit_schema.load(snap(False))
    for name in ("internal.db_functions_raw", "internal.db_policies_raw", "functions"):
        q = f"SELECT * FROM {name} ORDER BY ALL"  # noqa: S608 - constant names
        assert from_files.execute(q).fetchall() == in_memory.execute(q).fetchall(), name
    assert len(from_files.execute("SELECT * FROM internal.db_functions_raw").fetchall()) == len(
        rows
    )
