"""The audit schema loader on hand-built snapshots (no server needed).

Covers the contract (every table and column exactly as AUDIT_TABLES documents it, the
generated reference page is current), NULL-ACL expansion per object type and version,
empty ACLs, PUBLIC, 13-15 versus 16+ inheritance, several grant rows per pair, cycles,
pg_database_owner per database, default privileges, settings parsing, and both load paths.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pgaudit_roles.audit import acl_defaults, audit_schema
from pgaudit_roles.collect.snapshot import (
    CLUSTER_TABLES,
    DATABASE_TABLES,
    DatabaseSnapshot,
    Snapshot,
    Table,
)
from pgaudit_roles.core.errors import UsageError
from pgaudit_roles.core.sqlquote import quote_ident

ROOT = Path(__file__).resolve().parent.parent

# --- a small snapshot builder ----------------------------------------------------------

_DEFAULTS: dict[str, Any] = {
    "inherit": True,
    "set_option": True,
    "inherit_option": True,
    "admin_option": False,
    "grantable": False,
    "acl_state": "default",
    "predefined": False,
    "superuser": False,
    "login": False,
    "is_system": False,
    "subid": 0,
    "connection_limit": -1,
    "allow_connections": True,
    "is_template": False,
    "auditor_can_connect": True,
    "grantor_oid": 10,
}


def _table(spec: list[tuple[str, str, str]], rows: list[dict[str, Any]]) -> Table:
    cols = [c[0] for c in spec]
    for r in rows:
        unknown = set(r) - set(cols)
        assert not unknown, unknown
    return Table(columns=cols, rows=[[r.get(c, _DEFAULTS.get(c)) for c in cols] for r in rows])


def role(oid: int, name: str, **kw: Any) -> dict[str, Any]:
    return {"oid": oid, "name": name, **kw}


def member(role_oid: int, member_oid: int, **kw: Any) -> dict[str, Any]:
    return {"role_oid": role_oid, "member_oid": member_oid, **kw}


BOOT = role(10, "postgres", superuser=True, login=True, predefined=True)


def make(
    version: int = 160000,
    roles: list[dict] | None = None,
    memberships: list[dict] | None = None,
    databases: list[dict] | None = None,
    shared_acl: list[dict] | None = None,
    tablespaces: list[dict] | None = None,
    db: dict[str, list[dict]] | None = None,
    extra: dict[str, list[dict]] | None = None,
    meta: dict[str, Any] | None = None,
) -> Snapshot:
    """A snapshot with one collected database ``appdb`` (OID 5) holding ``db`` tables."""
    cluster = {
        "roles": _table(CLUSTER_TABLES["roles"], [BOOT, *(roles or [])]),
        "memberships": _table(CLUSTER_TABLES["memberships"], memberships or []),
        "databases": _table(
            CLUSTER_TABLES["databases"], databases or [{"oid": 5, "name": "appdb", "owner_oid": 10}]
        ),
        "shared_acl": _table(CLUSTER_TABLES["shared_acl"], shared_acl or []),
        "tablespaces": _table(CLUSTER_TABLES["tablespaces"], tablespaces or []),
    }
    for name, rows in (extra or {}).items():
        cluster[name] = _table(CLUSTER_TABLES[name], rows)
    tables = {name: _table(DATABASE_TABLES[name], rows) for name, rows in (db or {}).items()}
    m = {"server_version_num": version, "sources": {"roles": {"collected": True}}}
    m.update(meta or {})
    dbnames = {d["oid"]: d["name"] for d in (databases or [{"oid": 5, "name": "appdb"}])}
    dbs = [DatabaseSnapshot(oid=5, name=dbnames.get(5, "appdb"), status="collected", tables=tables)]
    return Snapshot(meta=m, cluster=cluster, databases=dbs)


def rows(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> list[tuple]:
    return con.execute(sql, params or []).fetchall()


SCHEMA = {"oid": 2200, "name": "app", "owner_oid": 100, "acl_state": "default", "is_system": False}


def obj(oid: int, cls: str, kind: str, name: str, **kw: Any) -> dict[str, Any]:
    base = {
        "object_class": cls,
        "oid": oid,
        "kind": kind,
        "schema_oid": 2200,
        "name": name,
        "owner_oid": 100,
        "acl_state": "default",
    }
    base.update(kw)
    return base


def acl(cls: str, oid: int, grantee: int, privilege: str, **kw: Any) -> dict[str, Any]:
    return {
        "object_class": cls,
        "object_oid": oid,
        "grantee_oid": grantee,
        "privilege": privilege,
        "grantor_oid": 100,
        **kw,
    }


# --- the contract ----------------------------------------------------------------------

_TYPE_ALIASES = {"TIMESTAMP WITH TIME ZONE": "TIMESTAMPTZ"}


def test_loaded_schema_matches_the_documented_contract() -> None:
    con = audit_schema.load(
        make(
            roles=[role(100, "owner")],
            db={"schemas": [SCHEMA], "objects": [obj(1000, "relation", "table", "t")]},
        )
    )
    main = {
        n
        for (n,) in rows(
            con, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
        )
    }
    assert main == set(audit_schema.AUDIT_TABLES), "undocumented or missing tables"
    for name, spec in audit_schema.AUDIT_TABLES.items():
        got = rows(
            con,
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'main' AND table_name = ? "
            "ORDER BY ordinal_position",
            [name],
        )
        actual = [(r[0], _TYPE_ALIASES.get(r[1], r[1])) for r in got]
        assert actual == [(c.name, c.type) for c in spec.columns], name
        kind = rows(
            con,
            "SELECT table_type FROM information_schema.tables "
            "WHERE table_schema = 'main' AND table_name = ?",
            [name],
        )[0][0]
        assert kind == ("VIEW" if spec.kind == "view" else "BASE TABLE"), name
        for c in spec.columns:
            assert c.description.strip(), f"{name}.{c.name} has no description"


def test_reference_doc_is_current() -> None:
    doc = (ROOT / audit_schema.DOC_PATH).read_text(encoding="utf-8")
    assert doc == audit_schema.render_audit_schema_doc(), (
        "docs/audit-schema.md is stale: run python -m pgaudit_roles.docgen"
    )
    for name in audit_schema.AUDIT_TABLES:
        assert f"## {name}\n" in doc


def test_bad_snapshot_columns_are_a_usage_error() -> None:
    s = make()
    s.cluster["roles"] = Table(columns=["oid", "name"], rows=[[1, "x"]])
    with pytest.raises(UsageError, match="roles"):
        audit_schema.load(s)


# --- NULL ACL expansion ----------------------------------------------------------------

ALL_KINDS = [
    (1001, "relation", "table"),
    (1002, "relation", "partitioned table"),
    (1003, "relation", "view"),
    (1004, "relation", "materialized view"),
    (1005, "relation", "foreign table"),
    (1006, "relation", "sequence"),
    (1007, "function", "function"),
    (1008, "function", "procedure"),
    (1009, "function", "aggregate"),
    (1010, "type", "enum"),
    (1011, "type", "domain"),
    (1012, "language", "language"),
    (1013, "large_object", "large object"),
    (1014, "fdw", "foreign-data wrapper"),
    (1015, "server", "server"),
]
EXPECTED_DEFAULTS = {
    "table": {
        ("owner", p)
        for p in ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")
    },
    "sequence": {("owner", "USAGE"), ("owner", "SELECT"), ("owner", "UPDATE")},
    "function": {("owner", "EXECUTE"), ("PUBLIC", "EXECUTE")},
    "type": {("owner", "USAGE"), ("PUBLIC", "USAGE")},
    "language": {("owner", "USAGE"), ("PUBLIC", "USAGE")},
    "large_object": {("owner", "SELECT"), ("owner", "UPDATE")},
    "fdw": {("owner", "USAGE")},
    "server": {("owner", "USAGE")},
    "schema": {("owner", "USAGE"), ("owner", "CREATE")},
    "database": {
        ("owner", "CREATE"),
        ("owner", "TEMPORARY"),
        ("owner", "CONNECT"),
        ("PUBLIC", "TEMPORARY"),
        ("PUBLIC", "CONNECT"),
    },
    "tablespace": {("owner", "CREATE")},
}


@pytest.mark.parametrize("version", [130000, 160000, 170000, 180000])
def test_null_acls_expand_to_the_builtin_defaults(version: int) -> None:
    objects = [
        obj(
            oid,
            cls,
            kind,
            f"o{oid}",
            schema_oid=None if cls in ("language", "large_object", "fdw", "server") else 2200,
        )
        for oid, cls, kind in ALL_KINDS
    ]
    con = audit_schema.load(
        make(
            version,
            roles=[role(100, "owner")],
            tablespaces=[{"oid": 1663, "name": "ts", "owner_oid": 100, "acl_state": "default"}],
            databases=[{"oid": 5, "name": "appdb", "owner_oid": 100}],
            db={"schemas": [SCHEMA], "objects": objects},
        )
    )
    got: dict[tuple[str, int], set[tuple[str, str]]] = {}
    for cls, oid, grantee, gid, priv, src, grantor in rows(
        con,
        """
            SELECT object_class, object_oid, grantee, grantee_oid, privilege, source, grantor
            FROM privileges""",
    ):
        assert src == "default" and grantor == "owner"
        assert (gid == 0) == (grantee == "PUBLIC")
        got.setdefault((cls, oid), set()).add(("PUBLIC" if gid == 0 else "owner", priv))
    table = set(EXPECTED_DEFAULTS["table"])
    if version >= 170000:
        table.add(("owner", "MAINTAIN"))
    for oid, cls, kind in ALL_KINDS:
        key = {"relation": "sequence" if kind == "sequence" else "table"}.get(cls, cls)
        want = table if key == "table" else EXPECTED_DEFAULTS[key]
        assert got[(cls, oid)] == want, (cls, kind)
        assert set(acl_defaults.default_acl(cls, kind, version)) == want
    assert got[("schema", 2200)] == EXPECTED_DEFAULTS["schema"]
    assert got[("database", 5)] == EXPECTED_DEFAULTS["database"]
    assert got[("tablespace", 1663)] == EXPECTED_DEFAULTS["tablespace"]


def test_explicit_empty_acl_means_nobody_but_superusers() -> None:
    con = audit_schema.load(
        make(
            roles=[
                role(100, "owner"),
                role(101, "alice", login=True),
                role(102, "root", superuser=True),
            ],
            db={
                "schemas": [SCHEMA],
                "objects": [obj(1000, "relation", "table", "locked", acl_state="explicit")],
            },
        )
    )
    assert rows(con, "SELECT count(*) FROM privileges WHERE object_oid = 1000") == [(0,)]
    holders = rows(
        con,
        """SELECT DISTINCT role, via FROM effective_privileges
                           WHERE object_oid = 1000 ORDER BY 1""",
    )
    assert holders == [("postgres", "superuser"), ("root", "superuser")]


def test_public_grants_reach_every_role_but_not_predefined_ones() -> None:
    con = audit_schema.load(
        make(
            roles=[
                role(100, "owner"),
                role(101, "alice", login=True),
                role(102, "bob"),
                role(3373, "pg_monitor", predefined=True),
            ],
            db={
                "schemas": [SCHEMA],
                "objects": [obj(1000, "relation", "table", "t", acl_state="explicit")],
                "acl": [acl("relation", 1000, 0, "SELECT"), acl("relation", 1000, 100, "SELECT")],
            },
        )
    )
    assert rows(
        con,
        "SELECT grantee, grantee_oid FROM privileges WHERE grantee_oid = 0 AND object_oid = 1000",
    ) == [("PUBLIC", 0)]
    got = rows(
        con,
        """SELECT role, via, via_role, path FROM effective_privileges
                       WHERE object_oid = 1000 AND via <> 'superuser' ORDER BY 1, 2""",
    )
    assert got == [
        ("alice", "public", "PUBLIC", ["alice", "PUBLIC"]),
        ("bob", "public", "PUBLIC", ["bob", "PUBLIC"]),
        ("owner", "owner", "owner", ["owner"]),
        ("owner", "public", "PUBLIC", ["owner", "PUBLIC"]),
    ]


# --- membership semantics ---------------------------------------------------------------


def _inherit_case(version: int) -> duckdb.DuckDBPyConnection:
    # ni: NOINHERIT role whose grant says INHERIT TRUE; fi: INHERIT role whose grant says
    # INHERIT FALSE (the 16+ per-grant option wins; 13-15 look at rolinherit only).
    return audit_schema.load(
        make(
            version,
            roles=[
                role(100, "owner"),
                role(200, "grp"),
                role(201, "ni", inherit=False),
                role(202, "fi"),
            ],
            memberships=[
                member(200, 201, inherit_option=True),
                member(200, 202, inherit_option=False),
            ],
            db={
                "schemas": [SCHEMA],
                "objects": [obj(1000, "relation", "table", "t", acl_state="explicit")],
                "acl": [acl("relation", 1000, 200, "SELECT")],
            },
        )
    )


@pytest.mark.parametrize("version,ni,fi", [(150000, False, True), (160000, True, False)])
def test_inheritance_rules_differ_before_and_after_16(version: int, ni: bool, fi: bool) -> None:
    con = _inherit_case(version)
    closure = dict(
        rows(
            con,
            """SELECT member, inherits FROM role_closure
                                WHERE role = 'grp' AND member <> 'grp'""",
        )
    )
    assert closure == {"ni": ni, "fi": fi}
    holders = {
        r
        for (r,) in rows(
            con, "SELECT role FROM effective_privileges WHERE object_oid = 1000 AND via = 'role'"
        )
    }
    assert holders == {n for n, ok in (("ni", ni), ("fi", fi)) if ok}


def test_noinherit_intermediate_stops_the_chain_on_15() -> None:
    con = audit_schema.load(
        make(
            150000,
            roles=[role(200, "top"), role(201, "mid", inherit=False), role(202, "leaf")],
            memberships=[member(200, 201), member(201, 202)],
        )
    )
    got = {
        (m, r): (i, s)
        for m, r, i, s in rows(
            con, "SELECT member, role, inherits, can_set FROM role_closure WHERE depth > 0"
        )
    }
    assert got == {
        ("mid", "top"): (False, True),
        ("leaf", "mid"): (True, True),
        ("leaf", "top"): (False, True),
    }


def test_several_grant_rows_per_pair_or_together_on_16() -> None:
    con = audit_schema.load(
        make(
            160000,
            roles=[role(200, "grp"), role(201, "u"), role(202, "adm")],
            memberships=[
                member(200, 201, inherit_option=False, set_option=False),
                member(200, 201, inherit_option=True, set_option=False, grantor_oid=202),
                member(200, 202, admin_option=True, inherit_option=False),
            ],
        )
    )
    assert rows(
        con,
        """SELECT inherits, can_set, path FROM role_closure
                        WHERE member = 'u' AND role = 'grp'""",
    ) == [(True, False, ["u", "grp"])]
    assert rows(con, "SELECT count(*) FROM memberships WHERE member = 'u'") == [(2,)]
    assert rows(con, "SELECT member_of FROM roles WHERE name = 'u'") == [(["grp"],)]


def test_membership_cycles_terminate_with_shortest_paths() -> None:
    con = audit_schema.load(
        make(
            roles=[role(200, "a"), role(201, "b"), role(202, "c")],
            memberships=[member(200, 201), member(201, 202), member(202, 200)],
        )
    )
    got = {
        (m, r): (d, p)
        for m, r, d, p in rows(
            con, "SELECT member, role, depth, path FROM role_closure WHERE database IS NULL"
        )
    }
    assert len(got) == 9 + 1  # 3x3 pairs plus postgres itself
    assert got[("c", "a")] == (2, ["c", "b", "a"])
    assert got[("a", "a")] == (0, ["a"])
    assert got[("a", "c")] == (1, ["a", "c"])


def test_set_option_chain_and_managed_superusers() -> None:
    con = audit_schema.load(
        make(
            160000,
            roles=[
                role(300, "rds_superuser"),
                role(301, "ops", login=True),
                role(302, "viewer", login=True),
                role(303, "grp"),
                role(304, "su", superuser=True),
                role(305, "app_x", login=True),
                role(306, "app_y", login=True),
            ],
            memberships=[
                member(300, 303),
                member(303, 301),
                member(300, 302, set_option=False),
                member(304, 305, inherit_option=False),
                member(304, 306, set_option=False),
            ],
        )
    )
    got = {
        n: (e, v)
        for n, e, v in rows(con, "SELECT name, superuser_equivalent, superuser_via FROM roles")
    }
    assert got["ops"] == (True, "rds_superuser")
    assert got["viewer"] == (False, None)
    assert got["postgres"] == (True, "SUPERUSER")
    assert got["rds_superuser"] == (False, None)
    # SET ROLE to a SUPERUSER role is left to role_closure (the documented contract)
    assert got["app_x"] == (False, None)
    assert got["app_y"] == (False, None)
    assert rows(
        con,
        "SELECT member FROM role_closure c JOIN roles t ON t.oid = c.role_oid "
        "WHERE t.superuser AND c.can_set AND c.depth > 0",
    ) == [("app_x",)]
    assert got["su"] == (True, "SUPERUSER")


def test_database_owner_membership_is_per_database() -> None:
    dbs = [
        {"oid": 5, "name": "appdb", "owner_oid": 100},
        {"oid": 6, "name": "other", "owner_oid": 101},
    ]
    con = audit_schema.load(
        make(
            140000,
            roles=[
                role(100, "owner"),
                role(101, "owner2"),
                role(102, "deployer", login=True),
                role(6171, "pg_database_owner", predefined=True),
            ],
            memberships=[member(100, 102)],
            databases=dbs,
            db={"schemas": [dict(SCHEMA, name="public", owner_oid=6171)]},
        )
    )
    got = sorted(
        rows(
            con,
            """SELECT database, member, role, path FROM role_closure
                              WHERE database IS NOT NULL""",
        )
    )
    assert got == [
        ("appdb", "deployer", "pg_database_owner", ["deployer", "owner", "pg_database_owner"]),
        ("appdb", "owner", "pg_database_owner", ["owner", "pg_database_owner"]),
        ("other", "owner2", "pg_database_owner", ["owner2", "pg_database_owner"]),
    ]
    holders = sorted(
        rows(
            con,
            """SELECT role, privilege, via, via_role FROM effective_privileges
                                  WHERE object_class = 'schema' AND via <> 'superuser'""",
        )
    )
    assert holders == [
        ("deployer", "CREATE", "owner", "pg_database_owner"),
        ("deployer", "USAGE", "owner", "pg_database_owner"),
        ("owner", "CREATE", "owner", "pg_database_owner"),
        ("owner", "USAGE", "owner", "pg_database_owner"),
    ]


def test_database_owner_edge_follows_rolinherit_on_14_and_15() -> None:
    def pdo_inherits(version: int) -> bool:
        con = audit_schema.load(
            make(
                version,
                roles=[
                    role(100, "owner", inherit=False),
                    role(6171, "pg_database_owner", predefined=True),
                ],
                databases=[{"oid": 5, "name": "appdb", "owner_oid": 100}],
            )
        )
        return rows(con, "SELECT inherits FROM role_closure WHERE database = 'appdb'")[0][0]

    assert pdo_inherits(150000) is False
    assert pdo_inherits(160000) is True


def test_predefined_roles_confer_privileges_without_acl_entries() -> None:
    con = audit_schema.load(
        make(
            170000,
            roles=[
                role(100, "owner"),
                role(6181, "pg_read_all_data", predefined=True),
                role(6182, "pg_write_all_data", predefined=True),
                role(6337, "pg_maintain", predefined=True),
                role(400, "etl", login=True),
                role(401, "maint", login=True),
            ],
            memberships=[member(6181, 400), member(6182, 400), member(6337, 401)],
            db={
                "schemas": [SCHEMA],
                # user objects have OIDs >= 16384; pg_class (1259) is a system catalog
                "objects": [
                    obj(20000, "relation", "table", "t", acl_state="explicit"),
                    obj(20001, "relation", "sequence", "s"),
                    obj(1259, "relation", "table", "pg_class", acl_state="explicit"),
                ],
            },
        )
    )
    got = sorted(
        rows(
            con,
            """SELECT role, object_name, privilege, via_role
                              FROM effective_privileges WHERE via = 'predefined'""",
        )
    )
    assert ("etl", "t", "SELECT", "pg_read_all_data") in got
    assert ("etl", "t", "DELETE", "pg_write_all_data") in got
    assert ("etl", "s", "UPDATE", "pg_write_all_data") in got
    assert ("etl", "s", "USAGE", "pg_read_all_data") not in got
    assert ("etl", "app", "USAGE", "pg_read_all_data") in got
    assert ("etl", "pg_class", "SELECT", "pg_read_all_data") in got
    assert not [g for g in got if g[1] == "pg_class" and g[2] in ("INSERT", "UPDATE", "DELETE")]
    assert ("maint", "t", "MAINTAIN", "pg_maintain") in got
    assert ("maint", "s", "MAINTAIN", "pg_maintain") not in got


def test_column_grants_and_names() -> None:
    col = 'we"ird\ncol'
    con = audit_schema.load(
        make(
            roles=[role(100, "owner"), role(101, "Alice Smith", login=True)],
            db={
                "schemas": [dict(SCHEMA, name="App Data")],
                "objects": [obj(1000, "relation", "table", "Orders", acl_state="explicit")],
                "columns": [{"table_oid": 1000, "attnum": 2, "name": col}],
                "acl": [
                    acl("relation", 1000, 100, "SELECT"),
                    acl("column", 1000, 101, "UPDATE", subid=2),
                ],
            },
        )
    )
    assert rows(con, "SELECT identity FROM objects") == [('"App Data"."Orders"',)]
    got = rows(
        con,
        """SELECT role, subid, column_name, privilege, via, identity
                       FROM effective_privileges WHERE object_class = 'column'""",
    )
    assert got == [("Alice Smith", 2, col, "UPDATE", "direct", '"App Data"."Orders"')]
    assert rows(con, "SELECT column_name, grantee FROM column_privileges") == [(col, "Alice Smith")]


# --- default privileges ------------------------------------------------------------------


def test_default_privileges_effective_follows_global_then_schema() -> None:
    da = "default_acls"
    con = audit_schema.load(
        make(
            roles=[role(100, "owner"), role(101, "writer"), role(102, "reader")],
            db={
                "schemas": [SCHEMA, dict(SCHEMA, oid=2201, name="other")],
                da: [
                    # global entry for functions: PUBLIC EXECUTE removed (replaces the builtin)
                    {
                        "oid": 1,
                        "creator_oid": 100,
                        "schema_oid": 0,
                        "objtype": "f",
                        "grantor_oid": 100,
                        "grantee_oid": 100,
                        "privilege": "EXECUTE",
                        "grantable": False,
                    },
                    # schema entry: reader gets SELECT on tables in app only
                    {
                        "oid": 2,
                        "creator_oid": 100,
                        "schema_oid": 2200,
                        "objtype": "r",
                        "grantor_oid": 100,
                        "grantee_oid": 102,
                        "privilege": "SELECT",
                        "grantable": False,
                    },
                    # empty global entry for types: nobody gets anything
                    {
                        "oid": 3,
                        "creator_oid": 100,
                        "schema_oid": 0,
                        "objtype": "T",
                        "grantor_oid": None,
                        "grantee_oid": None,
                        "privilege": None,
                        "grantable": None,
                    },
                ],
            },
        )
    )
    raw = rows(
        con,
        """SELECT scope, objtype, grantee, privilege, is_empty_marker
                       FROM default_privileges ORDER BY oid""",
    )
    assert raw == [
        ("global", "f", "owner", "EXECUTE", False),
        ("schema", "r", "reader", "SELECT", False),
        ("global", "T", None, None, True),
    ]

    def eff(schema: str, objtype: str) -> set[tuple[str, str, str]]:
        return set(
            rows(
                con,
                """SELECT grantee, privilege, source
                                FROM default_privileges_effective
                                WHERE creator = 'owner' AND schema = ? AND objtype = ?""",
                [schema, objtype],
            )
        )

    assert eff("app", "f") == {("owner", "EXECUTE", "global")}
    assert eff("app", "T") == set()
    assert ("reader", "SELECT", "schema") in eff("app", "r")
    assert ("owner", "SELECT", "builtin") in eff("app", "r")
    assert all(g != "reader" for g, _p, _s in eff("other", "r"))
    assert eff("other", "S") == {("owner", p, "builtin") for p in ("USAGE", "SELECT", "UPDATE")}


# --- other tables -----------------------------------------------------------------------


def test_functions_settings_and_meta() -> None:
    con = audit_schema.load(
        make(
            roles=[role(100, "owner", config=["search_path=app", "log_statement=none"])],
            extra={
                "db_role_settings": [
                    {"database_oid": 5, "role_oid": 100, "config": ["work_mem=64MB", "a=b=c"]},
                    {"database_oid": 5, "role_oid": 0, "config": ["statement_timeout=5s"]},
                ]
            },
            meta={
                "sources": {
                    "roles": {"collected": True},
                    "hba_rules": {"collected": False, "reason": "no privilege"},
                }
            },
            db={
                "schemas": [SCHEMA],
                "objects": [
                    obj(1000, "function", "function", "f", identity_args="x integer"),
                    obj(1001, "function", "function", "g", identity_args=""),
                ],
                "functions": [
                    {
                        "oid": 1000,
                        "security_definer": True,
                        "config": ["search_path=pg_catalog, pg_temp"],
                        "language": "sql",
                        "leakproof": False,
                    },
                    {
                        "oid": 1001,
                        "security_definer": False,
                        "config": None,
                        "language": "plpgsql",
                        "leakproof": False,
                    },
                ],
            },
        )
    )
    assert rows(
        con, "SELECT identity, search_path, security_definer FROM functions ORDER BY oid"
    ) == [("app.f(x integer)", "pg_catalog, pg_temp", True), ("app.g()", None, False)]
    got = set(rows(con, "SELECT role, database, name, value FROM role_settings"))
    assert got == {
        ("owner", None, "search_path", "app"),
        ("owner", None, "log_statement", "none"),
        ("owner", "appdb", "work_mem", "64MB"),
        ("owner", "appdb", "a", "b=c"),
        (None, "appdb", "statement_timeout", "5s"),
    }
    assert set(rows(con, "SELECT * FROM sources")) == {
        ("roles", True, None),
        ("hba_rules", False, "no privilege"),
    }
    assert ("server_version_num", "160000") in rows(con, "SELECT * FROM scan_meta")


def test_roles_kinds_and_apps_from_the_naming_policy() -> None:
    from pgaudit_roles.audit.naming import NamingPolicy

    pol = NamingPolicy(breakglass=["postgres"], auditor=["auditor"])
    con = audit_schema.load(
        make(
            roles=[
                role(100, "db_owner_api_prod"),
                role(101, "app_api_prod", login=True),
                role(102, "auditor", login=True),
                role(103, "mon_agent", login=True),
                role(3373, "pg_monitor", predefined=True),
                role(104, "rogue", superuser=True),
            ],
            memberships=[member(3373, 103), member(3373, 102)],
            db={"schemas": [dict(SCHEMA, name="api")]},
        ),
        pol,
    )
    got = {
        n: (k, a, e) for n, k, a, e in rows(con, "SELECT name, kind, app, environment FROM roles")
    }
    assert got["db_owner_api_prod"] == ("owner", "api", "prod")
    assert got["app_api_prod"] == ("app", "api", "prod")
    assert got["auditor"] == ("auditor", None, None)
    assert got["mon_agent"] == ("monitor", None, None)
    assert got["pg_monitor"] == ("predefined", None, None)
    assert got["rogue"] == ("admin", None, None)
    assert got["postgres"] == ("breakglass", None, None)
    assert rows(con, "SELECT name, app, owner_kind FROM schemas") == [("api", "api", "owner")]


def test_member_of_and_members_are_sorted_distinct_name_lists() -> None:
    """roles.member_of/members: each name once, in code point order (Python's sort of
    str, DuckDB's of UTF-8), also with several grant rows per pair (16+) and names that
    differ in case, quotes and non-ASCII letters; a grant naming an unknown role adds
    nothing."""
    names = ["b", "B", "a", 'q"uote', "é", "Z", "ä", "a b", "_x", "zz"]
    group_oids = list(range(200, 200 + len(names)))
    grants = [member(g, 101) for g in group_oids] + [member(g, 102) for g in group_oids[:4]]
    grants += [member(200, 101, grantor_oid=100), member(999, 101)]  # a second grantor; unknown
    grants += [member(201, 103), member(201, 104), member(201, 100)]
    con = audit_schema.load(
        make(
            roles=[
                role(100, "owner"),
                role(101, "m"),
                role(102, "n"),
                role(103, "Ö"),
                role(104, "Ab"),
                *(role(o, n) for o, n in zip(group_oids, names, strict=True)),
            ],
            memberships=grants,
        )
    )
    got = {n: (mo, ms) for n, mo, ms in rows(con, "SELECT name, member_of, members FROM roles")}
    assert got["m"] == (sorted(names), [])
    assert got["n"] == (sorted(names[:4]), [])
    assert got["b"][1] == ["m", "n"]
    assert got["B"][1] == sorted(["m", "n", "Ö", "Ab", "owner"]) == ["Ab", "m", "n", "owner", "Ö"]
    assert got["owner"] == (["B"], [])
    assert got["postgres"] == ([], [])


def test_a_load_makes_its_json_directory_only_when_it_writes_json(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Small tables go in as parameters: no temporary directory at all. A JSON insert makes
    one, and it is gone after the load."""
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    made: list[str] = []
    real = tempfile.mkdtemp

    def spy(*args: Any, **kwargs: Any) -> str:
        path = real(*args, **kwargs)
        made.append(path)
        return path

    monkeypatch.setattr(tempfile, "mkdtemp", spy)
    snap = make(roles=[role(100, "owner")], db={"schemas": [SCHEMA]})
    audit_schema.load(snap, con=duckdb.connect())
    assert made == []
    monkeypatch.setattr(audit_schema, "UNNEST_INSERT_ROWS", 0)
    con = audit_schema.load(snap, con=duckdb.connect())
    assert len(made) == 1 and "pgaudit-load-" in made[0]
    assert not Path(made[0]).exists()
    assert rows(con, "SELECT name FROM schemas") == [("app",)]


def _every_driving_table() -> Snapshot:
    """A snapshot whose every table in ``audit_schema._DRIVEN_BY`` has a row that its
    statement keeps."""
    return make(
        roles=[role(100, "owner"), role(101, "app", login=True)],
        db={
            "schemas": [SCHEMA],
            "objects": [
                obj(1000, "relation", "table", "t"),
                obj(1001, "function", "function", "f", identity_args=""),
            ],
            "rls_tables": [{"table_oid": 1000, "row_security": True, "force_row_security": False}],
            "policies": [
                {
                    "oid": 7,
                    "table_oid": 1000,
                    "name": "p",
                    "command": "r",
                    "permissive": True,
                    "role_oids": [101, 0],
                    "using_expr": "true",
                    "check_expr": None,
                }
            ],
            "triggers": [
                {
                    "oid": 8,
                    "table_oid": 1000,
                    "name": "tg",
                    "function_oid": 1001,
                    "function_owner_oid": 100,
                    "function_identity": "app.f()",
                    "function_security_definer": False,
                    "events": ["INSERT"],
                    "enabled": "O",
                }
            ],
            "event_triggers": [
                {
                    "oid": 9,
                    "name": "et",
                    "event": "ddl_command_end",
                    "owner_oid": 100,
                    "function_oid": 1001,
                    "function_owner_oid": 100,
                    "function_identity": "app.f()",
                    "function_security_definer": False,
                    "enabled": "O",
                }
            ],
            "user_mappings": [
                {
                    "oid": 10,
                    "server_oid": 11,
                    "server_name": "srv",
                    "user_oid": 0,
                    "option_names": ["user"],
                }
            ],
            "functions": [
                {
                    "oid": 1001,
                    "security_definer": False,
                    "config": None,
                    "language": "sql",
                    "leakproof": False,
                }
            ],
            "extensions": [
                {
                    "oid": 12,
                    "name": "plpgsql",
                    "owner_oid": 10,
                    "schema_oid": 2200,
                    "version": "1.0",
                }
            ],
            "default_acls": [
                {
                    "oid": 13,
                    "creator_oid": 100,
                    "schema_oid": 0,
                    "objtype": "r",
                    "grantor_oid": 100,
                    "grantee_oid": 101,
                    "privilege": "SELECT",
                    "grantable": False,
                }
            ],
        },
    )


def test_statements_driven_by_an_empty_raw_table_insert_nothing() -> None:
    """Each statement the loader skips when its raw table got no row (``_DRIVEN_BY``)
    inserts rows when that table has them and none when it is empty, whatever the other
    tables hold: skipping it changes nothing."""
    con = audit_schema.load(_every_driving_table())
    for name, source in audit_schema._DRIVEN_BY.items():
        sql = audit_schema._sql(name)
        target = sql.split()[2]
        con.execute(f"CREATE OR REPLACE TABLE _zz AS SELECT * FROM {target} LIMIT 0")
        redirected = sql.replace(f"INSERT INTO {target} ", "INSERT INTO _zz ", 1)
        assert redirected != sql, name
        assert con.execute(redirected).fetchone()[0] > 0, name  # the fixture feeds it
        con.execute(f"CREATE OR REPLACE TEMP TABLE _saved AS SELECT * FROM {source}")
        con.execute(f"DELETE FROM {source}")
        assert con.execute(redirected).fetchone()[0] == 0, name
        con.execute(f"INSERT INTO {source} SELECT * FROM _saved")


def test_skipped_statements_leave_the_same_schema(monkeypatch: pytest.MonkeyPatch) -> None:
    """A snapshot with none of the driving tables' rows: the loader runs none of their
    statements, and every table is what running them all gives."""
    snap = make(roles=[role(100, "owner")], db={"schemas": [SCHEMA]})
    ran: list[str] = []
    real = audit_schema._Loader.x

    def spy(self: Any, sql: str, params: Any = None) -> Any:
        ran.append(sql)
        return real(self, sql, params)

    monkeypatch.setattr(audit_schema._Loader, "x", spy)
    skipped = audit_schema.load(snap)
    for name in audit_schema._DRIVEN_BY:
        assert audit_schema._sql(name) not in ran, name
    monkeypatch.setattr(audit_schema, "_DRIVEN_BY", {})
    ran.clear()
    every = audit_schema.load(snap)
    assert audit_schema._sql("load_policies") in ran
    for name in audit_schema.AUDIT_TABLES:
        q = f'SELECT * FROM "{name}" ORDER BY ALL'  # noqa: S608 - documented names
        assert skipped.execute(q).fetchall() == every.execute(q).fetchall(), name
    full = audit_schema.load(_every_driving_table())
    for table in ("policies", "triggers", "event_triggers", "user_mappings", "rls_tables"):
        assert full.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 1, table


def test_object_identities_quote_schema_and_name_like_postgres() -> None:
    """objects.identity is pg_qualified(schema, name) (quote_ident of each part), with a
    function's arguments, a large object's bare name, and the name alone without a
    schema: for hostile, keyword and mixed-case schema and object names."""
    names = ["t", "Mixed", "select", 'q"uote', "dot.ted", "ünï", "a b", "1x", "_ok"]
    schemas = [dict(SCHEMA, oid=2200 + i, name=n) for i, n in enumerate(names)]
    objects = []
    expected = {}
    for i, sname in enumerate(names):
        for j, oname in enumerate(names):
            oid = 10000 + 100 * i + j
            kind = ("relation", "table") if j % 2 else ("function", "function")
            extra = {"identity_args": "integer, text"} if kind[0] == "function" else {}
            objects.append(obj(oid, *kind, oname, schema_oid=2200 + i, **extra))
            ident = f"{quote_ident(sname)}.{quote_ident(oname)}"
            expected[oid] = ident + ("(integer, text)" if kind[0] == "function" else "")
    objects.append(obj(90001, "language", "language", "Plä", schema_oid=None))
    expected[90001] = quote_ident("Plä")
    objects.append(obj(90002, "large_object", "large object", "90002", schema_oid=None))
    expected[90002] = "90002"
    objects.append(obj(90003, "relation", "table", "orphan", schema_oid=4242))  # no such schema
    expected[90003] = "orphan"
    con = audit_schema.load(make(db={"schemas": schemas, "objects": objects}))
    got = dict(rows(con, "SELECT oid, identity FROM objects"))
    assert got == expected


def test_function_search_path_is_the_first_search_path_item_of_its_config() -> None:
    configs = {
        3000: None,
        3001: [],
        3002: ["search_path=app, public"],
        3003: ["work_mem=1MB", 'search_path="$user", pg_temp', "search_path=later"],
        3004: [None, "search_path="],
        3005: ["Search_path=x", " search_path=y", "search_pathx=z"],
        3006: ["search_path=ünï=cødé"],
    }
    want = {
        3000: None,
        3001: None,
        3002: "app, public",
        3003: '"$user", pg_temp',
        3004: "",
        3005: None,
        3006: "ünï=cødé",
    }
    con = audit_schema.load(
        make(
            db={
                "schemas": [SCHEMA],
                "objects": [obj(o, "function", "function", f"f{o}") for o in configs],
                "functions": [
                    {
                        "oid": o,
                        "security_definer": False,
                        "config": c,
                        "language": "sql",
                        "leakproof": False,
                    }
                    for o, c in configs.items()
                ],
            }
        )
    )
    assert dict(rows(con, "SELECT oid, search_path FROM functions")) == want


# --- quoting and load paths ---------------------------------------------------------------

_names = st.text(
    alphabet=st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)),
    min_size=1,
    max_size=12,
)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        _names
        | st.sampled_from(
            ["select", "user", "abc", "a_1", "Abc", "x$", "1a", "from", "name", "order", "é"]
        ),
        min_size=1,
        max_size=20,
    )
)
def test_pg_quote_ident_macro_matches_sqlquote(names: list[str]) -> None:
    con = _macro_con()
    got = con.execute(
        "SELECT n, pg_quote_ident(n) FROM unnest(?::VARCHAR[]) t(n)", [names]
    ).fetchall()
    for n, quoted in got:
        assert quoted == quote_ident(n), n


_CON: list[duckdb.DuckDBPyConnection] = []


def _macro_con() -> duckdb.DuckDBPyConnection:
    if not _CON:
        _CON.append(audit_schema.load(make()))
    return _CON[0]


def test_fallback_load_path_without_file_access_gives_the_same_schema() -> None:
    snap = make(
        roles=[role(100, "owner"), role(101, 'we"ird\nname', login=True)],
        memberships=[member(100, 101)],
        db={
            "schemas": [SCHEMA],
            "objects": [obj(1000, "relation", "table", "t", acl_state="explicit")],
            "acl": [acl("relation", 1000, 101, "SELECT", grantable=True)],
        },
    )
    fast = audit_schema.load(snap)
    locked = duckdb.connect()
    locked.execute("SET enable_external_access = false")
    slow = audit_schema.load(snap, con=locked)
    for name in audit_schema.AUDIT_TABLES:
        q = f'SELECT * FROM "{name}" ORDER BY ALL'  # noqa: S608 - documented names
        assert fast.execute(q).fetchall() == slow.execute(q).fetchall(), name
    assert slow.execute("SELECT count(*) FROM effective_privileges").fetchone()[0] > 0


def test_json_file_and_parameter_insert_paths_give_the_same_schema(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Small tables go in as list parameters, large ones through a JSON file: forcing
    every table down either path gives the same audit schema."""
    snap = make(
        roles=[role(100, "owner"), role(101, 'we"ird\nname', login=True), role(102, "über")],
        memberships=[member(100, 101), member(101, 102)],
        db={
            "schemas": [SCHEMA],
            "objects": [obj(1000, "relation", "table", "t", acl_state="explicit")],
            "acl": [acl("relation", 1000, 101, "SELECT", grantable=True)],
        },
    )
    monkeypatch.setattr(audit_schema, "UNNEST_INSERT_ROWS", 0)
    by_file = audit_schema.load(snap)
    monkeypatch.setattr(audit_schema, "UNNEST_INSERT_ROWS", 10**9)
    by_param = audit_schema.load(snap)
    for name in audit_schema.AUDIT_TABLES:
        q = f'SELECT * FROM "{name}" ORDER BY ALL'  # noqa: S608 - documented names
        assert by_file.execute(q).fetchall() == by_param.execute(q).fetchall(), name
    roles = by_file.execute("SELECT count(*) FROM roles").fetchone()[0]
    assert roles >= 3


_HOSTILE_TEXT = [
    "plain",
    "",
    'Weird "quoted"',
    "new\nline",
    "back\\slash",
    "ünïcødé_名前",
    "emoji \U0001f600",
    "\u202eevil\u2028sep\u2029",
    "\x01\x1f ctl \x7f",
    "a\x00b",
    '{"json": [1]}',
    "[1, 2]",
    "null",
    "true",
    " 12 ",
]


def test_json_inserts_read_back_exactly_the_rows_given(monkeypatch: pytest.MonkeyPatch) -> None:
    """A JSON insert reads a table of scalars as text and casts it, a table with a list
    column as JSON values: both give back exactly the Python rows (hostile text, NULL
    and empty apart, 64- and 32-bit extremes), as the parameter path does."""
    objects = [
        [
            cls,
            2**62 + n,
            text,
            n - 2**31 if n % 2 else None,
            text or None,
            None,
            n,
            "explicit",
            None if n % 3 else text,
            n % 2 == 0,
        ]
        for n, (cls, text) in enumerate(
            (c, t) for c in ("relation", "function") for t in _HOSTILE_TEXT
        )
    ]
    objects += [["type", 2**63 - 1, "max", -(2**63), "m", "", 2**31 - 1, "default", None, None]]
    functions = [
        [3000 + n, n % 2 == 0, None if n % 4 == 0 else [text, "", "x"], text or None, None]
        for n, text in enumerate(_HOSTILE_TEXT)
    ]
    snap = make(db={"objects": [], "functions": []})
    snap.databases[0].tables["objects"] = Table(
        columns=[c[0] for c in DATABASE_TABLES["objects"]], rows=objects
    )
    snap.databases[0].tables["functions"] = Table(
        columns=[c[0] for c in DATABASE_TABLES["functions"]], rows=functions
    )
    loaded = {}
    for limit in (0, 10**9):  # every table through a JSON file, then as parameters
        monkeypatch.setattr(audit_schema, "UNNEST_INSERT_ROWS", limit)
        con = audit_schema.load(snap)
        loaded[limit] = [
            [list(r[1:]) for r in con.execute(f"SELECT * FROM internal.db_{t}_raw").fetchall()]
            for t in ("objects", "functions")
        ]
    key = repr
    for got in loaded.values():
        assert sorted(got[0], key=key) == sorted(objects, key=key)
        assert sorted(got[1], key=key) == sorted(functions, key=key)


def test_lock_down_blocks_file_access() -> None:
    con = audit_schema.load(make())
    audit_schema.lock_down(con)
    with pytest.raises(duckdb.Error):
        con.execute("SELECT * FROM read_csv('/etc/passwd')").fetchall()
    with pytest.raises(duckdb.Error):
        con.execute("SET enable_external_access = true")


def test_databases_not_collected_keep_their_shared_facts() -> None:
    s = make(
        roles=[role(100, "owner")],
        databases=[
            {"oid": 5, "name": "appdb", "owner_oid": 100},
            {
                "oid": 7,
                "name": "locked",
                "owner_oid": 100,
                "acl_state": "explicit",
                "auditor_can_connect": False,
            },
        ],
        shared_acl=[
            {
                "object_class": "database",
                "object_oid": 7,
                "object_name": "locked",
                "grantor_oid": 100,
                "grantee_oid": 100,
                "privilege": "CONNECT",
                "grantable": False,
            }
        ],
    )
    s.databases.append(
        DatabaseSnapshot(
            oid=7, name="locked", status="not_collected", reason="no CONNECT privilege"
        )
    )
    con = audit_schema.load(s)
    assert rows(
        con, "SELECT name, collected, not_collected_reason FROM databases ORDER BY name"
    ) == [("appdb", True, None), ("locked", False, "no CONNECT privilege")]
    assert rows(
        con,
        "SELECT grantee, privilege, source FROM privileges "
        "WHERE object_class = 'database' AND object_name = 'locked'",
    ) == [("owner", "CONNECT", "explicit")]
    assert rows(con, "SELECT count(*) FROM schemas WHERE database = 'locked'") == [(0,)]


def test_hba_rules_get_the_derived_columns_from_hba_analysis(monkeypatch: Any) -> None:
    from pgaudit_roles.audit.hba_analysis import ANALYSIS_COLUMNS

    spec = [c.name for c in audit_schema.AUDIT_TABLES["hba_rules"].columns]
    assert spec == [c[0] for c in CLUSTER_TABLES["hba_rules"]] + [c[0] for c in ANALYSIS_COLUMNS]
    hba_rows = [
        {
            "rule_number": 1,
            "line_number": 1,
            "type": "host",
            "databases": ["all"],
            "users": ["+grp"],
            "address": "10.0.0.0",
            "netmask": "255.0.0.0",
            "auth_method": "scram-sha-256",
        },
        {
            "rule_number": 2,
            "line_number": 2,
            "type": "host",
            "databases": ["all"],
            "users": ["alice"],
            "address": "10.1.0.0",
            "netmask": "255.255.0.0",
            "auth_method": "trust",
        },
        {"rule_number": None, "line_number": 3, "type": "hostssl", "error": "bad"},
    ]
    con = audit_schema.load(
        make(
            roles=[role(200, "grp"), role(201, "alice", login=True)],
            memberships=[member(200, 201)],
            extra={"hba_rules": hba_rows},
        )
    )
    got = rows(
        con,
        "SELECT line_number, is_remote, prefix_len, address_count, in_effect, "
        "shadowed_by FROM hba_rules ORDER BY line_number",
    )
    # alice is a member of grp, so line 1 (+grp from 10/8) shadows line 2 (alice, 10.1/16)
    assert got == [
        (1, True, 8, 2.0**24, True, None),
        (2, True, 16, 2.0**16, True, 1),
        (3, True, None, None, False, None),
    ]
    monkeypatch.setattr(audit_schema, "analyze_facts", lambda *a: iter([]))  # wrong length: ignored
    con = audit_schema.load(make(extra={"hba_rules": hba_rows}))
    assert rows(con, "SELECT count(*), count(is_remote) FROM hba_rules") == [(3, 0)]
