"""Reporters: one ScanResult in, JSON / HTML / JUnit / SARIF / SQL / text out.

The formats, their extensions and options are declared once, in ``registry.REPORTERS``.

Every reporter reads only ``pgaudit_roles.core.model``; none touches a database. Files are
written atomically (a temporary file renamed into place), so an error never leaves half a
report where CI would pick it up. Reporter modules are imported on first use so the CLI
stays fast.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import stat
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, Any

from ..core.atomic import atomic_writer
from ..core.errors import UsageError
from ..core.model import ScanResult
from . import forked_render
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
    meanwhile: Callable[[], None] | None = None,
    **options: Any,
) -> dict[str, Path]:
    """Write each format to ``output_dir/basename.<ext>`` atomically; return format -> path
    (a reporter's extra files as ``format:suffix`` -> path).

    The directory is created if missing. The set is all or nothing: if one format cannot
    be written, none of this run's files replaces an existing one; no file is ever left
    half-written.

    ``meanwhile``: called once, right after the forked children start (before the first
    format rendered here, when none is forked); what it raises is raised here, the
    children stopped and no file replaced. A live scan closes its DuckDB connection there
    (``pipeline.run_scan``): its ~10 ms overlap the HTML page's rendering.
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
    current: object = None
    try:
        with contextlib.ExitStack() as stack:
            syncs: list[_BackgroundSync] = []
            children: dict[Path, forked_render.Child] = {}
            findings = len(result.findings)
            try:
                # the costliest formats first, in child processes when a core is idle
                # (all forked before the first fsync thread starts: see may_fork)
                for key, path, render_fn in jobs:
                    if forked_render.possible(key, len(jobs) - len(children), findings):
                        current = path
                        fh = stack.enter_context(atomic_writer(path, sync=False))
                        render = functools.partial(render_fn, ctx)
                        children[path] = forked_render.Child(render, fh)
                if meanwhile is not None:
                    meanwhile()
                for _key, path, render_fn in jobs:
                    if path in children:
                        continue
                    current = path
                    fh = stack.enter_context(atomic_writer(path, sync=False))
                    render_fn(ctx, fh)
                    fh.flush()
                    syncs.append(_BackgroundSync(fh))
                while children:
                    current = next(iter(children))
                    done = children.pop(current)
                    done.finish()  # synced by the child, or rendered and synced here
            except BaseException:
                for child in children.values():
                    child.stop()
                raise
            finally:  # before any file is closed or renamed
                for sync in syncs:
                    sync.wait()
            current = output_dir
            for sync in syncs:
                sync.check()  # every file is on disk before the first rename
    except OSError as exc:
        raise UsageError(f"cannot write {current}: {exc.strerror or exc}") from None
    return paths


class _BackgroundSync:
    """The fsync of one flushed report file, on a thread while the next format renders.

    Why: the files are renamed into place only once all are rendered, each after its
    data is on disk (atomic_writer would fsync it just before its rename); five fsyncs in
    a row cost 20-60 ms of a scan's wall time on a loaded virtual disk. Started as soon as
    a file is complete, they overlap the rendering (fsync waits without the GIL), and
    write_reports raises the first failure before any rename, as atomic_writer would
    have. A target that is not a regular file (/dev/stdout) is written through and never
    synced, as atomic_writer does."""

    def __init__(self, fh: IO[str]) -> None:
        self._fd = fh.fileno()
        self._error: OSError | None = None
        self._thread: threading.Thread | None = None
        if stat.S_ISREG(os.fstat(self._fd).st_mode):
            self._thread = threading.Thread(target=self._run, name="report-fsync", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        try:
            os.fsync(self._fd)
        except OSError as exc:
            self._error = exc

    def wait(self) -> None:
        if self._thread is not None:
            self._thread.join()

    def check(self) -> None:
        if self._error is not None:
            raise self._error
