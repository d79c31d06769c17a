"""The audit schema: a Snapshot loaded into an in-process DuckDB as documented tables.

Why DuckDB and why this shape: rules are SQL over a public, documented contract (the
``AUDIT_TABLES`` spec below is that contract: the loader creates exactly these tables and
columns, the rule validator allows exactly these names, docs/audit-schema.md is generated
from it). PostgreSQL's quirks are resolved here once, so no rule has to know them: NULL
ACLs expanded to the built-in defaults, PUBLIC as a grantee, membership closure honouring
NOINHERIT and the 16+ grant options, pg_database_owner per database, and effective
privileges (``effective``).

Loading is set-based and fast: each snapshot table is written to a temporary JSON file
and read with DuckDB's JSON reader (about 1.7 s for 1,000,000 rows, against 6 s for
``unnest`` of list parameters; measured on this project's CI machine), then everything
else is SQL. Without file access (a connection that was already locked down) it falls
back to the ``unnest`` path. Intermediate tables live in the ``internal`` schema, which is
not part of the contract.

The caller locks the returned connection down (``engine.lockdown``) before running any
user-supplied SQL.
"""

from __future__ import annotations

import functools
import itertools
import json
import os
import shutil
import tempfile
import threading
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..collect.columnfile import ACL_ITEMS, ACL_PACKED, duckdb_literal, empty_csv, reader_sql
from ..collect.coverage import COLUMNS
from ..collect.coverage import COLUMNS as COVERAGE_COLUMNS
from ..collect.coverage import rows as coverage_rows
from ..collect.snapshot import CLUSTER_TABLES, DATABASE_TABLES, Snapshot, Table
from ..core import signals
from ..core.errors import UsageError
from . import acl_defaults, build_plan, escalation, load_schedule
from .effective import EFFECTIVE_PRIVILEGES_SQL, build_role_closure
from .hba_analysis import ANALYSIS_COLUMNS as HBA_ANALYSIS_COLUMNS
from .hba_analysis import analyze_facts
from .naming import NamingPolicy
from .rows import json_source, write_json

if TYPE_CHECKING:
    import duckdb

# --- the contract -----------------------------------------------------------------------


@dataclass(frozen=True)
class AuditColumn:
    name: str
    type: str  # DuckDB type
    description: str


@dataclass(frozen=True)
class AuditTable:
    name: str
    kind: str  # table | view
    description: str
    columns: tuple[AuditColumn, ...]

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


def _t(name: str, kind: str, description: str, columns: list[tuple[str, str, str]]) -> AuditTable:
    return AuditTable(
        name,
        kind,
        " ".join(description.split()),
        tuple(AuditColumn(n, t, " ".join(d.split())) for n, t, d in columns),
    )


def _snapshot_columns(table: str, **override: tuple[str, str]) -> list[tuple[str, str, str]]:
    """The columns of snapshot table ``table`` as the audit schema shows them: the snapshot's
    contract (``collect.tables``, defined once), with the type and description of a column
    the loader converts given by ``override`` (name -> (type, description))."""
    return [(name, *override.get(name, (ty, doc))) for name, ty, doc in CLUSTER_TABLES[table]]


def _coverage_columns() -> list[tuple[str, str, str]]:
    return COLUMNS


_DB = ("database", "VARCHAR", "Database name")
_DBOID = ("database_oid", "BIGINT", "Database OID")

_FIX_PARTS = [  # the fix of an escalation hop, as parts a remediation template quotes itself
    (
        "fix_kind",
        "VARCHAR",
        """revoke_membership | revoke_admin | nocreaterole | nosuperuser |
     function_search_path | revoke_schema_create | revoke_execute | function_owner |
     revoke_parameter | revoke_server_usage; NULL = no fix (the hop is the target's nature)""",
    ),
    ("fix_role", "VARCHAR", "Group role (memberships) or new owner (function_owner)"),
    ("fix_member", "VARCHAR", "Member, attribute holder or grantee to revoke from"),
    ("fix_public", "BOOLEAN", "The grantee to revoke from is PUBLIC"),
    ("fix_schema", "VARCHAR", "Schema of the function, or the schema to revoke CREATE on"),
    ("fix_name", "VARCHAR", "Function, parameter or server name"),
    ("fix_args", "VARCHAR", "Function identity arguments"),
    ("fix_object_kind", "VARCHAR", "function | procedure | server"),
    ("fix_privilege", "VARCHAR", "Privilege to revoke (EXECUTE, SET, ALTER SYSTEM, USAGE)"),
]

_TABLES: list[AuditTable] = [
    _t(
        "roles",
        "table",
        """One row per role (cluster-wide), with the naming policy's
       classification and derived risk attributes.""",
        [
            *_snapshot_columns(
                "roles",
                valid_until=(
                    "TIMESTAMPTZ",
                    "Password expiry (rolvaliduntil); NULL = never expires",
                ),
            ),
            (
                "kind",
                "VARCHAR",
                """Naming-policy kind: owner, writer, reader, deploy, app, monitor,
         breakglass, admin (superuser not allowlisted), predefined, auditor, other""",
            ),
            (
                "app",
                "VARCHAR",
                "Application the name belongs to (environment suffix stripped), or NULL",
            ),
            (
                "environment",
                "VARCHAR",
                "Environment suffix found in the name (prod, staging, ...), or NULL",
            ),
            ("is_bootstrap_superuser", "BOOLEAN", "The role created by initdb (OID 10)"),
            (
                "is_breakglass",
                "BOOLEAN",
                "On the naming policy's break-glass allowlist (or given that kind explicitly)",
            ),
            (
                "is_auditor",
                "BOOLEAN",
                "Listed as the auditing role in the naming policy (or given that kind explicitly)",
            ),
            (
                "superuser_equivalent",
                "BOOLEAN",
                """SUPERUSER, or can SET ROLE (16+: along SET
         TRUE grants) to a managed-service admin role: rds_superuser, cloudsqlsuperuser,
         azure_pg_admin, alloydbsuperuser, neon_superuser, mdb_superuser. Not included: SET ROLE to a role that itself has SUPERUSER (which
         also makes a superuser); find those with role_closure.can_set and roles.superuser""",
            ),
            (
                "superuser_via",
                "VARCHAR",
                """Why superuser_equivalent: 'SUPERUSER' for the attribute
         itself, else the name of the managed-service admin role; NULL when not""",
            ),
            ("member_of", "VARCHAR[]", "Roles this role is a direct member of (sorted)"),
            ("members", "VARCHAR[]", "Direct members of this role (sorted)"),
        ],
    ),
    _t(
        "memberships",
        "table",
        """One row per membership grant (pg_auth_members). 16+ may
       hold several rows per (role, member) pair, one per grantor; the options of a pair are
       the OR over its rows.""",
        [
            ("role", "VARCHAR", "The group role granted"),
            ("role_oid", "BIGINT", "Its OID"),
            ("member", "VARCHAR", "The role it is granted to"),
            ("member_oid", "BIGINT", "Its OID"),
            (
                "grantor",
                "VARCHAR",
                "Grantor (16+: a superuser's grant shows the bootstrap superuser)",
            ),
            ("grantor_oid", "BIGINT", "Grantor OID"),
            ("admin_option", "BOOLEAN", "WITH ADMIN OPTION"),
            (
                "inherit_option",
                "BOOLEAN",
                "16+: the grant's INHERIT option; 13-15: the member's rolinherit",
            ),
            ("set_option", "BOOLEAN", "16+: the grant's SET option; 13-15: always true"),
        ],
    ),
    _t(
        "role_closure",
        "table",
        """Transitive membership: one row per (member, role) pair
       reachable through memberships, including the reflexive row (depth 0). Rows with
       database NULL hold cluster-wide; pg_database_owner (14+) is an implicit member edge
       from each database's owner that exists only inside that database, so pairs it adds
       (or improves) appear as extra rows with that database set. For an object in database
       D, use the row with database = D when there is one, else the row with database NULL
       (effective_privileges does). Superusers are not given rows for every role: their
       power is the superuser column of roles. Inheritance: 13-15 every member on the chain
       except the last role has rolinherit; 16+ every grant on the chain has INHERIT TRUE
       (any of a pair's grant rows). SET ROLE: 13-15 any chain; 16+ a chain of SET TRUE
       grants.""",
        [
            (
                "database",
                "VARCHAR",
                "NULL = cluster-wide; else the database whose owner's implicit pg_database_owner membership this row needs",
            ),
            _DBOID,
            ("member", "VARCHAR", "The role whose memberships are followed"),
            ("role", "VARCHAR", "A role it reaches"),
            ("member_oid", "BIGINT", "Member OID"),
            ("role_oid", "BIGINT", "Role OID"),
            ("depth", "INTEGER", "Length of the shortest membership chain (0 = the role itself)"),
            ("path", "VARCHAR[]", "A shortest chain of role names from member to role"),
            ("inherits", "BOOLEAN", "member has the privileges of role (pg_has_role USAGE)"),
            ("inherit_depth", "INTEGER", "Length of the shortest inheriting chain, NULL if none"),
            ("inherit_path", "VARCHAR[]", "A shortest inheriting chain, NULL if none"),
            (
                "can_set",
                "BOOLEAN",
                "member can SET ROLE to role (pg_has_role SET; MEMBER on 13-15)",
            ),
            ("set_path", "VARCHAR[]", "A shortest chain that allows SET ROLE, NULL if none"),
        ],
    ),
    _t(
        "databases",
        "table",
        "One row per database in the cluster, collected or not.",
        [
            ("oid", "BIGINT", "Database OID"),
            ("name", "VARCHAR", "Database name"),
            ("identity", "VARCHAR", "Name quoted as an SQL identifier"),
            ("owner", "VARCHAR", "Owner (datdba) name"),
            ("owner_oid", "BIGINT", "Owner OID"),
            ("allow_connections", "BOOLEAN", "datallowconn"),
            ("is_template", "BOOLEAN", "datistemplate"),
            ("connection_limit", "INTEGER", "datconnlimit"),
            ("acl_state", "VARCHAR", "default (NULL ACL: built-in defaults) | explicit"),
            ("auditor_can_connect", "BOOLEAN", "The auditor had CONNECT on it"),
            ("collected", "BOOLEAN", "Its per-database catalogs were read"),
            ("not_collected_reason", "VARCHAR", "Why not, when not collected"),
        ],
    ),
    _t(
        "tablespaces",
        "table",
        "One row per tablespace.",
        [
            ("oid", "BIGINT", "Tablespace OID"),
            ("name", "VARCHAR", "Tablespace name"),
            ("owner", "VARCHAR", "Owner name"),
            ("owner_oid", "BIGINT", "Owner OID"),
            ("acl_state", "VARCHAR", "default | explicit"),
        ],
    ),
    _t(
        "schemas",
        "table",
        "One row per schema in each collected database (no pg_toast/pg_temp).",
        [
            _DB,
            _DBOID,
            ("oid", "BIGINT", "Schema OID"),
            ("name", "VARCHAR", "Schema name"),
            ("identity", "VARCHAR", "Name quoted as an SQL identifier"),
            ("owner", "VARCHAR", "Owner name (pg_database_owner on 15+ for public)"),
            ("owner_oid", "BIGINT", "Owner OID"),
            ("owner_kind", "VARCHAR", "Naming-policy kind of the owner"),
            ("acl_state", "VARCHAR", "default | explicit"),
            ("is_system", "BOOLEAN", "pg_catalog or information_schema"),
            (
                "app",
                "VARCHAR",
                """Application the schema belongs to: from naming.app_schemas when
         that is configured, else the app of its owner when the owner is an owner-kind role;
         NULL for system schemas""",
            ),
        ],
    ),
    _t(
        "objects",
        "table",
        """Relations, functions, types, languages, large objects,
       foreign-data wrappers and servers of each collected database. In pg_catalog and
       information_schema only objects whose ACL was changed are collected.""",
        [
            _DB,
            _DBOID,
            (
                "object_class",
                "VARCHAR",
                "relation | function | type | language | large_object | fdw | server",
            ),
            ("oid", "BIGINT", "OID in its catalog"),
            (
                "kind",
                "VARCHAR",
                """table, partitioned table, view, materialized view, sequence,
         foreign table, function, procedure, aggregate, window function, base type, domain,
         enum, range, composite, multirange, pseudo, language, large object,
         foreign-data wrapper, server""",
            ),
            ("schema", "VARCHAR", "Schema name; NULL for languages, large objects, FDWs, servers"),
            ("schema_oid", "BIGINT", "Schema OID"),
            ("name", "VARCHAR", "Object name, unquoted (large objects: the OID as text)"),
            (
                "identity",
                "VARCHAR",
                """Display/SQL name: schema-qualified and quoted like
         quote_ident (functions: schema.name(identity arguments))""",
            ),
            ("identity_args", "VARCHAR", "Functions: pg_get_function_identity_arguments()"),
            ("owner", "VARCHAR", "Owner name"),
            ("owner_oid", "BIGINT", "Owner OID"),
            ("acl_state", "VARCHAR", "default | explicit"),
            ("extension", "VARCHAR", "Extension the object belongs to, if any"),
            (
                "is_system",
                "BOOLEAN",
                "In a system schema, or a built-in object (OID < 16384) without schema",
            ),
            ("trusted", "BOOLEAN", "Languages: lanpltrusted"),
        ],
    ),
    _t(
        "acl_objects",
        "table",
        """Every object that carries privileges, of every class, in
       one shape: databases, tablespaces, parameters with an ACL (15+), schemas and the
       objects table. The universe privileges and effective_privileges range over. For a
       large snapshot this is a view of those tables rather than a copy of them, with the
       same rows.""",
        [
            (
                "database",
                "VARCHAR",
                "Database the object lives in (a database row: itself); NULL for tablespaces and parameters",
            ),
            _DBOID,
            (
                "object_class",
                "VARCHAR",
                "database | tablespace | parameter | schema | relation | function | type | language | large_object | fdw | server",
            ),
            ("object_oid", "BIGINT", "OID in its catalog"),
            ("kind", "VARCHAR", "objects.kind; or database, tablespace, parameter, schema"),
            ("schema", "VARCHAR", "Containing schema"),
            ("object_name", "VARCHAR", "Name, unquoted"),
            ("identity", "VARCHAR", "Quoted display/SQL name"),
            ("owner", "VARCHAR", "Owner name (NULL for parameters)"),
            ("owner_oid", "BIGINT", "Owner OID"),
            ("acl_state", "VARCHAR", "default | explicit"),
            ("is_system", "BOOLEAN", "Built-in or in a system schema"),
        ],
    ),
    _t(
        "object_acls",
        "table",
        """Which explicit ACL each object or column has: one row per object (of every
       class, shared ones with a NULL database_oid) or column with a stored ACL that is not
       empty. Objects granted alike share one acl_id, whose items are in acl_items: with
       them a query reads each distinct ACL once, where privileges repeats it for every
       object (a million tables granted alike: one ACL, not a million).""",
        [
            (
                "database_oid",
                "BIGINT",
                "Database OID; NULL for databases, tablespaces and parameters",
            ),
            (
                "object_class",
                "VARCHAR",
                "database | tablespace | parameter | schema | relation | column | function | type | language | large_object | fdw | server",
            ),
            ("object_oid", "BIGINT", "OID (columns: the table's OID)"),
            ("subid", "INTEGER", "Column number for a column's ACL, else 0"),
            ("column_name", "VARCHAR", "Column name for a column's ACL, else NULL"),
            (
                "acl_id",
                "BIGINT",
                "The ACL (acl_items.acl_id); the same snapshot gives the same ids",
            ),
        ],
    ),
    _t(
        "acl_items",
        "table",
        """The items of each distinct explicit ACL in object_acls: one row per grantee x
       grantor x privilege. privileges' explicit rows are object_acls joined to these
       (and to acl_objects for the object's names).""",
        [
            ("acl_id", "BIGINT", "The ACL (object_acls.acl_id)"),
            ("grantee", "VARCHAR", "Grantee role name, or 'PUBLIC'"),
            ("grantee_oid", "BIGINT", "Grantee OID; 0 = PUBLIC"),
            ("grantor", "VARCHAR", "Grantor name"),
            ("grantor_oid", "BIGINT", "Grantor OID"),
            ("privilege", "VARCHAR", "SQL privilege word"),
            ("grantable", "BOOLEAN", "WITH GRANT OPTION"),
        ],
    ),
    _t(
        "privileges",
        "table",
        """Stored privileges: one row per object x grantee x privilege.
       A NULL ACL is expanded to the built-in default for its type and owner
       (source='default'); stored entries have source='explicit' (object_acls joined to
       acl_items). An explicit empty ACL has no rows: nobody, not even the owner, holds a
       privilege. Columns appear with object_class='column' (their NULL ACL grants
       nothing). For a large snapshot this is a view of that join rather than a
       table, with the same rows: a query over many objects reads faster from object_acls
       and acl_items.""",
        [
            _DB,
            _DBOID,
            (
                "object_class",
                "VARCHAR",
                "database | tablespace | parameter | schema | relation | column | function | type | language | large_object | fdw | server",
            ),
            ("object_oid", "BIGINT", "OID (columns: the table's OID)"),
            ("subid", "INTEGER", "Column number for column privileges, else 0"),
            ("schema", "VARCHAR", "Schema name, if any"),
            ("object_name", "VARCHAR", "Object name (columns: the table's name)"),
            (
                "identity",
                "VARCHAR",
                "Quoted display/SQL name of the object (columns: of the table)",
            ),
            ("column_name", "VARCHAR", "Column name for column privileges, else NULL"),
            ("kind", "VARCHAR", "Object kind (columns: the table's kind)"),
            ("owner", "VARCHAR", "Owner of the object"),
            ("owner_oid", "BIGINT", "Owner OID"),
            ("grantee", "VARCHAR", "Grantee role name, or 'PUBLIC'"),
            ("grantee_oid", "BIGINT", "Grantee OID; 0 = PUBLIC"),
            ("grantor", "VARCHAR", "Grantor name (the owner for defaults)"),
            ("grantor_oid", "BIGINT", "Grantor OID"),
            (
                "privilege",
                "VARCHAR",
                "SQL privilege word: SELECT, INSERT, ..., TEMPORARY, ALTER SYSTEM, MAINTAIN",
            ),
            ("grantable", "BOOLEAN", "WITH GRANT OPTION"),
            ("source", "VARCHAR", "explicit | default"),
            ("is_system", "BOOLEAN", "The object is built-in or in a system schema"),
        ],
    ),
    _t(
        "column_privileges",
        "view",
        "privileges restricted to column-level grants.",
        [
            _DB,
            _DBOID,
            ("table_oid", "BIGINT", "Table OID"),
            ("attnum", "INTEGER", "Column number"),
            ("schema", "VARCHAR", "Schema name"),
            ("table_name", "VARCHAR", "Table name"),
            ("identity", "VARCHAR", "Quoted table name"),
            ("column_name", "VARCHAR", "Column name"),
            ("kind", "VARCHAR", "Table kind"),
            ("owner", "VARCHAR", "Table owner"),
            ("grantee", "VARCHAR", "Grantee or 'PUBLIC'"),
            ("grantee_oid", "BIGINT", "Grantee OID; 0 = PUBLIC"),
            ("grantor", "VARCHAR", "Grantor"),
            ("privilege", "VARCHAR", "SELECT | INSERT | UPDATE | REFERENCES"),
            ("grantable", "BOOLEAN", "WITH GRANT OPTION"),
        ],
    ),
    _t(
        "privilege_types",
        "table",
        """Which privileges exist for which object class and kind
       on the audited server's version (MAINTAIN from 17, parameters from 15), and which the
       built-in default ACL gives the owner and PUBLIC.""",
        [
            ("object_class", "VARCHAR", "Object class"),
            ("kind", "VARCHAR", "Object kind; NULL = every kind of the class"),
            ("privilege", "VARCHAR", "SQL privilege word"),
            ("owner_default", "BOOLEAN", "Granted to the owner by a NULL ACL"),
            ("public_default", "BOOLEAN", "Granted to PUBLIC by a NULL ACL"),
        ],
    ),
    _t(
        "predefined_privileges",
        "table",
        """Privileges predefined roles confer on every object
       of a class without appearing in any ACL (pg_read_all_data, pg_write_all_data 14+,
       pg_maintain 17+), as applied on the audited server's version.""",
        [
            ("role", "VARCHAR", "Predefined role"),
            ("object_class", "VARCHAR", "relation | schema"),
            ("kind", "VARCHAR", "Object kind; NULL = every kind"),
            ("privilege", "VARCHAR", "Privilege conferred"),
        ],
    ),
    _t(
        "default_privileges",
        "table",
        """ALTER DEFAULT PRIVILEGES entries (pg_default_acl), one
       row per entry item. A global entry (scope 'global') replaces the built-in default for
       that creator and object type; a schema entry only adds. An entry whose ACL is empty
       keeps one marker row (is_empty_marker, grantee and privilege NULL): new objects of
       that creator get no privileges at all, not even for the owner.""",
        [
            _DB,
            _DBOID,
            ("oid", "BIGINT", "pg_default_acl row OID"),
            ("creator", "VARCHAR", "defaclrole: the role whose new objects get these privileges"),
            ("creator_oid", "BIGINT", "Its OID"),
            ("schema", "VARCHAR", "Schema for a per-schema entry; NULL for a global one"),
            ("schema_oid", "BIGINT", "Schema OID; NULL for global"),
            ("scope", "VARCHAR", "global | schema"),
            (
                "objtype",
                "VARCHAR",
                "r tables, S sequences, f functions, T types, n schemas, L large objects (18+)",
            ),
            (
                "object_type",
                "VARCHAR",
                "tables | sequences | functions | types | schemas | large objects",
            ),
            ("grantee", "VARCHAR", "Grantee or 'PUBLIC'; NULL on the empty marker"),
            ("grantee_oid", "BIGINT", "Grantee OID, 0 = PUBLIC; NULL on the marker"),
            ("grantor", "VARCHAR", "Grantor"),
            ("grantor_oid", "BIGINT", "Grantor OID"),
            ("privilege", "VARCHAR", "SQL privilege word; NULL on the marker"),
            ("grantable", "BOOLEAN", "WITH GRANT OPTION"),
            ("is_empty_marker", "BOOLEAN", "Row that only records an empty ACL"),
        ],
    ),
    _t(
        "default_privileges_effective",
        "table",
        """What a new table (r), sequence (S),
       function (f) or type (T) created by a role in a non-system schema would get:
       (the creator's global entry, or else the built-in default) plus the creator's entry
       for that schema. Creators are the roles with any default-privilege entry in the
       database plus the owners of its non-system schemas. One row per (database, creator,
       schema, objtype, grantee, privilege).""",
        [
            _DB,
            _DBOID,
            ("creator", "VARCHAR", "The creating role (owner of the new object)"),
            ("creator_oid", "BIGINT", "Its OID"),
            ("schema", "VARCHAR", "Schema the object would be created in"),
            ("schema_oid", "BIGINT", "Schema OID"),
            ("schema_owner", "VARCHAR", "Owner of that schema"),
            ("objtype", "VARCHAR", "r | S | f | T"),
            ("object_type", "VARCHAR", "tables | sequences | functions | types"),
            ("grantee", "VARCHAR", "Grantee or 'PUBLIC'"),
            ("grantee_oid", "BIGINT", "Grantee OID, 0 = PUBLIC"),
            ("privilege", "VARCHAR", "SQL privilege word"),
            ("grantable", "BOOLEAN", "WITH GRANT OPTION"),
            (
                "source",
                "VARCHAR",
                "builtin (no global entry) | global | schema (added by the schema entry only)",
            ),
        ],
    ),
    _t(
        "functions",
        "table",
        "Functions, procedures and aggregates with their security attributes.",
        [
            _DB,
            _DBOID,
            ("oid", "BIGINT", "pg_proc OID"),
            ("schema", "VARCHAR", "Schema name"),
            ("name", "VARCHAR", "Function name"),
            ("identity", "VARCHAR", "schema.name(identity arguments), quoted"),
            ("identity_args", "VARCHAR", "pg_get_function_identity_arguments()"),
            ("owner", "VARCHAR", "Owner name"),
            ("owner_oid", "BIGINT", "Owner OID"),
            ("kind", "VARCHAR", "function | procedure | aggregate | window function"),
            ("security_definer", "BOOLEAN", "prosecdef"),
            ("config", "VARCHAR[]", "proconfig (SET clauses) as name=value"),
            ("search_path", "VARCHAR", "Value of a SET search_path clause, NULL if none"),
            ("language", "VARCHAR", "Language name"),
            ("leakproof", "BOOLEAN", "proleakproof"),
            ("extension", "VARCHAR", "Extension the function belongs to"),
            ("acl_state", "VARCHAR", "default | explicit"),
            ("is_system", "BOOLEAN", "In a system schema"),
        ],
    ),
    _t(
        "extensions",
        "table",
        "Installed extensions per database.",
        [
            _DB,
            _DBOID,
            ("oid", "BIGINT", "Extension OID"),
            ("name", "VARCHAR", "Extension name"),
            ("owner", "VARCHAR", "Owner name"),
            ("owner_oid", "BIGINT", "Owner OID"),
            ("schema", "VARCHAR", "Schema it was installed in"),
            ("schema_oid", "BIGINT", "Schema OID"),
            ("version", "VARCHAR", "Installed version"),
        ],
    ),
    _t(
        "rls_tables",
        "table",
        """Tables and partitioned tables of each collected database
       with row-level security enabled or forced, or with at least one policy.""",
        [
            _DB,
            _DBOID,
            ("table_oid", "BIGINT", "Table OID"),
            ("schema", "VARCHAR", "Schema name"),
            ("name", "VARCHAR", "Table name"),
            ("identity", "VARCHAR", "Quoted schema.table"),
            ("owner", "VARCHAR", "Table owner (bypasses the policies unless RLS is forced)"),
            ("owner_oid", "BIGINT", "Owner OID"),
            ("owner_kind", "VARCHAR", "Naming-policy kind of the owner"),
            ("row_security", "BOOLEAN", "ENABLE ROW LEVEL SECURITY (relrowsecurity)"),
            ("force_row_security", "BOOLEAN", "FORCE ROW LEVEL SECURITY (relforcerowsecurity)"),
            ("policies", "INTEGER", "Number of policies on the table"),
        ],
    ),
    _t(
        "policies",
        "table",
        """Row-level security policies (pg_policy), one row per policy.
       A permissive policy without USING hides every row for its command, one without WITH
       CHECK (INSERT) admits no row; UPDATE and ALL policies without WITH CHECK check new rows
       with USING.""",
        [
            _DB,
            _DBOID,
            ("oid", "BIGINT", "pg_policy OID"),
            ("table_oid", "BIGINT", "Table OID"),
            ("schema", "VARCHAR", "Schema of the table"),
            ("table_name", "VARCHAR", "Table name"),
            ("identity", "VARCHAR", "Quoted schema.table"),
            ("name", "VARCHAR", "Policy name"),
            ("command", "VARCHAR", "ALL | SELECT | INSERT | UPDATE | DELETE"),
            ("permissive", "BOOLEAN", "PERMISSIVE (OR-ed) rather than RESTRICTIVE (AND-ed)"),
            ("roles", "VARCHAR[]", "Role names it applies to; 'PUBLIC' for every role"),
            ("role_oids", "BIGINT[]", "Their OIDs, 0 = PUBLIC"),
            ("using_expr", "VARCHAR", "USING expression as the server prints it; NULL if none"),
            ("check_expr", "VARCHAR", "WITH CHECK expression; NULL if none"),
        ],
    ),
    _t(
        "triggers",
        "table",
        """User triggers (not the internal ones behind foreign keys),
       with the function they run: code that runs as whoever writes the table, unless the
       function is SECURITY DEFINER.""",
        [
            _DB,
            _DBOID,
            ("oid", "BIGINT", "pg_trigger OID"),
            ("table_oid", "BIGINT", "Table OID"),
            ("table_identity", "VARCHAR", "Quoted schema.table"),
            ("table_owner", "VARCHAR", "Table owner"),
            ("table_owner_oid", "BIGINT", "Its OID"),
            ("name", "VARCHAR", "Trigger name"),
            ("function_oid", "BIGINT", "Function OID"),
            ("function_identity", "VARCHAR", "Function as regprocedure text (quoted, qualified)"),
            ("function_owner", "VARCHAR", "Function owner: may replace its body"),
            ("function_owner_oid", "BIGINT", "Its OID"),
            ("function_security_definer", "BOOLEAN", "The function runs as its owner"),
            ("events", "VARCHAR[]", "INSERT, DELETE, UPDATE, TRUNCATE"),
            ("enabled", "VARCHAR", "O origin, D disabled, R replica, A always"),
        ],
    ),
    _t(
        "event_triggers",
        "table",
        """Event triggers per database: their function runs as the
       role whose DDL fired it, superusers included.""",
        [
            _DB,
            _DBOID,
            ("oid", "BIGINT", "pg_event_trigger OID"),
            ("name", "VARCHAR", "Event trigger name"),
            ("event", "VARCHAR", "Event"),
            ("owner", "VARCHAR", "Event trigger owner"),
            ("owner_oid", "BIGINT", "Its OID"),
            ("function_oid", "BIGINT", "Function OID"),
            ("function_identity", "VARCHAR", "Function as regprocedure text"),
            ("function_owner", "VARCHAR", "Function owner: may replace its body"),
            ("function_owner_oid", "BIGINT", "Its OID"),
            ("function_security_definer", "BOOLEAN", "The function runs as its owner"),
            ("enabled", "VARCHAR", "O origin, D disabled, R replica, A always"),
        ],
    ),
    _t(
        "user_mappings",
        "table",
        """User mappings of foreign servers per database. Only the
       option names are collected, never their values (they hold remote passwords).""",
        [
            _DB,
            _DBOID,
            ("oid", "BIGINT", "User mapping OID"),
            ("server", "VARCHAR", "Foreign server name"),
            ("server_oid", "BIGINT", "Its OID"),
            ("user", "VARCHAR", "Mapped role, or 'PUBLIC'"),
            ("user_oid", "BIGINT", "Its OID, 0 = PUBLIC"),
            (
                "option_names",
                "VARCHAR[]",
                "Option names (user, password, ...); NULL when the auditor may not see them",
            ),
        ],
    ),
    _t(
        "dangerous_roles",
        "table",
        """Predefined and managed-service roles that are dangerous
       to hold, on the audited server's version, and why (pgaudit_roles.audit.escalation).""",
        [
            ("role", "VARCHAR", "Role name"),
            ("danger", "VARCHAR", "superuser | os | all_data | sessions | settings | other"),
            (
                "managed",
                "BOOLEAN",
                "A managed-service administrator role (treated as superuser-equivalent)",
            ),
            ("reason", "VARCHAR", "What holding it allows"),
        ],
    ),
    _t(
        "escalation_edges",
        "table",
        """One row per hop a role (or PUBLIC) can take towards
       another role or a virtual target, with the evidence, the SQL that takes it and the SQL
       that removes it. A role node is entered either 'as' the role (SET ROLE: attributes
       apply) or with its 'privs' only (INHERIT, or code running in its privilege context).
       Kinds: set_role, inherit, admin_option (grant the role to itself), createrole (13-15:
       any non-superuser role), superuser_attribute, managed_admin, predefined_os and
       predefined_superuser (server-file and server-program roles), superuser_os,
       security_definer (executable SECURITY DEFINER function whose search_path the role can
       plant objects on: arbitrary code as the owner), security_definer_call (bounded: only
       what the body does; full_control false), trigger_function (the function owner, when it
       may create in the function's schema, or use it and create in another one to move the
       function to, replaces code that runs as
       whoever writes the table: its owner and direct grantees of the trigger's events), event_trigger (code run by every role's DDL), parameter_acl
       (15+ SET / ALTER SYSTEM on a setting that runs code or loads libraries),
       public_user_mapping (USAGE on a server with a user mapping for PUBLIC). Not modelled:
       superusers writing a table with a trigger, non-SECURITY DEFINER functions other roles
       call, pg_temp shadowing (see PGR-PRIV-013).""",
        [
            ("database", "VARCHAR", "Database of the object the hop uses; NULL = cluster-wide"),
            _DBOID,
            ("from_kind", "VARCHAR", "role (a role, or PUBLIC with OID 0) | superuser"),
            (
                "from_role",
                "VARCHAR",
                "Role name or 'PUBLIC' (for from_kind superuser: 'superuser')",
            ),
            ("from_oid", "BIGINT", "Role OID, 0 = PUBLIC"),
            (
                "from_mode",
                "VARCHAR",
                "as: only a session that is the role; any: also one that has its privileges",
            ),
            ("to_kind", "VARCHAR", "role | superuser | os | remote"),
            ("to_node", "VARCHAR", "Role name, 'superuser', 'os', or the foreign server name"),
            ("to_oid", "BIGINT", "Role OID for role targets"),
            ("to_mode", "VARCHAR", "as | privs for role targets"),
            ("kind", "VARCHAR", "Edge kind (see above)"),
            (
                "full_control",
                "BOOLEAN",
                "The hop gives arbitrary actions as the target (followed by route searches)",
            ),
            ("object_identity", "VARCHAR", "Function, table, parameter or server the hop uses"),
            ("evidence", "VARCHAR", "Why the hop exists, in words, names quoted"),
            ("action", "VARCHAR", "SQL (or outline) that takes the hop"),
            (
                "fix",
                "VARCHAR",
                "SQL that removes the hop; NULL when the hop is the target's nature",
            ),
            (
                "fix_rank",
                "INTEGER",
                "Lower = cheaper and more targeted fix (picks a route's weakest hop)",
            ),
            *_FIX_PARTS,
        ],
    ),
    _t(
        "escalation_paths",
        "table",
        """Shortest escalation routes from every login role that
       is not already superuser-equivalent, and from PUBLIC, to: superuser-equivalent, OS
       access, each owner-kind role, each dangerous predefined role and each remote login of
       a PUBLIC user mapping. Routes from login roles never pass through PUBLIC (PUBLIC's
       own routes cover that). Every hop is listed with its evidence and fix; the weakest hop
       is the one with the lowest fix_rank.""",
        [
            ("from_role", "VARCHAR", "Login role, or 'PUBLIC'"),
            ("from_oid", "BIGINT", "Its OID, 0 = PUBLIC"),
            ("from_kind", "VARCHAR", "Naming-policy kind of from_role, or 'PUBLIC'"),
            ("target_kind", "VARCHAR", "superuser | os | owner | predefined | remote"),
            (
                "target",
                "VARCHAR",
                "Target label: superuser-equivalent, OS access, a role name, a remote login",
            ),
            ("target_app", "VARCHAR", "Application of an owner target"),
            ("hops", "INTEGER", "Number of hops"),
            ("nodes", "VARCHAR[]", "Node labels, hops + 1 of them"),
            ("node_kinds", "VARCHAR[]", "role | public | superuser | os | remote per node"),
            ("hop_kinds", "VARCHAR[]", "Edge kind of each hop"),
            ("hop_databases", "VARCHAR[]", "Database of each hop (NULL = cluster-wide)"),
            ("hop_objects", "VARCHAR[]", "Object each hop uses"),
            ("hop_evidence", "VARCHAR[]", "Evidence of each hop"),
            ("hop_actions", "VARCHAR[]", "SQL that takes each hop"),
            ("hop_fixes", "VARCHAR[]", "SQL that removes each hop"),
            ("weakest_hop", "INTEGER", "1-based hop to fix first"),
            ("weakest_fix", "VARCHAR", "Its fix (quoted SQL)"),
            ("route", "VARCHAR", "The route as one line: role -[kind]-> role ..."),
            ("weakest_database", "VARCHAR", "Database the weakest fix runs in (NULL = any)"),
            *[("weakest_" + n, t, d) for n, t, d in _FIX_PARTS],
        ],
    ),
    _t(
        "settings",
        "table",
        "Server settings the collector read (pg_settings).",
        [
            ("name", "VARCHAR", "Setting name"),
            ("setting", "VARCHAR", "Current value"),
            ("unit", "VARCHAR", "Unit"),
            ("source", "VARCHAR", "Where the value came from"),
        ],
    ),
    _t(
        "role_settings",
        "table",
        """Per-role and per-database settings (ALTER ROLE ... SET,
       ALTER ROLE ... IN DATABASE ... SET, ALTER DATABASE ... SET), one row per setting.""",
        [
            ("role", "VARCHAR", "Role; NULL = every role"),
            ("role_oid", "BIGINT", "Role OID; NULL = every role"),
            ("database", "VARCHAR", "Database; NULL = every database"),
            ("database_oid", "BIGINT", "Database OID; NULL = every database"),
            ("name", "VARCHAR", "Setting name"),
            ("value", "VARCHAR", "Value as stored"),
        ],
    ),
    _t(
        "hba_rules",
        "table",
        """pg_hba.conf lines as the server reads them
       (pg_hba_file_rules or a supplied file), then derived columns from
       pgaudit_roles.audit.hba_analysis (reach and shadowing; +group lines are resolved with the
       snapshot's roles and memberships).""",
        [
            ("rule_number", "INTEGER", "Order of evaluation (NULL for lines with errors)"),
            ("file_name", "VARCHAR", "File the line is in"),
            ("line_number", "INTEGER", "Line number in that file"),
            ("type", "VARCHAR", "local | host | hostssl | hostnossl | hostgssenc | hostnogssenc"),
            ("databases", "VARCHAR[]", "Database field tokens"),
            ("users", "VARCHAR[]", "User field tokens"),
            ("address", "VARCHAR", "Address, keyword or host name"),
            ("netmask", "VARCHAR", "Netmask"),
            ("auth_method", "VARCHAR", "Authentication method"),
            ("options", "VARCHAR[]", "name=value options, secrets redacted"),
            ("error", "VARCHAR", "Error text: the line is not in effect"),
            *HBA_ANALYSIS_COLUMNS,
        ],
    ),
    _t(
        "activity",
        "table",
        "Sessions seen in pg_stat_activity at collection time.",
        [
            ("pid", "INTEGER", "Backend PID"),
            ("role_name", "VARCHAR", "usename"),
            ("database", "VARCHAR", "datname"),
            ("client_addr", "VARCHAR", "Client address, NULL for unix socket"),
            ("application_name", "VARCHAR", "application_name"),
            ("backend_type", "VARCHAR", "backend_type"),
            ("state", "VARCHAR", "state"),
            ("ssl", "BOOLEAN", "Connection uses SSL"),
        ],
    ),
    _t(
        "sources",
        "table",
        """What the collector could and could not read; rules that need
       a source not collected are skipped.""",
        [
            ("source", "VARCHAR", "Source name (roles, hba_rules, password_types, ...)"),
            ("collected", "BOOLEAN", "Read successfully"),
            ("reason", "VARCHAR", "Why not"),
        ],
    ),
    _t(
        "coverage",
        "table",
        """What the snapshot covers, one row per cluster-wide source and
       per database, with why a part was not read and the grant that fixes it. Rows with
       status 'not_collected' are gaps: the PGR-COV rules report each one, and rules over
       per-database tables are not evaluated for a database that was not collected.""",
        _coverage_columns(),
    ),
    _t(
        "scan_meta",
        "table",
        "Snapshot metadata as key/value text (non-text values as JSON).",
        [
            ("key", "VARCHAR", "Meta key"),
            ("value", "VARCHAR", "Value"),
        ],
    ),
    _t(
        "effective_privileges",
        "view",
        """What every role (except the built-in pg_* roles)
       can really do on every object in acl_objects, and why. One row per (role, object,
       privilege, reason): via 'superuser' (rolsuper: every privilege of the object type,
       always grantable), 'owner' (the grant is the owner's own entry and the role is the
       owner or inherits from it; owners can revoke their own privileges, so this follows
       the ACL; always grantable), 'direct' (granted to the role itself), 'role' (granted to
       a role it inherits from), 'public' (granted to PUBLIC), 'predefined'
       (pg_read_all_data / pg_write_all_data / pg_maintain confer it). Inheritance follows
       role_closure (NOINHERIT, 16+ INHERIT FALSE grants, pg_database_owner per database).
       Non-superusers never get INSERT/UPDATE/DELETE/TRUNCATE on system catalog tables.
       Column rows (subid > 0) come from column grants only: a table-level row grants the
       privilege on every column (has_column_privilege = table row OR column row); only
       SELECT, INSERT, UPDATE, REFERENCES exist on columns. Database privileges are
       evaluated as when connected to that database (pg_database_owner = its owner). A
       superuser gets only 'superuser' rows.""",
        [
            _DB,
            _DBOID,
            ("role", "VARCHAR", "Role that holds the privilege"),
            ("role_oid", "BIGINT", "Its OID"),
            ("object_class", "VARCHAR", "As in privileges"),
            ("object_oid", "BIGINT", "Object OID (columns: the table's)"),
            ("subid", "INTEGER", "Column number, 0 for the object"),
            ("kind", "VARCHAR", "Object kind"),
            ("schema", "VARCHAR", "Schema name"),
            ("object_name", "VARCHAR", "Object name"),
            ("identity", "VARCHAR", "Quoted display/SQL name"),
            ("column_name", "VARCHAR", "Column name for column rows"),
            ("privilege", "VARCHAR", "SQL privilege word"),
            ("via", "VARCHAR", "superuser | owner | direct | role | public | predefined"),
            (
                "via_role",
                "VARCHAR",
                "Role holding the grant (owner, grantee, predefined role), 'PUBLIC', or the superuser itself",
            ),
            (
                "path",
                "VARCHAR[]",
                "Membership chain from role to via_role (inheriting); [role, 'PUBLIC'] for public",
            ),
            (
                "grantable",
                "BOOLEAN",
                "The role may grant it on (WITH GRANT OPTION, owner, superuser)",
            ),
            ("is_system", "BOOLEAN", "The object is built-in or in a system schema"),
        ],
    ),
]

AUDIT_TABLES: dict[str, AuditTable] = {t.name: t for t in _TABLES}
"""Every table and view of the audit schema, in documentation order."""


# --- loading ----------------------------------------------------------------------------


def server_version_num(meta: Mapping[str, Any]) -> int | None:
    """``server_version_num`` from snapshot meta (a few spellings tolerated), or None."""
    for key in ("server_version_num", "server_version_number"):
        value = meta.get(key)
        if isinstance(value, int | str) and str(value).isdigit():
            return int(value)
    server = meta.get("server")
    if isinstance(server, Mapping):
        return server_version_num(server)
    return None


def load(
    snapshot: Snapshot,
    policy: NamingPolicy | None = None,
    con: duckdb.DuckDBPyConnection | None = None,
    *,
    queries: Sequence[str] | None = None,
    helpers: Sequence[Any] = (),
) -> duckdb.DuckDBPyConnection:
    """Build the audit schema for ``snapshot`` in ``con`` (a new in-memory DB by default).

    With ``queries``, only the tables they read and what those are built from
    (``build_plan``): the others do not exist in ``con``. None: the whole schema.
    ``helpers``: more connections to the same database, with the audit schema's temporary
    macros, that run steps whose inputs are ready (``load_schedule``)."""
    import duckdb

    policy = policy or NamingPolicy()
    if con is None:
        con = new_connection()
        tune_for_size(con, snapshot)
    version = server_version_num(snapshot.meta)
    try:
        _Loader(con, snapshot, policy, version).run(queries, helpers)
    except duckdb.OutOfMemoryException as exc:
        raise UsageError(
            f"building the audit schema needs more memory than {memory_limit()} "
            "(raise PGAUDIT_ROLES_MEMORY_LIMIT, e.g. 2GB): "
            f"{' '.join(str(exc).split())[:200]}"
        ) from None
    return con


MEMORY_LIMIT = "512MB"
"""DuckDB's memory cap for the audit schema (``PGAUDIT_ROLES_MEMORY_LIMIT`` overrides).

DuckDB's own default is 80% of the machine, which a million-table cluster happily takes
(8 GiB measured) from a cron job sharing the host. Above the cap DuckDB spills to a private
temporary directory instead; at the large benchmark preset that costs about 15 s and keeps
the whole scan under 1 GiB (bench/RESULTS.md)."""


def memory_limit() -> str:
    """The cap in force: ``PGAUDIT_ROLES_MEMORY_LIMIT`` if set, else :data:`MEMORY_LIMIT`."""
    return os.environ.get("PGAUDIT_ROLES_MEMORY_LIMIT") or MEMORY_LIMIT


def new_connection() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with a memory cap and its own spill directory (removed with
    the connection, never the caller's working directory)."""
    with signals.held():  # a signal met inside DuckDB's module initialisation aborts
        import duckdb

    spill = None
    limit = memory_limit()
    try:
        spill = tempfile.mkdtemp(prefix="pgaudit-duckdb-")
        con = duckdb.connect(":memory:", config={"memory_limit": limit, "temp_directory": spill})
        weakref.finalize(con, shutil.rmtree, spill, True)
    except BaseException as exc:
        # also a signal that arrives while DuckDB opens the database (Python raises it
        # when connect returns): the directory is not left behind without its finaliser
        if spill is not None:
            shutil.rmtree(spill, ignore_errors=True)
        if isinstance(exc, duckdb.Error):
            raise UsageError(
                f"PGAUDIT_ROLES_MEMORY_LIMIT={limit!r} is not a DuckDB memory size "
                f"such as 512MB or 2GB ({' '.join(str(exc).split())})"
            ) from None
        raise
    con.execute("SET enable_progress_bar = false")  # never draw on the user's terminal
    # Row order is never relied on (rules and reports sort); not keeping it lets DuckDB
    # stream large inserts and joins in less memory.
    con.execute("SET preserve_insertion_order = false")
    return con


SMALL_SNAPSHOT_ROWS = 100_000
"""Up to this many per-database catalog rows (the bench's small preset has 47,000, medium
434,000), the audit schema runs on one DuckDB thread and without the common-subexpression
optimizer. Why: at that size every statement is a few milliseconds, and DuckDB's task
scheduling across threads and its common-subexpression pass over the large views
(``effective_privileges``, escalation edges) cost more than the work itself; on a shared
machine extra threads also wait for a core. Results are the same either way (bench/RESULTS.md
has the profile)."""


def privileges_is_view(snapshot: Snapshot) -> bool:
    """Whether the load makes ``privileges`` a view of ``object_acls`` and ``acl_items``
    rather than a table of the same rows: above :data:`SMALL_SNAPSHOT_ROWS`.

    Why: a cluster repeats few ACLs over many objects (the bench's large preset: 18 million
    privileges, 140,000 distinct ACLs), and writing every object's expansion, then
    compressing it, was most of the load (about 17 of 29 s there); the rules that read
    privileges filter it, and DuckDB pushes their filters into the join. A small
    snapshot's table costs less than re-reading the view in each of the rules that use it.
    The rows are the same either way (tests/test_audit_compressed.py)."""
    return not is_small(snapshot)


def is_small(snapshot: Snapshot) -> bool:
    """Whether ``snapshot`` has at most :data:`SMALL_SNAPSHOT_ROWS` catalog rows."""
    rows = sum(t.size_hint() for d in snapshot.databases for t in d.tables.values())
    return rows <= SMALL_SNAPSHOT_ROWS


def tune_for_size(con: duckdb.DuckDBPyConnection, snapshot: Snapshot) -> None:
    """One thread and no common-subexpression pass for a small snapshot (see
    :data:`SMALL_SNAPSHOT_ROWS`); DuckDB's defaults otherwise, in compressed storage
    (:func:`use_compressed_storage`)."""
    if not is_small(snapshot):
        use_compressed_storage(con)
        return
    con.execute("SET threads = 1")
    try:
        con.execute("SET disabled_optimizers = 'common_subexpressions'")
    except Exception as exc:  # an optimizer name this DuckDB version does not know
        if "optimizer" not in str(exc).lower():
            raise


COMPRESSED_DATABASE = "audit"
"""The in-memory database a large snapshot's audit schema is built in (see
:func:`use_compressed_storage`)."""


def use_compressed_storage(con: duckdb.DuckDBPyConnection) -> bool:
    """Make ``con``'s default database an in-memory one that compresses its tables, as a
    database file does; False (nothing changed) when this DuckDB cannot.

    Why, for snapshots above :data:`SMALL_SNAPSHOT_ROWS`: DuckDB keeps an in-memory
    database's tables uncompressed, so a million-table cluster's 18 million ``privileges``
    rows far exceed the memory cap and every rule or inventory query that scans them read
    them back from the spill files (bench large: PGR-PRIV-010 5.2 -> 0.5 s, PGR-PRIV-009
    3.6 -> 0.6 s CPU). Compressing costs time on every insert, more than it saves on a
    small snapshot's tables, which fit in memory anyway. Rows and results are the same
    either way (tests/test_audit_compressed.py)."""
    try:
        con.execute(f"ATTACH ':memory:' AS {COMPRESSED_DATABASE} (COMPRESS)")
    except Exception as exc:  # an older DuckDB: no compressed in-memory databases
        if "compress" not in str(exc).lower():
            raise
        return False
    con.execute(f"USE {COMPRESSED_DATABASE}")
    return True


def lock_down(con: duckdb.DuckDBPyConnection) -> None:
    """No file, network or extension access, then freeze the configuration.

    The same settings as the rule engine's sandbox; run before any user-supplied SQL.
    """
    for stmt in (
        "SET enable_external_access = false",
        "SET autoinstall_known_extensions = false",
        "SET autoload_known_extensions = false",
        "SET allow_community_extensions = false",
        "SET python_enable_replacements = false",
        "SET lock_configuration = true",
    ):
        try:
            con.execute(stmt)
        except Exception as exc:  # a setting unknown to this DuckDB version
            if "enable_external_access" in stmt or "lock_configuration" in stmt:
                raise
            if "unrecognized configuration" not in str(exc).lower():
                raise


def create_ddl(table: AuditTable) -> str:
    cols = ", ".join(f'"{c.name}" {c.type}' for c in table.columns)
    return f'CREATE OR REPLACE TABLE "{table.name}" ({cols})'


def _keywords_sql() -> str:
    """The keywords quote_ident quotes, as one regular expression literal for DuckDB.

    Why a regular expression and not a list: the macro is expanded into every statement
    that calls it, and DuckDB binds and folds a 164-element list literal per call (4 ms
    each, 40 calls in the escalation edges alone) where one constant pattern costs a
    fifth of that, and matches faster per row too. Keywords are lowercase letters and
    underscores, so the alternation needs no escaping (checked here).
    """
    from pglast import keywords

    words = sorted(
        keywords.RESERVED_KEYWORDS | keywords.COL_NAME_KEYWORDS | keywords.TYPE_FUNC_NAME_KEYWORDS
    )
    if not all(w and set(w) <= set("abcdefghijklmnopqrstuvwxyz_") for w in words):
        raise AssertionError("a PostgreSQL keyword that is not [a-z_]+")
    return duckdb_literal("|".join(words))


def _keyword_buckets_sql() -> str:
    """The same keywords as :func:`_keywords_sql`, as a DuckDB list of strings indexed by
    length: element ``k`` is `` w1 w2 ... `` (the keywords of ``k`` letters, space-separated).

    Why: DuckDB compiles a constant regular expression each time it binds (and copies) a
    call, ~0.75 ms per ``pg_quote_ident`` call site for the keyword alternation; this list
    binds in ~0.3 ms. Per row it is ~3x slower (~130 ns), so only small snapshots use it
    (:func:`temp_macros`)."""
    from pglast import keywords

    words = (
        keywords.RESERVED_KEYWORDS | keywords.COL_NAME_KEYWORDS | keywords.TYPE_FUNC_NAME_KEYWORDS
    )
    longest = max(map(len, words))
    buckets = [
        " " + " ".join(sorted(w for w in words if len(w) == k)) + " " for k in range(1, longest + 1)
    ]
    return "[" + ", ".join(duckdb_literal(b) for b in buckets) + "]"


SQL_DIR = Path(__file__).resolve().parent / "sql"


@functools.cache
def temp_macros(small: bool = False) -> tuple[str, ...]:
    """The statements that create the audit schema's temporary macros, ``pg_quote_ident``
    and ``pg_qualified``. Temporary objects belong to one DuckDB connection: the loader
    runs these, and ``evaluate.rule_queries`` runs the same ones on the second connection it
    opens (replaying them costs well under a millisecond; reading their definitions back
    from ``duckdb_functions()`` cost 16 ms per evaluation).

    ``small``: the keyword test that is cheaper to bind and slower per row
    (:func:`_keyword_buckets_sql`), for small snapshots (:func:`is_small`), where binding
    the ~90 call sites of one evaluation costs more than the rows. Both give the same
    result for every text (tests/test_quote_macros.py)."""
    if small:
        keyword = f"contains(coalesce({_keyword_buckets_sql()}[length(s)], ''), ' ' || s || ' ')"
    else:
        keyword = f"regexp_full_match(s, {_keywords_sql()})"
    return (
        # pg_quote_ident: PostgreSQL's quote_ident(), same rules as sqlquote.quote_ident.
        f"""CREATE OR REPLACE TEMP MACRO pg_quote_ident(s) AS
            CASE WHEN regexp_full_match(s, '[a-z_][a-z0-9_]*')
                      AND NOT {keyword} THEN s
                 ELSE '"' || replace(s, '"', '""') || '"' END""",
        _sql("macro_pg_qualified"),
    )


@functools.cache
def _sql(name: str) -> str:
    """A loader statement from ``sql/<name>.sql`` (DuckDB), without its leading comment."""
    lines = (SQL_DIR / f"{name}.sql").read_text(encoding="utf-8").split("\n")
    while lines and lines[0].startswith("--"):
        lines.pop(0)
    return "\n".join(lines).removesuffix("\n")


_ACL_VALUE = (
    "STRUCT(grantor_oid BIGINT, grantee_oid BIGINT, privilege VARCHAR, grantable BOOLEAN)[]"
)
"""One ACL as a value (``internal.acl_keys``, ``internal.acl_texts``): its items in order."""

ACL_KEY_ROWS = 4_000_000
"""At most about this many privilege rows go into one statement of ``load_acl_keys.sql``:
DuckDB keeps a list aggregate's state in memory (the bench's large preset has 18 million,
from an archive: in one statement they fit the 512 MB cap without ORDER BY and not with
it); a few statements keep the margin wide for wider ACLs."""

_INTERNAL_TABLES: dict[str, list[tuple[str, str]]] = {
    "db_status": [
        ("oid", "BIGINT"),
        ("name", "VARCHAR"),
        ("status", "VARCHAR"),
        ("reason", "VARCHAR"),
    ],
    "builtin_default_privs": [
        ("objtype", "VARCHAR"),
        ("grantee", "VARCHAR"),
        ("privilege", "VARCHAR"),
    ],
    "objtypes": [("objtype", "VARCHAR"), ("object_type", "VARCHAR")],
    "role_kinds": [
        ("oid", "BIGINT"),
        ("kind", "VARCHAR"),
        ("app", "VARCHAR"),
        ("environment", "VARCHAR"),
        ("is_breakglass", "BOOLEAN"),
        ("is_auditor", "BOOLEAN"),
    ],
    "app_schemas": [("app", "VARCHAR"), ("schema", "VARCHAR")],
    "db_acl_packed_raw": [
        ("database_oid", "BIGINT"),
        ("object_class", "VARCHAR"),
        ("object_oid", "BIGINT"),
        ("subid", "INTEGER"),
        ("items", "VARCHAR"),
    ],
    "acl_keys": [
        ("database_oid", "BIGINT"),
        ("object_class", "VARCHAR"),
        ("object_oid", "BIGINT"),
        ("subid", "INTEGER"),
        ("acl", _ACL_VALUE),
    ],
    "acl_texts": [("items", "VARCHAR"), ("acl", _ACL_VALUE)],
}
"""Loader tables in ``internal`` filled from Python (besides the raw snapshot tables)."""

_DRIVEN_BY: dict[str, str] = {
    "load_rls_tables": "internal.db_rls_tables_raw",
    "load_policies": "internal.db_policies_raw",
    "load_triggers": "internal.db_triggers_raw",
    "load_event_triggers": "internal.db_event_triggers_raw",
    "load_user_mappings": "internal.db_user_mappings_raw",
    "load_functions": "internal.db_functions_raw",
    "load_extensions": "internal.db_extensions_raw",
    "load_default_privileges": "internal.db_default_acls_raw",
}
"""Loader statements whose every row comes from one raw table (it is the FROM of the
statement, or inner-joined to it): with that table empty the statement inserts nothing,
so ``_Loader._load`` skips it. ``tests/test_audit_schema.py`` checks each statement gives
no row over an empty source whatever the other tables hold."""

UNNEST_INSERT_ROWS = 1_000
"""Up to this many rows (in one batch) are inserted from list parameters (``unnest``)
rather than through a temporary JSON file: for the reference tables and a small
cluster's roles and settings that costs a third (0.7 ms against 2.2 ms a table, measured
with DuckDB 2.0); from a few thousand rows on the file is faster. Both paths give the same
rows (``tests/test_audit_schema.py`` compares them)."""


MAIN_THREAD_STEPS = frozenset({"role_closure", "hba"})
"""Load steps that can spend long in Python (the role closure's search, whose cost grows
faster than the graph; the analysis of a pg_hba.conf of any length): they run on the
caller's thread, where a signal interrupts them at once (``load_schedule``). The
escalation edges' Python path is bounded (``escalation_rows``) and the SQL one is
interrupted through its connection."""

_SCHEMA_DDL = ("DROP SCHEMA IF EXISTS internal CASCADE", "CREATE SCHEMA internal")

_PACKED_ACL = "internal.db_acl_packed_raw"
"""Where the collector's packed ACL rows are read to (``columnfile.ACL_ITEMS`` files); the
raw acl task writes it with ``internal.db_acl_raw``, which gets the ACLs of every other
source one row per privilege."""

_AUDIT_TABLES_CREATED = "(audit tables created)"
"""What the load's first task on two connections writes and every task but the raw ones
reads (``_Loader._audit_tables_task``): not a table, the mark that they exist."""

STEP_COSTS: dict[str, float] = {
    "audit tables": 8,
    "reference": 4,
    "memberships": 3,
    "role_closure": 20,
    "roles": 14,
    "databases": 5,
    "schemas_objects": 14,
    "acl_objects": 7,
    "object_acls": 12,
    "privileges": 30,
    "default_privileges": 31,
    "functions_extensions": 8,
    "settings": 7,
    "hba": 12,
    "meta": 3,
    "effective_privileges": 3,
    "escalation_inputs": 10,
    "escalation": 28,
}
"""Each load step's CPU time in ms on the bench's small preset (1 for those not listed):
the costs ``load_schedule`` orders ready steps by on two connections. The chain that
ends last (privileges, then the escalation routes) goes first, and a step nothing waits
on (settings) fills a thread's idle time rather than delaying the escalation behind it
(the bench's small preset: the escalation started 10-30 ms after its inputs were ready).
A raw table costs 1 ms plus one per :data:`RAW_ROWS_PER_MS` rows. Only the order of
ready steps depends on these numbers, never what a step reads or writes."""

RAW_ROWS_PER_MS = 4_000
"""See :data:`STEP_COSTS` (a small cluster's 41,000 ACL rows: about 11 ms)."""


class _Loader:
    """One load: raw snapshot tables into ``internal``, then the audit tables by SQL."""

    def __init__(
        self, con: Any, snapshot: Snapshot, policy: NamingPolicy, version: int | None
    ) -> None:
        self.main = con
        self._local = threading.local()
        self.snap = snapshot
        self.policy = policy
        self.version = version
        self.external = False
        """DuckDB may read files (not a locked-down connection): the JSON and column-file
        paths are open."""
        self.tmpdir: str | None = None
        """The private directory of this load's JSON files, made on first use
        (:meth:`_json_dir`): a scan's tables are column files or small enough for
        parameters, and making and removing an unused directory cost up to a few ms of
        wall time on a busy disk."""
        self._tmpdir_lock = threading.Lock()
        self.filled: set[str] = set()
        """The tables :meth:`insert` or :meth:`_insert_files` gave rows (or column files
        that may hold some): a statement that reads rows only from a table not in it is
        skipped (:data:`_DRIVEN_BY`)."""
        self.files = itertools.count(1)
        self.plan: build_plan.Plan | None = None
        self.escalation_rows: dict[str, list[tuple[Any, ...]]] | None = None
        """What the escalation_inputs step fetched for the escalation step
        (``escalation.prefetch``)."""
        self.privileges_view = privileges_is_view(snapshot)
        """``privileges`` is a view of object_acls and acl_items, not a table (see
        :func:`privileges_is_view`)."""

    @property
    def con(self) -> Any:
        """The connection this thread's steps run on (``load_schedule``): ``main``, or
        the helper connection of the thread that runs the step."""
        return getattr(self._local, "con", self.main)

    def use(self, con: Any) -> None:
        self._local.con = con

    def is_view(self, name: str) -> bool:
        """Whether this load makes audit table ``name`` a view (``privileges`` and
        ``acl_objects`` above :data:`SMALL_SNAPSHOT_ROWS`, see :meth:`_acl_objects`)."""
        return _is_view(name) or (name in _VIEWS_WHEN_LARGE and self.privileges_view)

    def builds(self, table: str) -> bool:
        """Whether this load creates ``table`` (an audit name or ``internal.<name>``)."""
        if self.plan is None:
            return table not in build_plan.UNREAD
        return table in self.plan.tables

    def x(self, sql: str, params: Any = None) -> Any:
        return self.con.execute(sql, params) if params is not None else self.con.execute(sql)

    def run(self, queries: Sequence[str] | None = None, helpers: Sequence[Any] = ()) -> None:
        """Every step of ``build_plan.STEPS``, or with ``queries`` those its plan needs (the
        whole schema when the plan cannot be made): in order, or on ``helpers`` too as
        their inputs are ready (``load_schedule``)."""
        external = self.x("SELECT current_setting('enable_external_access')").fetchone()[0]
        self.external = external in (True, "true", "True")
        try:
            self._run(queries, helpers)
        finally:
            if self.tmpdir is not None:
                shutil.rmtree(self.tmpdir, ignore_errors=True)
                self.tmpdir = None

    def _json_dir(self) -> str:
        """This load's private directory for JSON files (made now if not yet; steps on
        two threads may ask at once)."""
        with self._tmpdir_lock:
            if self.tmpdir is None:
                self.tmpdir = tempfile.mkdtemp(prefix="pgaudit-load-")
            return self.tmpdir

    def _run(self, queries: Sequence[str] | None, helpers: Sequence[Any]) -> None:
        # first: the query parser needs them
        self.x(";\n".join(temp_macros(small=is_small(self.snap))))
        if queries is not None:
            tables = build_plan.query_tables(self.con, queries)
            self.plan = None if tables is None else build_plan.plan(tables)
        steps = {
            "raw": lambda: None,  # split into per-table tasks below
            "reference": self._reference_tables,
            "memberships": self._memberships,
            "role_closure": lambda: build_role_closure(self.con, self.version),
            "roles": self._roles,
            "databases": self._databases,
            "schemas_objects": self._schemas_objects,
            "acl_objects": self._acl_objects,
            "object_acls": self._object_acls,
            "privileges": self._privileges,
            "default_privileges": self._default_privileges,
            "functions_extensions": self._functions_extensions,
            "rls_code": self._rls_code,
            "settings": self._settings,
            "hba": self._hba,
            "meta": self._meta,
            "column_privileges": lambda: self.x(_sql("view_column_privileges")),
            "effective_privileges": lambda: self.x(EFFECTIVE_PRIVILEGES_SQL),
            "escalation_inputs": self._escalation_inputs,
            "escalation": lambda: escalation.build(
                self.con,
                self.version,
                json_dir=self._json_dir if self.external else None,
                prefetched=self.escalation_rows,
            ),
        }
        assert list(steps) == [s.name for s in build_plan.STEPS]
        tasks: list[load_schedule.Task] = []
        for step in build_plan.STEPS:
            if self.plan is not None and step.name not in self.plan.steps:
                continue
            if step.name == "raw":  # one task per table: nothing reads them all
                tasks.extend(self._raw_tasks())
            else:
                tasks.append(
                    load_schedule.Task(
                        step.name,
                        step.writes,
                        step.reads,
                        steps[step.name],
                        main_only=step.name in MAIN_THREAD_STEPS,
                        cost=STEP_COSTS.get(step.name, 1),
                    )
                )
        tasks = self._view_reads(tasks)
        if helpers:
            tasks = self._audit_tables_task(tasks)
        else:
            # every table up front, in one call: DDL statements are cheap, the round
            # trips and the per-call overhead of 60 separate ones were not
            self.x(";\n".join(self._ddl()))
        load_schedule.run(tasks, helpers, self.use, self.main)

    def _audit_tables_task(self, tasks: list[load_schedule.Task]) -> list[load_schedule.Task]:
        """``tasks`` after a first task that creates the audit tables, which every task
        but the raw ones waits on; the ``internal`` schema and its tables are created
        now, before any task.

        Why, on two connections: the audit tables' CREATE statements cost about 8 ms
        of planning, which in the one block before the first task kept the second
        connection idle; as a task they run while the other connection fills the first
        raw tables. The same statements (:meth:`_ddl`'s), in two calls instead of one."""
        creates = self._creates()
        internal = [c for t, c in creates.items() if t.startswith("internal.")]
        audit = [c for t, c in creates.items() if not t.startswith("internal.")]
        self.x(";\n".join([*_SCHEMA_DDL, *internal]))
        if not audit:
            return tasks
        first = load_schedule.Task(
            "audit tables",
            (_AUDIT_TABLES_CREATED,),
            (),
            functools.partial(self.x, ";\n".join(audit)),
            cost=STEP_COSTS["audit tables"],
        )
        return [first] + [
            t if t.name.startswith("raw ") else replace(t, reads=(*t.reads, _AUDIT_TABLES_CREATED))
            for t in tasks
        ]

    def _view_reads(self, tasks: list[load_schedule.Task]) -> list[load_schedule.Task]:
        """``tasks``, where a task that only creates views waits only for the tables it
        reads that :meth:`_ddl` does not create up front, and a task that reads a view
        waits for what the view reads as well.

        Why: a view is bound when it is created and read when it is queried, so creating
        it needs its tables to exist, not to be filled. ``effective_privileges`` waited
        for ``privileges`` and delayed the escalation routes, the last task of the load,
        by its 3 ms (they read the view on the large path); now it is created while
        ``privileges`` is filled, and every reader of a view still starts after every
        table the view reads is filled."""
        up_front = set(self._creates())
        views: dict[str, tuple[str, ...]] = {}
        for task in tasks:
            if task.writes and all(self.is_view(t) for t in task.writes):
                views.update(dict.fromkeys(task.writes, task.reads))

        def filled_first(reads: Sequence[str], seen: frozenset[str]) -> list[str]:
            out: list[str] = []
            for r in reads:
                out.append(r)
                if r in views and r not in seen:
                    out += filled_first(views[r], seen | {r})
            return out

        out = []
        for task in tasks:
            if task.writes and set(task.writes) <= views.keys():
                reads = tuple(r for r in task.reads if r not in up_front)
            else:
                reads = tuple(dict.fromkeys(filled_first(task.reads, frozenset())))
            out.append(task if reads == task.reads else replace(task, reads=reads))
        return out

    # -- helpers ------------------------------------------------------------------------

    def _ddl(self) -> list[str]:
        """The ``internal`` schema and every table (audit and internal) this load builds."""
        return [*_SCHEMA_DDL, *self._creates().values()]

    def _creates(self) -> dict[str, str]:
        """Each table :meth:`_ddl` creates (an audit name or ``internal.<name>``) and the
        statement that creates it, in its order."""
        internal = {f"{name}_raw": spec for name, spec in CLUSTER_TABLES.items()}
        dbcol = [("database_oid", "BIGINT", "")]
        internal.update({f"db_{name}_raw": dbcol + spec for name, spec in DATABASE_TABLES.items()})
        out = {
            t.name: create_ddl(t)
            for t in AUDIT_TABLES.values()
            if t.kind == "table" and self.builds(t.name) and not self.is_view(t.name)
        }
        for name, spec in internal.items():
            if self.builds(f"internal.{name}"):
                defs = _coldefs([(c[0], c[1]) for c in spec])
                out[f"internal.{name}"] = f"CREATE TABLE internal.{name} ({defs})"
        for name, cols in _INTERNAL_TABLES.items():
            if self.builds(f"internal.{name}"):
                out[f"internal.{name}"] = f"CREATE TABLE internal.{name} ({_coldefs(cols)})"
        return out

    def insert(
        self,
        table: str,
        columns: Sequence[tuple[str, str]],
        batches: Sequence[tuple[Sequence[Any], list[list[Any]]]],
        prefix: Sequence[tuple[str, str]] = (),
    ) -> None:
        """Insert rows (lists in ``columns`` order) into ``table``.

        ``batches`` is a list of (prefix values, rows); the prefix columns (e.g. the
        database OID of a per-database table) take the same values for the whole batch.
        """
        batches = [(p, rows) for p, rows in batches if rows]
        if not batches:
            return
        self.filled.add(table)
        names = [n for n, _ in prefix] + [n for n, _ in columns]
        target = f"{table} ({', '.join(chr(34) + n + chr(34) for n in names)})"
        if not self.external or (len(batches) == 1 and len(batches[0][1]) <= UNNEST_INSERT_ROWS):
            self._insert_unnest(target, columns, batches, prefix)
            return
        files: list[str] = []
        mapping: list[str] = []
        for pvals, rows in batches:
            path = os.path.join(self._json_dir(), f"t{next(self.files)}.json")
            write_json(path, rows)
            files.append(path)
            mapping.append(
                "(" + ", ".join([duckdb_literal(path)] + [_literal(v) for v in pvals]) + ")"
            )
        exprs, source = json_source(files, columns)
        pcols = [f"m.p{i}::{ty}" for i, (_n, ty) in enumerate(prefix)]
        mcols = ", ".join(["fn"] + [f"p{i}" for i in range(len(prefix))])
        self.x(f"""INSERT INTO {target}
            SELECT {", ".join(pcols + exprs)}
            FROM {source}
            JOIN (VALUES {", ".join(mapping)}) m({mcols}) ON m.fn = r.filename""")  # noqa: S608
        for f in files:
            os.unlink(f)

    def _insert_files(
        self,
        target: str,
        columns: Sequence[tuple[str, str]],
        file_format: str,
        tables: Sequence[tuple[int, Table]],
    ) -> None:
        """Column files of one table kind, every database's at once, read by DuckDB itself:
        the rows never pass through Python (see ``spool``). Empty CSV files are left out
        (no statement at all when every one is empty): they hold no rows, and the reader
        costs 2-3 ms a statement even then (a small cluster has five tables that are empty
        in every database)."""
        tables = [(oid, t) for oid, t in tables if not empty_csv(t)]
        if not tables:
            return
        self.filled.add(target)
        names = [n for n, _ in columns]
        types = [t for _, t in columns]
        paths = [t.file for _oid, t in tables if t.file is not None]
        mapping = ", ".join(f"({duckdb_literal(t.file or '')}, {int(oid)})" for oid, t in tables)
        select = reader_sql(paths, names, types, file_format, filename=True)
        cols = ", ".join(f'r."{n}"' for n in names)
        quoted = ", ".join(f'"{n}"' for n in ["database_oid", *names])
        self.x(f"""INSERT INTO {target} ({quoted})
            SELECT m.database_oid, {cols}
            FROM ({select}) r JOIN (VALUES {mapping}) m(fn, database_oid)
              ON m.fn = r.filename""")  # noqa: S608 - quoted file names and OIDs

    def _insert_unnest(
        self,
        target: str,
        columns: Sequence[tuple[str, str]],
        batches: Sequence[tuple[Sequence[Any], list[list[Any]]]],
        prefix: Sequence[tuple[str, str]],
    ) -> None:
        pcount = len(prefix)
        types = [ty for _n, ty in prefix] + [ty for _n, ty in columns]
        sel = ", ".join(f"unnest(${i + 1}::{ty}[])" for i, ty in enumerate(types))
        for pvals, rows in batches:
            for start in range(0, len(rows), 200_000):
                chunk = rows[start : start + 200_000]
                cols: list[list[Any]] = [[v] * len(chunk) for v in pvals]
                width = len(columns)
                cols += [[r[i] if i < len(r) else None for r in chunk] for i in range(width)]
                assert len(cols) == pcount + width
                self.x(f"INSERT INTO {target} SELECT {sel}", cols)

    # -- raw snapshot -------------------------------------------------------------------

    def _raw_tasks(self) -> list[load_schedule.Task]:
        """The ``raw`` step, a task per snapshot table: each inserts one ``internal``
        table and reads nothing of the audit schema."""
        out: list[tuple[str, Callable[[], None], int]] = []
        for name, spec in CLUSTER_TABLES.items():
            fn = functools.partial(self._raw_cluster, name, spec)
            out.append((f"internal.{name}_raw", fn, self.snap.table(name).size_hint()))
        collected = [d for d in self.snap.databases if d.status == "collected"]
        for name, spec in DATABASE_TABLES.items():
            fn = functools.partial(self._raw_database, name, spec)
            rows = sum(d.table(name).size_hint() for d in collected)
            out.append((f"internal.db_{name}_raw", fn, rows))
        out.append(("internal.db_status", self._raw_status, len(self.snap.databases)))
        return [
            load_schedule.Task(
                f"raw {table}",
                (table, _PACKED_ACL) if table == "internal.db_acl_raw" else (table,),
                (),
                fn,
                cost=1 + rows / RAW_ROWS_PER_MS,
            )
            for table, fn, rows in out
            if self.builds(table)
        ]

    def _raw_cluster(self, name: str, spec: Sequence[tuple[str, ...]]) -> None:
        cols = [(c[0], c[1]) for c in spec]
        t = self.snap.table(name)
        _check_columns(t.columns, cols, name)
        self.insert(f"internal.{name}_raw", cols, [((), t.rows)])

    def _raw_database(self, name: str, spec: Sequence[tuple[str, ...]]) -> None:
        cols = [(c[0], c[1]) for c in spec]
        batches = []
        files: dict[str, list[tuple[int, Table]]] = {}
        for d in self.snap.databases:
            if d.status != "collected":
                continue
            t = d.table(name)
            _check_columns(t.columns, cols, f"{d.name}.{name}")
            if t.file is not None and self.external:
                files.setdefault(t.file_format, []).append((d.oid, t))
            else:
                batches.append(((d.oid,), t.rows))
        self.insert(f"internal.db_{name}_raw", cols, batches, [("database_oid", "BIGINT")])
        for fmt, tables in files.items():
            if fmt == ACL_ITEMS:
                # the collector's packed rows stay packed: each distinct ACL is expanded
                # once (load_acl_texts.sql), not every object's
                packed = _INTERNAL_TABLES["db_acl_packed_raw"][1:]
                self._insert_files(_PACKED_ACL, packed, ACL_PACKED, tables)
            else:
                self._insert_files(f"internal.db_{name}_raw", cols, fmt, tables)

    def _raw_status(self) -> None:
        self.insert(
            "internal.db_status",
            _INTERNAL_TABLES["db_status"],
            [((), [[d.oid, d.name, d.status, d.reason] for d in self.snap.databases])],
        )

    def _reference_tables(self) -> None:
        v = self.version
        self.insert(
            "privilege_types",
            [
                ("object_class", "VARCHAR"),
                ("kind", "VARCHAR"),
                ("privilege", "VARCHAR"),
                ("owner_default", "BOOLEAN"),
                ("public_default", "BOOLEAN"),
            ],
            [
                (
                    (),
                    [
                        [t.object_class, t.kind, t.privilege, t.owner_default, t.public_default]
                        for t in acl_defaults.privilege_types(v)
                    ],
                )
            ],
        )
        self.insert(
            "predefined_privileges",
            [
                ("role", "VARCHAR"),
                ("object_class", "VARCHAR"),
                ("kind", "VARCHAR"),
                ("privilege", "VARCHAR"),
            ],
            [
                (
                    (),
                    [
                        [g.role, g.object_class, g.kind, g.privilege]
                        for g in acl_defaults.virtual_grants(v)
                    ],
                )
            ],
        )
        self.insert(
            "internal.builtin_default_privs",
            _INTERNAL_TABLES["builtin_default_privs"],
            [((), [list(r) for r in acl_defaults.builtin_default_privileges(v)])],
        )
        self.insert(
            "internal.objtypes",
            _INTERNAL_TABLES["objtypes"],
            [((), [[k, v[0]] for k, v in acl_defaults.DEFAULT_ACL_OBJTYPES.items()])],
        )

    # -- roles --------------------------------------------------------------------------

    def _memberships(self) -> None:
        self.x(_sql("load_memberships"))

    def _roles(self) -> None:
        rows = self.x("""
            SELECT r.oid, r.name, r.login, r.superuser, r.predefined,
                   EXISTS (SELECT 1 FROM role_closure c
                           WHERE c.database IS NULL AND c.member_oid = r.oid AND c.depth > 0
                             AND c.role = 'pg_monitor') AS monitor_member
            FROM internal.roles_raw r""").fetchall()
        pol = self.policy
        kinds = []
        for oid, name, login, superuser, predefined, monitor_member in rows:
            c = pol.classify_full(
                name,
                login=bool(login),
                superuser=bool(superuser),
                predefined=bool(predefined),
                monitor_member=bool(monitor_member),
            )
            kinds.append(
                [
                    oid,
                    c.kind,
                    c.app,
                    c.environment,
                    name in pol.breakglass or c.kind == "breakglass",
                    name in pol.auditor or c.kind == "auditor",
                ]
            )
        self.insert("internal.role_kinds", _INTERNAL_TABLES["role_kinds"], [((), kinds)])
        self.x(_sql("load_roles"), {"managed": list(acl_defaults.MANAGED_SUPERUSER_ROLES)})

    # -- databases, schemas, objects ----------------------------------------------------

    def _databases(self) -> None:
        self.x(_sql("load_databases"))
        self.x(_sql("load_tablespaces"))

    def _schemas_objects(self) -> None:
        pol = self.policy
        self.insert(
            "internal.app_schemas",
            _INTERNAL_TABLES["app_schemas"],
            [((), [[a, s] for a, ss in pol.app_schemas.items() for s in ss])],
        )
        self.x(_sql("load_schemas"), {"by_app_schemas": bool(pol.app_schemas)})
        self.x(_sql("load_objects"))

    def _acl_objects(self) -> None:
        """``acl_objects``: a table, or above :data:`SMALL_SNAPSHOT_ROWS` a view of the
        same SELECT (its columns in the table's order).

        Why a view there: all but a few of its rows are the ``objects`` table's, copied
        (the bench's large preset: 1.4 million rows, a quarter of a second to insert and
        two thirds of a second of CPU to compress at the next checkpoint, for a table that
        no reader scans whole); its readers join it on keys, and DuckDB takes their filters
        into each branch of the view as it does into a table. Measured there on one
        collection, table against view: the load 13.7 -> 12.7 s of CPU, the rule queries
        +0.2 s, the inventory -0.15 s."""
        rows = _sql("acl_objects_rows")
        if not self.is_view("acl_objects"):
            self.x(f"INSERT INTO acl_objects BY NAME\n{rows}")
            return
        cols = ", ".join(
            f'CAST("{c.name}" AS {c.type}) AS "{c.name}"'
            for c in AUDIT_TABLES["acl_objects"].columns
        )
        self.x(f"CREATE OR REPLACE VIEW acl_objects AS SELECT {cols} FROM ({rows})")  # noqa: S608 - our SQL file and spec

    def _object_acls(self) -> None:
        """Each distinct explicit ACL once (acl_items) and which one each object or column
        has (object_acls): from the collector's packed rows and from the rows read one per
        privilege, into the same values (see the SQL files). A statement whose source got
        no row is not run (as :data:`_DRIVEN_BY`)."""
        if "internal.db_acl_raw" in self.filled:
            for databases in self._acl_key_batches():
                self.x(_sql("load_acl_keys"), {"databases": databases})
        if "internal.shared_acl_raw" in self.filled:
            self.x(_sql("load_acl_keys_shared"))
        if _PACKED_ACL in self.filled:
            self.x(_sql("load_acl_texts"))
        self.x(_sql("load_object_acls"))

    def _acl_key_batches(self) -> list[list[int] | None]:
        """The databases of each ``load_acl_keys.sql`` statement: all at once (None) up to
        :data:`ACL_KEY_ROWS` privilege rows, else groups of whole databases of about that
        many (the rows of a database's packed files are not in ``internal.db_acl_raw``)."""
        sizes = [
            (d.oid, d.table("acl").size_hint())
            for d in self.snap.databases
            if d.status == "collected"
        ]
        if sum(n for _oid, n in sizes) <= ACL_KEY_ROWS:
            return [None]
        out: list[list[int] | None] = []
        batch: list[int] = []
        rows = 0
        for oid, n in sizes:
            if batch and rows + n > ACL_KEY_ROWS:
                out.append(batch)
                batch, rows = [], 0
            batch.append(int(oid))
            rows += n
        if batch:
            out.append(batch)
        return out

    def _privileges(self) -> None:
        if self.privileges_view:
            self.x(f"CREATE OR REPLACE VIEW privileges AS\n{_sql('privileges_rows')}")
        else:
            self.x(f"INSERT INTO privileges BY NAME\n{_sql('privileges_rows')}")

    def _default_privileges(self) -> None:
        self._load("load_default_privileges")
        self.x(
            _sql("load_default_privileges_effective"),
            {"per_schema": list(acl_defaults.PER_SCHEMA_OBJTYPES)},
        )

    def _functions_extensions(self) -> None:
        self._load("load_functions")
        self._load("load_extensions")

    def _rls_code(self) -> None:
        """Row-level security, triggers, event triggers and user mappings, with names."""
        self._load("load_rls_tables")
        self._load("load_policies")
        self._load("load_triggers")
        self._load("load_event_triggers")
        self._load("load_user_mappings")

    def _escalation_inputs(self) -> None:
        """dangerous_roles, and for a small snapshot whose escalation routes this load
        builds, the rows their small path reads that are ready before privileges
        (``escalation.prefetch``); a large one takes the SQL path, which reads none."""
        if is_small(self.snap) and (self.plan is None or "escalation" in self.plan.steps):
            # no trigger or event trigger row to read when their raw tables got none
            # (their statements were skipped: _DRIVEN_BY)
            code = any(
                f"internal.db_{t}_raw" in self.filled for t in ("triggers", "event_triggers")
            )
            self.escalation_rows = escalation.prefetch(self.con, self.version, code=code)
        else:
            escalation.insert_dangerous_roles(self.con, self.version)
            self.escalation_rows = {}

    def _load(self, name: str, params: Any = None) -> None:
        """Run ``sql/<name>.sql``, unless the raw table its rows come from
        (:data:`_DRIVEN_BY`) got none: then it would insert nothing, and planning it cost
        1-3 ms (most clusters have no policies, triggers, event triggers or user mappings,
        many no default privileges)."""
        source = _DRIVEN_BY.get(name)
        if source is None or source in self.filled:
            self.x(_sql(name), params)

    def _settings(self) -> None:
        self.x("INSERT INTO settings BY NAME SELECT * FROM internal.settings_raw")
        self.x("INSERT INTO activity BY NAME SELECT * FROM internal.activity_raw")
        self.x(_sql("load_role_settings"))

    def _hba(self) -> None:
        rows = list(self.snap.table("hba_rules").dicts())
        derived = (
            _hba_analysis(
                rows,
                list(self.snap.table("roles").dicts()),
                list(self.snap.table("memberships").dicts()),
            )
            if rows
            else None
        )
        spec = AUDIT_TABLES["hba_rules"]
        cols = [(c.name, c.type) for c in spec.columns]
        out = []
        for i, r in enumerate(rows):
            d = derived[i] if derived is not None else {}
            out.append([r[n] if n in r else d.get(n) for n, _t in cols])
        self.insert("hba_rules", cols, [((), out)])

    def _meta(self) -> None:
        meta = self.snap.meta
        sources = meta.get("sources") if isinstance(meta.get("sources"), Mapping) else {}
        rows = []
        for name, info in sorted((sources or {}).items()):
            if isinstance(info, Mapping):
                rows.append(
                    [
                        str(name),
                        bool(info.get("collected")),
                        None if info.get("reason") is None else str(info.get("reason")),
                    ]
                )
            else:
                rows.append([str(name), bool(info), None])
        self.insert(
            "sources",
            [("source", "VARCHAR"), ("collected", "BOOLEAN"), ("reason", "VARCHAR")],
            [((), rows)],
        )

        names = [c[0] for c in COVERAGE_COLUMNS]
        self.insert(
            "coverage",
            [(c[0], c[1]) for c in COVERAGE_COLUMNS],
            [((), [[r[n] for n in names] for r in coverage_rows(self.snap)])],
        )
        kv = [
            [str(k), v if isinstance(v, str) else json.dumps(v, sort_keys=True, default=str)]
            for k, v in sorted(meta.items())
        ]
        self.insert("scan_meta", [("key", "VARCHAR"), ("value", "VARCHAR")], [((), kv)])


_VIEWS_WHEN_LARGE = frozenset({"privileges", "acl_objects"})
"""Audit tables a load makes views above :data:`SMALL_SNAPSHOT_ROWS` (``_Loader.is_view``)."""


def _is_view(name: str) -> bool:
    spec = AUDIT_TABLES.get(name)
    return spec is not None and spec.kind == "view"


def _coldefs(cols: Sequence[tuple[str, str]]) -> str:
    return ", ".join(f'"{n}" {t}' for n, t in cols)


def _literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(int(value))
    return duckdb_literal(str(value))


def _check_columns(actual: Sequence[str], expected: Sequence[tuple[str, str]], name: str) -> None:
    want = [n for n, _t in expected]
    if list(actual) != want:
        raise UsageError(f"snapshot table {name!r} has columns {list(actual)!r}, expected {want!r}")


def _hba_analysis(
    rows: list[dict[str, Any]], roles: list[dict[str, Any]], memberships: list[dict[str, Any]]
) -> list[dict[str, Any]] | None:
    """Rows with the derived columns of ``hba_analysis.analyze_facts`` (None if unavailable)."""
    out = list(analyze_facts(rows, roles, memberships))  # the facts only: no copy of each row
    return out if len(out) == len(rows) else None


# --- documentation ----------------------------------------------------------------------

DOC_PATH = "docs/audit-schema.md"


def render_audit_schema_doc() -> str:
    """docs/audit-schema.md, generated from AUDIT_TABLES (a test checks the file is current)."""
    lines = [
        "# Audit schema reference",
        "",
        "<!-- Generated by `python -m pgaudit_roles.docgen` from audit_schema.AUDIT_TABLES; do not edit. -->",
        "",
        "`pgaudit-roles` loads a snapshot into an in-process DuckDB database with the tables",
        "and views below. Rules (`rules/*.toml`) and `pgaudit-roles query` read them with",
        "SQL. Names are stored unquoted; `identity` columns hold the quoted SQL form",
        "(schema-qualified, quoted exactly like PostgreSQL's `quote_ident`). Role references",
        "carry both the name and the OID; PUBLIC is the grantee name `PUBLIC` with OID 0.",
        "",
        "Conventions:",
        "",
        "- `acl_state = 'default'` means the catalog ACL is NULL and PostgreSQL's built-in",
        "  default applies (expanded in `privileges` with `source = 'default'`);",
        "  `'explicit'` means a stored ACL, possibly empty (then nobody holds anything).",
        "- Per-database tables have `database` and `database_oid`; only collected databases",
        "  appear in them (`databases.collected`, `sources`).",
        "- `role_closure` rows with `database` NULL hold everywhere; a row with a database",
        "  set (pg_database_owner, 14+) applies in that database and takes precedence.",
        "- The helper macros `pg_quote_ident(text)` and `pg_qualified(schema, name)` quote",
        "  like PostgreSQL and may be used in queries.",
        "- Tables in the `internal` schema are loader intermediates, not part of this contract.",
        "",
        "## Tables and views",
        "",
    ]
    for t in AUDIT_TABLES.values():
        lines.append(f"- [`{t.name}`](#{t.name}) ({t.kind})")
    lines += [
        "",
        "## Example queries",
        "",
        "```sql",
        "-- Who can write to app_data.orders, and through which membership chain?",
        "SELECT role, privilege, via, via_role, path FROM effective_privileges",
        "WHERE identity = 'app_data.orders' AND privilege IN ('INSERT', 'UPDATE', 'DELETE');",
        "",
        "-- Login roles that can SET ROLE to an owner-kind role",
        "SELECT c.member, c.role, c.set_path FROM role_closure c",
        "JOIN roles m ON m.oid = c.member_oid JOIN roles o ON o.oid = c.role_oid",
        "WHERE m.login AND o.kind = 'owner' AND c.can_set AND c.depth > 0;",
        "",
        "-- What a new table created by the owner role in each app schema will grant",
        "SELECT schema, grantee, privilege, source FROM default_privileges_effective",
        "WHERE objtype = 'r' AND creator = schema_owner ORDER BY schema, grantee;",
        "```",
        "",
    ]
    for t in AUDIT_TABLES.values():
        lines += [
            f"## {t.name}",
            "",
            f"*{t.kind}*. {t.description}",
            "",
            "| column | type | description |",
            "|---|---|---|",
        ]
        for c in t.columns:
            desc = c.description.replace("|", "\\|")
            lines.append(f"| `{c.name}` | {c.type} | {desc} |")
        lines.append("")
    return "\n".join(lines)
