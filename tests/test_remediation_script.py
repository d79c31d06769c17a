"""The remediation script: shape and safety without a server, then psql on 13-18.

The server test builds objects with hostile names in three databases whose names need
each of psql's quoting forms, renders findings through the real templates, runs the
script with ``psql -X -v ON_ERROR_STOP=1 -f`` and compares the catalog before and after:
exactly the intended objects changed, nothing else.
"""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fixrescan_support import psql_binary, psql_file
from pglast import parse_sql

from pgaudit_roles.core.errors import UsageError
from pgaudit_roles.core.model import Finding, Rule, RuleResult, ScanResult
from pgaudit_roles.core.sqlquote import quote_ident
from pgaudit_roles.evaluate.remediation import render
from pgaudit_roles.reports.sql_script import (
    comment_text,
    one_line,
    psql_connect,
    redact,
    render_sql_script,
)

WHEN = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def _rule(rule_id: str, severity: str = "high") -> Rule:
    return Rule(
        id=rule_id,
        title="t",
        severity=severity,
        category="c",
        rationale="r",
        query="SELECT 1",
        message="m",
    )


def _result(findings: list[Finding], logins: tuple[str, ...] = (), **meta: Any) -> ScanResult:
    by_rule: dict[str, list[Finding]] = {}
    for f in findings:
        by_rule.setdefault(f.rule_id, []).append(f)
    results = [RuleResult(_rule(r), "fail", findings=fs) for r, fs in by_rule.items()]
    inventory = {"roles": [{"name": n, "login": True} for n in logins]}
    return ScanResult(
        meta={
            "target": {"host": "db1", "port": 5432, "dbname": "postgres"},
            "server_version": "18.1",
            **meta,
        },
        results=results,
        inventory=inventory,
    )


def _sql_lines(script: str) -> list[str]:
    return [ln for ln in script.splitlines() if ln and not ln.startswith("--")]


def _without_meta(script: str) -> str:
    """The script minus psql meta-command lines: must be valid SQL for pglast."""
    return "\n".join(
        ln for ln in script.split("\n") if not ln.startswith(("\\connect ", "\\set ON_ERROR_STOP"))
    )


HOSTILE = "evil\n\\! touch /tmp/pgaudit-pwned\nDROP TABLE x; -- \r\u2028<script>"


def test_header_levels_and_validity() -> None:
    f1 = Finding(
        "PGR-A-001",
        "high",
        "PUBLIC can create",
        database="app",
        object_type="schema",
        object_name="public",
        remediation="REVOKE CREATE ON SCHEMA public FROM PUBLIC;",
    )
    f2 = Finding(
        "PGR-B-001",
        "critical",
        "unused",
        role="old",
        remediation="DROP ROLE IF EXISTS old;",
        destructive=True,
    )
    res = _result([f1, f2])
    safe = render_sql_script(res, generated_at=WHEN, cluster_label="postgresql://u:hunter2@h/db")
    assert "hunter2" not in safe and "postgresql://u:********@h/db" in safe
    assert "REVIEW BEFORE RUNNING" in safe
    assert "2026-01-02T03:04:05+00:00" in safe and "PostgreSQL 18.1" in safe
    assert "level:     safe" in safe
    assert "\\set ON_ERROR_STOP on" in safe.splitlines()
    assert "REVOKE CREATE ON SCHEMA public FROM PUBLIC;" in _sql_lines(safe)
    assert "DROP ROLE IF EXISTS old;" not in _sql_lines(safe)
    assert "-- DESTRUCTIVE: review - omitted at level safe" in safe
    assert "1 destructive statement(s) were listed as comments only" in safe
    parse_sql(_without_meta(safe))

    full = render_sql_script(res, "all", generated_at=WHEN)
    lines = full.splitlines()
    i = lines.index("DROP ROLE IF EXISTS old;")
    assert lines[i - 1] == "-- DESTRUCTIVE: review"
    assert "level:     all" in full
    parse_sql(_without_meta(full))
    with pytest.raises(UsageError, match="safe, all"):
        render_sql_script(res, "everything")


def test_transactions_and_connects() -> None:
    fs = [
        Finding(
            "PGR-A-001",
            "high",
            "m",
            database=db,
            object_name="s",
            remediation="REVOKE CREATE ON SCHEMA s FROM PUBLIC;",
        )
        for db in ("zeta", "alpha")
    ]
    fs.append(Finding("PGR-R-001", "high", "m", role="r", remediation="ALTER ROLE r NOCREATEDB;"))
    fs.append(
        Finding("PGR-S-001", "low", "m", remediation="ALTER SYSTEM SET log_connections = on;")
    )
    script = render_sql_script(_result(fs), generated_at=WHEN)
    sql = _sql_lines(script)
    connects = [ln for ln in sql if ln.startswith("\\connect")]
    # cluster-wide first (maintenance db), then databases by name, then ALTER SYSTEM.
    assert connects == [
        '\\connect "postgres"',
        '\\connect "alpha"',
        '\\connect "zeta"',
        '\\connect "postgres"',
    ]
    assert sql.count("BEGIN;") == 3 and sql.count("COMMIT;") == 3
    tail = sql[sql.index("ALTER SYSTEM SET log_connections = on;") - 2 :]
    assert "BEGIN;" not in tail and "SELECT pg_catalog.pg_reload_conf();" in tail
    assert sql.index("ALTER ROLE r NOCREATEDB;") < sql.index('\\connect "alpha"')


def test_safe_order_across_findings() -> None:
    """Grants before ownership changes before revokes before drops, DROP ROLE last."""
    fs = [
        Finding(
            "PGR-Z-001",
            "high",
            "m",
            database="d",
            object_name="t1",
            remediation="REVOKE ALL ON TABLE s.t1 FROM old_owner;",
        ),
        Finding(
            "PGR-Y-001",
            "high",
            "m",
            database="d",
            object_name="t2",
            remediation="DROP TABLE IF EXISTS s.t2;\nREASSIGN OWNED BY old_owner TO new_owner;",
        ),
        Finding(
            "PGR-X-001",
            "high",
            "m",
            database="d",
            object_name="t1",
            remediation="ALTER TABLE s.t1 OWNER TO new_owner;",
        ),
        Finding(
            "PGR-W-001",
            "high",
            "m",
            database="d",
            object_name="t1",
            remediation="GRANT SELECT ON TABLE s.t1 TO new_owner;",
        ),
        Finding(
            "PGR-V-001",
            "high",
            "m",
            database="d",
            role="old_owner",
            remediation="DROP ROLE IF EXISTS old_owner;\nDROP OWNED BY old_owner;",
        ),
    ]
    sql = _sql_lines(render_sql_script(_result(fs), "all", generated_at=WHEN))
    order = [
        "GRANT SELECT ON TABLE s.t1 TO new_owner;",
        "ALTER TABLE s.t1 OWNER TO new_owner;",
        "REASSIGN OWNED BY old_owner TO new_owner;",
        "REVOKE ALL ON TABLE s.t1 FROM old_owner;",
        "DROP OWNED BY old_owner;",
        "DROP TABLE IF EXISTS s.t2;",
        "DROP ROLE IF EXISTS old_owner;",
    ]
    assert [sql.index(s) for s in order] == sorted(sql.index(s) for s in order)
    # DROP ROLE runs after the database's transaction, from the maintenance database.
    assert sql.index("COMMIT;") < sql.index("DROP ROLE IF EXISTS old_owner;")
    assert "CASCADE" not in "\n".join(sql)


def test_hostile_text_cannot_leave_a_comment() -> None:
    f = Finding(
        "PGR-A-001",
        "high",
        HOSTILE,
        database=HOSTILE,
        object_type="table",
        schema=HOSTILE,
        object_name=HOSTILE,
        role=HOSTILE,
        remediation=render(
            "REVOKE ALL ON TABLE {{ qualified(s, t) }} FROM {{ r|role }};",
            {"s": HOSTILE, "t": HOSTILE, "r": HOSTILE},
        ),
        manual=HOSTILE + "\nsecond line",
        destructive=True,
    )
    w = Finding(
        "PGR-B-001",
        "low",
        HOSTILE,
        role=HOSTILE,
        remediation="ALTER ROLE x NOLOGIN;",
        suppressed={"reason": HOSTILE, "owner": HOSTILE},
    )
    for level in ("safe", "all"):
        script = render_sql_script(_result([f, w]), level, generated_at=WHEN, cluster_label=HOSTILE)
        parse_sql(_without_meta(script))
        # Names in statements are written in U&"..." form when they hold control
        # characters, and escaped in comments: the hostile text never starts a line and
        # never carries a raw line break, anywhere in the script.
        assert "\r" not in script and "\u2028" not in script
        assert quote_ident(HOSTILE) not in script
        lines = script.split("\n")
        for ln in lines:
            assert not ln.startswith("\\!"), ln
            assert not ln.startswith("DROP TABLE x"), ln
        meta = [ln for ln in lines if ln.startswith("\\")]
        assert all(ln.startswith(("\\set ON_ERROR_STOP", "\\connect")) for ln in meta)
        assert len([ln for ln in meta if ln.startswith("\\connect")]) == 1
        assert "ALTER ROLE x NOLOGIN;" not in script  # waived: never emitted


def test_comment_text_escapes() -> None:
    assert comment_text("a\nb\r\\c\x1b\u2028\u202e") == "a\\nb\\r\\\\c\\x1b\\u2028\\u202e"
    assert comment_text("plain é 日本") == "plain é 日本"


def test_redact() -> None:
    assert redact("host=h password='a b' user=u") == "host=h password=******** user=u"
    assert redact("host=h password=secret") == "host=h password=********"
    assert redact("postgres://u:p%40ss@h:5432/d") == "postgres://u:********@h:5432/d"


def test_manual_waived_errors_and_passwords() -> None:
    manual = Finding(
        "PGR-M-001",
        "critical",
        "superuser used by app",
        role="app_api",
        manual="Move the app to app_api.\nThen remove SUPERUSER.",
    )
    waived = Finding(
        "PGR-W-001",
        "high",
        "w",
        role="break_glass",
        remediation="ALTER ROLE break_glass NOSUPERUSER;",
        suppressed={
            "kind": "waiver",
            "reason": "break-glass",
            "owner": "dba",
            "expires": "2027-01-01",
        },
    )
    broken = Finding("PGR-E-001", "high", "e", role="r", remediation="SELECT 1; DROP TABLE x;")
    login = Finding(
        "PGR-L-001",
        "medium",
        "l",
        role="newapp",
        remediation="CREATE ROLE newapp LOGIN NOSUPERUSER;",
    )
    script = render_sql_script(_result([manual, waived, broken, login]), generated_at=WHEN)
    assert "MANUAL STEPS" in script
    assert "--     Move the app to app_api." in script and "--     Then remove SUPERUSER." in script
    assert (
        "WAIVED findings" in script
        and "waived: break-glass | owner: dba | expires: 2027-01-01" in script
    )
    assert "ALTER ROLE break_glass NOSUPERUSER;" not in _sql_lines(script)
    assert "NOT EMITTED" in script and "SelectStmt is not allowed" in script
    assert "DROP TABLE x" not in "\n".join(_sql_lines(script))
    assert "CREATE ROLE newapp LOGIN NOSUPERUSER;" in _sql_lines(script)
    assert "PASSWORD: set this role's credential from your secrets manager" in script
    assert "PASSWORD '" not in script.upper()


def test_nothing_to_do() -> None:
    script = render_sql_script(_result([]), generated_at=WHEN)
    assert "Nothing to run" in script and "BEGIN;" not in script


def test_revoke_from_login_role_is_destructive() -> None:
    f = Finding(
        "PGR-A-001",
        "high",
        "m",
        database="d",
        role="app_api",
        remediation="REVOKE INSERT ON TABLE t FROM app_api;\nREVOKE INSERT ON TABLE t FROM db_reader;",
    )
    sql = _sql_lines(render_sql_script(_result([f], logins=("app_api",)), generated_at=WHEN))
    assert "REVOKE INSERT ON TABLE t FROM db_reader;" in sql
    assert "REVOKE INSERT ON TABLE t FROM app_api;" not in sql


def test_psql_connect_forms() -> None:
    assert psql_connect("app") == '\\connect "app"'
    assert psql_connect('a "b"') == '\\connect "a ""b"""'
    assert psql_connect("a=b").startswith("\\connect -reuse-previous=on 'dbname=")
    assert "\n" not in psql_connect("a\nb") and "\\012" in psql_connect("a\nb")
    with pytest.raises(ValueError):
        psql_connect("")


# --- on real servers, with psql ----------------------------------------------------------


def test_grants_to_a_former_owner_run_after_its_ownership_change() -> None:
    """ALTER ... OWNER TO carries the old owner's ACL entries to the new owner: a grant to
    the old owner (a writer group that owned a table) must run after it, or the writer
    ends up with nothing. Grants to other roles keep their place before it."""
    fs = [
        Finding(
            "PGR-DEFP-001",
            "medium",
            "m",
            database="d",
            role="db_writer_x",
            remediation="GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA s TO db_writer_x;",
        ),
        Finding(
            "PGR-OWN-001",
            "high",
            "m",
            database="d",
            object_name="t",
            role="db_writer_x",
            remediation=(
                "GRANT SELECT, INSERT ON TABLE s.t TO db_writer_x;\n"
                "GRANT SELECT ON TABLE s.t TO db_reader_x;\n"
                "ALTER TABLE s.t OWNER TO db_owner_x;"
            ),
        ),
        Finding(
            "PGR-PRIV-004",
            "medium",
            "m",
            database="d",
            remediation="REVOKE ALL ON DATABASE d FROM PUBLIC;",
        ),
    ]
    sql = _sql_lines(render_sql_script(_result(fs), "all", generated_at=WHEN))
    order = [
        "GRANT SELECT ON TABLE s.t TO db_reader_x;",
        "ALTER TABLE s.t OWNER TO db_owner_x;",
        "GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA s TO db_writer_x;",
        "GRANT SELECT, INSERT ON TABLE s.t TO db_writer_x;",
        "REVOKE ALL ON DATABASE d FROM PUBLIC;",
    ]
    assert [sql.index(s) for s in order] == sorted(sql.index(s) for s in order)


def _run_psql(
    pg, script: str, tmp_path: Path, name: str = "remediation.sql"
) -> subprocess.CompletedProcess:
    path = tmp_path / name
    path.write_text(script, encoding="utf-8")
    return psql_file(pg.cluster.install, pg.conninfo(), path, 120)


def _state(pg, dbs: list[str]) -> dict[tuple, Any]:
    """Owners, ACLs and role attributes: what a remediation could change."""
    out: dict[tuple, Any] = {}
    for name, *attrs in pg.query(
        "SELECT rolname, rolsuper, rolcreatedb, rolcreaterole, rolcanlogin, rolconnlimit "
        "FROM pg_roles"
    ):
        out[("role", name)] = tuple(attrs)
    for role, member in pg.query(
        "SELECT roleid::regrole::text, member::regrole::text FROM pg_auth_members"
    ):
        out[("member", role, member)] = True
    for name, owner, acl in pg.query(
        "SELECT datname, datdba::regrole::text, datacl::text FROM pg_database"
    ):
        out[("database", name)] = (owner, acl)
    for db in dbs:
        for nsp, owner, acl in pg.query(
            "SELECT nspname, nspowner::regrole::text, nspacl::text FROM pg_namespace "
            "WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema'",
            dbname=db,
        ):
            out[(db, "schema", nsp)] = (owner, acl)
        for nsp, rel, owner, acl in pg.query(
            "SELECT n.nspname, c.relname, c.relowner::regrole::text, c.relacl::text "
            "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'",
            dbname=db,
        ):
            out[(db, "rel", nsp, rel)] = (owner, acl)
    return out


def _grants(pg, db: str, schema: str, rel: str) -> set[tuple[str, str]]:
    """(grantee name or PUBLIC, privilege) on one relation, read with aclexplode."""
    rows = pg.query(
        "SELECT coalesce(r.rolname, 'PUBLIC'), a.privilege_type "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, "
        "aclexplode(c.relacl) a LEFT JOIN pg_roles r ON r.oid = a.grantee "
        "WHERE n.nspname = %s AND c.relname = %s",
        (schema, rel),
        dbname=db,
    )
    return {(g, p) for g, p in rows}


def _changed(before: dict, after: dict) -> set[tuple]:
    return {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}


_ident = quote_ident


@pytest.mark.pg
def test_script_runs_with_psql_and_changes_only_its_targets(pg, tmp_path: Path) -> None:
    u = pg.unique("r")
    db_a = f'app "{u}" `id` :v'  # \connect "..." form
    db_b = f"b={u} 'q' \\ d"  # has '=': connection-string form
    db_c = f"c\n\\! touch /tmp/pgaudit-pwned\n{u}"  # newline: connection-string form
    app = f"app'\"; DROP TABLE x; --{u}"[:60]
    owner = f"Owner Role {u}"
    reader = f"reader\\{u}"
    old = f'old "role" {u}'
    waived_su = f"break glass {u}"
    other = f"other {u}"
    schema = f'S "x"\n{u}'
    table = f"t\\q\n\\! touch /tmp/pgaudit-pwned\n{u}"
    for db in (db_a, db_b, db_c):
        pg.create_database(db)
    try:
        pg.execute(f"""
            CREATE ROLE {_ident(app)} LOGIN CREATEDB CREATEROLE;
            CREATE ROLE {_ident(owner)} NOLOGIN;
            CREATE ROLE {_ident(reader)} NOLOGIN;
            CREATE ROLE {_ident(old)} NOLOGIN;
            CREATE ROLE {_ident(waived_su)} SUPERUSER NOLOGIN;
            CREATE ROLE {_ident(other)} NOLOGIN;
        """)
        q_table = f"{_ident(schema)}.{_ident(table)}"
        pg.execute(
            f"""
            CREATE TABLE x (id int);
            CREATE SCHEMA {_ident(schema)};
            GRANT USAGE, CREATE ON SCHEMA {_ident(schema)} TO PUBLIC;
            CREATE TABLE {q_table} (id int);
            ALTER TABLE {q_table} OWNER TO {_ident(app)};
            GRANT SELECT, INSERT ON {q_table} TO {_ident(reader)};
            GRANT SELECT ON {q_table} TO {_ident(other)};
            CREATE TABLE {_ident(schema)}.untouched (id int);
            GRANT SELECT ON {_ident(schema)}.untouched TO {_ident(reader)}, {_ident(app)};
            CREATE TABLE {_ident(schema)}.bystander (id int);
            GRANT SELECT ON {_ident(schema)}.bystander TO {_ident(app)};
        """,
            dbname=db_a,
        )
        for db in (db_b, db_c):
            pg.execute(
                f"CREATE TABLE x (id int); CREATE SCHEMA sch; "
                f"GRANT CREATE ON SCHEMA sch TO PUBLIC; "
                f"GRANT USAGE ON SCHEMA sch TO {_ident(other)};",
                dbname=db,
            )

        def fnd(rule: str, template: str, row: dict, **kw: Any) -> Finding:
            return Finding(
                rule,
                kw.pop("severity", "high"),
                kw.pop("message", "m"),
                remediation=render(template, row, rule),
                **kw,
            )

        row = {
            "schema": schema,
            "object_name": table,
            "app": app,
            "owner": owner,
            "reader": reader,
            "old": old,
            "waived": waived_su,
        }
        findings = [
            fnd(
                "PGR-OWN-001",
                "GRANT USAGE ON SCHEMA {{ schema|ident }} TO {{ owner|role }};\n"
                "ALTER TABLE {{ qualified(schema, object_name) }} OWNER TO {{ owner|role }};",
                row,
                database=db_a,
                object_type="table",
                schema=schema,
                object_name=table,
                role=app,
                message=HOSTILE,
            ),
            fnd(
                "PGR-PRIV-005",
                "REVOKE ALL ON TABLE {{ qualified(schema, 'untouched') }} FROM {{ app|role }};",
                row,
                database=db_a,
                object_type="table",
                schema=schema,
                object_name="untouched",
                role=app,
            ),
            fnd(
                "PGR-PRIV-002",
                "REVOKE INSERT ON TABLE {{ qualified(schema, object_name) }} "
                "FROM {{ reader|role }};",
                row,
                database=db_a,
                object_type="table",
                schema=schema,
                object_name=table,
                role=reader,
            ),
            fnd(
                "PGR-PRIV-001",
                "REVOKE CREATE ON SCHEMA {{ s|ident }} FROM {{ g|role(true) }};",
                {"s": schema, "g": None},
                database=db_a,
                object_type="schema",
                object_name=schema,
            ),
            *[
                fnd(
                    "PGR-PRIV-001",
                    "REVOKE CREATE ON SCHEMA {{ s|ident }} FROM PUBLIC;",
                    {"s": "sch"},
                    database=db,
                    object_type="schema",
                    object_name="sch",
                )
                for db in (db_b, db_c)
            ],
            fnd(
                "PGR-ROLE-003", "ALTER ROLE {{ app|role }} NOCREATEDB NOCREATEROLE;", row, role=app
            ),
            fnd(
                "PGR-ROLE-009",
                "DROP ROLE IF EXISTS {{ old|role }};",
                row,
                role=old,
                destructive=True,
            ),
            fnd(
                "PGR-ROLE-001",
                "ALTER ROLE {{ waived|role }} NOSUPERUSER;",
                row,
                role=waived_su,
                suppressed={"kind": "waiver", "reason": HOSTILE, "owner": "dba"},
            ),
            Finding("PGR-ROLE-002", "critical", HOSTILE, role=app, manual=HOSTILE),
        ]
        result = _result(findings, logins=(app,))
        dbs = [db_a, db_b, db_c]
        before = _state(pg, dbs)
        pwned = Path("/tmp/pgaudit-pwned")
        pwned.unlink(missing_ok=True)

        safe = render_sql_script(result, "safe", generated_at=WHEN)
        run = _run_psql(pg, safe, tmp_path)
        assert run.returncode == 0, run.stderr + "\n" + safe
        assert "ERROR" not in run.stderr
        assert not pwned.exists()
        after = _state(pg, dbs)
        expected = {
            ("role", app),  # NOCREATEDB NOCREATEROLE
            (db_a, "rel", schema, table),  # new owner; reader lost INSERT
            (db_a, "schema", schema),  # owner got USAGE; PUBLIC lost CREATE
            (db_b, "schema", "sch"),
            (db_c, "schema", "sch"),
        }
        assert _changed(before, after) == expected
        assert after[("role", app)][1:3] == (False, False)
        assert after[(db_a, "rel", schema, table)][0] == _ident(owner)
        grants = _grants(pg, db_a, schema, table)
        assert (reader, "SELECT") in grants and (reader, "INSERT") not in grants
        assert (other, "SELECT") in grants and (owner, "INSERT") in grants
        assert not any(g == app for g, _ in grants)
        # The REVOKE from the login role is destructive: not run at level safe.
        assert (app, "SELECT") in _grants(pg, db_a, schema, "untouched")
        assert after[("role", waived_su)][0] is True  # waived: untouched
        assert ("role", old) in after  # destructive DROP ROLE omitted
        for db in dbs:
            assert pg.query("SELECT to_regclass('public.x') IS NOT NULL", dbname=db) == [(True,)]
            assert pg.query(
                "SELECT has_schema_privilege('public', %s, 'CREATE')",
                (schema if db == db_a else "sch",),
                dbname=db,
            ) == [(False,)]

        # Idempotent: the same script again changes nothing and still succeeds.
        again = _run_psql(pg, safe, tmp_path, "again.sql")
        assert again.returncode == 0, again.stderr
        assert _state(pg, dbs) == after

        # Level all: now the destructive statements run too, and nothing else changes.
        full = render_sql_script(result, "all", generated_at=WHEN)
        run = _run_psql(pg, full, tmp_path, "all.sql")
        assert run.returncode == 0, run.stderr
        final = _state(pg, dbs)
        assert _changed(after, final) == {(db_a, "rel", schema, "untouched"), ("role", old)}
        assert ("role", old) not in final
        untouched = _grants(pg, db_a, schema, "untouched")
        assert (app, "SELECT") not in untouched and (reader, "SELECT") in untouched
        assert (app, "SELECT") in _grants(pg, db_a, schema, "bystander")
        assert not pwned.exists()
    finally:
        for db in (db_a, db_b, db_c):
            pg.drop_database(db)
        for r in (app, owner, reader, old, waived_su, other):
            if pg.query("SELECT 1 FROM pg_roles WHERE rolname = %s", (r,)):
                pg.execute(f"DROP OWNED BY {_ident(r)}; DROP ROLE {_ident(r)};")


@pytest.mark.pg
def test_error_stops_and_rolls_back_the_database(pg, tmp_path: Path) -> None:
    db = pg.create_database()
    role = pg.unique("victim")
    try:
        pg.execute(f"CREATE ROLE {role} NOLOGIN")
        pg.execute(f"CREATE TABLE t (id int); GRANT SELECT ON t TO {role};", dbname=db)
        fs = [
            Finding(
                "PGR-A-001",
                "high",
                "m",
                database=db,
                remediation=f"REVOKE SELECT ON TABLE t FROM {role};",
            ),  # noqa: S608 - test name
            Finding(
                "PGR-B-001",
                "high",
                "m",
                database=db,
                remediation="REVOKE SELECT ON TABLE t FROM no_such_role_xyz;",
            ),
            Finding(
                "PGR-C-001",
                "high",
                "m",
                role=role,
                remediation=f"ALTER ROLE {role} CONNECTION LIMIT 3;",
            ),
        ]
        run = _run_psql(pg, render_sql_script(_result(fs), generated_at=WHEN), tmp_path)
        assert run.returncode == 3 and "no_such_role_xyz" in run.stderr
        # The cluster section (before the failing database) committed; the database's
        # transaction, including the REVOKE that ran before the error, rolled back.
        assert pg.query("SELECT rolconnlimit FROM pg_roles WHERE rolname = %s", (role,)) == [(3,)]
        assert pg.query(f"SELECT has_table_privilege('{role}', 't', 'SELECT')", dbname=db) == [
            (True,)
        ]
    finally:
        pg.drop_database(db)
        pg.execute(f"DROP ROLE IF EXISTS {role}")


@pytest.mark.pg
def test_psql_connect_reaches_every_tricky_database(pg, tmp_path: Path) -> None:
    """Each \\connect line lands in exactly the database it names (psql's own reading)."""
    u = pg.unique("")
    names = [
        f"a\\b{u}",
        f"end{u}\\",
        f'x\\" \\q{u}',
        f"sp {u} ",
        f" lead{u}",
        f'app "db" `id` :v{u}',
        f"b={u} 'q' \\ d",
        f"c\nline\t'\\{u}",
        f"postgresql://x{u}",
        f"-{u}",
        f"a:'b'{u}",
        f'é 日本 ""{u}',
        f"x\rcr{u}",
        f"u\u2028x\u202ey{u}",
    ]
    for n in names:
        pg.create_database(n)
    try:
        script = "".join(f"{psql_connect(n)}\nSELECT current_database();\n" for n in names)
        path = tmp_path / "connect.sql"
        path.write_text("\\set ON_ERROR_STOP on\n" + script, encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        run = subprocess.run(
            [
                psql_binary(pg.cluster.install),
                "-X",
                "-q",
                "-A",
                "-t",
                "-z",
                "-0",
                "-f",
                str(path),
                "-d",
                pg.conninfo(),
            ],
            capture_output=True,
            env=env,
            timeout=60,
        )
        assert run.returncode == 0, run.stderr
        got = [r.decode("utf-8") for r in run.stdout.split(b"\x00") if r]
        assert got == names
    finally:
        for n in names:
            pg.drop_database(n)


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        (
            'ALTER TABLE s."t\nCOMMIT;\n-- ok" OWNER TO "a\\b"',
            'ALTER TABLE s.U&"t\\000ACOMMIT;\\000A-- ok" OWNER TO "a\\b"',
        ),
        ("COMMENT ON ROLE a IS E'x\\\\y\nz'", "COMMENT ON ROLE a IS U&'x\\\\y\\000Az'"),
        (
            "COMMENT ON ROLE \"q\"\"\r\" IS 'it''s\u2028'",
            "COMMENT ON ROLE U&\"q\"\"\\000D\" IS U&'it''s\\2028'",
        ),
        (
            "COMMENT ON ROLE \"\U0001f600\x01\" IS 'ok'",
            "COMMENT ON ROLE U&\"\U0001f600\\0001\" IS 'ok'",
        ),
        ("GRANT SELECT\n  ON t TO a", "GRANT SELECT\n  ON t TO a"),  # layout newlines stay
    ],
)
def test_one_line_statements(sql: str, expected: str) -> None:
    out = one_line(sql)
    assert out == expected
    assert [s.stmt for s in parse_sql(out)] == [s.stmt for s in parse_sql(sql)]


def test_one_line_skips_only_what_its_rewrite_leaves_alone() -> None:
    """one_line returns text without a quote unscanned: the rewrite (_rewritten) gives
    back the same text for it, whatever its control characters."""
    import random

    from pgaudit_roles.reports.sql_script import _rewritten

    rng = random.Random(17)
    pieces = [
        "GRANT SELECT ON t TO a;",
        "REVOKE ALL ON SCHEMA s FROM PUBLIC;",
        "\n",
        "\r\n",
        "\t",
        "\x01",
        "\u2028",
        "\u202e",
        " ",
        "x",
        "$$a\nb$$",
        "E",
        "U&",
        "'",
        '"',
        "''",
        "-- c\n",
        "/* c\n */",
        "ALTER ROLE u VALID UNTIL '2027-01-01';",
        'ALTER TABLE s."t\nx" OWNER TO o;',
    ]
    checked = 0
    for _ in range(3000):
        sql = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 8)))
        if sql.isprintable():
            continue
        assert one_line(sql) == _rewritten(sql), repr(sql)
        checked += "'" not in sql and '"' not in sql
    assert checked > 300  # the quote-free case (no scan) is covered, not only the rest


def test_finding_header_is_its_comment_words() -> None:
    """_finding_header writes its first line's words itself: the same line as _comment of
    those words (_header_comment), whatever is missing, empty, hostile or not text."""
    import dataclasses
    import itertools

    from pgaudit_roles.reports.sql_script import _comment, _finding_header, _header_comment

    base = Finding(
        rule_id="PGR-X-001",
        severity="high",
        message="m",
        database="db",
        object_type="table",
        schema="s",
        object_name="t",
        role="r",
    )
    values = {
        "severity": ["high", "", "crit\nical"],
        "database": [None, "", "d\u202eb", "a\\b"],
        "role": [None, "", "r\x1b[31m", 7],
        "object_identity": [None, "", 's."t\nx"'],
        "object_type": [None, "", "view"],
        "message": ["", "  ", " a \n\t b  ", "x\u2028y\\n"],
        "baseline": [None, "unchanged", "new"],
    }
    seen = 0
    for combo in itertools.product(*values.values()):
        f = dataclasses.replace(base, **dict(zip(values, combo, strict=True)))
        for fp in ("0123abcd", "", None, 5):
            f.fingerprint = fp  # type: ignore[assignment]
            for part in ("", "(part 2 of 3)"):
                lines = _finding_header(f, part)
                assert lines[0] == _header_comment(f, part)
                rest = []
                if f.message:
                    rest.append(_comment("  ", " ".join(str(f.message).split())))
                if f.baseline == "unchanged":
                    rest.append(_comment("   (accepted in the baseline; fix it when you can)"))
                assert lines[1:] == rest
                seen += 1
    assert seen > 5000


@pytest.mark.parametrize("findings", [0, 5, 3_000])
def test_written_script_is_the_rendered_one(findings: int) -> None:
    """write_report writes the script's lines in pieces (_LINES_PER_WRITE): the same text
    as render_sql_script, with or without statements, over more lines than one piece."""
    import re

    from report_fixtures import empty_result, many_result

    from pgaudit_roles.reports import render as render_format
    from pgaudit_roles.reports import sql_script

    result = many_result(findings) if findings else empty_result()
    written = render_format(result, "sql")
    rendered = sql_script.render_sql_script(result)
    if findings > 1_000:
        assert written.count("\n") > 2 * sql_script._LINES_PER_WRITE
    stamp = re.compile(r"^-- generated: \S+", re.M)  # the clock may tick between the two
    assert stamp.sub("", written) == stamp.sub("", rendered)
    assert written.endswith("\n")
