"""Rules that read ``acl_items`` first give exactly the rows their plain-``privileges``
formulation gave.

Why: on a large snapshot ``privileges`` is a view that joins every object to its ACL
(audit/sql/privileges_rows.sql), so PGR-PRIV-004, -008, -010 and -011 now filter each
distinct ACL's items first and only then expand them to objects and columns
(``object_acls``, ``acl_objects``), which repeats the view's join by hand. A careless
repetition loses or invents rows at the edges, so the snapshot here has them all: built-in
defaults (a NULL ACL: source 'default', in privileges but not in object_acls), PUBLIC,
column ACLs (and a column grant on a table whose own ACL is NULL), shared objects (a
database, a tablespace, a parameter: NULL database_oid in object_acls), objects that
share one ACL, a grantee that owns the object, grant options passed on, a system object,
an empty ACL and names that need quoting. The oracles are the queries as they were
(``data/acl_first_oracles``), run over the same schema, on both storage paths (privileges
a table, and a view as above ``SMALL_SNAPSHOT_ROWS``). PGR-OWN-001 is here too: it now
keeps only the objects whose owner its joins read (a runtime role, or a role one can SET
ROLE to: the reader of another application owns through db_owner_app). Pure: no server.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_audit_schema import SCHEMA, _table, acl, make, member, obj, role

from pgaudit_roles.audit import acl_defaults, audit_schema
from pgaudit_roles.collect.snapshot import DatabaseSnapshot, Snapshot
from pgaudit_roles.collect.tables import DATABASE_TABLES

ORACLES = Path(__file__).resolve().parent / "data" / "acl_first_oracles"
RULES = ("PGR-PRIV-004", "PGR-PRIV-008", "PGR-PRIV-010", "PGR-PRIV-011", "PGR-OWN-001")

OWNER, READER, WRITER, ODD, ALICE, BOB, ROOT, READER2, CAROL, DAVE = range(100, 110)
COL = 'we"ird\ncol'


def _shared(cls: str, oid: int, name: str, grantee: int, privilege: str, **kw: Any) -> dict:
    return {
        "object_class": cls,
        "object_oid": oid,
        "object_name": name,
        "grantor_oid": OWNER,
        "grantee_oid": grantee,
        "privilege": privilege,
        "grantable": False,
        **kw,
    }


def _default(
    oid: int, schema: int, objtype: str, grantee: int | None, privilege: str | None
) -> dict:
    return {
        "oid": oid,
        "creator_oid": OWNER,
        "schema_oid": schema,
        "objtype": objtype,
        "grantor_oid": OWNER if grantee is not None else None,
        "grantee_oid": grantee,
        "privilege": privilege,
        "grantable": False,
    }


def _table_acl(oid: int) -> list[dict[str, Any]]:
    """One ACL, given to two tables alike (they share its acl_id)."""
    return [
        *(acl("relation", oid, OWNER, p) for p in ("SELECT", "INSERT", "UPDATE")),
        acl("relation", oid, OWNER, "DELETE", grantable=True),  # the owner's own option
        acl("relation", oid, READER, "INSERT"),
        acl("relation", oid, READER, "SELECT"),
        acl("relation", oid, ODD, "SELECT"),
        acl("relation", oid, ODD, "UPDATE"),
        acl("relation", oid, WRITER, "SELECT"),
        acl("relation", oid, ALICE, "SELECT", grantable=True),
        acl("relation", oid, BOB, "SELECT", grantor_oid=ALICE),
        acl("relation", oid, 0, "SELECT", grantor_oid=ALICE),
        acl("relation", oid, ROOT, "UPDATE", grantable=True),
        acl("relation", oid, 0, "TRIGGER"),
    ]


def _snapshot() -> Snapshot:
    roles = [
        role(OWNER, "db_owner_app"),
        role(READER, "db_reader_app"),
        role(WRITER, "db_writer_app"),
        role(ODD, 'we"ird login', login=True),
        role(ALICE, "Alice", login=True),
        role(BOB, "bob", login=True),
        role(ROOT, "root", login=True, superuser=True),
        role(READER2, "db_reader_rpt"),
        role(CAROL, "carol", login=True),
        role(DAVE, "dave", login=True),
    ]
    schemas = [
        dict(SCHEMA, acl_state="explicit"),
        dict(SCHEMA, oid=2201, name="Odd Schema", owner_oid=READER),
        dict(SCHEMA, oid=11, name="pg_catalog", owner_oid=10, is_system=True),
    ]
    objects = [
        obj(1000, "relation", "table", "t1", acl_state="explicit"),
        obj(1001, "relation", "table", "t2", acl_state="explicit"),
        obj(1002, "relation", "table", 'Odd"Name', acl_state="default"),
        obj(1003, "relation", "sequence", "s1", acl_state="explicit"),
        obj(1004, "function", "function", "f", identity_args="a integer", acl_state="explicit"),
        obj(1005, "large_object", "large_object", "1005", schema_oid=None, acl_state="explicit"),
        obj(
            1006,
            "relation",
            "table",
            "mine",
            schema_oid=2201,
            owner_oid=READER,
            acl_state="explicit",
        ),
        obj(1007, "relation", "table", "pg_x", schema_oid=11, owner_oid=10, acl_state="explicit"),
        obj(1008, "relation", "view", "empty", acl_state="explicit"),  # an empty ACL
        obj(1009, "function", "function", "g", identity_args="", acl_state="default"),
    ]
    grants = [
        *_table_acl(1000),
        *_table_acl(1001),
        acl("schema", 2200, OWNER, "USAGE"),
        acl("schema", 2200, READER, "CREATE"),
        acl("schema", 2200, ODD, "USAGE"),
        acl("schema", 2200, ALICE, "CREATE", grantable=True),
        # columns of a table whose own ACL is NULL (built-in defaults)
        acl("column", 1002, READER, "UPDATE", subid=2),
        acl("column", 1002, READER, "SELECT", subid=3),
        acl("column", 1002, ODD, "INSERT", subid=2),
        acl("column", 1002, ODD, "SELECT", subid=3),
        acl("column", 1002, ALICE, "UPDATE", subid=2, grantable=True),
        acl("column", 1002, BOB, "UPDATE", subid=3, grantor_oid=ALICE),
        acl("relation", 1003, OWNER, "USAGE"),
        acl("relation", 1003, READER, "USAGE"),
        acl("relation", 1003, READER, "SELECT"),
        acl("relation", 1003, ODD, "UPDATE"),
        acl("function", 1004, OWNER, "EXECUTE"),
        acl("function", 1004, ODD, "EXECUTE"),
        acl("function", 1004, ALICE, "EXECUTE", grantable=True),
        acl("function", 1004, 0, "EXECUTE"),
        acl("large_object", 1005, READER, "UPDATE"),
        acl("large_object", 1005, ALICE, "SELECT", grantable=True),
        acl("large_object", 1005, ODD, "UPDATE"),
        # the reader owns this one: its grants to itself are not findings
        acl("relation", 1006, READER, "INSERT", grantor_oid=READER, grantable=True),
        acl("relation", 1006, ODD, "DELETE", grantor_oid=READER),
        acl("relation", 1007, READER, "INSERT", grantor_oid=10),
        acl("relation", 1007, ODD, "SELECT", grantor_oid=10),
        acl("relation", 1007, DAVE, "INSERT", grantor_oid=10, grantable=True),
    ]
    snap = make(
        roles=roles,
        memberships=[
            member(WRITER, ODD),
            member(OWNER, ODD),
            member(WRITER, READER2),
            member(OWNER, READER2),
        ],
        databases=[
            {
                "oid": 5,
                "name": "appdb",
                "owner_oid": OWNER,
                "allow_connections": True,
                "is_template": False,
                "acl_state": "explicit",
            },
            {
                "oid": 6,
                "name": "other db",
                "owner_oid": OWNER,
                "allow_connections": True,
                "is_template": False,
                "acl_state": "default",
            },
        ],
        tablespaces=[
            {"oid": 1700, "name": "fast disk", "owner_oid": OWNER, "acl_state": "explicit"}
        ],
        shared_acl=[
            _shared("database", 5, "appdb", OWNER, "CONNECT"),
            _shared("database", 5, "appdb", 0, "CONNECT"),
            _shared("database", 5, "appdb", 0, "TEMPORARY"),
            _shared("database", 5, "appdb", READER, "CREATE"),
            _shared("database", 5, "appdb", ALICE, "CONNECT", grantable=True),
            _shared("database", 5, "appdb", BOB, "CONNECT", grantor_oid=ALICE),
            _shared("tablespace", 1700, "fast disk", ALICE, "CREATE", grantable=True),
            _shared("tablespace", 1700, "fast disk", ODD, "CREATE"),
            _shared("parameter", 9001, "work_mem", ALICE, "SET", grantable=True),
            _shared("parameter", 9001, "work_mem", BOB, "SET", grantor_oid=ALICE),
            # not what a server reports (a schema is not shared), but privileges' shared
            # branch joins it to each database's schema 2200: the rules must as well
            _shared("schema", 2200, "app", READER, "CREATE", grantable=True),
            _shared("schema", 2200, "app", CAROL, "USAGE", grantor_oid=READER),
        ],
        db={
            "schemas": schemas,
            "objects": objects,
            "columns": [
                {"table_oid": 1002, "attnum": 2, "name": COL},
                {"table_oid": 1002, "attnum": 3, "name": "b"},
            ],
            "acl": grants,
            "default_acls": [
                _default(1, 2200, "r", READER, "INSERT"),
                _default(1, 2200, "r", READER, "SELECT"),
                _default(1, 2200, "r", ODD, "SELECT"),
                _default(2, 0, "S", READER, "USAGE"),
                _default(3, 0, "n", READER, "CREATE"),
                _default(4, 0, "L", READER, "UPDATE"),
                _default(5, 0, "f", READER, "EXECUTE"),
                _default(6, 0, "T", None, None),  # the marker row of an emptied ACL
            ],
        },
    )
    # a second database: the same ACL as appdb's t1 on its table, and a grant of its own
    other = {
        "schemas": [dict(SCHEMA, name="data")],
        "objects": [obj(1000, "relation", "table", "t1", acl_state="explicit")],
        "acl": [*_table_acl(1000), acl("relation", 1000, CAROL, "SELECT")],
    }
    snap.databases.append(
        DatabaseSnapshot(
            oid=6,
            name="other db",
            status="collected",
            tables={k: _table(DATABASE_TABLES[k], v) for k, v in other.items()},
        )
    )
    return snap


def _rows(con: Any, sql: str) -> list[str]:
    return sorted(map(repr, con.execute(sql).fetchall()))


@pytest.mark.parametrize("view", [False, True], ids=["table", "view"])
def test_acl_first_rules_give_the_rows_of_their_privileges_oracles(
    monkeypatch: pytest.MonkeyPatch, builtin_rules: tuple[Any, ...], view: bool
) -> None:
    if view:
        monkeypatch.setattr(audit_schema, "SMALL_SNAPSHOT_ROWS", -1)
    con = audit_schema.load(_snapshot())
    kind = con.execute(
        "SELECT table_type FROM information_schema.tables WHERE table_name = 'privileges'"
    ).fetchall()
    assert kind == [("VIEW" if view else "BASE TABLE",)]
    # the edges are there: defaults, PUBLIC, columns, shared objects, grants by an option
    sources = dict(con.execute("SELECT source, count(*) FROM privileges GROUP BY ALL").fetchall())
    assert sources["default"] > 0 and sources["explicit"] > 50
    shared = con.execute("SELECT count(*) FROM object_acls WHERE database_oid IS NULL").fetchone()
    assert shared is not None and shared[0] == 4
    queries = {r.id: r.query for r in builtin_rules}
    found = {}
    for rule_id in RULES:
        oracle = (ORACLES / f"{rule_id}.sql").read_text(encoding="utf-8")
        want = _rows(con, oracle)
        assert _rows(con, queries[rule_id]) == want, rule_id
        assert (
            con.execute(f"DESCRIBE {queries[rule_id]}").fetchall()
            == con.execute(f"DESCRIBE {oracle}").fetchall()
        ), rule_id
        found[rule_id] = len(want)
    # each rule finds something here, or the comparison would prove little
    assert all(found.values()), found


# PGR-PRIV-008's write privileges, by privileges.object_class (relation: tables' and
# sequences' together)
READER_WRITES = {
    "relation": {"INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER", "MAINTAIN"}
    | {"USAGE", "UPDATE"},
    "column": {"INSERT", "UPDATE", "REFERENCES"},
    "schema": {"CREATE"},
    "database": {"CREATE"},
    "large_object": {"UPDATE"},
}


def test_public_builtin_defaults_grant_no_reader_write() -> None:
    """PGR-PRIV-008 reads no built-in default (source 'default') since it reads acl_items:
    an owner's default is the owner's own, and PUBLIC's must stay none of its writes (else
    a reader holding PUBLIC's OID would be missed)."""
    public = [
        (t.object_class, t.privilege) for t in acl_defaults.PRIVILEGE_TYPES if t.public_default
    ]
    assert ("database", "CONNECT") in public
    assert [p for p in public if p[1] in READER_WRITES.get(p[0], set())] == []
