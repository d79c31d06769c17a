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
"""

from __future__ import annotations

import functools
from pathlib import Path

SQL_DIR = Path(__file__).resolve().parent / "sql"

PASSWORD_CHECK_SCHEMA = "pgaudit_roles"
PASSWORD_CHECK_FUNCTION = "password_types"

# --- probe -----------------------------------------------------------------------------

PROBE = """\
SELECT pg_catalog.current_setting('server_version_num')::int AS server_version_num,
       pg_catalog.current_setting('server_version') AS server_version,
       current_user::text AS connected_user,
       pg_catalog.current_database()::text AS current_database,
       (SELECT r.rolsuper FROM pg_catalog.pg_roles AS r WHERE r.rolname = current_user) AS is_superuser,
       pg_catalog.pg_has_role(current_user, 'pg_monitor', 'USAGE') AS has_pg_monitor,
       pg_catalog.pg_has_role(current_user, 'pg_read_all_settings', 'USAGE') AS has_read_all_settings,
       pg_catalog.pg_has_role(current_user, 'pg_read_all_stats', 'USAGE') AS has_read_all_stats,
       pg_catalog.has_table_privilege('pg_catalog.pg_authid', 'SELECT') AS can_read_pg_authid,
       pg_catalog.has_table_privilege('pg_catalog.pg_hba_file_rules', 'SELECT') AS can_select_hba_view,
       pg_catalog.has_function_privilege('pg_catalog.pg_hba_file_rules()', 'EXECUTE') AS can_execute_hba_function"""

PASSWORD_HELPER_PROBE = """\
SELECT p.oid AS oid, p.prosecdef AS security_definer, o.rolsuper AS owner_is_superuser,
       pg_catalog.has_schema_privilege(n.oid, 'USAGE') AS schema_usage,
       pg_catalog.has_function_privilege(p.oid, 'EXECUTE') AS can_execute
FROM pg_catalog.pg_proc AS p
JOIN pg_catalog.pg_namespace AS n ON n.oid = p.pronamespace
JOIN pg_catalog.pg_roles AS o ON o.oid = p.proowner
WHERE n.nspname = 'pgaudit_roles' AND p.proname = 'password_types' AND p.pronargs = 0"""

PASSWORD_TYPES_HELPER = """\
SELECT p.role_oid AS role_oid, p.password_type AS password_type
FROM pgaudit_roles.password_types() AS p"""

# Superuser only: classify the stored verifier server-side; the hash never leaves the server.
PASSWORD_TYPES_AUTHID = """\
SELECT a.oid AS role_oid,
       CASE WHEN a.rolpassword IS NULL THEN 'none'
            WHEN a.rolpassword ~ '^md5[0-9a-f]{32}$' THEN 'md5'
            WHEN a.rolpassword LIKE 'SCRAM-SHA-256$%' THEN 'scram-sha-256'
            ELSE 'other' END AS password_type
FROM pg_catalog.pg_authid AS a"""

# --- cluster-wide ----------------------------------------------------------------------

ROLES = """\
SELECT r.oid AS oid, r.rolname::text AS name, r.rolsuper AS superuser, r.rolinherit AS inherit,
       r.rolcreaterole AS createrole, r.rolcreatedb AS createdb, r.rolcanlogin AS login,
       r.rolreplication AS replication, r.rolbypassrls AS bypassrls,
       r.rolconnlimit AS connection_limit,
       CASE WHEN r.rolvaliduntil IS NULL THEN NULL
            WHEN pg_catalog.isfinite(r.rolvaliduntil)
            THEN pg_catalog.to_char(r.rolvaliduntil AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
            ELSE r.rolvaliduntil::text END AS valid_until,
       NULL::text AS password_type,
       r.rolconfig::text[] AS config,
       r.oid < 16384 AS predefined,
       pg_catalog.shobj_description(r.oid, 'pg_authid') AS comment
FROM pg_catalog.pg_roles AS r
ORDER BY r.oid"""

# 13-15: no per-grant options. Inheritance follows the member's rolinherit; SET ROLE is
# always possible for a member.
MEMBERSHIPS_13 = """\
SELECT m.roleid AS role_oid, m.member AS member_oid, m.grantor AS grantor_oid,
       m.admin_option AS admin_option, r.rolinherit AS inherit_option, true AS set_option
FROM pg_catalog.pg_auth_members AS m
JOIN pg_catalog.pg_roles AS r ON r.oid = m.member
ORDER BY m.roleid, m.member, m.grantor"""

# 16+: one row per grant (several per pair, one per grantor), options per grant.
MEMBERSHIPS_16 = """\
SELECT m.roleid AS role_oid, m.member AS member_oid, m.grantor AS grantor_oid,
       m.admin_option AS admin_option, m.inherit_option AS inherit_option,
       m.set_option AS set_option
FROM pg_catalog.pg_auth_members AS m
ORDER BY m.roleid, m.member, m.grantor"""

DB_ROLE_SETTINGS = """\
SELECT s.setdatabase AS database_oid, s.setrole AS role_oid, s.setconfig::text[] AS config
FROM pg_catalog.pg_db_role_setting AS s
ORDER BY s.setdatabase, s.setrole"""

DATABASES = """\
SELECT d.oid AS oid, d.datname::text AS name, d.datdba AS owner_oid,
       d.datallowconn AS allow_connections, d.datistemplate AS is_template,
       d.datconnlimit AS connection_limit,
       CASE WHEN d.datacl IS NULL THEN 'default' ELSE 'explicit' END AS acl_state,
       pg_catalog.has_database_privilege(d.oid, 'CONNECT') AS auditor_can_connect
FROM pg_catalog.pg_database AS d
ORDER BY d.datname"""

TABLESPACES = """\
SELECT t.oid AS oid, t.spcname::text AS name, t.spcowner AS owner_oid,
       CASE WHEN t.spcacl IS NULL THEN 'default' ELSE 'explicit' END AS acl_state
FROM pg_catalog.pg_tablespace AS t
ORDER BY t.spcname"""

_SHARED_ACL_DB_TS = """\
SELECT 'database' AS object_class, d.oid AS object_oid, d.datname::text AS object_name,
       a.grantor AS grantor_oid, a.grantee AS grantee_oid, a.privilege_type AS privilege,
       a.is_grantable AS grantable
FROM pg_catalog.pg_database AS d CROSS JOIN LATERAL pg_catalog.aclexplode(d.datacl) AS a
UNION ALL
SELECT 'tablespace', t.oid, t.spcname::text, a.grantor, a.grantee, a.privilege_type, a.is_grantable
FROM pg_catalog.pg_tablespace AS t CROSS JOIN LATERAL pg_catalog.aclexplode(t.spcacl) AS a
"""

_SHARED_ACL_PARAMS = """\
UNION ALL
SELECT 'parameter', p.oid, p.parname::text, a.grantor, a.grantee, a.privilege_type, a.is_grantable
FROM pg_catalog.pg_parameter_acl AS p CROSS JOIN LATERAL pg_catalog.aclexplode(p.paracl) AS a
"""

_SHARED_ACL_ORDER = "ORDER BY 1, 3, 5, 6"

SETTING_NAMES: tuple[str, ...] = (
    "password_encryption", "ssl", "ssl_min_protocol_version", "ssl_max_protocol_version",
    "ssl_ciphers", "listen_addresses", "port", "hba_file", "ident_file",
    "log_connections", "log_disconnections", "log_statement", "log_line_prefix",
    "krb_server_keyfile", "row_security", "lo_compat_privileges", "createrole_self_grant",
    "md5_password_warnings", "oauth_validator_libraries", "shared_preload_libraries",
    "session_preload_libraries", "local_preload_libraries", "reserved_connections",
    "superuser_reserved_connections", "authentication_timeout", "db_user_namespace",
    "allow_alter_system", "scram_iterations", "pgaudit.log", "pgaudit.log_catalog",
    "pgaudit.log_level", "pgaudit.log_parameter", "pgaudit.role", "server_version",
)

SETTINGS = """\
SELECT s.name::text AS name, s.setting AS setting, s.unit AS unit, s.source AS source
FROM pg_catalog.pg_settings AS s
WHERE s.name = ANY (%(names)s::text[])
ORDER BY s.name"""

ACTIVITY = """\
SELECT a.pid AS pid, a.usename::text AS role_name, a.datname::text AS database,
       pg_catalog.host(a.client_addr) AS client_addr, a.application_name AS application_name,
       a.backend_type AS backend_type, a.state AS state, s.ssl AS ssl
FROM pg_catalog.pg_stat_activity AS a
LEFT JOIN pg_catalog.pg_stat_ssl AS s ON s.pid = a.pid
WHERE a.pid <> pg_catalog.pg_backend_pid()
ORDER BY a.pid"""

# 13-15: no rule_number/file_name. The rule number is derived (order of the lines without
# errors, which is the order of evaluation); the file is the hba_file setting.
HBA_13 = """\
SELECT CASE WHEN h.error IS NULL
            THEN (pg_catalog.row_number() OVER (PARTITION BY h.error IS NULL ORDER BY h.line_number))::int
       END AS rule_number,
       pg_catalog.current_setting('hba_file', true) AS file_name,
       h.line_number AS line_number, h.type AS type, h.database AS databases,
       h.user_name AS users, h.address AS address, h.netmask AS netmask,
       h.auth_method AS auth_method, h.options AS options, h.error AS error
FROM pg_catalog.pg_hba_file_rules AS h
ORDER BY h.line_number"""

HBA_16 = """\
SELECT h.rule_number AS rule_number, h.file_name AS file_name, h.line_number AS line_number,
       h.type AS type, h.database AS databases, h.user_name AS users, h.address AS address,
       h.netmask AS netmask, h.auth_method AS auth_method, h.options AS options,
       h.error AS error
FROM pg_catalog.pg_hba_file_rules AS h
ORDER BY h.rule_number NULLS LAST, h.file_name, h.line_number"""


def cluster_queries(server_version_num: int) -> dict[str, str]:
    """Snapshot cluster table -> query, for the core sources read in one transaction."""
    shared_acl = _SHARED_ACL_DB_TS
    if server_version_num >= 150000:
        shared_acl += _SHARED_ACL_PARAMS
    return {
        "roles": ROLES,
        "memberships": MEMBERSHIPS_16 if server_version_num >= 160000 else MEMBERSHIPS_13,
        "db_role_settings": DB_ROLE_SETTINGS,
        "databases": DATABASES,
        "tablespaces": TABLESPACES,
        "shared_acl": shared_acl + _SHARED_ACL_ORDER,
        "settings": SETTINGS,
        "activity": ACTIVITY,
    }


def hba_query(server_version_num: int) -> str:
    return HBA_16 if server_version_num >= 160000 else HBA_13


# --- per database ----------------------------------------------------------------------

# Schemas we never descend into: TOAST storage and temporary schemas of other sessions.
_SKIPPED_SCHEMA = "'^pg_(toast|temp_[0-9]+|toast_temp_[0-9]+)$'"
_SYSTEM_SCHEMAS = "('pg_catalog', 'information_schema')"


def _in_scope(nsp: str, explicit: str) -> str:
    """Objects we list in schema ``nsp``: not in skipped schemas; in system schemas only
    when ``explicit`` holds, i.e. their ACL was changed (see the module docstring)."""
    return (f"{nsp}.nspname !~ {_SKIPPED_SCHEMA} AND "
            f"({nsp}.nspname NOT IN {_SYSTEM_SCHEMAS} OR {explicit})")


_EXT_MEMBERS = """(
    SELECT d.classid AS classid, d.objid AS objid, e.extname AS extname
    FROM pg_catalog.pg_depend AS d
    JOIN pg_catalog.pg_extension AS e ON e.oid = d.refobjid
    WHERE d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass AND d.deptype = 'e'
)"""

_RELKINDS = "('r', 'p', 'v', 'm', 'S', 'f')"

# A relation in a system schema is in scope when it or one of its columns has an ACL.
_REL_EXPLICIT = ("(c.relacl IS NOT NULL OR EXISTS (SELECT FROM pg_catalog.pg_attribute AS ca "
                 "WHERE ca.attrelid = c.oid AND ca.attacl IS NOT NULL AND ca.attnum > 0 "
                 "AND NOT ca.attisdropped))")

_NOT_ARRAY_OR_ROWTYPE = ("NOT (t.typtype = 'b' AND t.typelem <> 0 AND t.typlen = -1) "
                         "AND (t.typtype <> 'c' OR tr.relkind = 'c')")

SCHEMAS = f"""\
SELECT n.oid AS oid, n.nspname::text AS name, n.nspowner AS owner_oid,
       CASE WHEN n.nspacl IS NULL THEN 'default' ELSE 'explicit' END AS acl_state,
       n.nspname IN {_SYSTEM_SCHEMAS} AS is_system
FROM pg_catalog.pg_namespace AS n
WHERE n.nspname !~ {_SKIPPED_SCHEMA}"""  # noqa: S608 - composed from constants of this module only

def _relations(where: str) -> str:
    return f"""\
SELECT 'relation' AS object_class, c.oid AS oid,
       CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'partitioned table'
            WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view'
            WHEN 'S' THEN 'sequence' WHEN 'f' THEN 'foreign table' END AS kind,
       c.relnamespace AS schema_oid, c.relname::text AS name, NULL::text AS identity_args,
       c.relowner AS owner_oid,
       CASE WHEN c.relacl IS NULL THEN 'default' ELSE 'explicit' END AS acl_state,
       x.extname::text AS extension, NULL::boolean AS trusted
FROM pg_catalog.pg_class AS c
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
LEFT JOIN {_EXT_MEMBERS} AS x
  ON x.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND x.objid = c.oid
WHERE c.relkind IN {_RELKINDS} AND {where}"""  # noqa: S608 - constants of this module only


# Relations in user schemas and in system schemas are two branches: written as one OR,
# the planner hashes the column-ACL test over all of pg_attribute for every database
# (40% of this query's time at 20,000 tables) although only system relations need it.
OBJECTS = f"""\
{_relations(f"n.nspname !~ {_SKIPPED_SCHEMA} AND n.nspname NOT IN {_SYSTEM_SCHEMAS}")}
UNION ALL
{_relations(f"n.nspname IN {_SYSTEM_SCHEMAS} AND {_REL_EXPLICIT}")}
UNION ALL
SELECT 'function', p.oid,
       CASE p.prokind WHEN 'f' THEN 'function' WHEN 'p' THEN 'procedure'
            WHEN 'a' THEN 'aggregate' WHEN 'w' THEN 'window function' END,
       p.pronamespace, p.proname::text, pg_catalog.pg_get_function_identity_arguments(p.oid),
       p.proowner, CASE WHEN p.proacl IS NULL THEN 'default' ELSE 'explicit' END,
       x.extname::text, NULL::boolean
FROM pg_catalog.pg_proc AS p
JOIN pg_catalog.pg_namespace AS n ON n.oid = p.pronamespace
LEFT JOIN {_EXT_MEMBERS} AS x
  ON x.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND x.objid = p.oid
WHERE {_in_scope("n", "p.proacl IS NOT NULL")}
UNION ALL
SELECT 'type', t.oid,
       CASE t.typtype WHEN 'b' THEN 'base type' WHEN 'd' THEN 'domain' WHEN 'e' THEN 'enum'
            WHEN 'r' THEN 'range' WHEN 'm' THEN 'multirange' WHEN 'c' THEN 'composite'
            WHEN 'p' THEN 'pseudo' END,
       t.typnamespace, t.typname::text, NULL::text, t.typowner,
       CASE WHEN t.typacl IS NULL THEN 'default' ELSE 'explicit' END, x.extname::text, NULL::boolean
FROM pg_catalog.pg_type AS t
JOIN pg_catalog.pg_namespace AS n ON n.oid = t.typnamespace
LEFT JOIN pg_catalog.pg_class AS tr ON tr.oid = t.typrelid
LEFT JOIN {_EXT_MEMBERS} AS x
  ON x.classid = 'pg_catalog.pg_type'::pg_catalog.regclass AND x.objid = t.oid
WHERE {_NOT_ARRAY_OR_ROWTYPE} AND {_in_scope("n", "t.typacl IS NOT NULL")}
UNION ALL
SELECT 'language', l.oid, 'language', NULL::oid, l.lanname::text, NULL::text, l.lanowner,
       CASE WHEN l.lanacl IS NULL THEN 'default' ELSE 'explicit' END, x.extname::text,
       l.lanpltrusted
FROM pg_catalog.pg_language AS l
LEFT JOIN {_EXT_MEMBERS} AS x
  ON x.classid = 'pg_catalog.pg_language'::pg_catalog.regclass AND x.objid = l.oid
UNION ALL
SELECT 'large_object', m.oid, 'large object', NULL::oid, m.oid::text, NULL::text, m.lomowner,
       CASE WHEN m.lomacl IS NULL THEN 'default' ELSE 'explicit' END, NULL::text, NULL::boolean
FROM pg_catalog.pg_largeobject_metadata AS m
UNION ALL
SELECT 'fdw', w.oid, 'foreign-data wrapper', NULL::oid, w.fdwname::text, NULL::text, w.fdwowner,
       CASE WHEN w.fdwacl IS NULL THEN 'default' ELSE 'explicit' END, x.extname::text,
       NULL::boolean
FROM pg_catalog.pg_foreign_data_wrapper AS w
LEFT JOIN {_EXT_MEMBERS} AS x
  ON x.classid = 'pg_catalog.pg_foreign_data_wrapper'::pg_catalog.regclass AND x.objid = w.oid
UNION ALL
SELECT 'server', s.oid, 'server', NULL::oid, s.srvname::text, NULL::text, s.srvowner,
       CASE WHEN s.srvacl IS NULL THEN 'default' ELSE 'explicit' END, x.extname::text,
       NULL::boolean
FROM pg_catalog.pg_foreign_server AS s
LEFT JOIN {_EXT_MEMBERS} AS x
  ON x.classid = 'pg_catalog.pg_foreign_server'::pg_catalog.regclass AND x.objid = s.oid"""  # noqa: S608 - composed from constants of this module only

def _acl_items(acl: str) -> str:
    """One row per object: its ACL as ``grantor:grantee:SELECT,*UPDATE;...`` (OIDs; ``*`` =
    WITH GRANT OPTION). A fifth of aclexplode's rows for a quarter of its server time: at a
    million tables the per-row cost of COPY, on both ends, is most of the collection.
    ``spool`` expands it again in DuckDB (format ``spool.ACL_ITEMS``)."""
    return ("CROSS JOIN LATERAL (SELECT pg_catalog.string_agg(g.grantor::text || ':' || "  # noqa: S608
            "g.grantee::text || ':' || g.privileges, ';') AS items FROM (SELECT e.grantor, "
            "e.grantee, pg_catalog.string_agg(CASE WHEN e.is_grantable THEN '*' ELSE '' END "
            "|| e.privilege_type, ',' ORDER BY e.privilege_type) AS privileges "
            f"FROM pg_catalog.aclexplode({acl}) AS e GROUP BY e.grantor, e.grantee) AS g) AS a")


# The acl table as sent: one row per object with its whole ACL packed in ``items``; see
# spool.ACL_ITEMS for the expansion into the snapshot's acl table (one row per privilege).
# Column rows also carry the column's name: the snapshot's ``columns`` table (columns with
# an ACL) is read from the same transfer, saving a second scan of pg_attribute, the
# biggest catalog, per database.
ACL = f"""\
SELECT 'schema' AS object_class, n.oid AS object_oid, 0 AS subid, NULL::text AS name,
       a.items AS items
FROM pg_catalog.pg_namespace AS n {_acl_items("n.nspacl")}
WHERE n.nspacl IS NOT NULL AND n.nspname !~ {_SKIPPED_SCHEMA}
UNION ALL
SELECT 'relation', c.oid, 0, NULL, a.items
FROM pg_catalog.pg_class AS c
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
{_acl_items("c.relacl")}
WHERE c.relacl IS NOT NULL AND c.relkind IN {_RELKINDS} AND n.nspname !~ {_SKIPPED_SCHEMA}
UNION ALL
SELECT 'column', c.oid, at.attnum::int, at.attname::text, a.items
FROM pg_catalog.pg_attribute AS at
JOIN pg_catalog.pg_class AS c ON c.oid = at.attrelid
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
{_acl_items("at.attacl")}
WHERE at.attacl IS NOT NULL AND at.attnum > 0 AND NOT at.attisdropped
  AND c.relkind IN {_RELKINDS} AND n.nspname !~ {_SKIPPED_SCHEMA}
UNION ALL
SELECT 'function', p.oid, 0, NULL, a.items
FROM pg_catalog.pg_proc AS p
JOIN pg_catalog.pg_namespace AS n ON n.oid = p.pronamespace
{_acl_items("p.proacl")}
WHERE p.proacl IS NOT NULL AND n.nspname !~ {_SKIPPED_SCHEMA}
UNION ALL
SELECT 'type', t.oid, 0, NULL, a.items
FROM pg_catalog.pg_type AS t
JOIN pg_catalog.pg_namespace AS n ON n.oid = t.typnamespace
LEFT JOIN pg_catalog.pg_class AS tr ON tr.oid = t.typrelid
{_acl_items("t.typacl")}
WHERE t.typacl IS NOT NULL AND {_NOT_ARRAY_OR_ROWTYPE} AND n.nspname !~ {_SKIPPED_SCHEMA}
UNION ALL
SELECT 'language', l.oid, 0, NULL, a.items
FROM pg_catalog.pg_language AS l {_acl_items("l.lanacl")}
UNION ALL
SELECT 'large_object', m.oid, 0, NULL, a.items
FROM pg_catalog.pg_largeobject_metadata AS m {_acl_items("m.lomacl")}
UNION ALL
SELECT 'fdw', w.oid, 0, NULL, a.items
FROM pg_catalog.pg_foreign_data_wrapper AS w {_acl_items("w.fdwacl")}
UNION ALL
SELECT 'server', s.oid, 0, NULL, a.items
FROM pg_catalog.pg_foreign_server AS s {_acl_items("s.srvacl")}"""  # noqa: S608 - composed from constants of this module only

# An empty stored ACL keeps one marker row (grantee NULL): it differs from "no entry".
DEFAULT_ACLS = """\
SELECT d.oid AS oid, d.defaclrole AS creator_oid, d.defaclnamespace AS schema_oid,
       d.defaclobjtype::text AS objtype, a.grantor AS grantor_oid, a.grantee AS grantee_oid,
       a.privilege_type AS privilege, a.is_grantable AS grantable
FROM pg_catalog.pg_default_acl AS d
LEFT JOIN LATERAL pg_catalog.aclexplode(d.defaclacl) AS a ON true"""

FUNCTIONS = f"""\
SELECT p.oid AS oid, p.prosecdef AS security_definer, p.proconfig::text[] AS config,
       l.lanname::text AS language, p.proleakproof AS leakproof
FROM pg_catalog.pg_proc AS p
JOIN pg_catalog.pg_namespace AS n ON n.oid = p.pronamespace
JOIN pg_catalog.pg_language AS l ON l.oid = p.prolang
WHERE {_in_scope("n", "p.proacl IS NOT NULL")}"""  # noqa: S608 - composed from constants of this module only

EXTENSIONS = """\
SELECT e.oid AS oid, e.extname::text AS name, e.extowner AS owner_oid,
       e.extnamespace AS schema_oid, e.extversion AS version
FROM pg_catalog.pg_extension AS e"""


@functools.cache
def sql_file(name: str) -> str:
    """The query in ``pgaudit_roles/collect/sql/<name>.sql`` without its leading comment lines (so
    the statement the server logs starts with SELECT)."""
    text = (SQL_DIR / f"{name}.sql").read_text(encoding="utf-8")
    lines = text.strip().splitlines()
    while lines and lines[0].lstrip().startswith("--"):
        lines.pop(0)
    return "\n".join(lines)


ESCALATION_TABLES: tuple[str, ...] = ("rls_tables", "policies", "triggers", "event_triggers",
                                      "user_mappings")
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
