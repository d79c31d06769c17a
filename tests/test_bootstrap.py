"""``bootstrap-sql``: exactly the grants the collector needs, no password, names quoted.

Pure tests check the text; server tests (13-18) run it and check the resulting role and
the optional password-type helper against the catalogs.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from layouts import FX, ensure_cluster_layout

from pgaudit_roles.collect.bootstrap import DEFAULT_ROLE, bootstrap_sql, check_role_name
from pgaudit_roles.core.errors import UsageError

HOSTILE = "aud \"q'uote\n<script>alert(1)</script> \u00fc"


def statements(sql: str) -> list[str]:
    import pglast

    return [s.stmt.__class__.__name__ for s in pglast.parse_sql(sql)]


def test_default_script_is_the_minimum():
    sql = bootstrap_sql()
    assert statements(sql) == [
        "TransactionStmt",
        "CreateRoleStmt",
        "GrantRoleStmt",
        "GrantStmt",
        "GrantStmt",
        "DoStmt",
        "TransactionStmt",
    ]
    # the DO block: CONNECT on every database that accepts connections, explained
    assert "GRANT CONNECT ON DATABASE %I TO %s" in sql and "WHERE datallowconn" in sql
    assert "-- A database created later needs its own grant:" in sql
    assert f"CREATE ROLE {DEFAULT_ROLE} LOGIN NOSUPERUSER" in sql
    assert f"GRANT pg_monitor TO {DEFAULT_ROLE};" in sql
    assert f"GRANT SELECT ON pg_catalog.pg_hba_file_rules TO {DEFAULT_ROLE};" in sql
    assert f"GRANT EXECUTE ON FUNCTION pg_catalog.pg_hba_file_rules() TO {DEFAULT_ROLE};" in sql
    assert re.search(r"PASSWORD\s*'", sql, re.I) is None
    assert "secrets manager" in sql
    assert "pg_ident" not in sql and "SECURITY DEFINER" not in sql
    # where to run it: the pg_hba grants hold only in the database the script runs in
    assert "run as a superuser connected to the database the scan connects to" in sql
    assert "the pg_hba grants hold only in the database this script runs in" in sql
    assert "current_database" not in sql  # no check without --scan-database


HOSTILE_DB = "scan \"db\" 'x'\\ $in_database$ %s"


def test_scan_database_adds_a_check_that_the_script_runs_there():
    sql = bootstrap_sql(scan_database=HOSTILE_DB)
    assert statements(sql) == [
        "TransactionStmt",
        "DoStmt",
        "CreateRoleStmt",
        "GrantRoleStmt",
        "GrantStmt",
        "GrantStmt",
        "DoStmt",
        "TransactionStmt",
    ]
    import pglast

    check = pglast.parse_sql(sql)[1].stmt
    body = check.args[0].arg.sval  # the DO block's body, as PostgreSQL reads it
    literal = "E'scan \"db\" ''x''\\\\ $in_database$ %s'"
    assert f"pg_catalog.current_database() OPERATOR(pg_catalog.<>) {literal} THEN" in body
    assert "RAISE EXCEPTION" in body
    # the name in the header comment cannot end the comment
    assert '-- Review, then run as a superuser connected to database "scan ""db""' in sql
    assert "$in_database1$" in sql  # the tag steps aside


@pytest.mark.parametrize("bad", ["", "a\x00b", "d" * 64])
def test_bad_scan_database_is_a_usage_error(bad):
    with pytest.raises(UsageError, match="--scan-database"):
        bootstrap_sql(scan_database=bad)


def test_options_add_exactly_their_part():
    assert statements(bootstrap_sql(create_role=False)) == [
        "TransactionStmt",
        "GrantRoleStmt",
        "GrantStmt",
        "GrantStmt",
        "DoStmt",
        "TransactionStmt",
    ]
    assert statements(bootstrap_sql(connect_grants=False)) == [
        "TransactionStmt",
        "CreateRoleStmt",
        "GrantRoleStmt",
        "GrantStmt",
        "GrantStmt",
        "TransactionStmt",
    ]
    ident = bootstrap_sql(with_ident=True)
    assert "GRANT SELECT ON pg_catalog.pg_ident_file_mappings" in ident
    assert "GRANT EXECUTE ON FUNCTION pg_catalog.pg_ident_file_mappings()" in ident
    pw = bootstrap_sql(with_password_check=True)
    assert "SECURITY DEFINER" in pw and "SET search_path = pg_catalog, pg_temp" in pw
    assert "REVOKE ALL ON FUNCTION pgaudit_roles.password_types() FROM PUBLIC;" in pw
    assert "rolpassword," not in pw  # only classified, never selected as such
    statements(pw)  # parses


def test_hostile_role_name_is_quoted_everywhere_even_in_comments():
    sql = bootstrap_sql(HOSTILE, with_password_check=True)
    quoted = '"aud ""q\'uote\n<script>alert(1)</script> \u00fc"'
    assert f"CREATE ROLE {quoted} LOGIN" in sql
    assert f"GRANT pg_monitor TO {quoted};" in sql
    # A newline in a name must not end a comment and smuggle SQL out of it.
    lines = sql.splitlines()
    for prev, line in zip(lines, lines[1:], strict=False):
        if line.startswith("<script>"):  # the part of the name after its newline
            assert not prev.startswith("--"), (prev, line)
    assert "-- e.g. in psql: \\password " + quoted.replace("\n", "\\n") in sql
    kinds = statements(sql)
    assert kinds.count("CreateRoleStmt") == 1
    assert "DropStmt" not in kinds


@pytest.mark.parametrize("bad", ["", "pg_auditor", "x" * 64, "a\x00b", "public", "none"])
def test_bad_role_names_are_usage_errors(bad):
    with pytest.raises(UsageError):
        check_role_name(bad)


def test_cli_prints_script_and_exit_codes():
    ok = subprocess.run(
        [sys.executable, "-m", "pgaudit_roles.cli", "bootstrap-sql", "--role", "Auditor X"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ok.returncode == 0 and ok.stderr == ""
    assert ok.stdout == bootstrap_sql("Auditor X")
    bad = subprocess.run(
        [sys.executable, "-m", "pgaudit_roles.cli", "bootstrap-sql", "--role", "pg_nope"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr.count("\n") == 1 and "reserved" in bad.stderr
    scan = subprocess.run(
        [sys.executable, "-m", "pgaudit_roles.cli", "bootstrap-sql", "--scan-database", "app db"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert scan.returncode == 0 and scan.stdout == bootstrap_sql(scan_database="app db")


# --- on real servers ---------------------------------------------------------------------


@pytest.mark.pg
def test_script_runs_and_grants_exactly_what_collect_needs(pg):
    name = pg.unique("boot")
    pg.execute(bootstrap_sql(name))
    row = pg.query(
        "SELECT r.rolcanlogin, r.rolsuper, r.rolcreaterole, r.rolcreatedb, r.rolinherit,"
        " pg_has_role(r.oid, 'pg_monitor', 'MEMBER'),"
        " has_table_privilege(r.oid, 'pg_catalog.pg_hba_file_rules', 'SELECT'),"
        " has_function_privilege(r.oid, 'pg_catalog.pg_hba_file_rules()', 'EXECUTE'),"
        " (SELECT count(*) FROM pg_auth_members m WHERE m.member = r.oid)"
        " FROM pg_roles r WHERE r.rolname = %s",
        (name,),
    )
    assert row == [(True, False, False, False, True, True, True, True, 1)]
    # The auditor can read the view now (both grants are needed).
    assert pg.query("SELECT count(*) > 0 FROM pg_catalog.pg_hba_file_rules", user=name) == [(True,)]


@pytest.mark.pg
def test_hostile_role_name_round_trips_on_the_server(pg):
    name = HOSTILE + pg.unique("")[-6:]
    pg.execute(bootstrap_sql(name))
    assert pg.query("SELECT count(*) FROM pg_roles WHERE rolname = %s", (name,)) == [(1,)]


@pytest.mark.pg
def test_ident_grants_on_15_and_later(pg):
    name = pg.unique("boot_ident")
    sql = bootstrap_sql(name, with_ident=True)
    if pg.major < 15:
        import psycopg

        with pytest.raises(psycopg.errors.UndefinedTable):
            pg.execute(sql)
        return
    pg.execute(sql)
    assert pg.query(
        "SELECT has_table_privilege(%s, 'pg_catalog.pg_ident_file_mappings', 'SELECT')", (name,)
    ) == [(True,)]


@pytest.mark.pg
def test_password_check_helper(pg):
    db = pg.unique("boot_pw")
    pg.create_database(db)
    ensure_cluster_layout(pg)  # the fx_md5 / fx_scram roles
    name = pg.unique("boot_pw_auditor")
    pg.execute(bootstrap_sql(name, with_password_check=True), dbname=db)
    fn = pg.query(
        "SELECT p.prosecdef, o.rolsuper, p.proconfig, p.proacl::text[]"
        " FROM pg_proc p JOIN pg_roles o ON o.oid = p.proowner"
        " WHERE p.oid = 'pgaudit_roles.password_types()'::regprocedure",
        dbname=db,
    )
    secdef, owner_super, config, acl = fn[0]
    assert secdef is True and owner_super is True
    assert config == ["search_path=pg_catalog, pg_temp"]
    assert not any(a.startswith("=") for a in acl)  # nothing for PUBLIC
    assert any(a.startswith(f"{name}=X/") for a in acl)
    types = dict(
        pg.query(
            "SELECT role_name::text, password_type FROM pgaudit_roles.password_types()",
            dbname=db,
            user=name,
        )
    )
    assert types[FX.md5] == "md5" and types[FX.scram] == "scram-sha-256"
    assert types[FX.owner] == "none"
    # Never the hash: no column of the result holds one.
    everything = pg.query(
        "SELECT p::text FROM pgaudit_roles.password_types() p", dbname=db, user=name
    )
    assert not any("SCRAM-SHA-256$" in r[0] or "md5114ab" in r[0] for r in everything)
    # Others cannot call it.
    import psycopg

    other = pg.unique("boot_pw_other")
    pg.execute(f'CREATE ROLE "{other}" LOGIN')
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        pg.query("SELECT * FROM pgaudit_roles.password_types()", dbname=db, user=other)


@pytest.mark.pg
def test_connect_grants_reach_databases_public_cannot_enter(pg):
    """The guide revokes CONNECT from PUBLIC: the DO block grants it to the auditor by name
    on every database that accepts connections (template0 does not), hostile names too;
    --no-connect-grants leaves it out."""
    db = pg.create_database(pg.unique("boot_conn") + ' "x"')
    try:
        pg.execute(f'REVOKE CONNECT ON DATABASE "{db.replace(chr(34), chr(34) * 2)}" FROM PUBLIC')
        name = HOSTILE + pg.unique("")[-6:]
        pg.execute(bootstrap_sql(name))
        assert pg.query("SELECT has_database_privilege(%s, %s, 'CONNECT')", (name, db)) == [(True,)]
        assert pg.query(
            "SELECT count(*) FROM pg_database d WHERE d.datallowconn AND NOT "
            "has_database_privilege(%s, d.oid, 'CONNECT')",
            (name,),
        ) == [(0,)]
        other = pg.unique("boot_noconn")
        script = bootstrap_sql(other, connect_grants=False)
        assert "GRANT CONNECT" not in script
        pg.execute(script)
        assert pg.query("SELECT has_database_privilege(%s, %s, 'CONNECT')", (other, db)) == [
            (False,)
        ]
    finally:
        pg.drop_database(db)


def _drop_role(pg, name: str) -> None:
    """DROP OWNED revokes its grants in postgres and on shared objects (CONNECT)."""
    quoted = '"' + name.replace('"', '""') + '"'
    pg.execute(f"DROP OWNED BY {quoted}; DROP ROLE {quoted}")


@pytest.mark.pg
def test_pg_hba_grants_hold_only_in_the_database_they_run_in(pg):
    """Checked on the server, not assumed: the role, pg_monitor and CONNECT are cluster-wide;
    the pg_hba_file_rules grants live in the catalog of the database the script ran in, so
    the collector reads pg_hba only through that database (elsewhere the gap names the
    database), and a later database copies them only from its template."""
    import psycopg
    from psycopg import sql as psql

    from pgaudit_roles.collect.collector import collect

    other = pg.create_database(pg.unique("boot_other"))
    scan_db = pg.create_database(pg.unique("boot_scan") + " \"x'$in_database$")
    later = pg.unique("boot_later")
    name = pg.unique("boot_where")
    try:
        pg.execute(bootstrap_sql(name, scan_database=scan_db), dbname=scan_db)
        for db in (scan_db, other):  # cluster-wide
            assert pg.query(
                "SELECT pg_has_role('pg_monitor', 'MEMBER'), "
                "current_setting('data_directory') <> ''",  # pg_read_all_settings
                dbname=db,
                user=name,
            ) == [(True, True)]
        hba = (
            "SELECT has_table_privilege('pg_catalog.pg_hba_file_rules', 'SELECT'), "
            "has_function_privilege('pg_catalog.pg_hba_file_rules()', 'EXECUTE')"
        )
        assert pg.query(hba, dbname=scan_db, user=name) == [(True, True)]
        assert pg.query(hba, dbname=other, user=name) == [(False, False)]
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            pg.query("SELECT count(*) FROM pg_catalog.pg_hba_file_rules", dbname=other, user=name)

        read = collect(pg.conninfo(user=name, dbname=scan_db), databases=[scan_db])
        assert read.meta["sources"]["hba_rules"]["collected"] is True
        gap = collect(pg.conninfo(user=name, dbname=other), databases=[other])
        source = gap.meta["sources"]["hba_rules"]
        assert source["collected"] is False
        assert f"not readable by {name} in database {other} " in source["reason"]

        with psycopg.connect(pg.conninfo(), autocommit=True) as conn:
            conn.execute(
                psql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                    psql.Identifier(later), psql.Identifier(scan_db)
                )
            )
        assert pg.query(hba, dbname=later, user=name) == [(True, True)]
    finally:
        for db in (other, scan_db, later):
            pg.drop_database(db)
        _drop_role(pg, name)


@pytest.mark.pg
def test_scan_database_check_stops_the_script_anywhere_else(pg):
    """Run in another database, the script stops at its first statement and changes
    nothing (the transaction is rolled back: no role, no grant)."""
    import psycopg

    name = pg.unique("boot_guard")
    elsewhere = "not here 'x'"
    with pytest.raises(
        psycopg.errors.RaiseException, match=f"connected to database postgres, not {elsewhere}"
    ):
        pg.execute(bootstrap_sql(name, scan_database=elsewhere))
    assert pg.query("SELECT count(*) FROM pg_roles WHERE rolname = %s", (name,)) == [(0,)]
    pg.execute(bootstrap_sql(name, scan_database="postgres"))
    assert pg.query(
        "SELECT has_table_privilege(%s, 'pg_catalog.pg_hba_file_rules', 'SELECT')", (name,)
    ) == [(True,)]
    _drop_role(pg, name)
