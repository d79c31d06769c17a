"""Build the demo layout on a throwaway server: read layout.sql, apply it, add the auditor.

The layout is one readable SQL file (users are meant to open it and compare it with the
findings). The few things plain SQL cannot express are directives in comments, handled
here: which database a block runs in, version branches, and passwords, which are random,
generated at run time, and reach the server only as SCRAM verifiers computed by libpq
(like psql's \\password), so no password is ever in a statement, a log or the output.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..core.errors import EXIT_COLLECTION, AuditError

if TYPE_CHECKING:
    import psycopg

    from ..core.localpg import LocalCluster

AUDITOR = "pgaudit_auditor"
_IF_VERSION = re.compile(r"^>=\s*(\d+)$")


class DemoError(AuditError):
    """The demo server could not be started or built (reported as one line)."""

    exit_code = EXIT_COLLECTION


@dataclass(frozen=True)
class Step:
    """One unit of work: SQL run as one implicit transaction, or one password to set."""

    database: str
    line: int  # first line of the step in layout.sql, for error messages
    sql: str = ""
    password_role: str | None = None


def parse_layout(text: str, server_version_num: int) -> list[Step]:
    """Split layout.sql into steps for this server version (see the directives in its header).

    A malformed directive is a bug in the shipped file, so it raises ValueError.
    """
    steps: list[Step] = []
    database: str | None = None
    buf: list[str] = []
    buf_line = 0
    branches: list[bool] = []  # one entry per open @if-version: is its current arm active?

    def flush() -> None:
        nonlocal buf
        body = "\n".join(buf).strip()
        if any(ln.strip() and not ln.strip().startswith("--") for ln in buf):
            if database is None:
                raise ValueError(f"layout line {buf_line}: SQL before the first @connect")
            steps.append(Step(database=database, line=buf_line, sql=body))
        buf = []

    for lineno, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped.startswith("-- @"):
            if all(branches):
                if not buf:
                    buf_line = lineno
                buf.append(line)
            continue
        name, _, arg = stripped[4:].partition(" ")
        arg = arg.strip()
        if name == "if-version":
            m = _IF_VERSION.match(arg)
            if not m:
                raise ValueError(f"layout line {lineno}: expected '@if-version >= N', got {arg!r}")
            flush()
            branches.append(server_version_num >= int(m.group(1)))
        elif name == "else":
            if not branches:
                raise ValueError(f"layout line {lineno}: @else without @if-version")
            flush()
            branches[-1] = not branches[-1]
        elif name == "end":
            if not branches:
                raise ValueError(f"layout line {lineno}: @end without @if-version")
            flush()
            branches.pop()
        elif not all(branches):
            continue
        elif name == "connect" and arg:
            flush()
            database = arg
        elif name == "step":
            flush()
        elif name == "password" and arg:
            flush()
            if database is None:
                raise ValueError(f"layout line {lineno}: @password before the first @connect")
            steps.append(Step(database=database, line=lineno, password_role=arg))
        else:
            raise ValueError(f"layout line {lineno}: unknown directive {stripped!r}")
    if branches:
        raise ValueError("layout: @if-version without @end")
    flush()
    return steps


def server_version_num(cluster: LocalCluster) -> int:
    import psycopg

    with psycopg.connect(cluster.conninfo(), autocommit=True) as conn:
        row = conn.execute("SELECT current_setting('server_version_num')::int").fetchone()
    assert row is not None
    return int(row[0])


def apply_layout(
    cluster: LocalCluster, steps: list[Step], password_for: Callable[[str], str]
) -> None:
    """Run every step as the superuser over the unix socket, one connection per database."""
    import psycopg

    conns: dict[str, psycopg.Connection] = {}
    try:
        for step in steps:
            conn = conns.get(step.database)
            if conn is None:
                conn = psycopg.connect(cluster.conninfo(dbname=step.database), autocommit=True)
                conns[step.database] = conn
            try:
                if step.password_role is not None:
                    _set_password(conn, step.password_role, password_for(step.password_role))
                else:
                    # bytes and no parameters: sent as one simple query, no placeholder parsing
                    conn.execute(step.sql.encode("utf-8"))
            except psycopg.Error as exc:
                raise DemoError(
                    f"building the demo layout failed at layout.sql line {step.line} "
                    f"(database {step.database}): {_first_line(exc)}"
                ) from None
    finally:
        for conn in conns.values():
            conn.close()


def _set_password(conn: psycopg.Connection, role: str, password: str) -> None:
    """Store a SCRAM verifier computed client-side: the password itself never leaves us."""
    from psycopg import sql

    verifier = conn.pgconn.encrypt_password(
        password.encode("utf-8"), role.encode("utf-8"), b"scram-sha-256"
    )
    conn.execute(
        sql.SQL("ALTER ROLE {} PASSWORD {}").format(
            sql.Identifier(role), sql.Literal(verifier.decode("ascii"))
        )
    )


def create_auditor(cluster: LocalCluster, role: str = AUDITOR) -> None:
    """The least-privilege auditor: LOGIN, pg_monitor, the two pg_hba grants, and CONNECT on
    databases that revoked it from PUBLIC (a real deployment needs the same)."""
    import psycopg
    from psycopg import sql

    ident = sql.Identifier(role)
    with psycopg.connect(cluster.conninfo(), autocommit=True) as conn:
        try:
            for stmt in (
                "CREATE ROLE {} LOGIN",
                "GRANT pg_monitor TO {}",
                "GRANT SELECT ON pg_catalog.pg_hba_file_rules TO {}",
                "GRANT EXECUTE ON FUNCTION pg_catalog.pg_hba_file_rules() TO {}",
            ):
                conn.execute(sql.SQL(stmt).format(ident))
            rows = conn.execute(
                "SELECT datname FROM pg_catalog.pg_database WHERE datallowconn "
                "AND NOT has_database_privilege(%s, oid, 'CONNECT') ORDER BY datname",
                (role,),
            ).fetchall()
            for (datname,) in rows:
                conn.execute(
                    sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
                        sql.Identifier(datname), ident
                    )
                )
        except psycopg.Error as exc:
            raise DemoError(f"creating the demo auditor role failed: {_first_line(exc)}") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
