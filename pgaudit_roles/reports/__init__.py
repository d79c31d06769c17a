"""Reporters: one ScanResult in, JSON / HTML / JUnit / SARIF / SQL / text out.

Every reporter reads only ``pgaudit_roles.core.model``; none touches a database. Files are
written atomically (a temporary file renamed into place), so an error never leaves half a
report where CI would pick it up. Reporter modules are imported on first use so the CLI
stays fast.
"""

from __future__ import annotations

import importlib
import io
import os
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

from ..core.atomic import atomic_writer
from ..core.errors import UsageError
from ..core.model import ScanResult

FORMATS: tuple[str, ...] = ("json", "html", "junit", "sarif", "sql", "text")
EXTENSIONS: dict[str, str] = {"json": ".json", "html": ".html", "junit": ".junit.xml",
                              "sarif": ".sarif", "sql": ".sql", "text": ".txt"}
_MODULES: dict[str, str] = {"json": "json_report", "html": "html_report", "junit": "junit_report",
                            "sarif": "sarif_report", "text": "text_report"}
OPTION_NAMES: frozenset[str] = frozenset({
    "sarif_anchor", "sarif_include_suppressed", "junit_granularity", "sql_level",
    "sql_verification",
    "html_rows_per_rule", "html_max_embedded", "html_max_listed", "graph_max_nodes", "report_paths",
})
"""Options ``write_reports``/``render`` accept; each applies to the formats it names."""


def parse_formats(spec: str | Iterable[str]) -> list[str]:
    """``"json,html"`` or a list -> validated, de-duplicated format names (exit 2 otherwise)."""
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    out: list[str] = []
    for item in items:
        name = item.strip().lower()
        if not name:
            continue
        if name not in FORMATS:
            raise UsageError(f"unknown report format {name!r} (choose from {', '.join(FORMATS)})")
        if name not in out:
            out.append(name)
    return out


def _check_options(options: dict[str, Any]) -> None:
    unknown = sorted(set(options) - OPTION_NAMES)
    if unknown:
        raise UsageError(f"unknown report option(s): {', '.join(unknown)}")
    gran = options.get("junit_granularity")
    if gran is not None and gran not in ("rule", "finding"):
        raise UsageError(f"junit granularity must be 'rule' or 'finding', not {gran!r}")


def _options_for(fmt: str, options: dict[str, Any]) -> dict[str, Any]:
    prefix = {"sarif": ("sarif_",), "junit": ("junit_",),
              "html": ("html_", "graph_"), "text": ("report_paths",)}.get(fmt, ())
    return {k: v for k, v in options.items() if k.startswith(prefix) and v is not None} if prefix else {}


def _sql_script(result: ScanResult, options: dict[str, Any]) -> str:
    try:
        mod = importlib.import_module("pgaudit_roles.reports.sql_script")
    except ModuleNotFoundError as exc:
        if exc.name != "pgaudit_roles.reports.sql_script":
            raise
        raise UsageError("the sql report format is not available in this build") from None
    # "safe" (destructive statements only listed as comments) unless asked for more
    text: str = mod.render_sql_script(result, options.get("sql_level") or "safe",
                                      verification=options.get("sql_verification"))
    return text


def write_format(result: ScanResult, fmt: str, fh: IO[str], **options: Any) -> None:
    """Write one format to an open text stream (a file or stdout), streaming where the
    format allows it (json, html, sarif, junit write incrementally)."""
    _check_options(options)
    if fmt not in FORMATS:
        raise UsageError(f"unknown report format {fmt!r} (choose from {', '.join(FORMATS)})")
    if fmt == "sql":
        fh.write(_sql_script(result, options))
        return
    mod = importlib.import_module(f"pgaudit_roles.reports.{_MODULES[fmt]}")
    mod.write(result, fh, **_options_for(fmt, options))


def render(result: ScanResult, fmt: str, **options: Any) -> str:
    """One format as a string (for stdout); prefer ``write_format`` for large results."""
    buf = io.StringIO()
    write_format(result, fmt, buf, **options)
    return buf.getvalue()


def report_paths(formats: Iterable[str], output_dir: str | os.PathLike[str],
                 basename: str = "pgaudit-report") -> dict[str, Path]:
    """Where ``write_reports`` puts each format (e.g. for the terminal summary)."""
    base = Path(output_dir)
    return {fmt: base / f"{basename}{EXTENSIONS[fmt]}" for fmt in formats}


def write_reports(result: ScanResult, formats: list[str], output_dir: str | os.PathLike[str], *,
                  basename: str = "pgaudit-report", **options: Any) -> dict[str, Path]:
    """Write each format to ``output_dir/basename.<ext>`` atomically; return format -> path.

    The directory is created if missing. The set is all or nothing: if one format cannot
    be written, none of this run's files replaces an existing one; no file is ever left
    half-written.
    """
    formats = parse_formats(formats)
    _check_options(options)
    if not basename or "/" in basename or basename in (".", ".."):
        raise UsageError(f"invalid report base name {basename!r}")
    paths = report_paths(formats, output_dir, basename)
    try:
        Path(output_dir).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create report directory {output_dir}: {exc.strerror or exc}") from None
    if "text" in paths and "report_paths" not in options:
        options = {**options, "report_paths": paths}
    # All or nothing: every format is written to its temporary file first (flushed, so a
    # full disk shows here), and the renames happen only when all of them are complete. A
    # failure (or SIGINT/SIGTERM) removes every temporary file and keeps the old reports.
    import contextlib

    current: object = None
    try:
        with contextlib.ExitStack() as stack:
            for fmt, path in paths.items():
                current = path
                fh = stack.enter_context(atomic_writer(path))
                write_format(result, fmt, fh, **options)
                fh.flush()
            current = output_dir
    except OSError as exc:
        raise UsageError(f"cannot write {current}: {exc.strerror or exc}") from None
    return paths
