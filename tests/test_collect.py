"""The collector against real servers 13-18: the snapshot must say what the catalogs say.

The fixture layout (tests/layouts) is built once per server; it is collected once as the
superuser and once as a pg_monitor-only auditor with the bootstrap grants, and each
snapshot table is compared with the server's own catalogs through independent queries
(target-list aclexplode, direct catalog reads), plus specific rows for each edge case.
"""

from __future__ import annotations

from typing import Any

import pytest
from layouts import FX, apply_fixture_layout, make_auditor

from pgaudit_roles.collect.collector import collect
from pgaudit_roles.collect.snapshot import SOURCES, DatabaseSnapshot, Snapshot, load, save

pytestmark = pytest.mark.pg


@pytest.fixture(scope="module")
def layout_db(pg) -> str:
    name = pg.unique("layout")
    pg.create_database(name)
    apply_fixture_layout(pg, name)
    return name


@pytest.fixture(scope="module")
def auditor(pg, layout_db) -> str:
    return make_auditor(pg, pg.unique("auditor"), password_check=True)


@pytest.fixture(scope="module")
def snaps(pg, layout_db, auditor) -> tuple[Snapshot, Snapshot]:
    """(superuser snapshot, auditor snapshot), taken back to back."""
    return collect(pg.conninfo()), collect(auditor)


def db_of(snap: Snapshot, name: str) -> DatabaseSnapshot:
    matches = [d for d in snap.databases if d.name == name]
    assert len(matches) == 1, [d.name for d in snap.databases]
    return matches[0]


def rows(table: Any) -> list[dict[str, Any]]:
    return list(table.dicts())


def oid_of(pg, sql: str, *params: Any, dbname: str = "postgres") -> int:
    return int(pg.query(sql, params, dbname=dbname)[0][0])


def role_oid(pg, name: str) -> int:
    return oid_of(pg, "SELECT oid FROM pg_roles WHERE rolname = %s", name)


def rel_oid(pg, db: str, qualified: str) -> int:
    return oid_of(pg, "SELECT %s::regclass::oid", qualified, dbname=db)


# --- meta -------------------------------------------------------------------------------


def test_meta_describes_target_and_every_source(pg, snaps):
    su, aud = snaps
    for snap in (su, aud):
        meta = snap.meta
        assert meta["server_version_num"] // 10000 == pg.major
        assert meta["server_version"].startswith(str(pg.major))
        assert set(meta["sources"]) == set(SOURCES)
        for src in meta["sources"].values():
            assert isinstance(src["collected"], bool)
            assert src["reason"] is None or isinstance(src["reason"], str)
        assert set(meta["target"]) == {"host", "port", "dbname", "user"}
        assert meta["target"]["port"] == pg.cluster.port
        assert meta["collected_at"].endswith("+00:00")
        assert meta["databases_requested"] is None
    assert su.meta["is_superuser"] is True and su.meta["connected_user"] == "postgres"
    assert aud.meta["is_superuser"] is False
    assert aud.meta["capabilities"]["pg_monitor"] is True


# --- cluster-wide tables vs catalogs ----------------------------------------------------


def test_roles_match_pg_roles(pg, snaps):
    su, _ = snaps
    expected = {
        r[0]: r[1:]
        for r in pg.query(
            "SELECT oid::int8, rolname::text, rolsuper, rolinherit, rolcreaterole, rolcreatedb,"
            " rolcanlogin, rolreplication, rolbypassrls, rolconnlimit, rolconfig FROM pg_roles"
        )
    }
    got = {
        r["oid"]: (
            r["name"],
            r["superuser"],
            r["inherit"],
            r["createrole"],
            r["createdb"],
            r["login"],
            r["replication"],
            r["bypassrls"],
            r["connection_limit"],
            r["config"],
        )
        for r in rows(su.table("roles"))
    }
    assert got == {k: tuple(v) for k, v in expected.items()}
    by_name = {r["name"]: r for r in rows(su.table("roles"))}
    assert by_name[FX.expiring]["valid_until"] == "2030-01-02T03:04:05Z"
    assert by_name[FX.expiring]["connection_limit"] == 5
    assert by_name[FX.noinherit]["inherit"] is False
    assert by_name[FX.owner]["comment"] == "owns app_data <b>objects</b>"
    assert by_name[FX.owner]["login"] is False and by_name[FX.app]["login"] is True
    assert sorted(by_name[FX.md5]["config"]) == sorted(
        ["log_statement=none", 'search_path="$user", public']
    )
    assert by_name["pg_monitor"]["predefined"] is True
    assert by_name[FX.owner]["predefined"] is False
    assert by_name[FX.hostile_role]["login"] is True


def test_password_types(pg, snaps):
    su, aud = snaps
    for snap in (su, aud):
        assert snap.source_collected("password_types"), snap.meta["sources"]["password_types"]
        types = {r["name"]: r["password_type"] for r in rows(snap.table("roles"))}
        assert types[FX.md5] == "md5"
        assert types[FX.scram] == "scram-sha-256"
        assert types[FX.owner] == "none"
    assert aud.meta["sources"]["password_types"]["origin"] == "pgaudit_roles.password_types()"


def test_memberships_match_pg_auth_members(pg, snaps):
    su, _ = snaps
    if pg.major >= 16:
        sql = (
            "SELECT m.roleid::int8, m.member::int8, m.grantor::int8, m.admin_option,"
            " m.inherit_option, m.set_option FROM pg_auth_members m"
        )
    else:
        sql = (
            "SELECT m.roleid::int8, m.member::int8, m.grantor::int8, m.admin_option,"
            " r.rolinherit, true FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.member"
        )
    expected = sorted(tuple(r) for r in pg.query(sql))
    got = sorted(tuple(r) for r in su.table("memberships").rows)
    assert got == expected

    def grant(role: str, member: str) -> dict[str, Any]:
        found = [
            m
            for m in rows(su.table("memberships"))
            if m["role_oid"] == role_oid(pg, role) and m["member_oid"] == role_oid(pg, member)
        ]
        assert len(found) == 1, found
        return found[0]

    assert grant(FX.reader, FX.noinherit)["inherit_option"] is False
    assert grant(FX.reader, FX.admin)["admin_option"] is True
    assert grant(FX.reader, FX.hostile_role)["inherit_option"] is True
    inh, setf = grant(FX.writer, FX.inherit_false), grant(FX.owner, FX.set_false)
    if pg.major >= 16:
        assert (inh["inherit_option"], inh["set_option"]) == (False, True)
        assert (setf["inherit_option"], setf["set_option"]) == (True, False)
    else:  # no grant options before 16: the member's INHERIT, SET always possible
        assert (inh["inherit_option"], inh["set_option"]) == (True, True)
        assert (setf["inherit_option"], setf["set_option"]) == (True, True)


def test_databases_settings_and_shared_acl(pg, snaps, layout_db):
    su, aud = snaps
    dbs = {r["name"]: r for r in rows(su.table("databases"))}
    expected = {
        r[0]: r[1:]
        for r in pg.query(
            "SELECT datname::text, oid::int8, datdba::int8, datallowconn, datistemplate,"
            " datconnlimit, datacl IS NULL FROM pg_database"
        )
    }
    assert set(dbs) == set(expected)
    for name, (oid, dba, allow, tmpl, limit, acl_null) in expected.items():
        d = dbs[name]
        assert (
            d["oid"],
            d["owner_oid"],
            d["allow_connections"],
            d["is_template"],
            d["connection_limit"],
        ) == (oid, dba, allow, tmpl, limit)
        assert d["acl_state"] == ("default" if acl_null else "explicit")
        assert d["auditor_can_connect"] is True  # superuser
    aud_dbs = {r["name"]: r for r in rows(aud.table("databases"))}
    assert aud_dbs[FX.noconnect_db]["auditor_can_connect"] is False
    assert aud_dbs[layout_db]["auditor_can_connect"] is True  # via pg_monitor

    oracle = [
        "SELECT 'database', d.oid::int8, d.datname::text, (aclexplode(d.datacl)).*"
        " FROM pg_database d",
        "SELECT 'tablespace', t.oid::int8, t.spcname::text, (aclexplode(t.spcacl)).*"
        " FROM pg_tablespace t",
    ]
    if pg.major >= 15:
        oracle.append(
            "SELECT 'parameter', p.oid::int8, p.parname::text, (aclexplode(p.paracl)).*"
            " FROM pg_parameter_acl p"
        )
    expected_shared = sorted(tuple(r) for sql in oracle for r in pg.query(sql))
    assert sorted(tuple(r) for r in su.table("shared_acl").rows) == expected_shared
    shared = rows(su.table("shared_acl"))
    assert any(
        s["object_class"] == "database"
        and s["object_name"] == layout_db
        and s["grantee_oid"] == role_oid(pg, FX.deploy)
        and s["privilege"] == "TEMPORARY"
        and s["grantable"]
        for s in shared
    )
    assert not any(s["object_name"] == layout_db and s["grantee_oid"] == 0 for s in shared)
    if pg.major >= 15:
        assert any(
            s["object_class"] == "parameter"
            and s["object_name"] == "log_statement"
            and s["grantee_oid"] == role_oid(pg, FX.deploy)
            and s["privilege"] == "SET"
            for s in shared
        )

    layout_oid = dbs[layout_db]["oid"]
    settings = {
        (r["database_oid"], r["role_oid"]): r["config"] for r in rows(su.table("db_role_settings"))
    }
    assert settings[(layout_oid, role_oid(pg, FX.app))] == ["statement_timeout=5s"]

    names = {r["name"]: r for r in rows(su.table("settings"))}
    for must in (
        "password_encryption",
        "ssl",
        "log_statement",
        "listen_addresses",
        "shared_preload_libraries",
        "log_connections",
        "log_disconnections",
    ):
        assert must in names, must
    assert names["log_statement"]["setting"] == "all"
    assert names["password_encryption"]["setting"] == "scram-sha-256"
    assert aud.source_collected("settings") and aud.source_collected("activity")


def test_activity_sees_other_sessions(pg, snaps):
    su, aud = snaps
    for snap in (su, aud):
        assert snap.source_collected("activity")
        acts = rows(snap.table("activity"))
        assert acts, "pg_stat_activity had no other session"
        assert any(a["backend_type"] == "checkpointer" for a in acts)


# --- per-database tables vs catalogs ----------------------------------------------------

USER_SCHEMAS = (FX.app_schema, FX.misc_schema, FX.hostile_schema, "public")

ORACLE_ACL = """
SELECT 'schema', n.oid::int8, 0, (aclexplode(n.nspacl)).* FROM pg_namespace n WHERE n.nspname = ANY(%(s)s)
UNION ALL
SELECT 'relation', c.oid::int8, 0, (aclexplode(c.relacl)).* FROM pg_class c
  WHERE c.relnamespace IN (SELECT oid FROM pg_namespace WHERE nspname = ANY(%(s)s))
    AND c.relkind IN ('r','p','v','m','S','f')
UNION ALL
SELECT 'column', a.attrelid::int8, a.attnum::int, (aclexplode(a.attacl)).* FROM pg_attribute a
  JOIN pg_class c ON c.oid = a.attrelid
  WHERE c.relnamespace IN (SELECT oid FROM pg_namespace WHERE nspname = ANY(%(s)s))
    AND a.attnum > 0 AND NOT a.attisdropped
UNION ALL
SELECT 'function', p.oid::int8, 0, (aclexplode(p.proacl)).* FROM pg_proc p
  WHERE p.pronamespace IN (SELECT oid FROM pg_namespace WHERE nspname = ANY(%(s)s))
UNION ALL
SELECT 'type', t.oid::int8, 0, (aclexplode(t.typacl)).* FROM pg_type t
  WHERE t.typnamespace IN (SELECT oid FROM pg_namespace WHERE nspname = ANY(%(s)s))
    AND t.typarray <> 0
UNION ALL
SELECT 'language', l.oid::int8, 0, (aclexplode(l.lanacl)).* FROM pg_language l
UNION ALL
SELECT 'large_object', m.oid::int8, 0, (aclexplode(m.lomacl)).* FROM pg_largeobject_metadata m
UNION ALL
SELECT 'fdw', w.oid::int8, 0, (aclexplode(w.fdwacl)).* FROM pg_foreign_data_wrapper w
UNION ALL
SELECT 'server', s.oid::int8, 0, (aclexplode(s.srvacl)).* FROM pg_foreign_server s
"""


def _user_scope_acl(pg, db: str, snap_db: DatabaseSnapshot) -> list[tuple]:
    nsp = {
        int(r[0])
        for r in pg.query(
            "SELECT oid FROM pg_namespace WHERE nspname = ANY(%s)", (list(USER_SCHEMAS),), dbname=db
        )
    }
    objects = {(o["object_class"], o["oid"]): o for o in rows(snap_db.table("objects"))}
    out = []
    for a in rows(snap_db.table("acl")):
        key = (a["object_class"] if a["object_class"] != "column" else "relation", a["object_oid"])
        if a["object_class"] == "schema":
            keep = a["object_oid"] in nsp
        else:
            obj = objects[key]
            keep = obj["schema_oid"] is None or obj["schema_oid"] in nsp
        if keep:
            out.append(tuple(a[c] for c in snap_db.table("acl").columns))
    return sorted(out)


def test_acl_rows_match_aclexplode(pg, snaps, layout_db):
    su, _ = snaps
    d = db_of(su, layout_db)
    expected = sorted(
        tuple(r) for r in pg.query(ORACLE_ACL, {"s": list(USER_SCHEMAS)}, dbname=layout_db)
    )
    assert _user_scope_acl(pg, layout_db, d) == expected
    assert len(expected) > 30


def test_acl_specific_rows(pg, snaps, layout_db):
    su, _ = snaps
    d = db_of(su, layout_db)
    acl = rows(d.table("acl"))
    owner, writer, reader = (role_oid(pg, r) for r in (FX.owner, FX.writer, FX.reader))
    customers = rel_oid(pg, layout_db, "app_data.customers")
    orders = rel_oid(pg, layout_db, "app_data.orders")
    names_view = rel_oid(pg, layout_db, "app_data.customer_names")
    attnum = {
        r[0]: r[1]
        for r in pg.query(
            "SELECT attname::text, attnum::int FROM pg_attribute WHERE attrelid = %s AND attnum > 0",
            (customers,),
            dbname=layout_db,
        )
    }

    def has(cls: str, oid: int, subid: int, grantee: int, priv: str, grantable: bool) -> bool:
        return any(
            (
                a["object_class"],
                a["object_oid"],
                a["subid"],
                a["grantee_oid"],
                a["privilege"],
                a["grantable"],
            )
            == (cls, oid, subid, grantee, priv, grantable)
            for a in acl
        )

    jane = role_oid(pg, FX.analyst)
    assert has("column", customers, attnum["id"], jane, "SELECT", False)
    assert has("column", customers, attnum["name"], jane, "SELECT", False)
    assert not has("column", customers, attnum["ssn"], jane, "SELECT", False)
    assert has("column", customers, attnum["email"], writer, "UPDATE", False)
    assert has("relation", orders, 0, writer, "SELECT", True)  # WITH GRANT OPTION
    assert has("relation", orders, 0, writer, "INSERT", False)  # per-schema default
    assert has("relation", customers, 0, reader, "SELECT", False)
    assert has("relation", names_view, 0, 0, "SELECT", False)  # PUBLIC
    assert has("relation", orders, 0, writer, "MAINTAIN", False) == (pg.major >= 17)
    assert all(
        a["grantor_oid"] == owner
        for a in acl
        if a["object_oid"] in (customers, orders) and a["object_class"] == "relation"
    )
    sd = oid_of(
        pg, "SELECT 'app_data.sd_no_search_path(bigint)'::regprocedure::oid", dbname=layout_db
    )
    assert has("function", sd, 0, 0, "EXECUTE", False)
    order_count = oid_of(pg, "SELECT 'app_data.order_count()'::regprocedure::oid", dbname=layout_db)
    assert not any(a["object_oid"] == order_count and a["grantee_oid"] == 0 for a in acl)
    server = oid_of(
        pg, "SELECT oid FROM pg_foreign_server WHERE srvname = 'fx_server'", dbname=layout_db
    )
    assert has("server", server, 0, 0, "USAGE", False)
    lo = oid_of(
        pg, "SELECT oid FROM pg_largeobject_metadata WHERE lomowner = %s", owner, dbname=layout_db
    )
    assert has("large_object", lo, 0, reader, "SELECT", False)
    misc = oid_of(pg, "SELECT oid FROM pg_namespace WHERE nspname = 'fx_misc'", dbname=layout_db)
    assert has("schema", misc, 0, 0, "CREATE", False)


def test_null_acl_and_empty_acl_stay_distinct(pg, snaps, layout_db):
    su, _ = snaps
    d = db_of(su, layout_db)
    objects = {(o["object_class"], o["oid"]): o for o in rows(d.table("objects"))}
    plain = rel_oid(pg, layout_db, "fx_misc.plain")
    seq = rel_oid(pg, layout_db, "app_data.invoice_seq")
    assert pg.query(
        "SELECT relacl IS NULL FROM pg_class WHERE oid = %s", (plain,), dbname=layout_db
    ) == [(True,)]
    assert pg.query(
        "SELECT cardinality(relacl) = 0 FROM pg_class WHERE oid = %s", (seq,), dbname=layout_db
    ) == [(True,)]
    assert objects[("relation", plain)]["acl_state"] == "default"
    assert objects[("relation", seq)]["acl_state"] == "explicit"
    acl_oids = {a["object_oid"] for a in rows(d.table("acl"))}
    assert plain not in acl_oids and seq not in acl_oids


def test_objects_match_catalogs(pg, snaps, layout_db):
    su, _ = snaps
    d = db_of(su, layout_db)
    nsp = {
        r[0]: int(r[1])
        for r in pg.query("SELECT nspname::text, oid FROM pg_namespace", dbname=layout_db)
    }
    objs = rows(d.table("objects"))
    in_app = [o for o in objs if o["schema_oid"] == nsp["app_data"]]
    kinds = {(o["object_class"], o["kind"], o["name"]) for o in in_app}
    expected_rel = {
        ("relation", k, n)
        for n, k in pg.query(
            "SELECT relname::text, CASE relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'partitioned table'"
            " WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' WHEN 'S' THEN 'sequence'"
            " WHEN 'f' THEN 'foreign table' END FROM pg_class WHERE relnamespace = %s"
            " AND relkind IN ('r','p','v','m','S','f')",
            (nsp["app_data"],),
            dbname=layout_db,
        )
    }
    assert {k for k in kinds if k[0] == "relation"} == expected_rel
    for item in [
        ("relation", "table", "customers"),
        ("relation", "partitioned table", "events"),
        ("relation", "view", "customer_names"),
        ("relation", "materialized view", "order_totals"),
        ("relation", "sequence", "invoice_seq"),
        ("relation", "foreign table", "remote_things"),
        ("function", "function", "order_count"),
        ("function", "procedure", "archive_orders"),
        ("function", "aggregate", "total_sum"),
        ("type", "enum", "order_status"),
        ("type", "domain", "email_address"),
        ("type", "range", "amount_range"),
        ("type", "composite", "postal_address"),
    ]:
        assert item in kinds, item
    if pg.major >= 14:
        assert ("type", "multirange", "amount_multirange") in kinds
    type_names = {o["name"] for o in in_app if o["object_class"] == "type"}
    assert "_order_status" not in type_names  # array types left out
    assert "customers" not in type_names  # table row types left out
    n_funcs = pg.query(
        "SELECT count(*) FROM pg_proc WHERE pronamespace = %s", (nsp["app_data"],), dbname=layout_db
    )[0][0]
    assert sum(1 for o in in_app if o["object_class"] == "function") == n_funcs
    sd = next(o for o in in_app if o["name"] == "sd_no_search_path")
    assert sd["identity_args"] == "customer bigint"
    # Range constructors belong to the bootstrap superuser (a PostgreSQL quirk); all else
    # in app_data to the owner role.
    assert {o["name"] for o in in_app if o["owner_oid"] != role_oid(pg, FX.owner)} <= {
        "amount_range",
        "amount_multirange",
    }

    others = {(o["object_class"], o["name"]): o for o in objs if o["schema_oid"] is None}
    assert others[("fdw", "fx_dummy_fdw")]["kind"] == "foreign-data wrapper"
    assert others[("server", "fx_server")]["owner_oid"] == 10
    plpgsql = others[("language", "plpgsql")]
    assert (plpgsql["trusted"], plpgsql["extension"], plpgsql["acl_state"]) == (
        True,
        "plpgsql",
        "explicit",
    )
    los = [o for o in objs if o["object_class"] == "large_object"]
    assert len(los) == 1 and los[0]["owner_oid"] == role_oid(pg, FX.owner)
    owned = next(o for o in objs if o["name"] == "owned_by_app")
    assert owned["owner_oid"] == role_oid(pg, FX.app)

    # Every ACL row belongs to a listed object (columns: to their table).
    keys = {(o["object_class"], o["oid"]) for o in objs}
    schemas = {s["oid"] for s in rows(d.table("schemas"))}
    for a in rows(d.table("acl")):
        if a["object_class"] == "schema":
            assert a["object_oid"] in schemas
        else:
            cls = "relation" if a["object_class"] == "column" else a["object_class"]
            assert (cls, a["object_oid"]) in keys, a
    # System schemas: only objects whose ACL was changed from the default.
    sys_objs = [o for o in objs if o["schema_oid"] == nsp["pg_catalog"]]
    assert sys_objs and all(
        o["acl_state"] == "explicit" or o["object_class"] == "relation" for o in sys_objs
    )
    assert any(o["name"] == "pg_authid" for o in sys_objs)


def test_schemas_columns_functions_extensions(pg, snaps, layout_db):
    su, _ = snaps
    d = db_of(su, layout_db)
    schemas = {s["name"]: s for s in rows(d.table("schemas"))}
    assert set(USER_SCHEMAS) | {"pg_catalog", "information_schema"} == set(schemas)
    assert schemas["pg_catalog"]["is_system"] and not schemas["app_data"]["is_system"]
    assert schemas["app_data"]["owner_oid"] == role_oid(pg, FX.owner)
    assert schemas["public"]["acl_state"] == "explicit"
    if pg.major >= 15:
        assert schemas["public"]["owner_oid"] == role_oid(pg, "pg_database_owner")
    assert not any(n.startswith("pg_toast") for n in schemas)

    customers = rel_oid(pg, layout_db, "app_data.customers")
    cols = {(c["table_oid"], c["name"]) for c in rows(d.table("columns"))}
    assert {(customers, "id"), (customers, "name"), (customers, "email")} <= cols
    assert (customers, "ssn") not in cols
    expected_cols = pg.query(
        "SELECT count(*) FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid"
        " JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE a.attacl IS NOT NULL AND a.attnum > 0"
        " AND n.nspname !~ '^pg_toast'",
        dbname=layout_db,
    )[0][0]
    assert len(cols) == expected_cols

    funcs = {f["oid"]: f for f in rows(d.table("functions"))}
    nopath = oid_of(
        pg, "SELECT 'app_data.sd_no_search_path(bigint)'::regprocedure::oid", dbname=layout_db
    )
    fixed = oid_of(
        pg, "SELECT 'app_data.sd_fixed_search_path()'::regprocedure::oid", dbname=layout_db
    )
    assert (funcs[nopath]["security_definer"], funcs[nopath]["config"]) == (True, None)
    assert funcs[fixed]["config"] == ["search_path=pg_catalog, pg_temp"]
    assert funcs[fixed]["language"] == "sql" and funcs[fixed]["leakproof"] is False
    object_funcs = {o["oid"] for o in rows(d.table("objects")) if o["object_class"] == "function"}
    assert set(funcs) == object_funcs

    exts = {e["name"]: e for e in rows(d.table("extensions"))}
    assert exts["plpgsql"]["schema_oid"] == oid_of(
        pg, "SELECT oid FROM pg_namespace WHERE nspname = 'pg_catalog'", dbname=layout_db
    )


def test_default_acls_match_pg_default_acl(pg, snaps, layout_db):
    su, _ = snaps
    d = db_of(su, layout_db)
    expected = sorted(
        (
            tuple(r)
            for r in pg.query(
                "SELECT d.oid::int8, d.defaclrole::int8, d.defaclnamespace::int8, d.defaclobjtype::text,"
                " a.grantor::int8, a.grantee::int8, a.privilege_type, a.is_grantable"
                " FROM pg_default_acl d LEFT JOIN LATERAL aclexplode(d.defaclacl) a ON true",
                dbname=layout_db,
            )
        ),
        key=repr,
    )
    got = sorted((tuple(r) for r in d.table("default_acls").rows), key=repr)
    assert got == expected
    defaults = rows(d.table("default_acls"))
    owner, writer, deploy = (role_oid(pg, r) for r in (FX.owner, FX.writer, FX.deploy))
    app_data = oid_of(
        pg, "SELECT oid FROM pg_namespace WHERE nspname = 'app_data'", dbname=layout_db
    )
    # The empty global entry: one marker row, grantee NULL.
    marker = [r for r in defaults if r["creator_oid"] == deploy and r["objtype"] == "T"]
    assert len(marker) == 1 and marker[0]["grantee_oid"] is None and marker[0]["privilege"] is None
    # Per schema (adds) and global (replaces the built-in default).
    assert any(
        r["creator_oid"] == owner
        and r["schema_oid"] == app_data
        and r["objtype"] == "r"
        and r["grantee_oid"] == writer
        and r["privilege"] == "INSERT"
        for r in defaults
    )
    funcs = [r for r in defaults if r["creator_oid"] == owner and r["objtype"] == "f"]
    assert funcs and all(r["schema_oid"] == 0 and r["grantee_oid"] == owner for r in funcs)
    assert any(
        r["schema_oid"] != 0 and r["grantee_oid"] == 0 and r["objtype"] == "r" for r in defaults
    )  # fx_misc: SELECT to PUBLIC
    assert any(r["objtype"] == "L" for r in defaults) == (pg.major >= 18)


# --- auditor vs superuser ---------------------------------------------------------------


def _without(table: Any, column: str) -> list[list[Any]]:
    i = table.columns.index(column)
    return [r[:i] + r[i + 1 :] for r in table.rows]


def test_auditor_sees_what_the_superuser_sees(snaps, layout_db):
    su, aud = snaps
    for name in (
        "roles",
        "memberships",
        "db_role_settings",
        "tablespaces",
        "shared_acl",
        "settings",
        "hba_rules",
    ):
        assert aud.table(name).rows == su.table(name).rows, name
    assert _without(aud.table("databases"), "auditor_can_connect") == _without(
        su.table("databases"), "auditor_can_connect"
    )
    for dbname in (layout_db, "postgres", FX.hostile_db):
        a, s = db_of(aud, dbname), db_of(su, dbname)
        assert a.status == s.status == "collected"
        for name in (
            "schemas",
            "objects",
            "columns",
            "acl",
            "default_acls",
            "functions",
            "extensions",
        ):
            assert a.table(name).rows == s.table(name).rows, (dbname, name)
    assert db_of(su, FX.noconnect_db).status == "collected"
    nc = db_of(aud, FX.noconnect_db)
    assert nc.status == "not_collected" and "CONNECT" in (nc.reason or "")
    assert nc.tables == {}
    t0 = db_of(aud, "template0")
    assert t0.status == "not_collected" and "datallowconn" in (t0.reason or "")
    assert aud.meta["sources"]["objects"]["collected"] is True
    assert "not collected" in aud.meta["sources"]["objects"]["reason"]


def test_auditor_is_not_superuser_and_hba_needs_the_grant(pg, layout_db, auditor):
    name = pg.unique("auditor_nohba")
    plain = make_auditor(pg, name, hba=False)
    assert pg.query(
        "SELECT rolsuper, pg_has_role(oid, 'pg_monitor', 'USAGE') FROM pg_roles WHERE rolname = %s",
        (name,),
    ) == [(False, True)]
    snap = collect(plain, databases=[layout_db])
    src = snap.meta["sources"]["hba_rules"]
    assert src["collected"] is False
    assert "pg_hba_file_rules" in src["reason"]
    assert "SELECT on pg_catalog.pg_hba_file_rules" in src["reason"]
    assert "EXECUTE on function pg_catalog.pg_hba_file_rules()" in src["reason"]
    assert snap.table("hba_rules").rows == []
    assert snap.meta["is_superuser"] is False
    # The helper exists in database postgres but this role may not run it: unknown, and why.
    pw = snap.meta["sources"]["password_types"]
    assert pw["collected"] is False and "lacks USAGE" in pw["reason"]
    assert all(r["password_type"] is None for r in rows(snap.table("roles")))
    # Roles and the layout database are still fully read.
    assert snap.source_collected("roles") and db_of(snap, layout_db).status == "collected"
    assert [d.name for d in snap.databases] == [layout_db]
    assert snap.meta["databases_requested"] == [layout_db]


def test_password_types_unknown_without_helper_or_superuser(pg, layout_db, auditor):
    aud = make_auditor(pg, pg.unique("auditor_nopw"))
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    params = conninfo_to_dict(aud)
    params["dbname"] = layout_db  # the helper exists only in database postgres
    snap = collect(make_conninfo("", **params), databases=[layout_db])
    pw = snap.meta["sources"]["password_types"]
    assert pw["collected"] is False
    assert "--with-password-check" in pw["reason"] and layout_db in pw["reason"]
    assert all(r["password_type"] is None for r in rows(snap.table("roles")))
    # In database postgres the helper exists but this auditor may not execute it.
    snap2 = collect(aud, databases=["postgres"])
    pw2 = snap2.meta["sources"]["password_types"]
    assert pw2["collected"] is False and "lacks USAGE" in pw2["reason"]


def test_hba_rules_match_the_view(pg, snaps):
    su, aud = snaps
    assert aud.meta["sources"]["hba_rules"] == {
        "collected": True,
        "reason": None,
        "origin": "pg_hba_file_rules",
    }
    view = pg.query(
        "SELECT line_number, type, database, user_name, address, auth_method, error"
        " FROM pg_hba_file_rules ORDER BY line_number"
    )
    got = [
        (
            r["line_number"],
            r["type"],
            r["databases"],
            r["users"],
            r["address"],
            r["auth_method"],
            r["error"],
        )
        for r in rows(aud.table("hba_rules"))
    ]
    assert got == [tuple(v) for v in view]
    numbers = [r["rule_number"] for r in rows(aud.table("hba_rules")) if r["error"] is None]
    assert numbers == list(range(1, len(numbers) + 1))


def test_hba_secrets_are_redacted(pg, auditor, tmp_path):
    original = pg.cluster.hba_file.read_text()
    extra = (
        "host all fx_radius_user 10.0.0.0/8 radius radiusservers=127.0.0.1 "
        "radiussecrets=TopSecretRadius42\n"
        'host all fx_ldap_user 10.0.0.0/8 ldap ldapserver=127.0.0.1 ldapbasedn="dc=x" '
        'ldapbinddn="cn=admin" ldapbindpasswd=TopSecretLdap42 ldapsearchattribute=uid\n'
    )
    pg.cluster.hba_file.write_text(original + extra)  # the view re-reads the file, no reload
    try:
        snap = collect(auditor, databases=["postgres"])
    finally:
        pg.cluster.hba_file.write_text(original)
    out = tmp_path / "s.json"
    save(snap, out)
    text = out.read_text()
    assert "TopSecretRadius42" not in text and "TopSecretLdap42" not in text
    radius = [r for r in rows(snap.table("hba_rules")) if r["users"] == ["fx_radius_user"]]
    assert radius and radius[0]["auth_method"] == "radius"
    assert "radiussecrets=<redacted>" in radius[0]["options"]


# --- hostile names, round trip ------------------------------------------------------------


def test_hostile_names_survive_collect_save_load(pg, snaps, layout_db, tmp_path):
    su, aud = snaps
    for snap, fname in ((su, "su.json"), (aud, "aud.json.gz")):
        path = tmp_path / fname
        save(snap, path)
        back = load(path)
        assert back.to_json() == snap.to_json()
        roles = {r["name"] for r in rows(back.table("roles"))}
        assert FX.hostile_role in roles
        assert FX.hostile_db in {d.name for d in back.databases}
        assert db_of(back, FX.hostile_db).status == "collected"
        d = db_of(back, layout_db)
        assert FX.hostile_schema in {s["name"] for s in rows(d.table("schemas"))}
        names = {o["name"] for o in rows(d.table("objects"))}
        assert FX.hostile_table in names and FX.hostile_function in names
        assert FX.hostile_column in {c["name"] for c in rows(d.table("columns"))}
        fn = next(o for o in rows(d.table("objects")) if o["name"] == FX.hostile_function)
        assert fn["identity_args"] == '"a""rg" integer'
    # Names equal the server's byte for byte, by OID.
    server = dict(pg.query("SELECT oid::int8, rolname::text FROM pg_roles"))
    for r in rows(su.table("roles")):
        assert server[r["oid"]] == r["name"]
    server_rel = dict(pg.query("SELECT oid::int8, relname::text FROM pg_class", dbname=layout_db))
    for o in rows(db_of(su, layout_db).table("objects")):
        if o["object_class"] == "relation":
            assert server_rel[o["oid"]] == o["name"]
    hostile = role_oid(pg, FX.hostile_role)
    acl = rows(db_of(su, layout_db).table("acl"))
    assert any(a["object_class"] == "column" and a["grantee_oid"] == hostile for a in acl)


def test_explicit_database_list_and_unknown_database(pg, layout_db):
    snap = collect(pg.conninfo(), databases=[layout_db, "postgres", layout_db])
    assert [d.name for d in snap.databases] == [layout_db, "postgres"]
    assert {r["name"] for r in rows(snap.table("databases"))} >= {
        layout_db,
        "postgres",
        "template0",
    }
    from pgaudit_roles.core.errors import CollectionError

    with pytest.raises(CollectionError, match="no_such_db"):
        collect(pg.conninfo(), databases=["no_such_db"])


def test_progress_reports_each_database(pg, layout_db):
    seen: list[str] = []
    collect(pg.conninfo(), databases=[layout_db], progress=seen.append)
    assert any(layout_db in m for m in seen)
    assert any("pg_hba" in m for m in seen)


# --- databases that cannot be read: recorded, and the rest continue ---------------------


def test_rejected_connection_is_recorded_and_others_continue(pg, layout_db, auditor):
    """A pg_hba line that rejects the auditor for one database."""
    blocked = pg.create_database(pg.unique("blocked"))
    user = auditor.split("user=")[1].split()[0]
    original = pg.cluster.hba_file.read_text()
    pg.cluster.write_hba(f"local {blocked} {user} reject\n" + original)
    try:
        snap = collect(auditor, databases=[blocked, layout_db])
    finally:
        pg.cluster.write_hba(original)
    b = db_of(snap, blocked)
    assert b.status == "not_collected" and b.tables == {}
    assert "pg_hba.conf rejects connection" in (b.reason or ""), b.reason
    assert db_of(snap, layout_db).status == "collected"


def test_lock_timeout_never_queues_behind_ddl(pg, layout_db):
    """A catalog held by an exclusive lock: that database is not collected (lock_timeout),
    the others are, and nothing waits longer than the timeout."""
    import time

    import psycopg

    from pgaudit_roles.collect.connect import ConnectSettings

    locked = pg.create_database(pg.unique("locked"))
    with psycopg.connect(pg.conninfo(dbname=locked)) as holder:
        holder.execute("LOCK TABLE pg_catalog.pg_largeobject_metadata IN ACCESS EXCLUSIVE MODE")
        started = time.monotonic()
        snap = collect(
            pg.conninfo(),
            databases=[locked, layout_db],
            settings=ConnectSettings(lock_timeout="300ms"),
        )
        elapsed = time.monotonic() - started
        holder.rollback()
    lk = db_of(snap, locked)
    assert lk.status == "not_collected" and "lock timeout" in (lk.reason or ""), lk.reason
    assert db_of(snap, layout_db).status == "collected"
    assert elapsed < 10
    assert snap.meta["sources"]["objects"]["collected"] is True
