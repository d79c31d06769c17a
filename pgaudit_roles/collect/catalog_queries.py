"""The catalog queries, as text, chosen by server version (13 to 18).

Why here and only here: every difference between PostgreSQL versions that matters to the
collector (membership options 16, pg_hba_file_rules columns 16, parameter ACLs 15,
MAINTAIN 17 via aclexplode, pg_database_owner 14) is resolved in this file, so the rest of
the tool sees one shape. Each query's output columns carry exactly the names of the
snapshot table it fills (``snapshot.CLUSTER_TABLES`` / ``DATABASE_TABLES``); the collector
checks that at run time.

Rules every query follows (research/catalog.md §5):

- Every statement starts with ``SELECT`` (no top-level ``WITH``), so the server log of a
  collection contains nothing but SELECT/SHOW/SET/BEGIN/COMMIT/ROLLBACK.
- Everything is schema-qualified and every column label uses ``AS`` (13 rejects bare
  keyword labels); no casts to objects that may not exist in a version.
- ACLs are exploded with ``aclexplode`` in ``FROM ... LATERAL``; NULL ACLs are never
  expanded here (``acl_state`` says ``default``; the audit schema expands them).
- Set-based: a fixed number of statements per database, never one per object.

Scope decisions (documented in the snapshot reference):

- ``pg_toast*`` and ``pg_temp_*`` / ``pg_toast_temp_*`` schemas and their contents are
  skipped (storage internals and other sessions' temporary objects).
- In ``pg_catalog`` and ``information_schema`` only objects whose ACL was changed from the
  built-in default (explicit ACL, or a column ACL) are listed; untouched system objects
  carry the documented defaults and would only repeat thousands of identical rows in
  every database.
- Types: base, domain, enum, range, multirange, pseudo and stand-alone composite types;
  array types (privileges cannot be granted on them) and the implicit row types of
  tables, views and sequences (their privileges are the relation's) are left out.
- ``activity`` leaves out the collector's own session.

The text of every query is in ``sql/<name>.sql`` next to this module (shipped in the
wheel; a leading ``--`` comment says what it reads and why, and is not sent). This module
only chooses among them by version.
"""

from __future__ import annotations

import functools
from pathlib import Path

SQL_DIR = Path(__file__).resolve().parent / "sql"

PASSWORD_CHECK_SCHEMA = "pgaudit_roles"
PASSWORD_CHECK_FUNCTION = "password_types"


@functools.cache
def sql_file(name: str) -> str:
    """The query in ``pgaudit_roles/collect/sql/<name>.sql`` without its leading comment lines (so
    the statement the server logs starts with SELECT)."""
    text = (SQL_DIR / f"{name}.sql").read_text(encoding="utf-8")
    lines = text.strip().splitlines()
    while lines and lines[0].lstrip().startswith("--"):
        lines.pop(0)
    return "\n".join(lines)


# --- probe -----------------------------------------------------------------------------

PROBE = sql_file("probe")
PASSWORD_HELPER_PROBE = sql_file("password_helper_probe")
PASSWORD_TYPES_HELPER = sql_file("password_types_helper")
PASSWORD_TYPES_AUTHID = sql_file("password_types_authid")  # superuser only

# --- cluster-wide ----------------------------------------------------------------------

ROLES = sql_file("roles")
MEMBERSHIPS_13 = sql_file("memberships_13")  # 13-15: no per-grant options
MEMBERSHIPS_16 = sql_file("memberships_16")  # 16+: one row per grant, options per grant
DB_ROLE_SETTINGS = sql_file("db_role_settings")
DATABASES = sql_file("databases")
TABLESPACES = sql_file("tablespaces")
SHARED_ACL_13 = sql_file("shared_acl_13")
SHARED_ACL_15 = sql_file("shared_acl_15")  # 15+: pg_parameter_acl

SETTING_NAMES: tuple[str, ...] = (
    "password_encryption",
    "ssl",
    "ssl_min_protocol_version",
    "ssl_max_protocol_version",
    "ssl_ciphers",
    "listen_addresses",
    "port",
    "hba_file",
    "ident_file",
    "log_connections",
    "log_disconnections",
    "log_statement",
    "log_line_prefix",
    "krb_server_keyfile",
    "row_security",
    "lo_compat_privileges",
    "createrole_self_grant",
    "md5_password_warnings",
    "oauth_validator_libraries",
    "shared_preload_libraries",
    "session_preload_libraries",
    "local_preload_libraries",
    "reserved_connections",
    "superuser_reserved_connections",
    "authentication_timeout",
    "db_user_namespace",
    "allow_alter_system",
    "scram_iterations",
    "pgaudit.log",
    "pgaudit.log_catalog",
    "pgaudit.log_level",
    "pgaudit.log_parameter",
    "pgaudit.role",
    "server_version",
)
"""The settings the ``settings`` query reads (its ``%(names)s`` parameter)."""

SETTINGS = sql_file("settings")
ACTIVITY = sql_file("activity")
HBA_13 = sql_file("hba_13")  # 13-15: no rule_number/file_name
HBA_16 = sql_file("hba_16")


def cluster_queries(server_version_num: int) -> dict[str, str]:
    """Snapshot cluster table -> query, for the core sources read in one transaction."""
    return {
        "roles": ROLES,
        "memberships": MEMBERSHIPS_16 if server_version_num >= 160000 else MEMBERSHIPS_13,
        "db_role_settings": DB_ROLE_SETTINGS,
        "databases": DATABASES,
        "tablespaces": TABLESPACES,
        "shared_acl": SHARED_ACL_15 if server_version_num >= 150000 else SHARED_ACL_13,
        "settings": SETTINGS,
        "activity": ACTIVITY,
    }


def hba_query(server_version_num: int) -> str:
    return HBA_16 if server_version_num >= 160000 else HBA_13


# --- per database ----------------------------------------------------------------------

SCHEMAS = sql_file("schemas")
OBJECTS = sql_file("objects")
ACL = sql_file("acl")
DEFAULT_ACLS = sql_file("default_acls")
FUNCTIONS = sql_file("functions")
EXTENSIONS = sql_file("extensions")


ESCALATION_TABLES: tuple[str, ...] = (
    "rls_tables",
    "policies",
    "triggers",
    "event_triggers",
    "user_mappings",
)
"""Per-database tables for row-level security and escalation routes, each read by the
query in ``sql/<name>.sql`` (the same text on 13-18)."""


def database_queries(server_version_num: int) -> dict[str, str]:
    """Snapshot per-database table -> query (the same text on 13-18 today; the version is
    an argument so a future difference lands here, not in the collector)."""
    del server_version_num
    return {
        "schemas": SCHEMAS,
        "objects": OBJECTS,
        "acl": ACL,  # also the source of "columns" (spool.DERIVED_TABLES)
        "default_acls": DEFAULT_ACLS,
        "functions": FUNCTIONS,
        "extensions": EXTENSIONS,
        **{name: sql_file(name) for name in ESCALATION_TABLES},
    }
