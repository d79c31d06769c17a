"""A large snapshot's audit schema lives in a compressed in-memory database
(``audit_schema.use_compressed_storage``): the same tables, rows and findings as in
DuckDB's default in-memory storage. Pure: no server."""

from __future__ import annotations

from typing import Any

import duckdb
import pytest
from test_audit_schema import SCHEMA, acl, make, member, obj, role

from pgaudit_roles.audit import audit_schema


def _snapshot() -> Any:
    names = ["select", "user", "app_writer", 'we"ird\nname', "Ab", "order", "x1", "x2"]
    roles = [role(100 + i, n, login=True) for i, n in enumerate(names)]
    schemas = [dict(SCHEMA, oid=2200 + i, name=n) for i, n in enumerate(["app", "order", "s"])]
    objects = [
        obj(1000 + i, "relation", "table", f"t{i}", schema_oid=2200 + i % 3, acl_state="explicit")
        for i in range(12)
    ]
    grants = [
        acl("relation", 1000 + i, 100 + i % len(names), p)
        for i in range(12)
        for p in ("SELECT", "INSERT", "TRUNCATE")
    ]
    return make(
        roles=roles,
        memberships=[member(100, 101), member(102, 103), member(101, 104)],
        db={"schemas": schemas, "objects": objects, "acl": grants},
    )


def _schema(con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    return {
        t: sorted(map(repr, con.execute(f'SELECT * FROM "{t}"').fetchall()))
        for t in audit_schema.AUDIT_TABLES
    }


def _database(con: duckdb.DuckDBPyConnection) -> str:
    return str(con.execute("SELECT current_database()").fetchone()[0])


def test_large_path_builds_in_compressed_storage_with_the_same_rows(
    monkeypatch: pytest.MonkeyPatch, builtin_rules: tuple[Any, ...]
) -> None:
    """The same tables, and every built-in rule's query the same rows over them."""
    snap = _snapshot()
    default = audit_schema.load(snap)
    assert _database(default) == "memory"  # a small snapshot keeps the default storage
    # the same load (one DuckDB thread, as for small snapshots: quicker here) in the storage
    # a large snapshot gets
    compressed = audit_schema.new_connection()
    audit_schema.tune_for_size(compressed, snap)
    assert audit_schema.use_compressed_storage(compressed)
    audit_schema.load(snap, con=compressed)
    assert _database(compressed) == audit_schema.COMPRESSED_DATABASE
    # which large snapshots get
    monkeypatch.setattr(audit_schema, "SMALL_SNAPSHOT_ROWS", -1)
    large = audit_schema.new_connection()
    audit_schema.tune_for_size(large, snap)
    assert _database(large) == audit_schema.COMPRESSED_DATABASE
    want = _schema(default)
    assert sum(map(len, want.values())) > 100, "the snapshot fills the tables"
    assert _schema(compressed) == want
    found = 0
    for rule in builtin_rules:
        if not rule.on_snapshot:
            continue
        rows = sorted(map(repr, default.execute(rule.query).fetchall()))
        assert sorted(map(repr, compressed.execute(rule.query).fetchall())) == rows, rule.id
        found += len(rows)
    assert found > 10, "rules find something on the snapshot"


def test_without_the_option_the_default_storage_stays() -> None:
    class Old:
        """A DuckDB whose ATTACH knows no COMPRESS option."""

        def __init__(self) -> None:
            self.sql: list[str] = []

        def execute(self, sql: str) -> None:
            self.sql.append(sql)
            raise duckdb.BinderException('Unrecognized option for attach "compress"')

    old = Old()
    assert audit_schema.use_compressed_storage(old) is False  # type: ignore[arg-type]
    assert len(old.sql) == 1
