"""Open read-only, bounded, identifiable sessions to the audited server.

Why a module of its own: every session the tool opens must carry the same safety settings
(read-only by default, statement/lock/idle timeouts, a search_path that user schemas
cannot hijack, no JIT, ``application_name=pgaudit-roles``) and every connection failure
must become one clear line without the password. Connection parameters follow libpq's own
conventions (DSN or URI, PG* environment variables, service file, passfile): we hand the
string to libpq and never reimplement its lookup rules.

The settings travel in the startup packet (``options=-c ...``), so the server applies them
before the first statement and nothing is logged as a ``SET``. Some poolers reject or drop
startup options; then the same settings are applied with ``SET`` right after connecting.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..core.errors import CollectionError, UsageError
from ..core.signals import track
from . import server_text

if TYPE_CHECKING:  # pragma: no cover
    import psycopg

APPLICATION_NAME = "pgaudit-roles"
SEARCH_PATH = "pg_catalog, pg_temp"

_DURATION_RE = re.compile(r"^\d+(\.\d+)?\s*(us|ms|s|min|h|d)?$")


@dataclass(frozen=True)
class ConnectSettings:
    """Per-session limits. Durations use PostgreSQL's syntax (``60s``, ``2min``, ``500ms``)."""

    statement_timeout: str = "60s"
    lock_timeout: str = "2s"
    idle_in_transaction_session_timeout: str = "5min"
    connect_timeout: int = 10

    def __post_init__(self) -> None:
        for name in ("statement_timeout", "lock_timeout", "idle_in_transaction_session_timeout"):
            value = str(getattr(self, name)).strip()
            if not _DURATION_RE.match(value):
                raise UsageError(
                    f"invalid {name.replace('_', '-')} {value!r}: use a PostgreSQL "
                    "duration such as 60s, 500ms or 5min"
                )
            object.__setattr__(self, name, value.replace(" ", ""))
        if not isinstance(self.connect_timeout, int) or self.connect_timeout < 0:
            raise UsageError(f"invalid connect-timeout {self.connect_timeout!r}: use whole seconds")

    def gucs(self) -> dict[str, str]:
        """The server settings every session gets, in the order they are applied."""
        return {
            "default_transaction_read_only": "on",
            "statement_timeout": self.statement_timeout,
            "lock_timeout": self.lock_timeout,
            "idle_in_transaction_session_timeout": self.idle_in_transaction_session_timeout,
            "search_path": SEARCH_PATH,
            "jit": "off",
            # Catalog reads are small per query; parallel workers would only add processes
            # (and CPU) on the audited server for no gain.
            "max_parallel_workers_per_gather": "0",
        }


def startup_options(settings: ConnectSettings, user_options: str | None = None) -> str:
    """The libpq ``options`` value: the user's own options first, ours last so ours win."""
    ours = " ".join(f"-c {k}={_escape_option(v)}" for k, v in settings.gucs().items())
    return f"{user_options.strip()} {ours}" if user_options and user_options.strip() else ours


def _escape_option(value: str) -> str:
    """libpq splits ``options`` at spaces unless escaped with a backslash."""
    return value.replace("\\", "\\\\").replace(" ", "\\ ")


def parse_conninfo(conninfo: str) -> dict[str, Any]:
    """Parse a DSN or URI with libpq; a malformed one is a usage error (exit 2).

    libpq's message can quote a fragment of the string, which may be a password, so quoted
    fragments are removed from the message.
    """
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    try:
        return dict(conninfo_to_dict(conninfo))
    except psycopg.Error as exc:
        msg = re.sub(r'"[^"]*"', '"..."', _first_line(str(exc)))
        raise UsageError(f"invalid connection string: {msg}") from None


def redact_conninfo(conninfo: str) -> str:
    """The conninfo for display: same parameters, the password removed."""
    from psycopg.conninfo import make_conninfo

    params = parse_conninfo(conninfo)
    params.pop("password", None)
    return make_conninfo("", **params)


def describe_target(conninfo: str) -> str:
    """A short human description of where we connect, never with the password."""
    params = parse_conninfo(conninfo)
    host = (
        params.get("host") or params.get("hostaddr") or os.environ.get("PGHOST") or "local socket"
    )
    port = params.get("port") or os.environ.get("PGPORT") or "5432"
    user = params.get("user") or os.environ.get("PGUSER") or "(default user)"
    dbname = params.get("dbname") or os.environ.get("PGDATABASE") or "(default database)"
    service = params.get("service") or os.environ.get("PGSERVICE")
    where = f"{user}@{host}:{port}/{dbname}"
    return f"{where} (service {service})" if service else where


def connect(
    conninfo: str, settings: ConnectSettings | None = None, *, dbname: str | None = None
) -> psycopg.Connection[Any]:
    """Open an autocommit session with the safety settings applied.

    Autocommit so that the collector decides where each transaction begins and ends
    (``BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY`` per database); no prepared
    statements so the server log shows each statement exactly as sent. Every failure is a
    CollectionError (exit 3) with one line naming the target and libpq's reason.
    """
    import psycopg
    from psycopg.conninfo import make_conninfo

    settings = settings or ConnectSettings()
    params = parse_conninfo(conninfo)
    if dbname is not None:
        params["dbname"] = dbname
    secrets = _secrets(params)
    user_options = params.pop("options", None) or os.environ.get("PGOPTIONS")
    base = dict(params)
    base["application_name"] = APPLICATION_NAME
    if "connect_timeout" not in base and "PGCONNECT_TIMEOUT" not in os.environ:
        base["connect_timeout"] = str(settings.connect_timeout)
    target = describe_target(
        make_conninfo("", **{k: v for k, v in params.items() if k != "password"})
    )
    with_options = dict(base, options=startup_options(settings, user_options))
    try:
        conn = psycopg.connect(
            make_conninfo("", **with_options), autocommit=True, prepare_threshold=None
        )
    except psycopg.Error as exc:
        if "unsupported startup parameter" not in str(exc):
            raise CollectionError(
                f"cannot connect to {target}: {_clean_message(str(exc), secrets)}"
            ) from None
        # A pooler that refuses startup options: connect plainly, SET below.
        try:
            if user_options:
                base["options"] = user_options
            conn = psycopg.connect(
                make_conninfo("", **base), autocommit=True, prepare_threshold=None
            )
        except psycopg.Error as exc2:
            raise CollectionError(
                f"cannot connect to {target}: {_clean_message(str(exc2), secrets)}"
            ) from None

    track(conn)  # so that SIGINT/SIGTERM can cancel what it runs from another thread
    try:
        server_text.install(conn)
        _ensure_settings(conn, settings)
    except psycopg.Error as exc:
        conn.close()
        raise CollectionError(
            f"cannot prepare a read-only session on {target}: {_clean_message(str(exc), secrets)}"
        ) from None
    return conn


def connect_database(
    conninfo: str, dbname: str, settings: ConnectSettings | None = None
) -> psycopg.Connection[Any]:
    """Connect to another database of the same cluster with the same parameters."""
    return connect(conninfo, settings, dbname=dbname)


def _ensure_settings(conn: psycopg.Connection[Any], settings: ConnectSettings) -> None:
    """Verify the startup options took effect; ``SET`` them when a pooler dropped them."""
    row = conn.execute(
        "SELECT pg_catalog.current_setting('default_transaction_read_only'), "
        "pg_catalog.current_setting('search_path')"
    ).fetchone()
    if row is not None and row[0] == "on" and row[1] == SEARCH_PATH:
        return
    from psycopg import sql

    for name, value in settings.gucs().items():
        if name == "search_path":
            conn.execute("SET search_path = pg_catalog, pg_temp")
        else:
            conn.execute(sql.SQL("SET {} = {}").format(sql.Identifier(name), sql.Literal(value)))


@contextlib.contextmanager
def read_only_transaction(conn: psycopg.Connection[Any]) -> Iterator[None]:
    """One consistent snapshot: ``BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY`` ... COMMIT."""
    import psycopg

    conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
    try:
        yield
    except BaseException:
        if not conn.closed:
            with contextlib.suppress(psycopg.Error):
                conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def target_info(conn: psycopg.Connection[Any]) -> dict[str, Any]:
    """host, port, dbname, user of an open connection (libpq never returns the password)."""
    info = conn.info
    return {"host": info.host, "port": info.port, "dbname": info.dbname, "user": info.user}


def _secrets(params: dict[str, Any]) -> list[str]:
    found = [str(params["password"])] if params.get("password") else []
    env = os.environ.get("PGPASSWORD")
    if env:
        found.append(env)
    return found


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return text.strip()


def _clean_message(text: str, secrets: list[str]) -> str:
    """libpq's message on one line, with any secret masked (defence in depth)."""
    parts = [p.strip().lstrip("-").strip() for p in text.splitlines() if p.strip()]
    msg = "; ".join(parts) or "unknown error"
    for secret in secrets:
        if secret:
            msg = msg.replace(secret, "********")
    return msg


def error_message(exc: BaseException, secrets: list[str] | None = None) -> str:
    """Any database error as one line (for 'not collected' reasons)."""
    return _clean_message(str(exc), secrets or [])
