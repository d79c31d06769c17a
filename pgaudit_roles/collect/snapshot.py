"""The Snapshot: everything the collector read from one cluster, as plain versioned data.

``collect`` writes it, ``check`` reads it, so rules run without a server and a fleet can be
evaluated anywhere. Tables are stored column-wise-described and row-wise-listed
(``{"columns": [...], "rows": [[...], ...]}``): compact, streamable, and loadable into
DuckDB without per-row dict overhead.

``SNAPSHOT_TABLES`` below is the one source of truth for every table and column: the
collector must produce exactly these columns, the loader checks them, and the docs are
generated from it. Role references are OIDs (names can change and need quoting); OID 0 as
a grantee means PUBLIC. ``acl_state`` is ``"default"`` when the catalog ACL is NULL (the
built-in defaults apply) and ``"explicit"`` otherwise, even when the explicit ACL is empty.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..core.atomic import SNAPSHOT_MODE, atomic_writer, open_maybe_gzip
from ..core.errors import UsageError
from .snapshot_check import (
    check_database,
    check_meta,
    check_parquet,
    check_rows,
    check_unique,
)
from .snapshot_check import fail as snapshot_fail

FORMAT = "pgaudit-roles/snapshot"
FORMAT_VERSION = 1

Column = tuple[str, str, str]  # name, type (DuckDB), description

# --- cluster-wide tables --------------------------------------------------------------
CLUSTER_TABLES: dict[str, list[Column]] = {
    "roles": [
        ("oid", "BIGINT", "Role OID"),
        ("name", "VARCHAR", "Role name, unquoted"),
        ("superuser", "BOOLEAN", "rolsuper"),
        ("inherit", "BOOLEAN", "rolinherit"),
        ("createrole", "BOOLEAN", "rolcreaterole"),
        ("createdb", "BOOLEAN", "rolcreatedb"),
        ("login", "BOOLEAN", "rolcanlogin"),
        ("replication", "BOOLEAN", "rolreplication"),
        ("bypassrls", "BOOLEAN", "rolbypassrls"),
        ("connection_limit", "INTEGER", "rolconnlimit (-1 = no limit)"),
        ("valid_until", "VARCHAR", "rolvaliduntil as ISO-8601 text, NULL = never expires"),
        ("password_type", "VARCHAR",
         "md5 | scram-sha-256 | none | other; NULL = unknown (needs superuser or the helper)"),
        ("config", "VARCHAR[]", "Role-wide settings (ALTER ROLE ... SET), as name=value"),
        ("predefined", "BOOLEAN", "Built-in role (OID < 16384)"),
        ("comment", "VARCHAR", "COMMENT ON ROLE text"),
    ],
    "memberships": [
        ("role_oid", "BIGINT", "The group role granted"),
        ("member_oid", "BIGINT", "The role it is granted to"),
        ("grantor_oid", "BIGINT", "Grantor (16+: a superuser's grant shows the bootstrap superuser)"),
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
        ("databases", "VARCHAR[]", "Database field tokens (keywords unquoted, e.g. all, replication)"),
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
        ("object_class", "VARCHAR",
         "relation | function | type | language | large_object | fdw | server"),
        ("oid", "BIGINT", "OID in its catalog"),
        ("kind", "VARCHAR",
         "table, partitioned table, view, materialized view, sequence, foreign table, function, "
         "procedure, aggregate, window function, base type, domain, enum, range, composite, "
         "multirange, pseudo, language, large object, foreign-data wrapper, server"),
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
        ("object_class", "VARCHAR",
         "schema | relation | column | function | type | language | large_object | fdw | server"),
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
        ("schema_oid", "BIGINT", "0 = global entry (replaces built-in default); else per schema (adds)"),
        ("objtype", "VARCHAR", "r tables, S sequences, f functions, T types, n schemas, L large objects"),
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
        ("table_oid", "BIGINT", "Table OID (tables and partitioned tables with RLS on, forced, or a policy)"),
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
        ("option_names", "VARCHAR[]", "Names of the mapping's options (never their values); NULL = not visible"),
    ],
}

SOURCES = ("roles", "memberships", "db_role_settings", "databases", "tablespaces",
           "shared_acl", "settings", "activity", "hba_rules", "password_types", "objects",
           "policies", "triggers", "user_mappings")
"""Names that ``meta.sources`` reports on (collected or not, and why)."""


class Table:
    """One table: a column list and its rows.

    Rows are either lists in column order held in memory (the small cluster-wide tables),
    or a *column file* written by the server (``COPY ... CSV``) or by a snapshot archive
    (Parquet): at scale the per-database tables hold tens of millions of rows, which as
    Python lists would take gigabytes, so they stay on disk and DuckDB reads them
    directly (``spool.reader_sql``). ``rows`` still works for both: a file is read into
    lists on first use, which only small snapshots and tests should need.
    """

    __slots__ = ("_count", "_rows", "columns", "file", "file_format", "types")

    def __init__(self, columns: list[str], rows: list[list[Any]] | None = None, *,
                 file: str | None = None, file_format: str = "csv",
                 types: Sequence[str] | None = None, count: int | None = None) -> None:
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
            from .spool import read_rows

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
            from .spool import count_rows

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

    def to_json(self) -> dict[str, Any]:
        return {"columns": self.columns, "rows": self.rows}


def empty_table(spec: Sequence[Column]) -> Table:
    return Table(columns=[c[0] for c in spec])


@dataclass
class DatabaseSnapshot:
    """What was read from one database, or why it was not read."""

    oid: int
    name: str
    status: str  # "collected" | "not_collected"
    reason: str | None = None
    tables: dict[str, Table] = field(default_factory=dict)
    connect_failed: bool = field(default=False, compare=False)
    """Collection only (not saved): the session could not be opened at all."""

    def table(self, name: str) -> Table:
        return self.tables.get(name) or empty_table(DATABASE_TABLES[name])


@dataclass
class Snapshot:
    meta: dict[str, Any]
    cluster: dict[str, Table]
    databases: list[DatabaseSnapshot]
    spool: Any = field(default=None, repr=False, compare=False)
    """The Spool (temporary directory) the file-backed tables live in, kept alive here."""

    def table(self, name: str) -> Table:
        return self.cluster.get(name) or empty_table(CLUSTER_TABLES[name])

    def source_collected(self, name: str) -> bool:
        src = self.meta.get("sources", {}).get(name)
        return bool(src and src.get("collected"))

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "meta": self.meta,
            "cluster": {k: v.to_json() for k, v in self.cluster.items()},
            "databases": [
                {"oid": d.oid, "name": d.name, "status": d.status, "reason": d.reason,
                 "tables": {k: v.to_json() for k, v in d.tables.items()}}
                for d in self.databases
            ],
        }


def save(snapshot: Snapshot, path: str | os.PathLike[str]) -> None:
    """Write atomically. ``.tar``: a columnar archive (see :func:`save_archive`); else JSON,
    gzip when the name ends in .gz, rows streamed one per line."""
    if is_archive_name(path):
        save_archive(snapshot, path)
        return
    with atomic_writer(path, mode=SNAPSHOT_MODE) as fh:
        for chunk in _iter_json(snapshot):
            fh.write(chunk)


ARCHIVE_HEADER = "snapshot.json"
"""First member of a snapshot archive: the JSON document, per-database tables by reference."""


def is_archive_name(path: str | os.PathLike[str]) -> bool:
    return str(path).endswith(".tar")


def save_archive(snapshot: Snapshot, path: str | os.PathLike[str]) -> None:
    """A tar of ``snapshot.json`` plus one zstd Parquet file per per-database table.

    Why: at a million tables the JSON form is gigabytes and must be parsed whole, while
    Parquet is compressed, columnar, and read by DuckDB without Python touching a row. The
    tar container streams (``tar -tvf`` lists it; ``check`` reads it front to back), and
    the header comes first so a reader knows every member before it arrives. Cluster-wide
    tables stay inline in the header: they are small and often read from Python.
    """
    import tarfile

    from .spool import Spool, duckdb_literal, reader_sql, scratch_connection

    work = Spool(prefix="pgaudit-archive-")
    con = scratch_connection(threads=None)  # Parquet encoding uses every core
    try:
        members: list[tuple[str, str]] = []
        dbdocs = []
        for d in snapshot.databases:
            tables: dict[str, Any] = {}
            for name, t in d.tables.items():
                spec = DATABASE_TABLES[name]
                arcname = f"databases/{d.oid}/{name}.parquet"
                local = work.new_file(f"{d.oid}-{name}", ".parquet")
                types = [c[1] for c in spec]
                if t.file is not None and t.types is not None:
                    select = reader_sql([t.file], t.columns, t.types, t.file_format)
                    written = con.execute(f"COPY ({select}) TO {duckdb_literal(local)} "  # noqa: S608
                                          "(FORMAT parquet, COMPRESSION zstd)").fetchone()
                    if written is not None:  # the count comes free with the copy
                        t.remember_count(int(written[0]))
                else:
                    _rows_to_parquet(con, t, types, local)
                members.append((arcname, local))
                tables[name] = {"columns": t.columns, "file": arcname, "row_count": len(t)}
            dbdocs.append({"oid": d.oid, "name": d.name, "status": d.status,
                           "reason": d.reason, "tables": tables})
        header = {"format": FORMAT, "version": FORMAT_VERSION, "storage": "archive",
                  "meta": snapshot.meta,
                  "cluster": {k: v.to_json() for k, v in snapshot.cluster.items()},
                  "databases": dbdocs}
        head_file = work.new_file("header", ".json")
        with open(head_file, "w", encoding="utf-8") as fh:
            json.dump(header, fh, default=str, ensure_ascii=False, sort_keys=False)
        with atomic_writer(path, binary=True, compress=False, mode=SNAPSHOT_MODE) as raw, \
                tarfile.open(fileobj=raw, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            for arcname, local in [(ARCHIVE_HEADER, head_file), *members]:
                info = tar.gettarinfo(local, arcname)
                info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
                info.mode = 0o644
                with open(local, "rb") as src:
                    tar.addfile(info, src)
    finally:
        con.close()
        work.cleanup()


def _rows_to_parquet(con: Any, t: Table, types: list[str], local: str) -> None:
    """In-memory rows (a JSON snapshot, a test) to Parquet with the table's DuckDB types."""
    from .spool import duckdb_literal

    cols = ", ".join(f'"{c}" {ty}' for c, ty in zip(t.columns, types, strict=True))
    con.execute(f"CREATE OR REPLACE TEMP TABLE _t ({cols})")
    if t.rows:
        sel = ", ".join(f"unnest(${i + 1}::{ty}[])" for i, ty in enumerate(types))
        data = [[r[i] for r in t.rows] for i in range(len(types))]
        con.execute(f"INSERT INTO _t SELECT {sel}", data)  # noqa: S608 - typed constants
    con.execute(f"COPY _t TO {duckdb_literal(local)} (FORMAT parquet, COMPRESSION zstd)")


def load_archive(path: str | os.PathLike[str]) -> Snapshot:
    """Read a snapshot archive: its Parquet members go into a Spool, never into Python."""
    import tarfile
    import zlib

    from .spool import Spool

    spool = Spool()
    header: Any = None
    files: dict[str, str] = {}
    try:
        with tarfile.open(path, mode="r|") as tar:
            for member in tar:
                if not member.isfile():
                    raise UsageError(f"{path}: snapshot archive member {member.name!r} is not "
                                     "a regular file")
                src = tar.extractfile(member)
                if src is None:  # pragma: no cover - isfile() above
                    continue
                if member.name == ARCHIVE_HEADER and header is None:
                    try:
                        header = json.load(src)
                    except RecursionError:
                        raise UsageError(f"{path}: {ARCHIVE_HEADER} is nested too deeply") from None
                    continue
                if header is None:
                    raise UsageError(f"{path}: snapshot archive does not start with "
                                     f"{ARCHIVE_HEADER}")
                local = spool.new_file(member.name.replace("/", "-"), ".parquet")
                with open(local, "wb") as dst:
                    while chunk := src.read(1 << 20):
                        dst.write(chunk)
                files[member.name] = local
    except FileNotFoundError:
        raise UsageError(f"snapshot file not found: {path}") from None
    except (OSError, tarfile.TarError, ValueError, EOFError, zlib.error) as exc:
        spool.cleanup()
        raise UsageError(f"{path}: not a readable snapshot archive ({exc})") from None
    except BaseException:
        spool.cleanup()
        raise
    if header is None:
        spool.cleanup()
        raise UsageError(f"{path}: snapshot archive has no {ARCHIVE_HEADER}")
    from .spool import scratch_connection

    con = None
    try:
        snap = from_json(header, str(path), files=files)
        for d in snap.databases:
            for name, t in d.tables.items():
                if t.file is not None:
                    arcname = next(m for m, f in files.items() if f == t.file)
                    con = con or scratch_connection()  # one for every member
                    check_parquet(str(path), arcname, t.file, DATABASE_TABLES[name], con)
    except BaseException:
        spool.cleanup()
        raise
    finally:
        if con is not None:
            con.close()
    snap.spool = spool
    return snap


def _iter_json(s: Snapshot) -> Iterable[str]:
    dump = json.dumps
    meta = dump(s.meta, sort_keys=True, default=str)
    yield f'{{"format": {dump(FORMAT)}, "version": {FORMAT_VERSION},\n "meta": {meta},\n "cluster": {{'
    yield from _iter_tables(s.cluster)
    yield '},\n "databases": ['
    for i, d in enumerate(s.databases):
        head = (f'{{"oid": {d.oid}, "name": {dump(d.name)}, "status": {dump(d.status)}, '
                f'"reason": {dump(d.reason)}, "tables": {{')
        yield ("," if i else "") + "\n  " + head
        yield from _iter_tables(d.tables)
        yield "}}"
    yield "\n ]}\n"


def _iter_tables(tables: dict[str, Table]) -> Iterable[str]:
    dump = json.dumps
    for i, (name, t) in enumerate(tables.items()):
        yield ("," if i else "") + f'\n  {dump(name)}: {{"columns": {dump(t.columns)}, "rows": ['
        for j, row in enumerate(t.rows):
            yield ("," if j else "") + "\n   " + dump(row, default=str, ensure_ascii=False)
        yield "]}"


def load(path: str | os.PathLike[str]) -> Snapshot:
    """Read and validate a snapshot file (JSON, gzip JSON or archive). Bad input is a
    UsageError."""
    if is_archive_name(path) or is_archive_file(path):
        return load_archive(path)
    import zlib

    try:
        with open_maybe_gzip(path) as fh:
            doc = json.load(fh)
    except FileNotFoundError:
        raise UsageError(f"snapshot file not found: {path}") from None
    except RecursionError:
        raise UsageError(f"{path}: not a readable snapshot JSON file (nested too deeply)") from None
    except (OSError, ValueError, EOFError, zlib.error) as exc:
        raise UsageError(f"{path}: not a readable snapshot JSON file ({exc})") from None
    return from_json(doc, str(path))


def is_archive_file(path: str | os.PathLike[str]) -> bool:
    """By content, not name: a POSIX tar has ``ustar`` at offset 257."""
    try:
        with open(path, "rb") as fh:
            fh.seek(257)
            return fh.read(5) == b"ustar"
    except OSError:
        return False


def from_json(doc: Any, origin: str = "snapshot", files: dict[str, str] | None = None) -> Snapshot:
    """The Snapshot of a parsed document; ``files`` maps archive member names to local
    Parquet files (only an archive's header may refer to files). Every shape and value is
    checked first (``snapshot_check``): a damaged file is a UsageError, never a partial
    load."""
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise UsageError(f"{origin}: not a pgaudit-roles snapshot (format field missing or wrong)")
    if type(doc.get("version")) is not int or doc.get("version") != FORMAT_VERSION:
        raise UsageError(f"{origin}: snapshot version {doc.get('version')!r} is not supported "
                         f"(this pgaudit-roles reads version {FORMAT_VERSION})")
    meta = check_meta(origin, doc.get("meta"))
    if not isinstance(doc.get("cluster"), dict):
        raise snapshot_fail(origin, "cluster", "expected an object of tables")
    if not isinstance(doc.get("databases"), list):
        raise snapshot_fail(origin, "databases", "expected a list of databases")
    cluster = {k: _table(v, CLUSTER_TABLES, k, origin, where=f"cluster.{k}")
               for k, v in doc["cluster"].items()}
    dbs = []
    for n, d in enumerate(doc["databases"]):
        check_database(origin, n, d)
        dbs.append(DatabaseSnapshot(
            oid=d["oid"], name=d["name"], status=d["status"], reason=d.get("reason"),
            tables={k: _table(v, DATABASE_TABLES, k, origin, files,
                              where=f"databases[{n}].tables.{k}")
                    for k, v in d.get("tables", {}).items()}))
    check_unique(origin, "databases[].oid", [d.oid for d in dbs])
    for name in ("roles", "databases"):
        t = cluster.get(name)
        if t is not None and t.in_memory:
            check_unique(origin, f"cluster.{name}.rows[].oid", [r[0] for r in t.rows])
    return Snapshot(meta=meta, cluster=cluster, databases=dbs)


def _table(obj: Any, spec: dict[str, list[Column]], name: str, origin: str,
           files: dict[str, str] | None = None, *, where: str = "") -> Table:
    where = where or name
    if name not in spec:
        raise UsageError(f"{origin}: unknown table {name!r} in snapshot")
    if not isinstance(obj, dict):
        raise snapshot_fail(origin, where, "expected an object with columns and rows")
    cols = [c[0] for c in spec[name]]
    if obj.get("columns") != cols:
        raise UsageError(f"{origin}: table {name!r} has columns {obj.get('columns')!r}, "
                         f"expected {cols!r}")
    if "file" in obj:
        member = obj["file"]
        if files is None or not isinstance(member, str) or member not in files:
            raise UsageError(f"{origin}: table {name!r} refers to {member!r}, which is not in "
                             "the archive")
        count = obj.get("row_count")
        return Table(cols, file=files[member], file_format="parquet",
                     types=[c[1] for c in spec[name]],
                     count=count if type(count) is int and count >= 0 else None)
    rows = obj.get("rows")
    if not isinstance(rows, list):
        raise UsageError(f"{origin}: table {name!r} has no row list")
    check_rows(origin, where, name, spec[name], rows)
    return Table(columns=cols, rows=rows)
