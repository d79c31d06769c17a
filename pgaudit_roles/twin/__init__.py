"""The privilege twin: a snapshot rebuilt in a throwaway PostgreSQL, for what-if questions.

Roles (never a password), memberships with their options and grantors, databases,
schemas, object stubs with their owners and exact ACLs, columns with column ACLs,
functions as stubs with the same signature, language, SECURITY DEFINER and SET clauses,
default privileges, role and database settings, large objects, FDWs and servers. The twin
is re-collected by the normal collector; what it cannot reproduce (pg_hba, server
settings, activity, password types, objects of extensions this build lacks, ...) is
carried over from the source snapshot and listed in ``meta["twin"]``, never dropped.

Uses: remediation verified before a user runs it (``pgaudit_roles.twin.verify``), ``lint`` of
migrations, what-if questions from Python::

    from pgaudit_roles.collect.snapshot import load
    from pgaudit_roles.twin import build_twin

    with build_twin(load("prod.json")) as twin:
        ...  # psycopg.connect(twin.conninfo("api_prod")) and change things
        after = twin.collect()

psycopg is imported inside functions only.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..collect.collector import collect
from ..core.errors import EXIT_COLLECTION, AuditError, UsageError
from ..core.localpg import LocalCluster
from ..core.sqlquote import quote_ident
from ..demo import choose_install
from .carry import carry_over
from .plan import INTERNAL_SCHEMA, TWIN_SUPERUSER, Plan, Step, plan

if TYPE_CHECKING:
    import psycopg

    from ..collect.snapshot import Snapshot
    from ..core.localpg import PgInstall

__all__ = ["Twin", "TwinError", "build_twin", "default_install"]

_EXISTING_SQL = Path(__file__).with_name("existing_acl_grantees.sql")
CARRIED_SOURCES = ("settings", "activity", "hba_rules", "password_types")
"""Sources a throwaway server cannot reproduce: always the source snapshot's, marked so."""


TWIN_SETTINGS = {
    "max_connections": "40",
    "autovacuum": "off",
    "wal_level": "minimal",
    "max_wal_senders": "0",
}
"""A throwaway's server settings, on top of LocalCluster's (fsync, synchronous_commit and
full_page_writes off, 32 MB of shared buffers): no autovacuum worker competes with the
build and the re-collection, and minimal WAL (the small preset's build: median 2.25 s
against 2.73 s, 6 runs each). The twin's own settings never reach a rule (the source's are
carried over, see CARRIED_SOURCES)."""


class TwinError(AuditError):
    """The twin could not be built (no server binaries, the server did not start)."""

    exit_code = EXIT_COLLECTION


def default_install() -> PgInstall:
    """The embedded server the demo uses (``pip install 'pgaudit-roles[demo]'``)."""

    try:
        return choose_install(None)
    except UsageError as exc:
        raise TwinError(str(exc)) from None


@dataclass
class Failure:
    """A statement the twin refused: what it was for, and the server's one-line error."""

    key: tuple[Any, ...] | None
    sql: str
    error: str


@dataclass
class Twin:
    """A running twin of ``source``. A context manager: leaving it stops the server and
    removes its directory."""

    source: Snapshot
    cluster: LocalCluster
    databases: list[str] | None = None
    schemas: list[str] | None = None
    failures: list[Failure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    build_seconds: float = 0.0
    server_version_num: int = 0

    def conninfo(self, dbname: str = "postgres", user: str = TWIN_SUPERUSER) -> str:
        """libpq conninfo over the twin's private unix socket (trust: no password)."""
        return self.cluster.conninfo(user=user, dbname=dbname)

    @property
    def server_version(self) -> str:
        return self.cluster.install.version

    def collect(self) -> Snapshot:
        """The normal collector on the twin, as the source's auditing role when the twin has
        it, then the carry-over (see :mod:`pgaudit_roles.twin.carry`)."""

        user = self._collect_user()
        snap = collect(
            self.conninfo(user=user), databases=self._collect_databases(), all_databases=True
        )
        return carry_over(self.source, snap, self)

    def _collect_user(self) -> str:
        import psycopg

        who = self.source.meta.get("connected_user")
        if isinstance(who, str) and who:
            with psycopg.connect(self.conninfo(), autocommit=True) as conn:
                row = conn.execute(
                    "SELECT rolcanlogin FROM pg_catalog.pg_roles WHERE rolname = %s", (who,)
                ).fetchone()
            if row and row[0]:
                return who
        return TWIN_SUPERUSER

    def _collect_databases(self) -> list[str] | None:
        req = self.source.meta.get("databases_requested")
        names = self.databases if self.databases is not None else req
        if names is None:
            return None
        import psycopg

        with psycopg.connect(self.conninfo(), autocommit=True) as conn:
            have = {r[0] for r in conn.execute("SELECT datname FROM pg_catalog.pg_database")}
        return [n for n in names if n in have]

    def stop(self) -> None:
        """Immediate stop (no shutdown checkpoint: the directory is removed right after)."""
        self.cluster.stop(mode="immediate")

    def __enter__(self) -> Twin:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def build_twin(
    snapshot: Snapshot,
    *,
    install: PgInstall | None = None,
    databases: list[str] | None = None,
    schemas: list[str] | None = None,
    progress: Any = None,
) -> Twin:
    """Start a throwaway server of ``install`` (default: the embedded one) and rebuild
    ``snapshot`` in it. ``databases``/``schemas`` limit what is filled in (every database
    is still created, so cluster-wide facts stay whole)."""
    say = progress or (lambda _m: None)
    started = time.monotonic()
    inst = install or default_install()
    cluster = LocalCluster(inst, settings=TWIN_SETTINGS)
    try:
        cluster.start()
    except (RuntimeError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise TwinError(f"the twin server did not start: {first}") from None
    twin = Twin(
        source=snapshot,
        cluster=cluster,
        databases=list(databases) if databases is not None else None,
        schemas=list(schemas) if schemas is not None else None,
    )
    try:
        twin.server_version_num = _version_num(twin)
        p = plan(snapshot, twin.server_version_num, databases=databases, schemas=schemas)
        twin.notes += p.notes
        say(f"twin: PostgreSQL {inst.version}, {sum(len(s) for _n, s in p.phases)} statements")
        _run(twin, p)
    except BaseException:
        cluster.stop()
        raise
    twin.build_seconds = round(time.monotonic() - started, 3)
    return twin


def _version_num(twin: Twin) -> int:
    import psycopg

    with psycopg.connect(twin.conninfo(), autocommit=True) as conn:
        row = conn.execute("SELECT current_setting('server_version_num')::int").fetchone()
    assert row is not None
    return int(row[0])


# --- running the plan ----------------------------------------------------------------------


class _Sessions:
    """One superuser session per database, opened on first use."""

    def __init__(self, twin: Twin) -> None:
        self.twin = twin
        self.conns: dict[str, psycopg.Connection[Any]] = {}
        self.existing: dict[str, dict[tuple[Any, ...], list[tuple[str, bool]]]] = {}

    def get(self, dbname: str) -> psycopg.Connection[Any]:
        import psycopg

        conn = self.conns.get(dbname)
        if conn is None:
            conn = psycopg.connect(self.twin.conninfo(dbname), autocommit=True)
            conn.execute("SET check_function_bodies = off")
            conn.execute("SET client_min_messages = error")
            self.conns[dbname] = conn
        return conn

    def existing_grantees(self, dbname: str, key: tuple[Any, ...]) -> list[tuple[str, bool]]:
        if dbname not in self.existing:
            found: dict[tuple[Any, ...], list[tuple[str, bool]]] = {}
            for cls, schema, name, args, grantee, is_public in self.get(dbname).execute(
                _EXISTING_SQL.read_text(encoding="utf-8")
            ):
                found.setdefault((cls, schema, name, args), []).append((grantee, is_public))
            self.existing[dbname] = found
        return self.existing[dbname].get(key, [])

    def close(self) -> None:
        for c in self.conns.values():
            with contextlib.suppress(Exception):
                c.close()


def _statement(sessions: _Sessions, step: Step, dbname: str) -> str:
    if step.existing is None:
        return step.sql

    extra = [
        quote_ident(g)
        for g, pub in sessions.existing_grantees(dbname, step.existing)
        if not pub and g
    ]
    sql = step.sql
    for g in extra:
        if g not in sql.split(" FROM ", 1)[1].split(", "):
            sql += f", {g}"
    return sql


def _execute(conn: psycopg.Connection[Any], sessions: _Sessions, step: Step, dbname: str) -> None:
    for s in step.pre:
        conn.execute(s.encode("utf-8"))
    if step.as_role is not None:
        conn.execute(f"SET ROLE {quote_ident(step.as_role)}".encode())
    try:
        conn.execute(_statement(sessions, step, dbname).encode("utf-8"))
    finally:
        if step.as_role is not None:
            conn.execute(b"RESET ROLE")
    for s in step.post:
        conn.execute(s.encode("utf-8"))


_BATCH_BYTES = 256 * 1024
"""Statements sent per round trip in a batch (a multi-statement simple query)."""


def _execute_batch(
    conn: psycopg.Connection[Any], sessions: _Sessions, steps: list[Step], dbname: str
) -> None:
    """``steps`` in order, as :func:`_execute` runs them one by one, but many per round
    trip: the build is one statement per object and grant, and waiting for each answer was
    most of its time. A failure raises like the first failing :func:`_execute` (the caller
    rolls the transaction back and goes step by step). A step whose REVOKE lists the
    twin's current grantees is written only after everything before it ran, when the
    grantees of its database have not been read yet (the same moment as step by step)."""
    buf: list[bytes] = []
    size = 0

    def flush() -> None:
        nonlocal buf, size
        if buf:
            # each statement on its own lines: a trailing -- comment cannot swallow the ;
            conn.execute(b"\n;\n".join(buf))
            buf, size = [], 0

    for step in steps:
        if step.existing is not None and dbname not in sessions.existing:
            flush()
        parts = list(step.pre)
        if step.as_role is not None:
            parts.append(f"SET ROLE {quote_ident(step.as_role)}")
        parts.append(_statement(sessions, step, dbname))
        if step.as_role is not None:
            parts.append("RESET ROLE")
        parts += step.post
        for part in parts:
            data = part.encode("utf-8")
            buf.append(data)
            size += len(data)
        if size >= _BATCH_BYTES:
            flush()
    flush()


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _run(twin: Twin, p: Plan) -> None:
    """Each phase: a database's steps in one transaction; when that fails, step by step
    (each in its own transaction), retrying what failed while something succeeds."""
    import psycopg

    sessions = _Sessions(twin)
    try:
        for _name, steps in p.phases:
            by_db: dict[str, list[Step]] = {}
            for s in steps:
                by_db.setdefault(s.database or "postgres", []).append(s)
            for dbname, group in by_db.items():
                conn = sessions.get(dbname)
                batch = [s for s in group if not s.autocommit]
                single = [s for s in group if s.autocommit]
                if batch:
                    try:
                        with conn.transaction():
                            _execute_batch(conn, sessions, batch, dbname)
                    except psycopg.Error:
                        single = batch + single
                pending = single
                while pending:
                    failed: list[tuple[Step, str]] = []
                    for s in pending:
                        try:
                            if s.autocommit:
                                _execute(conn, sessions, s, dbname)
                            else:
                                with conn.transaction():
                                    _execute(conn, sessions, s, dbname)
                        except psycopg.Error as exc:
                            if s.fallback is not None:
                                try:
                                    with conn.transaction():
                                        conn.execute(s.fallback.encode("utf-8"))
                                    twin.notes.append(f"grantor not kept: {s.fallback}")
                                    continue
                                except psycopg.Error:
                                    pass
                            failed.append((s, _one_line(exc)))
                    if len(failed) == len(pending):
                        twin.failures += [Failure(s.key, s.sql, err) for s, err in failed]
                        break
                    pending = [s for s, _e in failed]
    finally:
        sessions.close()


def internal_schema() -> str:
    return INTERNAL_SCHEMA
