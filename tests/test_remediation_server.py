"""Hostile names on real servers (13-18): every generated statement parses, hits exactly
the intended object when applied, and touches nothing else.

Objects are created with psycopg's own identifier quoting (not ours), so the test does not
grade our quoting with itself. The catalog is compared before and after each example.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pglast import parse_sql

from pgaudit_roles.evaluate.remediation import classify, render

pytestmark = pytest.mark.pg

_counter = itertools.count()
_CHARS = st.characters(exclude_characters="\x00", exclude_categories=("Cs",))
_HOSTILE = st.one_of(
    st.text(_CHARS, min_size=1, max_size=16),
    st.sampled_from(
        [
            "'; DROP TABLE x; --",
            'a"b',
            '"',
            "'",
            "a\\b",
            "\\",
            "a b",
            " ",
            "a\nb",
            "\r\n",
            "é",
            "日本",
            "select",
            "user",
            "Table",
            "PUBLIC",
            "current_user",
            "<script>alert(1)</script>",
            "x; DROP TABLE x",
            "$$",
            "/*",
            "--",
            ":v",
            "\\! touch /tmp/pgaudit-pwned",
            "\u202e",
        ]
    ),
)


def _unique(base: str, tag: str) -> str:
    """base + a unique suffix, within PostgreSQL's 63-byte identifier limit."""
    suffix = f"{tag}{next(_counter)}"
    if base.startswith("pg_"):  # reserved prefix for role names
        base = "x" + base
    while len((base + suffix).encode()) > 63:
        base = base[:-1]
    return base + suffix


def _sql(template: str, *names: str) -> Any:
    """Setup SQL quoted by psycopg (independent of the code under test)."""
    from psycopg import sql

    return sql.SQL(template).format(*(sql.Identifier(n) for n in names))


def _q(conn: Any, sql: str, params: tuple | None = None) -> list[tuple]:
    return conn.execute(sql, params).fetchall()


def _state(conn: Any) -> dict[tuple, Any]:
    """Role attributes, memberships, database/schema/relation/function owners and ACLs."""
    out: dict[tuple, Any] = {}
    for row in _q(conn, "SELECT rolname, rolsuper, rolcanlogin, rolcreatedb FROM pg_roles"):
        out[("role", row[0])] = row[1:]
    for role, member in _q(conn, "SELECT roleid, member FROM pg_auth_members"):
        out[("member", role, member)] = True
    for name, owner, acl in _q(conn, "SELECT datname, datdba, datacl::text FROM pg_database"):
        out[("database", name)] = (owner, acl)
    for nsp, owner, acl in _q(conn, "SELECT nspname, nspowner, nspacl::text FROM pg_namespace"):
        out[("schema", nsp)] = (owner, acl)
    for nsp, rel, owner, acl in _q(
        conn,
        "SELECT n.nspname, c.relname, c.relowner, c.relacl::text FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace",
    ):
        out[("rel", nsp, rel)] = (owner, acl)
    for nsp, fn, owner, acl in _q(
        conn,
        "SELECT n.nspname, p.oid::regprocedure::text, p.proowner, p.proacl::text "
        "FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace",
    ):
        out[("func", nsp, fn)] = (owner, acl)
    return out


def _grants(conn: Any, catalog: str, where: str, params: tuple) -> set[tuple[str, str]]:
    """(grantee or PUBLIC, privilege) from one object's ACL, via aclexplode."""
    acl = {
        "rel": ("pg_class", "relacl"),
        "nsp": ("pg_namespace", "nspacl"),
        "proc": ("pg_proc", "proacl"),
    }[catalog]
    return set(
        _q(
            conn,
            f"SELECT coalesce(r.rolname, 'PUBLIC'), a.privilege_type FROM {acl[0]} o, "  # noqa: S608 - fixed catalog names
            f"aclexplode(o.{acl[1]}) a LEFT JOIN pg_roles r ON r.oid = a.grantee WHERE {where}",
            params,
        )
    )


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    role=_HOSTILE,
    other=_HOSTILE,
    owner=_HOSTILE,
    group=_HOSTILE,
    schema=_HOSTILE,
    table=_HOSTILE,
    func=_HOSTILE,
    arg=_HOSTILE,
)
def test_hostile_names_fix_exactly_the_intended_objects(
    pg,
    fresh_db: str,
    role: str,
    other: str,
    owner: str,
    group: str,
    schema: str,
    table: str,
    func: str,
    arg: str,
) -> None:
    db = fresh_db
    role, other, owner, group = (
        _unique(role, "~r"),
        _unique(other, "~o"),
        _unique(owner, "~w"),
        _unique(group, "~g"),
    )
    schema, table, func, arg = (
        _unique(schema, "~s"),
        _unique(table, "~t"),
        _unique(func, "~f"),
        _unique(arg, "~a"),
    )
    neighbour = _unique(table, "~n")
    roles = (role, other, owner, group)
    import psycopg

    conn = psycopg.connect(pg.conninfo(dbname=db), autocommit=True)
    for r in roles:
        conn.execute(_sql("CREATE ROLE {} NOLOGIN", r))
    try:
        setup = [
            _sql("CREATE TABLE IF NOT EXISTS public.x (id int)"),
            _sql("CREATE SCHEMA {}", schema),
            _sql("GRANT USAGE, CREATE ON SCHEMA {} TO PUBLIC", schema),
            _sql("GRANT USAGE ON SCHEMA {} TO {}", schema, other),
            _sql("CREATE TABLE {}.{} (id int)", schema, table),
            _sql("GRANT SELECT, INSERT ON {}.{} TO {}, {}", schema, table, role, other),
            _sql("CREATE TABLE {}.{} (id int)", schema, neighbour),
            _sql("GRANT SELECT ON {}.{} TO {}", schema, neighbour, role),
            _sql(
                "CREATE FUNCTION {}.{}({} integer, text) RETURNS int LANGUAGE sql AS 'SELECT 1'",
                schema,
                func,
                arg,
            ),
            _sql(
                "CREATE FUNCTION {}.{}(text) RETURNS int LANGUAGE sql AS 'SELECT 2'", schema, func
            ),
            _sql("GRANT {} TO {}, {}", group, role, other),
        ]
        for stmt in setup:
            conn.execute(stmt)
        identity_args, func_oid = _q(
            conn,
            "SELECT pg_get_function_identity_arguments(p.oid), p.oid FROM pg_proc p "
            "JOIN pg_namespace n ON n.oid = p.pronamespace "
            "WHERE n.nspname = %s AND p.proname = %s AND p.pronargs = 2",
            (schema, func),
        )[0]
        row = {
            "schema": schema,
            "object_name": table,
            "role": role,
            "owner": owner,
            "group": group,
            "fname": func,
            "identity_args": identity_args,
        }
        templates = [
            "REVOKE ALL ON TABLE {{ qualified(schema, object_name) }} FROM {{ role|role }};",
            "ALTER TABLE {{ qualified(schema, object_name) }} OWNER TO {{ owner|role }};",
            "REVOKE CREATE ON SCHEMA {{ schema|ident }} FROM PUBLIC;",
            "REVOKE EXECUTE ON FUNCTION {{ func(schema, fname, identity_args) }} FROM PUBLIC;",
            "ALTER FUNCTION {{ schema|func(fname, identity_args) }} OWNER TO {{ owner|role }};",
            "REVOKE {{ group|ident }} FROM {{ role|role }};",
        ]
        before = _state(conn)
        for template in templates:
            sql = render(template, row, "hostile-test")
            assert len(parse_sql(sql)) == 1
            assert "destructive" not in classify(sql)
            conn.execute(sql.encode("utf-8"))
        after = _state(conn)

        changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
        oids = dict(
            _q(conn, "SELECT rolname, oid FROM pg_roles WHERE rolname = ANY(%s)", (list(roles),))
        )
        func_key = next(
            k for k in after if k[0] == "func" and k[1] == schema and after[k][0] != before[k][0]
        )
        # Exactly: the table, the schema, the two-argument function, one membership.
        assert changed == {
            ("rel", schema, table),
            ("schema", schema),
            func_key,
            ("member", oids[group], oids[role]),
        }
        # The table: new owner, the target role lost everything, the other role kept its grants.
        assert after[("rel", schema, table)][0] == oids[owner]
        rel_where = (
            "o.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = %s) AND o.relname = %s"
        )
        grants = _grants(conn, "rel", rel_where, (schema, table))
        assert not any(g == role for g, _ in grants)
        assert {(other, "SELECT"), (other, "INSERT")} <= grants
        assert (role, "SELECT") in _grants(conn, "rel", rel_where, (schema, neighbour))
        # The schema: PUBLIC lost CREATE only.
        nsp = _grants(conn, "nsp", "o.nspname = %s", (schema,))
        assert ("PUBLIC", "CREATE") not in nsp and ("PUBLIC", "USAGE") in nsp
        assert (other, "USAGE") in nsp
        # The two-argument function: PUBLIC lost EXECUTE, new owner; the overload untouched.
        assert not any(g == "PUBLIC" for g, _ in _grants(conn, "proc", "o.oid = %s", (func_oid,)))
        assert _q(conn, "SELECT proowner FROM pg_proc WHERE oid = %s", (func_oid,)) == [
            (oids[owner],)
        ]
        assert _q(
            conn,
            "SELECT count(*) FROM pg_proc p JOIN pg_namespace n "
            "ON n.oid = p.pronamespace WHERE n.nspname = %s AND p.proname = %s "
            "AND p.pronargs = 1 AND p.proacl IS NULL",
            (schema, func),
        ) == [(1,)]
        # Membership: group -> other remains; the sentinel table survives.
        assert ("member", oids[group], oids[other]) in after
        assert _q(conn, "SELECT to_regclass('public.x') IS NOT NULL") == [(True,)]
    finally:
        conn.execute(_sql("DROP SCHEMA IF EXISTS {} CASCADE", schema))
        for r in roles:
            conn.execute(_sql("DROP OWNED BY {}", r))
            conn.execute(_sql("DROP ROLE {}", r))
        conn.close()
