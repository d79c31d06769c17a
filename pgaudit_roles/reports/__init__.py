"""Reporters: one ScanResult in, JSON / HTML / JUnit / SARIF / SQL / text out.

The formats, their extensions and options are declared once, in ``registry.REPORTERS``.

Every reporter reads only ``pgaudit_roles.core.model``; none touches a database. Files are
written atomically (a temporary file renamed into place), so an error never leaves half a
report where CI would pick it up. Reporter modules are imported on first use so the CLI
stays fast.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

from ..core.atomic import atomic_writer
from ..core.errors import UsageError
from ..core.model import ScanResult
from .registry import (
    EXTENSIONS,
    FORMATS,
    MACHINE_FORMATS,
    OPTION_NAMES,
    REPORTERS,
    RenderFn,
    ReportContext,
    Reporter,
    ReportOptions,
    inventory_needs,
    parse_formats,
    reporter,
)

__all__ = [
    "EXTENSIONS",
    "FORMATS",
    "MACHINE_FORMATS",
    "OPTION_NAMES",
    "REPORTERS",
    "ReportContext",
    "ReportOptions",
    "Reporter",
    "inventory_needs",
    "parse_formats",
    "render",
    "report_paths",
    "reporter",
    "write_format",
    "write_reports",
]


def write_format(result: ScanResult, fmt: str, fh: IO[str], **options: Any) -> None:
    """Write one format to an open text stream (a file or stdout), streaming where the
    format allows it (json, html, sarif, junit write incrementally)."""
    opts = ReportOptions.from_kwargs(**options)
    reporter(fmt).render(ReportContext(result, opts), fh)


def render(result: ScanResult, fmt: str, **options: Any) -> str:
    """One format as a string (for stdout); prefer ``write_format`` for large results."""
    buf = io.StringIO()
    write_format(result, fmt, buf, **options)
    return buf.getvalue()


def report_paths(
    formats: Iterable[str], output_dir: str | os.PathLike[str], basename: str = "pgaudit-report"
) -> dict[str, Path]:
    """Where ``write_reports`` puts each format (e.g. for the terminal summary)."""
    base = Path(output_dir)
    return {fmt: base / f"{basename}{reporter(fmt).extension}" for fmt in formats}


def write_reports(
    result: ScanResult,
    formats: list[str],
    output_dir: str | os.PathLike[str],
    *,
    basename: str = "pgaudit-report",
    **options: Any,
) -> dict[str, Path]:
    """Write each format to ``output_dir/basename.<ext>`` atomically; return format -> path
    (a reporter's extra files as ``format:suffix`` -> path).

    The directory is created if missing. The set is all or nothing: if one format cannot
    be written, none of this run's files replaces an existing one; no file is ever left
    half-written.
    """
    formats = parse_formats(formats)
    ReportOptions.from_kwargs(**options)  # a bad option fails before any file is opened
    if not basename or "/" in basename or basename in (".", ".."):
        raise UsageError(f"invalid report base name {basename!r}")
    base = Path(output_dir)
    jobs: list[tuple[str, Path, RenderFn]] = []
    for fmt in formats:
        rep = reporter(fmt)
        jobs.append((fmt, base / f"{basename}{rep.extension}", rep.render))
        if rep.extra_files is not None:
            probe = ReportContext(result, ReportOptions.from_kwargs(**options))
            jobs += [
                (f"{fmt}:{suffix.strip('.')}", base / f"{basename}{suffix}", fn)
                for suffix, fn in rep.extra_files(probe)
            ]
    paths = {key: path for key, path, _ in jobs}
    try:
        Path(output_dir).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(
            f"cannot create report directory {output_dir}: {exc.strerror or exc}"
        ) from None
    if options.get("report_paths") is None:
        options = {**options, "report_paths": paths}
    ctx = ReportContext(result, ReportOptions.from_kwargs(**options))
    # All or nothing: every format is written to its temporary file first (flushed, so a
    # full disk shows here), and the renames happen only when all of them are complete. A
    # failure (or SIGINT/SIGTERM) removes every temporary file and keeps the old reports.
    import contextlib

    current: object = None
    try:
        with contextlib.ExitStack() as stack:
            for _key, path, render_fn in jobs:
                current = path
                fh = stack.enter_context(atomic_writer(path))
                render_fn(ctx, fh)
                fh.flush()
            current = output_dir
    except OSError as exc:
        raise UsageError(f"cannot write {current}: {exc.strerror or exc}") from None
    return paths
