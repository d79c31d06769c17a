"""The least-privilege setup for the auditing role, as SQL for a DBA to review and run.

Why generated: the collector never needs SUPERUSER, but it does need exactly these grants
(research/catalog.md §1): membership in ``pg_monitor`` (all settings, all sessions) and
both SELECT on the ``pg_hba_file_rules`` view and EXECUTE on the function behind it (the
view checks the function against the caller). Nothing else. The role gets no password
here: passwords belong in a secrets manager, never in a script.

``--with-password-check`` adds a small SECURITY DEFINER function, owned by the superuser
who runs the script, that returns each role's password hash *type* (md5, scram-sha-256,
none, other) and never the hash: the only way to find md5 passwords without giving the
auditor superuser. The collector looks for it as ``pgaudit_roles.password_types()`` in the
database it connects to first and calls it only when it is SECURITY DEFINER and owned by
a superuser.

What is cluster-wide and what is not (checked on PostgreSQL 13-18 by tests/test_bootstrap.py):
the role, its ``pg_monitor`` membership and CONNECT on a database live in shared catalogs
and hold in every database. The grants on ``pg_hba_file_rules`` (and on
``pg_ident_file_mappings``, and the password helper) are ACLs in ``pg_catalog`` of the
database the script runs in: the auditor reads pg_hba only when it connects to *that*
database (the collector reads pg_hba where it connects first, the DSN's dbname), and a
database created later copies them only from its template. So the script says where to
run it, and ``scan_database`` makes it refuse to run anywhere else.
"""

from __future__ import annotations

from ..core.errors import UsageError
from ..core.sqlquote import quote_ident, quote_literal, role_spec
from .catalog_queries import PASSWORD_CHECK_FUNCTION, PASSWORD_CHECK_SCHEMA

DEFAULT_ROLE = "pgaudit_auditor"
NAMEDATALEN = 64


def _quote_role(name: str) -> str:
    """A role name as PostgreSQL's quote_ident() would write it (via sqlquote)."""
    return role_spec(name)


def _for_comment(quoted: str) -> str:
    """A quoted name made safe inside a ``--`` comment: a line break in a role name would
    end the comment and turn the rest of the name into SQL."""
    return "".join(
        c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in quoted
    )


def _check_name(name: str, option: str) -> str:
    """Refuse an identifier PostgreSQL cannot store or would silently truncate."""
    if not name:
        raise UsageError(f"{option} needs a non-empty name")
    if "\x00" in name:
        raise UsageError(f"{option} contains a NUL character, which PostgreSQL cannot store")
    if len(name.encode("utf-8")) >= NAMEDATALEN:
        raise UsageError(
            f"{option} {name!r} is longer than {NAMEDATALEN - 1} bytes; "
            "PostgreSQL would truncate it"
        )
    return name


def check_role_name(name: str) -> str:
    """Refuse names PostgreSQL would refuse or silently change; return the name."""
    _check_name(name, "--role")
    if name.startswith("pg_"):
        raise UsageError(f"--role {name!r}: names starting with pg_ are reserved by PostgreSQL")
    if name in ("public", "none"):
        raise UsageError(f"--role {name!r} is reserved by PostgreSQL and cannot name a role")
    return name


def bootstrap_sql(
    role: str = DEFAULT_ROLE,
    *,
    with_password_check: bool = False,
    with_ident: bool = False,
    create_role: bool = True,
    connect_grants: bool = True,
    scan_database: str | None = None,
) -> str:
    """The setup script. ``create_role=False`` leaves out CREATE ROLE (role exists already);
    ``connect_grants=False`` leaves out the CONNECT grants on every current database;
    ``scan_database`` (the database the scan connects to) adds a check that the script
    runs there, where the per-database grants must be."""
    check_role_name(role)
    r = _quote_role(role)
    rc = _for_comment(r)
    if scan_database is not None:
        check_database_name(scan_database)
        where = "database " + _for_comment(quote_ident(scan_database))
    else:
        where = "the database the scan connects to (the dbname of its DSN)"
    lines = [
        "-- pgaudit-roles: least-privilege setup for the auditing role " + rc,
        f"-- Review, then run as a superuser connected to {where}:",
        "--   psql -v ON_ERROR_STOP=1 -d <that database> -f this.sql",
        "-- The collector only reads: it needs pg_monitor, read access to pg_hba rules and",
        "-- CONNECT on the databases it audits. The role, pg_monitor and CONNECT hold in every",
        "-- database; the pg_hba grants hold only in the database this script runs in.",
        "BEGIN;",
    ]
    if scan_database is not None:
        lines += ["", *database_check_sql(scan_database).splitlines()]
    if create_role:
        lines += [
            "",
            "-- No password here on purpose: set it from your secrets manager afterwards,",
            f"-- e.g. in psql: \\password {rc}",
            f"CREATE ROLE {r} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION "
            "NOBYPASSRLS INHERIT;",
        ]
    lines += [
        "",
        "-- All settings (pg_read_all_settings) and all sessions (pg_read_all_stats).",
        f"GRANT pg_monitor TO {r};",
        "",
        "-- pg_hba rules: the view AND the function behind it (both are needed). Per database:",
        "-- these two grants live in this database's pg_catalog, so the auditor reads pg_hba",
        "-- only when it connects to this database. Scanning through another database? Run",
        "-- them there too. A database created later copies them only from its template.",
        f"GRANT SELECT ON pg_catalog.pg_hba_file_rules TO {r};",
        f"GRANT EXECUTE ON FUNCTION pg_catalog.pg_hba_file_rules() TO {r};",
    ]
    if connect_grants:
        lines += ["", *connect_grants_sql(role).splitlines()]
    if with_ident:
        lines += [
            "",
            "-- PostgreSQL 15 and later only: user-name maps (pg_ident.conf); per database too.",
            f"GRANT SELECT ON pg_catalog.pg_ident_file_mappings TO {r};",
            f"GRANT EXECUTE ON FUNCTION pg_catalog.pg_ident_file_mappings() TO {r};",
        ]
    if with_password_check:
        lines += ["", *password_check_sql(role).splitlines()]
    lines += ["", "COMMIT;"]
    return "\n".join(lines) + "\n"


def check_database_name(name: str) -> str:
    """Refuse a --scan-database name PostgreSQL could not have; return the name."""
    return _check_name(name, "--scan-database")


def database_check_sql(database: str) -> str:
    """A DO block that stops the script (and rolls it back) unless it runs in ``database``:
    the per-database grants must land where the scan connects."""
    literal = quote_literal(database)
    tag = _dollar_tag("$in_database$", literal)
    return "\n".join(
        [
            "-- The pg_hba grants below are per database: stop unless this is "
            + _for_comment(quote_ident(database))
            + ".",
            f"DO {tag}",
            "BEGIN",
            f"  IF pg_catalog.current_database() OPERATOR(pg_catalog.<>) {literal} THEN",
            "    RAISE EXCEPTION 'connected to database %, not %: the pg_hba grants of this script "
            "hold only in the database they are run in',",
            f"      pg_catalog.current_database(), {literal};",
            "  END IF;",
            f"END {tag};",
        ]
    )


def _dollar_tag(tag: str, body: str) -> str:
    """``tag`` or a numbered variant that does not occur in ``body``."""
    base, n = tag.rstrip("$"), 0
    while tag in body:
        n += 1
        tag = f"{base}{n}$"
    return tag


def connect_grants_sql(role: str) -> str:
    """CONNECT on every database that accepts connections, granted to the auditor by name.

    Why: the guide revokes CONNECT from PUBLIC on each database (REVOKE ALL ON DATABASE
    ... FROM PUBLIC), which also locks the auditor out; a database it cannot enter is not
    audited (the scan reports it as PGR-COV-001, never as clean). The script cannot know
    the databases, so a DO block reads pg_database when it runs and quotes each name with
    format('%I'); the role name goes in as a quoted literal of its quoted identifier.
    """
    check_role_name(role)
    r = _quote_role(role)
    literal = quote_literal(r)
    tag = _dollar_tag("$grant_connect$", literal)
    return "\n".join(
        [
            "-- CONNECT on every current database that accepts connections, by name: the guide",
            "-- revokes CONNECT from PUBLIC, which would lock the auditor out of those databases",
            "-- (a database it cannot enter is not audited; scan reports it as PGR-COV-001).",
            "-- A database created later needs its own grant:",
            f"--   GRANT CONNECT ON DATABASE <name> TO {_for_comment(r)};",
            f"DO {tag}",
            "DECLARE d record;",
            "BEGIN",
            "  FOR d IN SELECT datname FROM pg_catalog.pg_database",
            "           WHERE datallowconn AND datconnlimit <> -2 ORDER BY datname LOOP",
            f"    EXECUTE pg_catalog.format('GRANT CONNECT ON DATABASE %I TO %s', d.datname, {literal});",
            "  END LOOP;",
            f"END {tag};",
        ]
    )


def password_check_sql(role: str) -> str:
    """The optional helper: hash *types* only, callable by the auditor and nobody else."""
    check_role_name(role)
    r = _quote_role(role)
    s = PASSWORD_CHECK_SCHEMA
    f = f"{s}.{PASSWORD_CHECK_FUNCTION}()"
    return "\n".join(
        [
            "-- Optional: password hash types without superuser. Run this part in the database",
            "-- the auditor connects to first. The function must be owned by a superuser (the",
            "-- role running this script) and returns md5 | scram-sha-256 | none | other,",
            "-- never the hash itself.",
            "DO $check$ BEGIN",
            "  IF NOT (SELECT r.rolsuper FROM pg_catalog.pg_roles AS r WHERE r.rolname = current_user) THEN",
            "    RAISE EXCEPTION 'run this script as a superuser: the helper must be owned by one';",
            "  END IF;",
            "END $check$;",
            f"CREATE SCHEMA IF NOT EXISTS {s};",
            f"ALTER SCHEMA {s} OWNER TO CURRENT_USER;",
            f"REVOKE ALL ON SCHEMA {s} FROM PUBLIC;",
            f"GRANT USAGE ON SCHEMA {s} TO {r};",
            f"CREATE OR REPLACE FUNCTION {f}",
            "  RETURNS TABLE (role_oid oid, role_name name, password_type text)",
            "  LANGUAGE sql STABLE SECURITY DEFINER",
            "  SET search_path = pg_catalog, pg_temp",
            "AS $body$",
            "  SELECT a.oid, a.rolname,",
            "         CASE WHEN a.rolpassword IS NULL THEN 'none'",
            "              WHEN a.rolpassword ~ '^md5[0-9a-f]{32}$' THEN 'md5'",
            "              WHEN a.rolpassword LIKE 'SCRAM-SHA-256$%' THEN 'scram-sha-256'",
            "              ELSE 'other' END",
            "  FROM pg_catalog.pg_authid AS a",
            "$body$;",
            f"ALTER FUNCTION {f} OWNER TO CURRENT_USER;",
            f"REVOKE ALL ON FUNCTION {f} FROM PUBLIC;",
            f"GRANT EXECUTE ON FUNCTION {f} TO {r};",
        ]
    )
