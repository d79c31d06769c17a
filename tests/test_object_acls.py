"""Each distinct explicit ACL expanded once (``acl_items``) and named by the objects that
have it (``object_acls``); ``privileges`` joins them back, as a table for a small snapshot
and as a view above ``audit_schema.SMALL_SNAPSHOT_ROWS``. Pure: no server.

What must hold whatever the source: the collector's packed ACL rows (one CSV row per
object, read as they are) and the same ACLs one row per privilege (a JSON snapshot, an
archive) give the same ids, the same items and the same privileges, malformed items fail
or not as the reader of the packed rows does, and objects granted alike share one ACL.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest
from test_audit_schema import SCHEMA, make, obj, role
from test_spool import ACL_ITEM_CASES

from pgaudit_roles.audit import audit_schema
from pgaudit_roles.collect.columnfile import ACL_ITEMS, ACL_WIRE, reader_sql
from pgaudit_roles.collect.snapshot import DATABASE_TABLES, Snapshot, Table, load, save
from pgaudit_roles.collect.spool import derived_table

HOSTILE = ['we"ird\nname', "<script>x</script>", "\u202eevil", "order"]


def _csv_field(value: object) -> str:
    if value is None:
        return ""
    text = str(value)
    return '"' + text.replace('"', '""') + '"'


def _packed(path: Path, rows: list[tuple[str, int, int, str | None, str | None]]) -> Table:
    """The acl table as the collector writes it: one CSV row per object or column."""
    path.write_text(
        "".join(",".join(_csv_field(v) for v in r) + "\n" for r in rows), encoding="utf-8"
    )
    spec = DATABASE_TABLES["acl"]
    return Table(
        [c[0] for c in spec], file=str(path), file_format=ACL_ITEMS, types=[c[1] for c in spec]
    )


# Tables 1000-1005: 1000, 1001 and 1003 share one ACL written in three item orders (with
# two grantors); 1002
# holds another; 1004 an empty ACL (no items); 1005 keeps the default ACL. Columns of
# 1000 and 1002 have their own ACLs, one named with every hostile character. Function
# 2000 gives EXECUTE to PUBLIC with the grant option to a role.
PACKED = [
    (
        "relation",
        1000,
        0,
        None,
        "100:100:DELETE,INSERT,SELECT;100:0:SELECT;100:101:*SELECT;101:0:SELECT",
    ),
    (
        "relation",
        1001,
        0,
        None,
        "101:0:SELECT;100:0:SELECT;100:101:*SELECT;100:100:DELETE,INSERT,SELECT",
    ),
    ("relation", 1002, 0, None, "100:102:INSERT,UPDATE;100:100:SELECT"),
    (
        "relation",
        1003,
        0,
        None,
        "100:100:DELETE,INSERT,SELECT;101:0:SELECT;100:0:SELECT;100:101:*SELECT",
    ),
    ("relation", 1004, 0, None, None),
    ("column", 1000, 2, HOSTILE[0], "100:103:SELECT,UPDATE"),
    ("column", 1002, 1, "id", "100:103:SELECT,UPDATE"),
    ("column", 1002, 3, HOSTILE[1], "100:0:SELECT"),
    ("function", 2000, 0, None, "100:0:EXECUTE;100:104:*EXECUTE;100:100:EXECUTE"),
]


def _snapshot(tmp_path: Path) -> Snapshot:
    roles = [role(100, "owner"), *(role(101 + i, n, login=True) for i, n in enumerate(HOSTILE))]
    objects = [obj(1000 + i, "relation", "table", f"t{i}", acl_state="explicit") for i in range(5)]
    objects += [
        obj(1005, "relation", "table", "t5"),
        obj(2000, "function", "function", "f", identity_args="", acl_state="explicit"),
    ]
    shared = [
        {"object_class": "database", "object_oid": 5, "object_name": "appdb",
         "grantor_oid": 10, "grantee_oid": 0, "privilege": p, "grantable": False}
        for p in ("CONNECT", "TEMPORARY")
    ]  # fmt: skip
    snap = make(
        roles=roles,
        databases=[{"oid": 5, "name": "appdb", "owner_oid": 10, "acl_state": "explicit"}],
        shared_acl=shared,
        db={"schemas": [SCHEMA], "objects": objects},
    )
    packed = _packed(tmp_path / "acl.csv", PACKED)
    tables = snap.databases[0].tables
    tables["acl"] = packed
    tables["columns"] = derived_table("columns", packed)
    return snap


def _dump(snap: Snapshot) -> dict[str, list[tuple[Any, ...]]]:
    con = audit_schema.load(snap)
    out = {
        t: sorted(con.execute(f'SELECT * FROM "{t}"').fetchall(), key=repr)  # noqa: S608
        for t in ("object_acls", "acl_items", "privileges", "column_privileges")
    }
    out["kind"] = con.execute(
        "SELECT table_type FROM information_schema.tables WHERE table_name = 'privileges'"
    ).fetchall()
    return out


def test_packed_and_per_privilege_rows_give_the_same_acls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    snap = _snapshot(tmp_path)
    save(snap, tmp_path / "snap.json")  # the acl table one row per privilege
    save(snap, tmp_path / "snap.tar")
    packed = _dump(snap)
    assert packed["kind"] == [("BASE TABLE",)]
    assert _dump(load(tmp_path / "snap.json")) == packed
    assert _dump(load(tmp_path / "snap.tar")) == packed
    # a large snapshot's view: the same rows
    monkeypatch.setattr(audit_schema, "SMALL_SNAPSHOT_ROWS", -1)
    view = _dump(snap)
    assert view.pop("kind") == [("VIEW",)]
    packed.pop("kind")
    assert view == packed
    assert _dump(load(tmp_path / "snap.json")) == {**packed, "kind": [("VIEW",)]}


def test_objects_granted_alike_share_one_acl(tmp_path: Path) -> None:
    con = audit_schema.load(_snapshot(tmp_path))
    ids = dict(
        con.execute(
            "SELECT object_class || ':' || object_oid || ':' || subid, acl_id FROM object_acls"
        ).fetchall()
    )
    assert ids["relation:1000:0"] == ids["relation:1001:0"] == ids["relation:1003:0"]
    assert ids["relation:1002:0"] != ids["relation:1000:0"]
    assert ids["column:1000:2"] == ids["column:1002:1"]
    assert "relation:1004:0" not in ids  # an empty ACL has no item, nobody holds anything
    assert "relation:1005:0" not in ids  # the default ACL: privileges' source='default'
    assert ids["database:5:0"] not in {ids[k] for k in ids if not k.startswith("database")}
    names = dict(
        con.execute(
            "SELECT object_oid || ':' || subid, column_name FROM object_acls"
            " WHERE object_class = 'column'"
        ).fetchall()
    )
    assert names == {"1000:2": HOSTILE[0], "1002:1": "id", "1002:3": HOSTILE[1]}
    items = con.execute(
        "SELECT grantee, grantor, privilege, grantable FROM acl_items WHERE acl_id = ?",
        [ids["function:2000:0"]],
    ).fetchall()
    assert sorted(items) == sorted(
        [
            ("PUBLIC", "owner", "EXECUTE", False),
            ("owner", "owner", "EXECUTE", False),
            (HOSTILE[3], "owner", "EXECUTE", True),
        ]
    )
    # every explicit privilege is an item of its object's ACL, no more, no less
    count = "SELECT count(*) FROM {}"
    explicit = con.execute(count.format("privileges WHERE source = 'explicit'")).fetchone()[0]
    joined = con.execute(count.format("object_acls JOIN acl_items USING (acl_id)")).fetchone()[0]
    assert explicit == joined == 3 * 6 + 3 + 2 * 2 + 1 + 3 + 2


@pytest.mark.parametrize("items", ACL_ITEM_CASES)
def test_the_loader_expands_packed_items_as_the_reader_does(
    tmp_path: Path, items: list[str | None]
) -> None:
    """Each distinct packed ACL is expanded once by the loader (load_acl_texts.sql), with
    the expressions of ``columnfile.ACL_ITEMS``'s reader: on well-formed and malformed
    items alike the same privileges, or a DuckDB error where the reader fails."""
    rows = [("relation", 1000 + n, 0, None, it) for n, it in enumerate(items)]
    packed = _packed(tmp_path / "acl.csv", rows)
    wire = [c for c, _t, _d in ACL_WIRE if c not in ("name", "items")]
    columns = ["object_class", "object_oid", "subid", "grantor_oid", "grantee_oid",
               "privilege", "grantable"]  # fmt: skip
    types = [dict((c[0], c[1]) for c in DATABASE_TABLES["acl"])[c] for c in columns]
    assert set(wire) <= set(columns)
    reader = reader_sql([str(tmp_path / "acl.csv")], columns, types, ACL_ITEMS)
    try:
        want: object = sorted(duckdb.connect().execute(reader).fetchall(), key=repr)
    except duckdb.Error as exc:
        want = type(exc).__name__
    objects = [obj(1000 + n, "relation", "table", f"t{n}", acl_state="explicit") for n in range(9)]
    snap = make(roles=[role(100, "owner")], db={"schemas": [SCHEMA], "objects": objects})
    snap.databases[0].tables["acl"] = packed
    try:
        con = audit_schema.load(snap)
        got: object = sorted(
            con.execute(
                "SELECT s.object_class, s.object_oid, s.subid, i.grantor_oid, i.grantee_oid,"
                " i.privilege, i.grantable FROM object_acls s JOIN acl_items i USING (acl_id)"
                " WHERE s.database_oid = 5"
            ).fetchall(),
            key=repr,
        )
    except duckdb.Error as exc:
        got = type(exc).__name__
    assert got == want


def _inventories(snap: Snapshot) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """build_inventory's result: as evaluate asks for it on a large snapshot, forced to
    count from the ACLs, and counted over privileges' rows."""
    from pgaudit_roles.evaluate import engine

    con = audit_schema.load(snap)
    asked = engine.build_inventory(con, by_acl=True)
    real = engine._inventory_by_acl
    try:
        engine._inventory_by_acl = lambda c: True  # type: ignore[assignment]
        forced = engine.build_inventory(con, by_acl=True)
    finally:
        engine._inventory_by_acl = real  # type: ignore[assignment]
    return asked, forced, engine.build_inventory(con, by_acl=False)


def test_the_inventory_counts_the_same_objects_from_the_acls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Counted from the distinct ACLs (a large snapshot) or over privileges' rows: the
    same inventory, defaults, columns, shared objects and PUBLIC included."""
    snap = _snapshot(tmp_path)
    for size in (audit_schema.SMALL_SNAPSHOT_ROWS, -1):  # privileges a table, then a view
        monkeypatch.setattr(audit_schema, "SMALL_SNAPSHOT_ROWS", size)
        asked, forced, by_object = _inventories(snap)
        assert asked == forced == by_object
        counted = [c for v in by_object["login_privileges"].values() for c in v["counts"]]
        assert {c["privilege"] for c in counted} >= {"SELECT", "EXECUTE", "UPDATE (columns)"}


def test_the_inventory_counts_over_rows_when_an_object_is_both_default_and_stored(
    tmp_path: Path,
) -> None:
    """A hand-written snapshot may give an object both the default state and a stored
    ACL: privileges then holds both, counted once per object; the ACLs would count it
    twice, so the inventory counts over the rows there."""
    snap = _snapshot(tmp_path)
    objects = snap.databases[0].tables["objects"]
    state = objects.columns.index("acl_state")
    for row in objects.rows:
        if row[objects.columns.index("oid")] == 1000:
            row[state] = "default"
    roles = snap.cluster["roles"]
    for row in roles.rows:  # the owner logs in: its inventory has table 1000 both ways
        if row[roles.columns.index("oid")] == 100:
            row[roles.columns.index("login")] = True
    asked, forced, by_object = _inventories(snap)
    assert asked == by_object
    assert forced != by_object  # the check is what keeps it exact
