"""The table contract: every snapshot table, its columns, their DuckDB types and meaning.

``CLUSTER_TABLES`` and ``DATABASE_TABLES`` are the one source of truth for every table and
column: the collector must produce exactly these columns, the snapshot loader checks them,
the audit schema is built from them and the docs are generated from them. Role references
are OIDs (names can change and need quoting); OID 0 as a grantee means PUBLIC.
``acl_state`` is ``"default"`` when the catalog ACL is NULL (the built-in defaults apply)
and ``"explicit"`` otherwise, even when the explicit ACL is empty.

``Table`` is one table's rows: in memory, or a column file read on demand (``columnfile``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import Any

from .columnfile import count_rows, json_rows, read_rows
from .rowjson import encode_row

Column = tuple[str, str, str]  # name, type (DuckDB), description

# --- cluster-wide tables --------------------------------------------------------------
CLUSTER_TABLES: dict[str, list[Column]] = {
    "roles": [
        ("oid", "BIGINT", "Role OID"),
        ("name", "VARCHAR", "Role name, unquoted"),
        ("superuser", "BOOLEAN", "rolsuper"),
        ("inherit", "BOOLEAN", "rolinherit (16+: only the default for new grants' INHERIT option)"),
        ("createrole", "BOOLEAN", "rolcreaterole"),
        ("createdb", "BOOLEAN", "rolcreatedb"),
        ("login", "BOOLEAN", "rolcanlogin"),
        ("replication", "BOOLEAN", "rolreplication"),
        ("bypassrls", "BOOLEAN", "rolbypassrls"),
        ("connection_limit", "INTEGER", "rolconnlimit (-1 = no limit)"),
        ("valid_until", "VARCHAR", "rolvaliduntil as ISO-8601 text, NULL = never expires"),
        (
            "password_type",
            "VARCHAR",
            "md5 | scram-sha-256 | none | other; NULL = unknown (not visible to the auditor)",
        ),
        ("config", "VARCHAR[]", "Role-wide settings (ALTER ROLE ... SET) as name=value"),
        ("predefined", "BOOLEAN", "Built-in role (OID < 16384; includes the bootstrap superuser)"),
        ("comment", "VARCHAR", "COMMENT ON ROLE text"),
    ],
    "memberships": [
        ("role_oid", "BIGINT", "The group role granted"),
        ("member_oid", "BIGINT", "The role it is granted to"),
        (
            "grantor_oid",
            "BIGINT",
            "Grantor (16+: a superuser's grant shows the bootstrap superuser)",
        ),
        ("admin_option", "BOOLEAN", "WITH ADMIN OPTION"),
        ("inherit_option", "BOOLEAN", "16+: grant's INHERIT option; <16: the member's rolinherit"),
        ("set_option", "BOOLEAN", "16+: grant's SET option; <16: always true"),
    ],
    "db_role_settings": [
        ("database_oid", "BIGINT", "0 = every database"),
        ("role_oid", "BIGINT", "0 = every role"),
        ("config", "VARCHAR[]", "Settings as name=value"),
    ],
    "databases": [
        ("oid", "BIGINT", "Database OID"),
        ("name", "VARCHAR", "Database name"),
        ("owner_oid", "BIGINT", "datdba"),
        ("allow_connections", "BOOLEAN", "datallowconn"),
        ("is_template", "BOOLEAN", "datistemplate"),
        ("connection_limit", "INTEGER", "datconnlimit"),
        ("acl_state", "VARCHAR", "default | explicit"),
        ("auditor_can_connect", "BOOLEAN", "has_database_privilege(CONNECT) for the auditor"),
    ],
    "tablespaces": [
        ("oid", "BIGINT", "Tablespace OID"),
        ("name", "VARCHAR", "Tablespace name"),
        ("owner_oid", "BIGINT", "spcowner"),
        ("acl_state", "VARCHAR", "default | explicit"),
    ],
    "shared_acl": [
        ("object_class", "VARCHAR", "database | tablespace | parameter"),
        ("object_oid", "BIGINT", "OID of the database, tablespace or pg_parameter_acl row"),
        ("object_name", "VARCHAR", "Name (for parameters, the parameter name)"),
        ("grantor_oid", "BIGINT", "Grantor"),
        ("grantee_oid", "BIGINT", "Grantee, 0 = PUBLIC"),
        ("privilege", "VARCHAR", "SQL privilege word (CONNECT, TEMPORARY, SET, ALTER SYSTEM...)"),
        ("grantable", "BOOLEAN", "WITH GRANT OPTION"),
    ],
    "settings": [
        ("name", "VARCHAR", "pg_settings.name"),
        ("setting", "VARCHAR", "Current value"),
        ("unit", "VARCHAR", "Unit"),
        ("source", "VARCHAR", "Where the value came from"),
    ],
    "activity": [
        ("pid", "INTEGER", "Backend PID"),
        ("role_name", "VARCHAR", "usename"),
        ("database", "VARCHAR", "datname"),
        ("client_addr", "VARCHAR", "Client address, NULL for unix socket"),
        ("application_name", "VARCHAR", "application_name"),
        ("backend_type", "VARCHAR", "backend_type"),
        ("state", "VARCHAR", "state"),
        ("ssl", "BOOLEAN", "pg_stat_ssl.ssl"),
    ],
    "hba_rules": [
        ("rule_number", "INTEGER", "Order of evaluation (NULL for lines with errors)"),
        ("file_name", "VARCHAR", "File the line is in"),
        ("line_number", "INTEGER", "Line number in that file"),
        ("type", "VARCHAR", "local | host | hostssl | hostnossl | hostgssenc | hostnogssenc"),
        (
            "databases",
            "VARCHAR[]",
            "Database field tokens (keywords unquoted, e.g. all, replication)",
        ),
        ("users", "VARCHAR[]", "User field tokens (+group, /regex kept as written)"),
        ("address", "VARCHAR", "Address or keyword (all, samehost, samenet) or host name"),
        ("netmask", "VARCHAR", "Netmask"),
        ("auth_method", "VARCHAR", "Authentication method"),
        ("options", "VARCHAR[]", "name=value options, secrets redacted"),
        ("error", "VARCHAR", "Error text: the line is not in effect"),
    ],
}

# --- per-database tables --------------------------------------------------------------
DATABASE_TABLES: dict[str, list[Column]] = {
    "schemas": [
        ("oid", "BIGINT", "Schema OID"),
        ("name", "VARCHAR", "Schema name"),
        ("owner_oid", "BIGINT", "nspowner"),
        ("acl_state", "VARCHAR", "default | explicit"),
        ("is_system", "BOOLEAN", "pg_catalog, information_schema, pg_toast..."),
    ],
    "objects": [
        (
            "object_class",
            "VARCHAR",
            "relation | function | type | language | large_object | fdw | server",
        ),
        ("oid", "BIGINT", "OID in its catalog"),
        (
            "kind",
            "VARCHAR",
            "table, partitioned table, view, materialized view, sequence, foreign table, function, "
            "procedure, aggregate, window function, base type, domain, enum, range, composite, "
            "multirange, pseudo, language, large object, foreign-data wrapper, server",
        ),
        ("schema_oid", "BIGINT", "Containing schema, NULL for languages, LOs, FDWs, servers"),
        ("name", "VARCHAR", "Object name, unquoted"),
        ("identity_args", "VARCHAR", "Functions: pg_get_function_identity_arguments()"),
        ("owner_oid", "BIGINT", "Owner"),
        ("acl_state", "VARCHAR", "default | explicit"),
        ("extension", "VARCHAR", "Name of the extension the object belongs to, if any"),
        ("trusted", "BOOLEAN", "Languages: lanpltrusted"),
    ],
    "columns": [
        ("table_oid", "BIGINT", "Table OID"),
        ("attnum", "INTEGER", "Column number"),
        ("name", "VARCHAR", "Column name"),
    ],
    "acl": [
        (
            "object_class",
            "VARCHAR",
            "schema | relation | column | function | type | language | large_object | fdw | server",
        ),
        ("object_oid", "BIGINT", "OID (for columns: the table OID)"),
        ("subid", "INTEGER", "Column number for column ACLs, else 0"),
        ("grantor_oid", "BIGINT", "Grantor"),
        ("grantee_oid", "BIGINT", "Grantee, 0 = PUBLIC"),
        ("privilege", "VARCHAR", "SQL privilege word"),
        ("grantable", "BOOLEAN", "WITH GRANT OPTION"),
    ],
    "default_acls": [
        ("oid", "BIGINT", "pg_default_acl row OID"),
        ("creator_oid", "BIGINT", "defaclrole: the role whose new objects get these privileges"),
        (
            "schema_oid",
            "BIGINT",
            "0 = global entry (replaces built-in default); else per schema (adds)",
        ),
        (
            "objtype",
            "VARCHAR",
            "r tables, S sequences, f functions, T types, n schemas, L large objects",
        ),
        ("grantor_oid", "BIGINT", "Grantor; NULL on the marker row of an empty ACL"),
        ("grantee_oid", "BIGINT", "Grantee, 0 = PUBLIC; NULL on the marker row of an empty ACL"),
        ("privilege", "VARCHAR", "SQL privilege word; NULL on the marker row"),
        ("grantable", "BOOLEAN", "WITH GRANT OPTION"),
    ],
    "functions": [
        ("oid", "BIGINT", "pg_proc OID"),
        ("security_definer", "BOOLEAN", "prosecdef"),
        ("config", "VARCHAR[]", "proconfig (SET clauses), e.g. search_path=pg_catalog"),
        ("language", "VARCHAR", "Language name"),
        ("leakproof", "BOOLEAN", "proleakproof"),
    ],
    "extensions": [
        ("oid", "BIGINT", "Extension OID"),
        ("name", "VARCHAR", "Extension name"),
        ("owner_oid", "BIGINT", "extowner"),
        ("schema_oid", "BIGINT", "extnamespace"),
        ("version", "VARCHAR", "extversion"),
    ],
    "rls_tables": [
        (
            "table_oid",
            "BIGINT",
            "Table OID (tables and partitioned tables with RLS on, forced, or a policy)",
        ),
        ("row_security", "BOOLEAN", "relrowsecurity (ENABLE ROW LEVEL SECURITY)"),
        ("force_row_security", "BOOLEAN", "relforcerowsecurity (FORCE: the owner is filtered too)"),
    ],
    "policies": [
        ("oid", "BIGINT", "pg_policy OID"),
        ("table_oid", "BIGINT", "Table the policy is on"),
        ("name", "VARCHAR", "Policy name"),
        ("command", "VARCHAR", "ALL | SELECT | INSERT | UPDATE | DELETE"),
        ("permissive", "BOOLEAN", "PERMISSIVE (true) or RESTRICTIVE"),
        ("role_oids", "BIGINT[]", "Roles it applies to, 0 = PUBLIC"),
        ("using_expr", "VARCHAR", "USING expression (pg_get_expr), NULL if none"),
        ("check_expr", "VARCHAR", "WITH CHECK expression, NULL if none"),
    ],
    "triggers": [
        ("oid", "BIGINT", "pg_trigger OID (internal triggers left out)"),
        ("table_oid", "BIGINT", "Table the trigger is on"),
        ("name", "VARCHAR", "Trigger name"),
        ("function_oid", "BIGINT", "Function it runs"),
        ("function_owner_oid", "BIGINT", "That function's owner"),
        ("function_identity", "VARCHAR", "The function as regprocedure text"),
        ("function_security_definer", "BOOLEAN", "The function is SECURITY DEFINER"),
        ("events", "VARCHAR[]", "INSERT, DELETE, UPDATE, TRUNCATE"),
        ("enabled", "VARCHAR", "tgenabled: O origin, D disabled, R replica, A always"),
    ],
    "event_triggers": [
        ("oid", "BIGINT", "pg_event_trigger OID"),
        ("name", "VARCHAR", "Event trigger name"),
        ("event", "VARCHAR", "ddl_command_start, ddl_command_end, sql_drop, table_rewrite, login"),
        ("owner_oid", "BIGINT", "Event trigger owner"),
        ("function_oid", "BIGINT", "Function it runs"),
        ("function_owner_oid", "BIGINT", "That function's owner"),
        ("function_identity", "VARCHAR", "The function as regprocedure text"),
        ("function_security_definer", "BOOLEAN", "The function is SECURITY DEFINER"),
        ("enabled", "VARCHAR", "evtenabled: O origin, D disabled, R replica, A always"),
    ],
    "user_mappings": [
        ("oid", "BIGINT", "User mapping OID"),
        ("server_oid", "BIGINT", "Foreign server OID"),
        ("server_name", "VARCHAR", "Foreign server name"),
        ("user_oid", "BIGINT", "Mapped local role, 0 = PUBLIC"),
        (
            "option_names",
            "VARCHAR[]",
            "Names of the mapping's options (never their values); NULL = not visible",
        ),
    ],
}


class Table:
    """One table: a column list and its rows.

    Rows are either lists in column order held in memory (the small cluster-wide tables),
    or a *column file* written by the server (``COPY ... CSV``) or by a snapshot archive
    (Parquet): at scale the per-database tables hold tens of millions of rows, which as
    Python lists would take gigabytes, so they stay on disk and DuckDB reads them
    directly (``columnfile.reader_sql``). ``rows`` still works for both: a file is read into
    lists on first use, which only small snapshots and tests should need.
    """

    __slots__ = ("_count", "_rows", "columns", "file", "file_format", "types")

    def __init__(
        self,
        columns: list[str],
        rows: list[list[Any]] | None = None,
        *,
        file: str | None = None,
        file_format: str = "csv",
        types: Sequence[str] | None = None,
        count: int | None = None,
    ) -> None:
        if file is not None and rows is not None:
            raise ValueError("a Table holds rows or a file, not both")
        if file is not None and (types is None or len(types) != len(columns)):
            raise ValueError("a file-backed Table needs one DuckDB type per column")
        self.columns = columns
        self.file = file
        self.file_format = file_format
        self.types = list(types) if types is not None else None
        self._rows = rows if rows is not None or file is not None else []
        self._count = count

    @property
    def rows(self) -> list[list[Any]]:
        if self._rows is None:
            self._rows = read_rows(self)
        return self._rows

    @rows.setter
    def rows(self, value: list[list[Any]]) -> None:
        self._rows = value
        self.file = None
        self._count = None

    def remember_count(self, count: int) -> None:
        """Record the row count of a file-backed table when a reader learned it anyway."""
        if self._rows is None:
            self._count = count

    @property
    def in_memory(self) -> bool:
        """True when the rows are Python lists (no column file behind them)."""
        return self.file is None

    def __len__(self) -> int:
        if self._rows is not None:
            return len(self._rows)
        if self._count is None:
            self._count = count_rows(self)
        return self._count

    def size_hint(self) -> int:
        """Rows when known without reading anything, else an estimate from the column
        file's size (60 bytes a row): to choose how to evaluate, never for a result."""
        if self._rows is not None:
            return len(self._rows)
        if self._count is not None:
            return self._count
        try:
            return os.path.getsize(self.file or "") // 60
        except OSError:
            return 0

    def __repr__(self) -> str:
        where = f"file={self.file!r}" if self.file else f"rows={len(self)}"
        return f"Table(columns={self.columns!r}, {where})"

    def dicts(self) -> Iterator[dict[str, Any]]:
        for r in self.rows:
            yield dict(zip(self.columns, r, strict=True))

    def json_lines(self) -> list[str]:
        """Each row's JSON text, as ``json.dumps(row, default=str, ensure_ascii=False)``
        writes it (the snapshot file's row format). A column file not read yet is turned
        into text by DuckDB without Python seeing a value when it is big, and stays unread."""
        if self._rows is None and self.size_hint() >= JSON_IN_DUCKDB_ROWS:
            lines = json_rows(self)
            self.remember_count(len(lines))
            return lines
        return list(map(encode_row, self.rows))

    def to_json(self) -> dict[str, Any]:
        return {"columns": self.columns, "rows": self.rows}


JSON_IN_DUCKDB_ROWS = 700
"""From about this many rows a column file's JSON is cheaper written by DuckDB: its plan
costs 0.5-1 ms more than a plain read, and each row ~1 us less than reading it into
Python and encoding it (measured on the bench small preset and a test database)."""


def empty_table(spec: Sequence[Column]) -> Table:
    return Table(columns=[c[0] for c in spec])
