"""``pgaudit-roles query SNAPSHOT_OR_DSN "SQL"``: ad-hoc read-only SQL over the audit schema.

Why a command and not "open the snapshot in DuckDB yourself": the audit schema (effective
privileges, closure, NULL-ACL expansion) only exists after loading, and the same sandbox
as for rules applies: the SQL must be exactly one SELECT over the documented tables (the
rule validator, sqlglot), and the DuckDB connection is locked down (no file, network or
extension access; configuration frozen) before it runs.

Also home of the helpers the explain and who-can commands share: opening a target (a
snapshot file, or a DSN that is collected first) and showing names safely.

Display decisions (documented in --help): JSON carries values exactly (non-printable
characters as ``\\u`` escapes, reports.common.json_text); CSV is for spreadsheets, so
control characters are escaped and a text starting with ``= + - @`` is prefixed with ``'``
(formula injection, reports.common.csv_cell). The table
format is for terminals: control and bidi characters are written as escapes (``\\n``,
``\\x1b``, ``\\u202e``) so one value stays on one line and cannot move the cursor, and NULL
is shown as an empty cell as psql does. Role and object names in explain and who-can are
printed as SQL identifiers (quoted like quote_ident); a name with control characters is
printed as a PostgreSQL Unicode-escape identifier ``U&"..."``, which psql accepts as is.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..audit import audit_schema, build_plan
from ..audit.limits import QueryTimeout, run_limited
from ..collect.coverage import partial_note, sources_read_by
from ..collect.snapshot import load
from ..config import load_config
from ..core.errors import UsageError
from ..core.sqlquote import sql_name
from ..evaluate.engine import _memory_hint
from ..evaluate.rules import validate_query
from ..pipeline import collect_snapshot
from ..reports.common import csv_cell, json_text
from ..reports.common import printable as _p
from ._args import TextChoice

if TYPE_CHECKING:
    import duckdb

    from ..config import Config

FORMATS = ("text", "json", "csv")


# --- shared helpers -------------------------------------------------------------------------


def looks_like_dsn(target: str) -> bool:
    """A libpq URI or key=value conninfo (a file path never contains ``=`` by accident here)."""
    t = target.strip()
    return t.startswith(("postgres://", "postgresql://")) or "=" in t


def load_target(target: str, cfg: Config) -> Any:
    """A Snapshot from a snapshot file, or collected from a DSN (read-only, as `collect`)."""

    if os.path.exists(target):
        return load(target)
    if looks_like_dsn(target):
        return collect_snapshot(target, cfg)
    raise UsageError(
        f"{target}: no such snapshot file, and not a connection string "
        "(use 'host=... dbname=...' or a postgresql:// URI)"
    )


def open_audit(
    target: str, config_path: Path | None, queries: list[str] | None = None
) -> tuple[duckdb.DuckDBPyConnection, Any]:
    """Load the target into the audit schema and lock the connection down. Returns (con, snap).

    With ``queries``, only the tables they read are built (``audit.build_plan``): a command
    reads a few tables, and the whole schema (escalation edges above all) was most of its
    time. The whole schema when the plan cannot be made (a name the plan does not know, or
    SQL that looks into DuckDB's catalog, which a partial build changes), so the answer or
    the error is the whole schema's."""

    cfg = load_config(config_path)
    snap = load_target(target, cfg)
    return audit_connection(snap, cfg.naming, queries), snap


def audit_connection(
    snap: Any, naming: Any, queries: list[str] | None = None
) -> duckdb.DuckDBPyConnection:
    """:func:`open_audit`'s audit schema of a loaded snapshot, locked down."""
    con = audit_schema.new_connection()
    audit_schema.tune_for_size(con, snap)
    if queries is not None and not all(build_plan.reads_only_tables(con, q) for q in queries):
        queries = None
    audit_schema.load(snap, naming, con, queries=queries)
    audit_schema.lock_down(con)
    return con


def reading(tables: Iterable[str]) -> list[str]:
    """Queries that read ``tables``, for :func:`open_audit` (a command's own SQL reads
    these; each command lists them beside its SQL, tests/test_build_plan.py checks)."""
    return [f"SELECT * FROM {t}" for t in tables]  # noqa: S608 - the command's table names


def printable(value: Any) -> str:
    """Any value as one visible line (control and bidi characters escaped)."""
    return str(_p(value))


def qualified_name(schema: str | None, name: str | None) -> str:
    if schema is None:
        return sql_name(name)
    return f"{sql_name(schema)}.{sql_name(name)}"


def display_identity(row: dict[str, Any]) -> str:
    """An object's name for the terminal from its parts (never the raw stored identity)."""
    cls = row.get("object_class")
    if cls == "large_object":
        return str(row.get("object_name"))
    if cls == "parameter":  # custom parameters are dotted: pgaudit.log
        return ".".join(sql_name(part) for part in str(row.get("object_name")).split(".", 1))
    base = qualified_name(row.get("schema"), row.get("object_name"))
    if cls == "function":
        args = row.get("identity_args")
        if args is None:
            ident = str(row.get("identity") or "")
            args = ident[ident.rfind("(") + 1 : -1] if ident.endswith(")") else ""
        return f"{base}({printable(args)})"
    return base


def echo_partial_note(
    snap: Any, fmt: str, *, database: str | None = None, sources: tuple[str, ...] | None = None
) -> None:
    """Say when an answer covers only part of the cluster (a database or a source that was
    not collected): after a text answer on stdout, on stderr when stdout is JSON or CSV."""
    note = partial_note(snap, database=database, sources=sources)
    if note:
        click.echo(
            f"{'pgaudit-roles: ' if fmt != 'text' else ''}{note[0].upper()}{note[1:]}",
            err=fmt not in ("text", "table"),
        )


def records(con: Any, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    cur = con.execute(sql, params or [])
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


# --- output formats ---------------------------------------------------------------------------


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, list | tuple):
        return "{" + ",".join(_cell(v) if v is not None else "NULL" for v in value) + "}"
    return printable(value)


def render_table(columns: list[str], rows: list[tuple[Any, ...]]) -> str:
    header = [printable(c) for c in columns]
    body = [[_cell(v) for v in r] for r in rows]
    widths = [max([len(h)] + [len(r[i]) for r in body]) for i, h in enumerate(header)]
    lines = [
        " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip(),
        "-+-".join("-" * w for w in widths),
    ]
    for r in body:
        lines.append(" | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    lines.append(f"({len(body)} row{'' if len(body) == 1 else 's'})")
    return "\n".join(lines)


def echo_json_or_text(data: Any, fmt: str, render: Callable[[Any], str]) -> None:
    """``explain`` and ``who-can`` print either exact JSON or their rendered text."""
    if fmt == "json":
        import json

        click.echo(json_text(json.dumps(plain_value(data), indent=2, ensure_ascii=False)))
    else:
        click.echo(render(data))


def plain_value(value: Any) -> Any:
    import datetime as dt
    import decimal
    import uuid

    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, list | tuple):
        return [plain_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain_value(v) for k, v in value.items()}
    if isinstance(value, bytes):
        return value.hex()
    return value


def render_json(columns: list[str], rows: list[tuple[Any, ...]]) -> str:
    import json

    return json_text(
        json.dumps(
            [{c: plain_value(v) for c, v in zip(columns, r, strict=True)} for r in rows],
            indent=2,
            ensure_ascii=False,
        )
    )


def render_csv(columns: list[str], rows: list[tuple[Any, ...]]) -> str:
    import csv
    import io
    import json

    def cell(v: Any) -> Any:
        if v is None:
            return ""
        if isinstance(v, list | tuple | dict):
            return csv_cell(json_text(json.dumps(plain_value(v), ensure_ascii=False)))
        if isinstance(v, bool):
            return "true" if v else "false"
        value = plain_value(v)
        return csv_cell(value) if isinstance(value, str) else value

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([csv_cell(c) for c in columns])
    for r in rows:
        w.writerow([cell(v) for v in r])
    return buf.getvalue().rstrip("\n")


# --- the command ------------------------------------------------------------------------------


@click.command("query")
@click.argument("target", metavar="SNAPSHOT_OR_DSN")
@click.argument("sql", metavar="SQL")
@click.option(
    "--format",
    "fmt",
    type=TextChoice(FORMATS),
    default="text",
    show_default=True,
    help="text for terminals (a table; control characters escaped, NULL empty; "
    "'table' is accepted too); json "
    "carries values exactly (non-printable characters as \\u escapes); csv "
    "for spreadsheets (control characters escaped, a text starting with = + - "
    "@ prefixed with ').",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Configuration file (naming policy for roles.kind/app; collection "
    "settings when SNAPSHOT_OR_DSN is a DSN).",
)
def query(target: str, sql: str, fmt: str, config_path: Path | None) -> None:
    """Run one read-only SELECT over the audit schema of a snapshot or a live cluster.

    SNAPSHOT_OR_DSN is a file written by `pgaudit-roles collect`, or a libpq connection
    string / postgresql:// URI, which is collected first (read-only). The tables and
    columns are documented in docs/audit-schema.md (roles, memberships, role_closure,
    privileges, effective_privileges, default_privileges_effective, hba_rules, ...).
    Only one SELECT over those tables is accepted (exit 2 otherwise), and it runs with
    file, network and extension access switched off, under the memory cap
    (PGAUDIT_ROLES_MEMORY_LIMIT) and a time limit (PGAUDIT_ROLES_QUERY_TIMEOUT seconds,
    default 300; exit 2 past it). Ctrl-C stops it at once.

    \b
    Example:
      pgaudit-roles query snap.json "SELECT role, privilege, via, path
        FROM effective_privileges WHERE identity = 'app_data.orders'"
    """

    validate_query(sql, "SQL")
    con, snap = open_audit(target, config_path, [sql])  # only the tables the SQL reads
    try:
        import duckdb

        try:
            columns, rows = run_limited(con, sql)
        except QueryTimeout as exc:
            raise UsageError(f"SQL: query {exc}") from None
        except (duckdb.Error, MemoryError) as exc:
            raise UsageError(f"SQL: {exc}{_memory_hint(exc)}") from None
    finally:
        con.close()
    out = {"text": render_table, "json": render_json, "csv": render_csv}[fmt](columns, rows)
    click.echo(out)

    echo_partial_note(snap, "json" if fmt != "text" else "table", sources=sources_read_by(sql))
