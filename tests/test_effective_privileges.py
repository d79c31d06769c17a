"""The effective-privileges oracle: our model against the server's own has_*_privilege().

On every version 13-18 a layout with inheritance chains, NOINHERIT, 16+ grant options,
PUBLIC grants, column grants, ownership (including owners who revoked their own
privileges and empty ACLs), superusers, pg_read_all_data / pg_write_all_data /
pg_maintain and pg_database_owner is built, collected, loaded, and for EVERY
(role, object, privilege) of every object in the snapshot's test database our
``effective_privileges`` is compared with the server in both directions: everything we
list the server confirms, everything the server grants we list. Grant options too.
Zero disagreements is the acceptance criterion of issue 3.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest

from pgaudit_roles.audit import audit_schema
from pgaudit_roles.core.sqlquote import quote_ident as q

TABLE_PRIVS = ["SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER"]
COLUMN_PRIVS = ["SELECT", "INSERT", "UPDATE", "REFERENCES"]


def _layout(major: int, p: str, db: str) -> tuple[list[str], list[str], list[str]]:
    """(cluster SQL run in postgres, SQL run in the test db, role names) for the layout."""
    r = {
        k: f"{p}_{k}"
        for k in (
            "dbo",
            "login_dbo",
            "grp_base",
            "grp_mid",
            "login_a",
            "mid_noinh",
            "login_b",
            "login_ni",
            "flip_on",
            "flip_off",
            "login_c",
            "multi",
            "adm",
            "grp_owner",
            "login_d",
            "login_d2",
            "su_a",
            "login_e",
            "reader_all",
            "writer_all",
            "rad_grp",
            "login_f",
            "login_g",
            "maint",
            "maint_noinh",
            "auditor",
        )
    }
    r["odd"] = f'{p} "we\'ird"\n role'
    Q = {k: q(v) for k, v in r.items()}
    cluster = [
        f"CREATE ROLE {Q['dbo']} NOLOGIN",
        f"CREATE ROLE {Q['login_dbo']} LOGIN IN ROLE {Q['dbo']}",
        f"CREATE ROLE {Q['grp_base']} NOLOGIN",
        f"CREATE ROLE {Q['grp_mid']} NOLOGIN IN ROLE {Q['grp_base']}",
        f"CREATE ROLE {Q['login_a']} LOGIN IN ROLE {Q['grp_mid']}",
        f"CREATE ROLE {Q['mid_noinh']} NOLOGIN NOINHERIT IN ROLE {Q['grp_base']}",
        f"CREATE ROLE {Q['login_b']} LOGIN IN ROLE {Q['mid_noinh']}",
        f"CREATE ROLE {Q['login_ni']} LOGIN NOINHERIT IN ROLE {Q['grp_mid']}",
        f"CREATE ROLE {Q['flip_on']} LOGIN NOINHERIT",
        f"GRANT {Q['grp_mid']} TO {Q['flip_on']}",
        f"ALTER ROLE {Q['flip_on']} INHERIT",
        f"CREATE ROLE {Q['flip_off']} LOGIN INHERIT",
        f"GRANT {Q['grp_mid']} TO {Q['flip_off']}",
        f"ALTER ROLE {Q['flip_off']} NOINHERIT",
        f"CREATE ROLE {Q['login_c']} LOGIN",
        f"CREATE ROLE {Q['multi']} LOGIN",
        f"CREATE ROLE {Q['adm']} NOLOGIN",
        f"CREATE ROLE {Q['grp_owner']} NOLOGIN",
        f"CREATE ROLE {Q['login_d']} LOGIN IN ROLE {Q['grp_owner']}",
        f"CREATE ROLE {Q['login_d2']} LOGIN IN ROLE {Q['grp_owner']}",
        f"CREATE ROLE {Q['su_a']} SUPERUSER NOLOGIN",
        f"CREATE ROLE {Q['login_e']} LOGIN IN ROLE {Q['su_a']}",
        f"CREATE ROLE {Q['reader_all']} LOGIN",
        f"CREATE ROLE {Q['writer_all']} LOGIN",
        f"CREATE ROLE {Q['rad_grp']} NOLOGIN",
        f"CREATE ROLE {Q['login_f']} LOGIN IN ROLE {Q['rad_grp']}",
        f"CREATE ROLE {Q['login_g']} LOGIN",
        f"CREATE ROLE {Q['maint']} LOGIN",
        f"CREATE ROLE {Q['maint_noinh']} LOGIN NOINHERIT",
        f"CREATE ROLE {Q['odd']} LOGIN IN ROLE {Q['grp_mid']}",
        f"ALTER DATABASE {q(db)} OWNER TO {Q['dbo']}",
        f"CREATE ROLE {Q['auditor']} LOGIN IN ROLE pg_monitor",
    ]
    if major >= 16:
        cluster += [
            f"GRANT {Q['grp_base']} TO {Q['login_c']} WITH INHERIT FALSE",
            f"GRANT {Q['grp_mid']} TO {Q['login_c']} WITH INHERIT TRUE, SET FALSE",
            f"GRANT {Q['grp_mid']} TO {Q['adm']} WITH ADMIN TRUE, INHERIT FALSE",
            f"GRANT {Q['grp_mid']} TO {Q['multi']} WITH INHERIT FALSE",
            f"GRANT {Q['grp_mid']} TO {Q['multi']} WITH INHERIT TRUE GRANTED BY {Q['adm']}",
        ]
    else:
        cluster += [
            f"GRANT {Q['grp_base']} TO {Q['login_c']}",
            f"GRANT {Q['grp_mid']} TO {Q['multi']}",
        ]
    if major >= 14:
        cluster += [
            f"GRANT pg_read_all_data TO {Q['reader_all']}",
            f"GRANT pg_write_all_data TO {Q['writer_all']}",
            f"GRANT pg_read_all_data TO {Q['rad_grp']}",
            f"GRANT pg_read_all_data TO {Q['maint_noinh']}",
        ]
    if major >= 16:
        cluster.append(f"GRANT pg_read_all_data TO {Q['login_g']} WITH INHERIT FALSE")
    elif major >= 14:
        cluster.append(f"GRANT pg_read_all_data TO {Q['login_g']}")
    if major >= 17:
        cluster += [
            f"GRANT pg_maintain TO {Q['maint']}",
            f"GRANT pg_maintain TO {Q['maint_noinh']}",
        ]
    if major >= 15:
        cluster += [
            f"GRANT SET ON PARAMETER work_mem TO {Q['grp_base']}",
            f"GRANT ALTER SYSTEM ON PARAMETER {p}.knob TO {Q['login_a']}",
        ]

    own = Q["grp_owner"]
    dbsql = [
        f"REVOKE CONNECT, TEMPORARY ON DATABASE {q(db)} FROM PUBLIC",
        f"GRANT CONNECT ON DATABASE {q(db)} TO {Q['grp_base']}, {Q['auditor']}",
        f"GRANT CREATE ON DATABASE {q(db)} TO {Q['grp_mid']} WITH GRANT OPTION",
        f"CREATE SCHEMA app AUTHORIZATION {own}",
        f"CREATE SCHEMA app2 AUTHORIZATION {own}",
        f"REVOKE ALL ON SCHEMA app2 FROM {own}",
        f"GRANT USAGE ON SCHEMA app TO {Q['grp_base']}",
        f"GRANT CREATE ON SCHEMA app TO {Q['login_b']}",
        "CREATE TABLE app.t1 (a int, b text, c int)",
        'CREATE TABLE app.t_cols (a int, b text, "Odd Col" int)',
        "CREATE TABLE app.t_own (a int)",
        "CREATE TABLE app.t_empty (a int)",
        'CREATE TABLE app."Weird ""T"" name" (a int)',
        "CREATE VIEW app.v1 AS SELECT 1 AS one",
        "CREATE MATERIALIZED VIEW app.mv AS SELECT 1 AS one",
        "CREATE TABLE app.pt (id int) PARTITION BY RANGE (id)",
        "CREATE TABLE app.pt_1 PARTITION OF app.pt FOR VALUES FROM (0) TO (10)",
        "CREATE SEQUENCE app.s1",
        "CREATE SEQUENCE app.s2",
        "CREATE FUNCTION app.f1(x int) RETURNS int LANGUAGE sql AS 'SELECT x'",
        "CREATE FUNCTION app.f2() RETURNS int LANGUAGE sql AS 'SELECT 1'",
        "CREATE PROCEDURE app.p1() LANGUAGE sql AS 'SELECT 1'",
        "CREATE TYPE app.mood AS ENUM ('ok', 'sad')",
        "CREATE DOMAIN app.posint AS int CHECK (VALUE > 0)",
        f"CREATE FOREIGN DATA WRAPPER {q(p + '_fdw')}",
        f"CREATE SERVER {q(p + '_srv')} FOREIGN DATA WRAPPER {q(p + '_fdw')}",
        f"CREATE FOREIGN TABLE app.ft (a int) SERVER {q(p + '_srv')}",
        "CREATE TABLE public.pub_t (a int)",
    ]
    for obj in (
        "TABLE app.t1",
        "TABLE app.t_cols",
        "TABLE app.t_own",
        "TABLE app.t_empty",
        'TABLE app."Weird ""T"" name"',
        "VIEW app.v1",
        "MATERIALIZED VIEW app.mv",
        "TABLE app.pt",
        "TABLE app.pt_1",
        "SEQUENCE app.s1",
        "SEQUENCE app.s2",
        "FUNCTION app.f1(int)",
        "FUNCTION app.f2()",
        "PROCEDURE app.p1()",
        "TYPE app.mood",
        "DOMAIN app.posint",
        "FOREIGN TABLE app.ft",
    ):
        dbsql.append(f"ALTER {obj} OWNER TO {own}")
    dbsql += [
        f"ALTER FOREIGN DATA WRAPPER {q(p + '_fdw')} OWNER TO {Q['su_a']}",
        f"GRANT SELECT ON app.t1 TO {Q['grp_base']}",
        f"GRANT INSERT, UPDATE ON app.t1 TO {Q['grp_mid']} WITH GRANT OPTION",
        f"GRANT DELETE ON app.t1 TO {Q['mid_noinh']}",
        "GRANT TRIGGER ON app.t1 TO PUBLIC",
        f"GRANT TRUNCATE ON app.t1 TO {Q['flip_on']}, {Q['flip_off']}",
        f"GRANT SELECT (a), UPDATE (b) ON app.t_cols TO {Q['grp_mid']}",
        "GRANT INSERT (a) ON app.t_cols TO PUBLIC",
        f'GRANT REFERENCES ("Odd Col") ON app.t_cols TO {Q["login_b"]} WITH GRANT OPTION',
        f"GRANT SELECT (b) ON app.t_cols TO {Q['odd']}",
        f"REVOKE UPDATE ON app.t_own FROM {own}",
        f"GRANT UPDATE ON app.t_own TO {Q['login_a']}, {Q['login_d2']}",
        f"REVOKE ALL ON app.t_empty FROM {own}",
        f"GRANT SELECT ON app.v1 TO {Q['login_a']}",
        f"GRANT SELECT ON app.pt TO {Q['grp_mid']}",
        f"GRANT USAGE ON SEQUENCE app.s1 TO {Q['grp_mid']}",
        "GRANT SELECT ON SEQUENCE app.s1 TO PUBLIC",
        f"GRANT UPDATE ON SEQUENCE app.s2 TO {Q['login_b']}",
        "REVOKE EXECUTE ON FUNCTION app.f2() FROM PUBLIC",
        f"GRANT EXECUTE ON FUNCTION app.f2() TO {Q['grp_mid']}",
        "REVOKE EXECUTE ON PROCEDURE app.p1() FROM PUBLIC",
        "REVOKE USAGE ON TYPE app.mood FROM PUBLIC",
        f"GRANT USAGE ON TYPE app.mood TO {Q['login_a']}",
        f"GRANT USAGE ON FOREIGN DATA WRAPPER {q(p + '_fdw')} TO {Q['grp_base']}",
        f"GRANT USAGE ON FOREIGN SERVER {q(p + '_srv')} TO {Q['grp_mid']}",
        f"GRANT SELECT ON app.ft TO {Q['login_b']}",
        "REVOKE USAGE ON LANGUAGE plpgsql FROM PUBLIC",
        f"GRANT USAGE ON LANGUAGE plpgsql TO {Q['grp_base']}",
        f"GRANT SELECT ON public.pub_t TO {Q['odd']}",
        "SELECT lo_create(0)",
    ]
    if major >= 14:
        dbsql += [
            "CREATE SCHEMA pdo_s AUTHORIZATION pg_database_owner",
            "CREATE TABLE pdo_s.t (a int)",
            "ALTER TABLE pdo_s.t OWNER TO pg_database_owner",
            "GRANT SELECT ON app.t1 TO pg_database_owner",
            "GRANT UPDATE ON app.t_cols TO pg_database_owner",
            f"GRANT TEMPORARY ON DATABASE {q(db)} TO pg_database_owner",
        ]
    return cluster, dbsql, list(r.values())


def _each(pg: Any, statements: list[str], dbname: str) -> None:
    """Each statement in its own transaction (autocommit), as ``pg.execute`` one by one,
    on one connection: a connection per statement cost a server backend each (about 130)."""
    import psycopg

    with psycopg.connect(pg.conninfo(dbname=dbname), autocommit=True) as conn:
        for stmt in statements:
            conn.execute(stmt.encode("utf-8"))


def _lo_setup(pg: Any, db: str, owner: str, grantee: str) -> None:
    (lo,) = pg.query("SELECT max(oid)::bigint FROM pg_largeobject_metadata", dbname=db)[0]
    pg.execute(
        f"ALTER LARGE OBJECT {lo} OWNER TO {q(owner)}; "
        f"GRANT SELECT ON LARGE OBJECT {lo} TO {q(grantee)}",
        dbname=db,
    )


def _server_truth(
    pg: Any, db: str, checks: list[tuple[str, str, list[Any], list[str]]], roles: list[int]
) -> tuple[set[tuple], set[tuple]]:
    """Run has_*_privilege for roles x objects x privileges; (held, held with grant option)."""
    held: set[tuple] = set()
    grant: set[tuple] = set()
    for cls, func, objs, privs in checks:
        if not objs or not privs:
            continue
        if cls == "column":
            sql = (
                f"SELECT r, o.t, o.a, p, {func}(r::oid, o.t::oid, o.a::smallint, p) "  # noqa: S608
                "FROM unnest(%s::bigint[]) r, unnest(%s::bigint[], %s::int[]) o(t, a), "
                "unnest(%s::text[]) p"
            )
            rows = pg.query(
                sql, ([*roles], [t for t, _ in objs], [a for _, a in objs], privs), dbname=db
            )
            held |= {("column", r, t, a, pr) for r, t, a, pr, ok in rows if ok}
            continue
        objtype = "text" if cls == "parameter" else "oid"
        arr = "text[]" if cls == "parameter" else "bigint[]"
        sql = (
            f"SELECT r, o, p, {func}(r::oid, o::{objtype}, p), "  # noqa: S608
            f"{func}(r::oid, o::{objtype}, p || ' WITH GRANT OPTION') "
            f"FROM unnest(%s::bigint[]) r, unnest(%s::{arr}) o, unnest(%s::text[]) p"
        )
        rows = pg.query(sql, (roles, objs, privs), dbname=db)
        for r, o, pr, ok, gok in rows:
            if ok:
                held.add((cls, r, o, 0, pr))
            if ok and gok:
                grant.add((cls, r, o, 0, pr))
    return held, grant


def _model(con: Any, db: str, roles: Iterable[int]) -> tuple[set[tuple], set[tuple], dict]:
    rows = con.execute(
        """
        SELECT object_class, role_oid, object_oid, subid, privilege, bool_or(grantable),
               object_name
        FROM effective_privileges
        WHERE (database = ? OR object_class IN ('database', 'tablespace', 'parameter'))
        GROUP BY ALL""",
        [db],
    ).fetchall()
    wanted = set(roles)
    held, grant, names = set(), set(), {}
    for cls, r, o, sub, pr, g, name in rows:
        if r not in wanted:
            continue
        key_obj = name if cls == "parameter" else o
        key = (cls, r, key_obj, sub, pr)
        held.add(key)
        names[(cls, key_obj)] = name
        if g:
            grant.add(key)
    return held, grant, names


@pytest.mark.pg
def test_effective_privileges_match_server(pg: Any) -> None:
    from pgaudit_roles.collect.collector import collect

    major = pg.major
    p = pg.unique("ep")
    db = pg.create_database(p + "_db")
    cluster, dbsql, role_names = _layout(major, p, db)
    try:
        _each(pg, cluster, "postgres")
        _each(pg, dbsql, db)
        _lo_setup(pg, db, f"{p}_grp_owner", f"{p}_grp_mid")

        snap = collect(pg.conninfo(dbname=db), databases=[db])
        con = audit_schema.load(snap)

        subjects = [
            r
            for (r,) in con.execute(
                "SELECT oid FROM roles WHERE NOT (predefined AND starts_with(name, 'pg_'))"
            ).fetchall()
        ]
        mine = {
            n
            for (n,) in con.execute(
                "SELECT name FROM roles WHERE starts_with(name, ?)", [p]
            ).fetchall()
        }
        assert mine == set(role_names), "the collector must see every role of the layout"

        def objs(where: str, params: list[Any] | None = None) -> list[Any]:
            return [
                o
                for (o,) in con.execute(
                    f"SELECT object_oid FROM acl_objects WHERE {where} ORDER BY 1",  # noqa: S608
                    params or [],
                ).fetchall()
            ]

        table_privs = TABLE_PRIVS + (["MAINTAIN"] if major >= 17 else [])
        in_db = "database = ? AND "
        tables = objs(in_db + "object_class = 'relation' AND kind <> 'sequence'", [db])
        seqs = objs(in_db + "kind = 'sequence'", [db])
        columns = [
            (t, a)
            for t, a in pg.query(
                "SELECT a.attrelid::bigint, a.attnum::int FROM pg_attribute a "
                "WHERE a.attrelid = ANY(%s::bigint[]) AND a.attnum > 0 AND NOT a.attisdropped",
                (tables,),
                dbname=db,
            )
        ]
        checks: list[tuple[str, str, list[Any], list[str]]] = [
            ("relation", "has_table_privilege", tables, table_privs),
            ("relation", "has_sequence_privilege", seqs, ["USAGE", "SELECT", "UPDATE"]),
            ("column", "has_column_privilege", columns, COLUMN_PRIVS),
            (
                "schema",
                "has_schema_privilege",
                objs(in_db + "object_class = 'schema'", [db]),
                ["USAGE", "CREATE"],
            ),
            (
                "database",
                "has_database_privilege",
                objs("object_class = 'database'"),
                ["CREATE", "CONNECT", "TEMPORARY"],
            ),
            (
                "function",
                "has_function_privilege",
                objs(in_db + "object_class = 'function'", [db]),
                ["EXECUTE"],
            ),
            ("type", "has_type_privilege", objs(in_db + "object_class = 'type'", [db]), ["USAGE"]),
            (
                "language",
                "has_language_privilege",
                objs(in_db + "object_class = 'language'", [db]),
                ["USAGE"],
            ),
            (
                "fdw",
                "has_foreign_data_wrapper_privilege",
                objs(in_db + "object_class = 'fdw'", [db]),
                ["USAGE"],
            ),
            (
                "server",
                "has_server_privilege",
                objs(in_db + "object_class = 'server'", [db]),
                ["USAGE"],
            ),
            (
                "tablespace",
                "has_tablespace_privilege",
                objs("object_class = 'tablespace'"),
                ["CREATE"],
            ),
        ]
        if major >= 15:
            params = [
                n
                for (n,) in con.execute(
                    "SELECT object_name FROM acl_objects WHERE object_class = 'parameter'"
                ).fetchall()
            ]
            assert "work_mem" in params
            checks.append(("parameter", "has_parameter_privilege", params, ["SET", "ALTER SYSTEM"]))
        if major >= 18:
            checks.append(
                (
                    "large_object",
                    "has_largeobject_privilege",
                    objs(in_db + "object_class = 'large_object'", [db]),
                    ["SELECT", "UPDATE"],
                )
            )
        # every class of the layout is really exercised
        for cls, _f, o, _p in checks:
            assert o, f"no {cls} objects to check"
        assert len(tables) >= 10 and len(seqs) == 2

        s_held, s_grant = _server_truth(pg, db, checks, subjects)
        m_held, m_grant, names = _model(con, db, subjects)
        # The model covers more classes than the server can be asked about on old
        # versions (large objects before 18); compare within what was checked.
        checked = {(c, o) for c, _f, objs_, _p in checks for o in objs_ if c != "column"}
        checked_cols = {t for t, _a in columns}
        privs_by_class = {}
        for c, _f, _o, pr in checks:
            privs_by_class.setdefault(c, set()).update(pr)

        def in_scope(k: tuple) -> bool:
            cls, _r, o, sub, pr = k
            if cls == "column":
                return o in checked_cols and pr in privs_by_class["column"]
            return (cls, o) in checked and pr in privs_by_class[cls]

        m_scope = {k for k in m_held if in_scope(k) and k[0] != "column"}
        # has_column_privilege = table-level OR column-level: derive it from the model
        table_level = {(r, o, pr) for (c, r, o, sub, pr) in m_held if c == "relation" and sub == 0}
        m_cols = {
            ("column", r, t, a, pr)
            for (t, a) in columns
            for r in subjects
            for pr in COLUMN_PRIVS
            if (r, t, pr) in table_level or ("column", r, t, a, pr) in m_held
        }
        column_only = {k for k in m_held if k[0] == "column" and k[3] > 0}
        assert column_only, "the layout must produce column-level grants"
        assert column_only <= m_cols

        rolename = dict(con.execute("SELECT oid, name FROM roles").fetchall())

        def show(keys: set[tuple]) -> list[str]:
            return sorted(
                f"{rolename.get(k[1])!r} {k[4]} on {k[0]} "
                f"{names.get((k[0], k[2]), k[2])}{'.' + str(k[3]) if k[3] else ''}"
                for k in keys
            )[:40]

        s_noncol = {k for k in s_held if k[0] != "column"}
        s_cols = {k for k in s_held if k[0] == "column"}
        assert show(m_scope - s_noncol) == [], "model lists privileges the server denies"
        assert show(s_noncol - m_scope) == [], "server grants privileges the model misses"
        assert show(m_cols - s_cols) == [], "model lists column privileges the server denies"
        assert show(s_cols - m_cols) == [], "server grants column privileges the model misses"
        m_gscope = {k for k in m_grant if k in s_noncol}
        s_gscope = {k for k in s_grant if k in m_scope}
        assert show(m_gscope - s_gscope) == [], "model says grantable, server does not"
        assert show(s_gscope - m_gscope) == [], "server says grantable, model does not"

        # The layout's distinctive cases really happened (the comparison is not vacuous).
        # The table's rows read once: a query per case planned the view again each time.
        effective = set(
            con.execute(
                "SELECT role, object_class, object_name, privilege, database "
                "FROM effective_privileges"
            ).fetchall()
        )

        def has(role: str, cls: str, name: str, priv: str) -> bool:
            database = None if cls in ("tablespace", "parameter") else db
            return (role, cls, name, priv, database) in effective

        assert has(f"{p}_login_a", "relation", "t1", "SELECT")  # two-level inheritance
        assert not has(f"{p}_login_ni", "relation", "t1", "SELECT")  # NOINHERIT login
        assert has(f"{p}_login_b", "relation", "t1", "DELETE")  # from the NOINHERIT group
        assert not has(f"{p}_login_b", "relation", "t1", "SELECT")  # ... but not beyond it
        assert has(f"{p}_flip_on", "relation", "t1", "SELECT") == (major < 16)
        assert has(f"{p}_flip_off", "relation", "t1", "SELECT") == (major >= 16)
        assert not has(f"{p}_login_d", "relation", "t_own", "UPDATE")  # owner revoked own
        assert has(f"{p}_login_d", "relation", "t_own", "SELECT")
        # holds UPDATE by a plain grant, and the grant option as a member of the owner
        assert (f"{p}_login_d2", "UPDATE", True) in {
            (r, pr, g)
            for r, pr, g in con.execute(
                "SELECT role, privilege, grantable FROM effective_privileges "
                "WHERE object_name = 't_own' AND via = 'direct'"
            ).fetchall()
        }
        assert not has(f"{p}_login_d", "relation", "t_empty", "SELECT")  # empty ACL
        assert has(f"{p}_su_a", "relation", "t_empty", "SELECT")  # superuser
        assert not has(f"{p}_login_e", "relation", "t_empty", "SELECT")  # not inherited
        assert has(p + ' "we\'ird"\n role', "relation", "t1", "INSERT")
        if major >= 14:
            assert has(f"{p}_login_f", "relation", "t_empty", "SELECT")  # pg_read_all_data
            assert has(f"{p}_login_dbo", "relation", "t1", "SELECT")  # pg_database_owner
            assert has(f"{p}_login_dbo", "schema", "pdo_s", "CREATE")
            assert has(f"{p}_writer_all", "relation", "t1", "DELETE")
            assert not has(f"{p}_writer_all", "relation", "pg_class", "INSERT")
            assert not has(f"{p}_maint_noinh", "relation", "t1", "SELECT")
        if major >= 16:
            assert not has(f"{p}_login_g", "relation", "t_empty", "SELECT")  # INHERIT FALSE
            assert has(f"{p}_multi", "relation", "t1", "SELECT")  # OR over grantors
            assert has(f"{p}_login_c", "relation", "t1", "SELECT")
            assert not has(f"{p}_login_c", "schema", "app", "CREATE")
        if major >= 17:
            assert has(f"{p}_maint", "relation", "t1", "MAINTAIN")

        # The real deployment: collected by a pg_monitor login, not a superuser. The model
        # must come out identical (every catalog it needs is readable by PUBLIC).
        snap2 = collect(pg.conninfo(user=f"{p}_auditor", dbname=db), databases=[db])
        assert snap2.meta["is_superuser"] is False
        con2 = audit_schema.load(snap2)
        everything = "SELECT * FROM effective_privileges ORDER BY ALL"
        assert con2.execute(everything).fetchall() == con.execute(everything).fetchall()
        con2.close()
        con.close()
    finally:
        pg.drop_database(db)
        names_sql = ", ".join(q(n) for n in role_names)
        pg.execute(f"DROP OWNED BY {names_sql}; DROP ROLE IF EXISTS {names_sql}")
