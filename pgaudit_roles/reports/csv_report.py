"""The access-review export: one CSV row per (login role, database, object, privilege, how it
is held), with empty reviewer / decision / date columns to fill in.

Why: SOC 2 (CC6.2, CC6.3) and ISO 27001 (A.9.2.5, review of user access rights) ask for a
periodic review in which an owner confirms or revokes each access a person or service
holds. Auditors want it as a spreadsheet, and per application, so each application owner
reviews their own: when the naming policy knows a login role's application, its rows are
also written to ``<base>.access.<app>.csv``.

Safety: a spreadsheet evaluates a cell that starts with ``=``, ``+``, ``-`` or ``@``; every
cell goes through ``csv_cell`` (prefixed with ``'``, control and bidi characters escaped).
File names made from application names keep only ``[A-Za-z0-9_.-]`` (plus a digest when
anything was replaced), so an application called ``../x`` writes no file outside the
report directory.

The rows are computed in the audit database (``sql/access_review.sql``) only when this
format is asked for (``Reporter.needs``), since they grow with roles x objects.
"""

from __future__ import annotations

import csv
import hashlib
import re
from collections.abc import Iterable, Sequence
from typing import IO, Any

from ..core.errors import UsageError
from .common import csv_cell
from .registry import RenderFn, ReportContext

INVENTORY_KEY = "access_review"
SOURCE_COLUMNS: tuple[str, ...] = (
    "login_role",
    "app",
    "database",
    "object_type",
    "object",
    "privilege",
    "held",
    "grantable",
)
HEADER: tuple[str, ...] = (
    "login_role",
    "application",
    "database",
    "object_type",
    "object",
    "privilege",
    "held",
    "grantable",
    "reviewer",
    "decision",
    "review_date",
)
EXTENSION = ".access.csv"


def _rows(ctx: ReportContext) -> list[Sequence[Any]]:
    data = (ctx.result.inventory or {}).get(INVENTORY_KEY)
    if not isinstance(data, dict) or list(data.get("columns") or []) != list(SOURCE_COLUMNS):
        raise UsageError(
            "the csv access review needs a scan evaluated with the csv format "
            "requested (scan/check --format csv)"
        )
    rows: list[Sequence[Any]] = data.get("rows") or []
    return rows


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return csv_cell(str(value))


def _write(rows: Iterable[Sequence[Any]], fh: IO[str]) -> None:
    w = csv.writer(fh, lineterminator="\r\n")  # RFC 4180, what spreadsheets expect
    w.writerow(HEADER)
    for r in rows:
        w.writerow([_cell(v) for v in r] + ["", "", ""])


def write_report(ctx: ReportContext, fh: IO[str]) -> None:
    """Every login role's rows (the registry's entry point)."""
    _write(_rows(ctx), fh)


def file_key(app: str) -> str:
    """A file-name-safe form of an application name, distinct for distinct names."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", app).strip(".") or "_"
    if safe != app or len(safe) > 60:
        safe = f"{safe[:60]}-{hashlib.sha256(app.encode('utf-8')).hexdigest()[:8]}"
    return safe


def per_application(ctx: ReportContext) -> list[tuple[str, RenderFn]]:
    """One extra file per application the naming policy knows: (file suffix, render)."""
    by_app: dict[str, list[Sequence[Any]]] = {}
    for r in _rows(ctx):
        app = r[1]
        if app:
            by_app.setdefault(str(app), []).append(r)

    def render_for(rows: list[Sequence[Any]]) -> RenderFn:
        return lambda _ctx, fh: _write(rows, fh)

    return [
        (f".access.{file_key(app)}.csv", render_for(rows)) for app, rows in sorted(by_app.items())
    ]
