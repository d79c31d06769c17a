"""Turn a live cluster into a Snapshot, reading only, in a bounded number of queries.

Order of work (research/catalog.md §7):

1. probe: server version, who we are, what we may read;
2. cluster-wide, once, in one REPEATABLE READ READ ONLY transaction: roles, memberships,
   role settings, databases, tablespaces, shared ACLs, settings, activity; then the
   optional sources, each in its own short transaction so that one refusal cannot abort
   the others: pg_hba rules (view, else ``--hba-file``, else "not collected" and why) and
   password hash types (superuser, else the bootstrap helper function, else unknown);
3. per database, each in ONE REPEATABLE READ READ ONLY transaction: schemas, objects,
   columns with ACLs, exploded ACLs, default ACLs, functions, extensions. A database we
   may not or cannot enter is recorded as ``not_collected`` with the reason, and the
   others are still read. Databases are read by a bounded pool of ``jobs`` sessions (one
   connection each, so the server never sees more than ``jobs`` of ours at once).

Cluster-wide rows are streamed (``cursor.stream``) into Python lists: they are few
(roles, settings, hba lines). Per-database rows, which grow with the number of objects,
never become Python objects: each table is one ``COPY ... TO STDOUT`` whose bytes go
straight into a column file of the snapshot's Spool, for DuckDB to read (``spool``).
What the auditor cannot see is reported in ``meta.sources`` so rules that need it are
skipped, not passed.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .. import __version__
from ..core.errors import CollectionError, UsageError
from ..core.signals import cancel_running
from . import catalog_queries as q
from . import server_text
from .connect import (
    ConnectSettings,
    connect,
    connect_database,
    error_message,
    read_only_transaction,
    target_info,
)
from .hba import parse_hba_file, redact_options, redact_text
from .snapshot import (
    CLUSTER_TABLES,
    DATABASE_TABLES,
    SOURCES,
    DatabaseSnapshot,
    Snapshot,
    Table,
)
from .spool import DERIVED_TABLES, Spool, copy_to_file, derived_table

if TYPE_CHECKING:  # pragma: no cover
    import psycopg

Progress = Callable[[str], None]

STREAM_CHUNK = 2000
"""Rows per network chunk when streaming (libpq 17+ chunked mode; 1 row otherwise)."""


DEFAULT_JOBS = 2
"""Databases read at once. Two keeps a nightly audit light on a busy primary and already
overlaps our client-side work with the server's; raise it with ``--jobs`` on a replica."""

MAX_JOBS = 32


@dataclass
class Probe:
    """What the first connection learned about the server and about us."""

    server_version_num: int
    server_version: str
    connected_user: str
    current_database: str
    is_superuser: bool
    has_pg_monitor: bool
    has_read_all_settings: bool
    has_read_all_stats: bool
    can_read_pg_authid: bool
    can_select_hba_view: bool
    can_execute_hba_function: bool

    @property
    def major(self) -> int:
        return self.server_version_num // 10000

    @property
    def can_read_hba_view(self) -> bool:
        return self.is_superuser or (self.can_select_hba_view and self.can_execute_hba_function)


def collect(
    conninfo: str,
    *,
    databases: list[str] | None = None,
    all_databases: bool = True,
    hba_file: str | None = None,
    settings: ConnectSettings | None = None,
    progress: Progress | None = None,
    jobs: int = DEFAULT_JOBS,
    spool: Spool | None = None,
) -> Snapshot:
    """Read one cluster. Raises CollectionError (exit 3) when the cluster cannot be read
    at all and UsageError (exit 2) for bad input (unknown options, malformed hba file).
    ``spool``: where the column files go (``collect.forked`` passes its own); a new one
    by default."""
    import psycopg

    say: Progress = progress or (lambda _msg: None)
    settings = settings or ConnectSettings()
    wanted = _requested(databases, all_databases)
    if not isinstance(jobs, int) or isinstance(jobs, bool) or not 1 <= jobs <= MAX_JOBS:
        raise UsageError(f"--jobs must be a whole number from 1 to {MAX_JOBS}, not {jobs!r}")
    if hba_file is not None and not os.path.isfile(hba_file):
        raise UsageError(f"--hba-file {hba_file}: no such file")
    started = time.monotonic()
    collected_at = _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat()

    say("connecting")
    conn = connect(conninfo, settings)
    handed_on = False  # the parallel reader reads conn's own database on it, then closes it
    try:
        try:
            probe = _probe(conn)
            say(
                f"PostgreSQL {probe.server_version} as {probe.connected_user}"
                f"{' (superuser)' if probe.is_superuser else ''}"
            )
            cluster, sources = _collect_cluster(conn, probe, hba_file, say)
        except psycopg.Error as exc:
            raise CollectionError(
                f"collection failed on {conn.info.dbname}: {error_message(exc)}"
            ) from None
        targets = _choose_databases(cluster["databases"], wanted)
        target = target_info(conn)
        encoding = server_text.server_encoding(conn)
        spool = spool if spool is not None else Spool()
        sequential = jobs == 1 or len(targets) <= 1
        first: dict[int, DatabaseSnapshot] = {}
        if sequential:
            # The database we are connected to is read on this session; then it is closed
            # before any other is opened, so -j 1 never holds two sessions (an auditor
            # with CONNECTION LIMIT 1 still reads every database).
            for i, db in enumerate(targets):
                if db["name"] == probe.current_database:
                    say(f"database {db['name']} ({i + 1}/{len(targets)})")
                    first[i] = _collect_one_database(conn, conninfo, settings, probe, db, spool)
        else:
            handed_on = True
    finally:
        if not handed_on:
            conn.close()
    if sequential:
        dbsnaps = []
        for i, db in enumerate(targets):
            if i not in first:
                say(f"database {db['name']} ({i + 1}/{len(targets)})")
            dbsnaps.append(
                first.get(i)
                or _collect_one_database(None, conninfo, settings, probe, db, spool, retry=True)
            )
    else:
        dbsnaps = _collect_parallel(conninfo, settings, probe, targets, spool, jobs, say, conn)
    _check_read_something(conninfo, settings, targets, dbsnaps, spool)

    sources["objects"] = _objects_source(dbsnaps)
    # Read in the same per-database transaction as the objects (sql/*.sql); a snapshot
    # from an older collector lacks these entries, so rules needing them are skipped.
    for name in ("policies", "triggers", "user_mappings"):
        sources[name] = _objects_source(dbsnaps)
    meta: dict[str, Any] = {
        "tool": "pgaudit-roles",
        "tool_version": __version__,
        "collected_at": collected_at,
        "duration_seconds": round(time.monotonic() - started, 3),
        "server_version_num": probe.server_version_num,
        "server_version": probe.server_version,
        "connected_user": probe.connected_user,
        "is_superuser": probe.is_superuser,
        "capabilities": {
            "pg_monitor": probe.has_pg_monitor,
            "pg_read_all_settings": probe.has_read_all_settings,
            "pg_read_all_stats": probe.has_read_all_stats,
            "hba_view": probe.can_read_hba_view,
        },
        "target": target,
        "server_encoding": encoding,
        "sources": {
            name: sources.get(name, _not("not collected by this version")) for name in SOURCES
        },
        "databases_requested": None if wanted is None else list(wanted),
    }
    return Snapshot(meta=meta, cluster=cluster, databases=dbsnaps, spool=spool)


# --- helpers -----------------------------------------------------------------------------


def _requested(databases: list[str] | None, all_databases: bool) -> list[str] | None:
    """None = every database; else the explicit, de-duplicated list."""
    if databases:
        seen: dict[str, None] = {}
        for name in databases:
            if not name:
                raise UsageError("--database needs a non-empty name")
            seen[name] = None
        return list(seen)
    if not all_databases:
        raise UsageError("nothing to collect: give --all-databases or --database NAME")
    return None


def _ok(reason: str | None = None) -> dict[str, Any]:
    return {"collected": True, "reason": reason}


def _not(reason: str) -> dict[str, Any]:
    return {"collected": False, "reason": reason}


def _stream(
    conn: psycopg.Connection[Any],
    query: str,
    columns: list[str],
    params: dict[str, Any] | None = None,
) -> Iterable[list[Any]]:
    """Rows of ``query`` as lists, streamed; the result columns must equal ``columns``."""
    from psycopg import pq

    cur = conn.cursor()
    checked = False
    size = STREAM_CHUNK if pq.version() >= 170000 else 1  # chunked mode needs libpq 17
    for row in cur.stream(query, params, size=size):
        if not checked:
            _check_columns(cur, columns)
            checked = True
        yield list(row)
    if not checked and cur.description is not None:
        _check_columns(cur, columns)


def _check_columns(cur: psycopg.Cursor[Any], columns: list[str]) -> None:
    got = [d.name for d in cur.description or []]
    if got != columns:  # a bug in catalog_queries, not a user error
        raise RuntimeError(f"catalog query returned columns {got}, expected {columns}")


def _table(
    conn: psycopg.Connection[Any],
    spec: list[tuple[str, str, str]],
    query: str,
    params: dict[str, Any] | None = None,
) -> Table:
    columns = [c[0] for c in spec]
    return Table(columns=columns, rows=list(_stream(conn, query, columns, params)))


def _probe(conn: psycopg.Connection[Any]) -> Probe:
    cur = conn.execute(q.PROBE)
    row = cur.fetchone()
    assert row is not None and cur.description is not None
    values = dict(zip([d.name for d in cur.description], row, strict=True))
    for key in (
        "is_superuser",
        "has_pg_monitor",
        "has_read_all_settings",
        "has_read_all_stats",
        "can_read_pg_authid",
        "can_select_hba_view",
        "can_execute_hba_function",
    ):
        values[key] = bool(values[key])
    return Probe(**values)


# --- cluster -----------------------------------------------------------------------------


def _collect_cluster(
    conn: psycopg.Connection[Any], probe: Probe, hba_file: str | None, say: Progress
) -> tuple[dict[str, Table], dict[str, dict[str, Any]]]:
    queries = q.cluster_queries(probe.server_version_num)
    cluster: dict[str, Table] = {}
    sources: dict[str, dict[str, Any]] = {}
    say("cluster: roles, memberships, databases, settings, activity")
    with read_only_transaction(conn):
        for name, query in queries.items():
            params = {"names": list(q.SETTING_NAMES)} if name == "settings" else None
            cluster[name] = _table(conn, CLUSTER_TABLES[name], query, params)
            sources[name] = _ok()
    if not (probe.is_superuser or probe.has_read_all_settings):
        sources["settings"] = _not(
            "needs pg_read_all_settings (in pg_monitor): some settings "
            "are hidden from this role; the visible ones are kept"
        )
    if not (probe.is_superuser or probe.has_read_all_stats):
        cluster["activity"] = Table(columns=cluster["activity"].columns)
        sources["activity"] = _not("needs pg_read_all_stats (in pg_monitor) to see other sessions")

    say("cluster: pg_hba rules")
    cluster["hba_rules"], sources["hba_rules"] = _collect_hba(conn, probe, hba_file, say)
    say("cluster: password types")
    sources["password_types"] = _collect_password_types(conn, probe, cluster["roles"])
    return cluster, sources


def _collect_hba(
    conn: psycopg.Connection[Any], probe: Probe, hba_file: str | None, say: Progress
) -> tuple[Table, dict[str, Any]]:
    import psycopg

    spec = CLUSTER_TABLES["hba_rules"]
    columns = [c[0] for c in spec]
    view_reason: str
    if probe.can_read_hba_view:
        try:
            with read_only_transaction(conn):
                table = _table(conn, spec, q.hba_query(probe.server_version_num))
        except psycopg.Error as exc:
            view_reason = f"reading pg_hba_file_rules failed: {error_message(exc)}"
        else:
            opt, err = columns.index("options"), columns.index("error")
            for row in table.rows:
                row[opt] = redact_hba_options(row[opt])
                row[err] = redact_hba_error(row[err])
            if hba_file is not None:
                say(f"pg_hba_file_rules is readable: using it, not --hba-file {hba_file}")
            return table, _ok(None) | {"origin": "pg_hba_file_rules"}
    else:
        missing = []
        if not probe.can_select_hba_view:
            missing.append("SELECT on pg_catalog.pg_hba_file_rules")
        if not probe.can_execute_hba_function:
            missing.append("EXECUTE on function pg_catalog.pg_hba_file_rules()")
        view_reason = (
            f"pg_hba_file_rules is not readable by {probe.connected_user} in database "
            f"{probe.current_database} (needs {' and '.join(missing)} there: the grants hold "
            "per database; see `pgaudit-roles bootstrap-sql --scan-database`)"
        )
    if hba_file is None:
        return Table(columns=columns), _not(view_reason + "; no --hba-file given")
    rows = _parse_hba_file(hba_file, probe.major)
    table = Table(columns=columns, rows=[[r.get(c) for c in columns] for r in rows])
    opt = columns.index("options")
    for row in table.rows:
        row[opt] = redact_hba_options(row[opt])
    return table, _ok(None) | {"origin": f"file:{hba_file}"}


def _parse_hba_file(path: str, server_major: int) -> list[dict[str, Any]]:
    """The offline parser lives in ``hba`` (its own module and tests)."""
    try:
        return list(parse_hba_file(path, server_major))
    except OSError as exc:
        raise UsageError(f"--hba-file {path}: {exc.strerror or exc}") from None


def redact_hba_options(options: list[str] | None) -> list[str] | None:
    """Remove secrets (ldapbindpasswd, radiussecrets) from pg_hba options before storing.

    The rules are ``hba.redact_options``: the view's rows and a parsed file are redacted alike.
    """
    if options is None:
        return None
    redacted = redact_options(list(options))
    return None if redacted is None else list(redacted)


def redact_hba_error(text: str | None) -> str | None:
    """The view's error text without credentials: PostgreSQL quotes a rejected option
    whole (``could not parse LDAP URL "ldap://admin:PASSWORD@..."``)."""
    return redact_text(text)


def _collect_password_types(
    conn: psycopg.Connection[Any], probe: Probe, roles: Table
) -> dict[str, Any]:
    """Fill roles.password_type: as superuser from pg_authid (classified server-side), else
    through the bootstrap helper function when it is installed and trustworthy."""
    import psycopg

    query: str | None = None
    origin = ""
    if probe.can_read_pg_authid:
        query, origin = q.PASSWORD_TYPES_AUTHID, "pg_authid"
    else:
        try:
            with read_only_transaction(conn):
                helper = conn.execute(q.PASSWORD_HELPER_PROBE).fetchone()
        except psycopg.Error as exc:
            return _not(f"probing for the password-check helper failed: {error_message(exc)}")
        fname = f"{q.PASSWORD_CHECK_SCHEMA}.{q.PASSWORD_CHECK_FUNCTION}()"
        if helper is None:
            return _not(
                "password hash types need superuser or the helper function "
                f"{fname} in database {probe.current_database} "
                "(`pgaudit-roles bootstrap-sql --with-password-check`)"
            )
        _oid, secdef, owner_super, usage, can_exec = helper
        if not (secdef and owner_super):
            return _not(
                f"{fname} exists but is not a SECURITY DEFINER function owned by a "
                "superuser: not called"
            )
        if not (usage and can_exec):
            return _not(
                f"{fname} exists but {probe.connected_user} lacks USAGE on its schema "
                "or EXECUTE on it"
            )
        query, origin = q.PASSWORD_TYPES_HELPER, fname
    try:
        with read_only_transaction(conn):
            types = {int(r[0]): r[1] for r in conn.execute(query).fetchall()}
    except psycopg.Error as exc:
        return _not(f"reading password types via {origin} failed: {error_message(exc)}")
    idx_oid = roles.columns.index("oid")
    idx_type = roles.columns.index("password_type")
    for row in roles.rows:
        row[idx_type] = types.get(int(row[idx_oid]))
    return _ok(None) | {"origin": origin}


# --- databases ---------------------------------------------------------------------------


def _choose_databases(table: Table, wanted: list[str] | None) -> list[dict[str, Any]]:
    rows = list(table.dicts())
    if wanted is None:
        return rows
    by_name = {r["name"]: r for r in rows}
    unknown = [n for n in wanted if n not in by_name]
    if unknown:
        raise CollectionError(
            "database not found on the server: " + ", ".join(repr(n) for n in unknown)
        )
    return [by_name[n] for n in wanted]


def _skip_reason(db: dict[str, Any]) -> str | None:
    if db["connection_limit"] == -2:
        return "database is invalid (an interrupted DROP DATABASE); it cannot be entered"
    if not db["allow_connections"]:
        return "connections are not allowed (datallowconn is false)"
    if not db["auditor_can_connect"]:
        return "the auditing role lacks CONNECT privilege on this database"
    return None


def _collect_parallel(
    conninfo: str,
    settings: ConnectSettings,
    probe: Probe,
    targets: list[dict[str, Any]],
    spool: Spool,
    jobs: int,
    say: Progress,
    conn: psycopg.Connection[Any] | None = None,
) -> list[DatabaseSnapshot]:
    """Read the databases on at most ``jobs`` sessions; results keep the catalog order.

    Threads, not processes: a worker spends its time waiting on the server or writing
    bytes to a file, both of which release the GIL.

    ``conn``: the session the cluster was read on (this function closes it). Its own
    database is read on it, first, as the sequential path does: one session fewer to
    start (a backend's start-up is server CPU, a few ms, on a small cluster's critical
    path); it is closed once that database is read, so at most ``jobs`` sessions are open
    at any time. The rows are the same: each database is one transaction either way.
    """
    import concurrent.futures  # a live collection's only: with logging, ~3 ms a check skips

    own = next((i for i, db in enumerate(targets) if db["name"] == probe.current_database), None)
    if own is None and conn is not None:  # not one of the targets: never a session too many
        conn.close()
        conn = None

    def read_own(db: dict[str, Any]) -> DatabaseSnapshot:
        try:
            return _collect_one_database(conn, conninfo, settings, probe, db, spool)
        finally:
            if conn is not None:
                conn.close()

    done = 0
    results: list[DatabaseSnapshot | None] = [None] * len(targets)
    order = ([own] if own is not None else []) + [i for i in range(len(targets)) if i != own]
    try:
        with concurrent.futures.ThreadPoolExecutor(
            max_workers=jobs, thread_name_prefix="collect"
        ) as pool:
            futures = {
                (
                    pool.submit(read_own, targets[i])
                    if i == own and conn is not None
                    else pool.submit(
                        _collect_one_database, None, conninfo, settings, probe, targets[i], spool
                    )
                ): i
                for i in order
            }
            try:
                for fut in concurrent.futures.as_completed(futures):
                    i = futures[fut]
                    results[i] = fut.result()
                    done += 1
                    say(f"database {targets[i]['name']} ({done}/{len(targets)})")
            except BaseException:
                for f in futures:
                    f.cancel()

                cancel_running()  # workers waiting on the server return now, not at a timeout
                raise
    finally:  # its database's read never started (an error, Ctrl-C): closed here
        if conn is not None:
            conn.close()
    return [r for r in results if r is not None]


def _collect_one_database(
    conn: psycopg.Connection[Any] | None,
    conninfo: str,
    settings: ConnectSettings,
    probe: Probe,
    db: dict[str, Any],
    spool: Spool,
    *,
    retry: bool = False,
) -> DatabaseSnapshot:
    """One database in one read-only transaction; ``conn`` is reused when it is already
    connected to that database (the sequential path), else a session is opened.

    ``retry`` (the sequential path): a connection refused for "too many connections" is
    tried again for a moment, because the backend of the database read just before may
    still be exiting and count against the auditor's CONNECTION LIMIT."""
    import psycopg

    snap = DatabaseSnapshot(oid=int(db["oid"]), name=db["name"], status="not_collected")
    reason = _skip_reason(db)
    if reason:
        snap.reason = reason
        return snap
    own = conn is not None and db["name"] == probe.current_database
    try:
        dbconn = (
            conn if own and conn is not None else _connect_db(conninfo, db["name"], settings, retry)
        )
    except CollectionError as exc:
        snap.reason = str(exc)
        snap.connect_failed = True
        return snap
    try:
        with read_only_transaction(dbconn):
            for name, query in q.database_queries(probe.server_version_num).items():
                path = spool.new_file(f"{snap.oid}-{name}")
                snap.tables[name] = copy_to_file(dbconn, name, query, path)
        for name, (source, _fmt) in DERIVED_TABLES.items():
            snap.tables[name] = derived_table(name, snap.tables[source])
        snap.tables = {n: snap.tables[n] for n in DATABASE_TABLES if n in snap.tables}
        snap.status = "collected"
    except psycopg.Error as exc:
        for t in snap.tables.values():
            if t.file:
                with contextlib.suppress(OSError):
                    os.unlink(t.file)
        snap.tables = {}
        snap.reason = f"reading the catalogs failed: {error_message(exc)}"
        state = getattr(exc, "sqlstate", None) or ""
        snap.connect_failed = not state or state.startswith(("08", "57P"))  # session lost
    except OSError as exc:  # the spool's disk, not the server: every database would fail
        raise CollectionError(
            f"cannot write temporary column files in {spool.path} "
            f"({exc.strerror or exc}); set TMPDIR to a roomier "
            "directory"
        ) from None
    finally:
        if not own:
            dbconn.close()
    return snap


CONNECTION_SLOTS_MESSAGES = (
    "too many connections",
    "too many clients",
    "remaining connection slots",
)
RETRY_SECONDS = 3.0


def _connect_db(
    conninfo: str, dbname: str | None, settings: ConnectSettings, retry: bool
) -> psycopg.Connection[Any]:
    """A session on ``dbname`` (None: the conninfo's own); with ``retry``, a refusal for
    lack of connection slots is tried again for up to RETRY_SECONDS."""
    deadline = time.monotonic() + RETRY_SECONDS
    pause = 0.05
    while True:
        try:
            if dbname is None:
                return connect(conninfo, settings)
            return connect_database(conninfo, dbname, settings)
        except CollectionError as exc:
            slots = any(m in str(exc) for m in CONNECTION_SLOTS_MESSAGES)
            if not (retry and slots) or time.monotonic() + pause > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.5)


def _check_read_something(
    conninfo: str,
    settings: ConnectSettings,
    targets: list[dict[str, Any]],
    dbsnaps: list[DatabaseSnapshot],
    spool: Spool,
) -> None:
    """A collection that read no database, or whose server went away, is a failure (exit
    3), never a snapshot that would pass: its rules would have nothing to look at."""
    done = sum(1 for d in dbsnaps if d.status == "collected")
    failed = [d for d in dbsnaps if d.status != "collected"]
    problem: str | None = None
    if targets and not done:
        problem = f"no database could be read (0 of {len(targets)})"
    elif any(d.connect_failed for d in failed):
        try:
            _connect_db(conninfo, None, settings, True).close()
        except CollectionError as exc:
            # "too many connections" is the server answering: it is there, only busy
            if not any(m in str(exc) for m in CONNECTION_SLOTS_MESSAGES):
                problem = (
                    f"the server went away during collection ({done} of "
                    f"{len(targets)} databases read; now: {exc})"
                )
    if problem is None:
        return
    spool.cleanup()
    first = failed[0] if failed else None
    detail = f"; {first.name}: {first.reason}" if first is not None and first.reason else ""
    raise CollectionError(f"collection failed: {problem}{detail}")


def _objects_source(dbsnaps: list[DatabaseSnapshot]) -> dict[str, Any]:
    done = [d for d in dbsnaps if d.status == "collected"]
    skipped = [d for d in dbsnaps if d.status != "collected"]
    if not done:
        return _not(
            "no database could be read"
            + (": " + "; ".join(f"{d.name}: {d.reason}" for d in skipped) if skipped else "")
        )
    if skipped:
        return _ok(
            f"{len(skipped)} of {len(dbsnaps)} databases not collected (see databases[].reason)"
        )
    return _ok()
