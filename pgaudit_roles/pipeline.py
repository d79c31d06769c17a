"""The one pipeline the three users run: collect -> evaluate -> waivers/baseline -> reports.

``check`` (offline, from a snapshot file), ``scan`` (live), ``demo`` and ``baseline create``
all go through :func:`evaluate_snapshot`, so a finding is waived, baselined and gated the
same way whatever command produced it.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .collect.collector import DEFAULT_JOBS, collect
from .collect.connect import ConnectSettings
from .collect.snapshot import save
from .config import Config
from .core.errors import UsageError
from .evaluate import baseline as baseline_mod
from .evaluate import waivers as waivers_mod
from .evaluate.engine import evaluate
from .evaluate.rules import load_rules, resolve_ids
from .reports import write_reports

if TYPE_CHECKING:
    from .collect.snapshot import Snapshot
    from .core.model import Rule, ScanResult

Progress = Callable[[str], None]


def connect_settings(cfg: Config) -> Any:
    """The collector's session settings from the ``[collect]`` configuration table."""
    known = {
        k: v
        for k, v in cfg.collect.items()
        if k
        in (
            "statement_timeout",
            "lock_timeout",
            "idle_in_transaction_session_timeout",
            "connect_timeout",
        )
    }
    return ConnectSettings(**known)


def collect_snapshot(conninfo: str, cfg: Config, progress: Progress | None = None) -> Snapshot:
    databases = cfg.collect.get("databases") or None

    return collect(
        conninfo,
        databases=databases,
        jobs=int(cfg.collect.get("jobs", DEFAULT_JOBS)),
        all_databases=cfg.collect.get("all_databases", databases is None),
        hba_file=_str_or_none(cfg.collect.get("hba_file")),
        settings=connect_settings(cfg),
        progress=progress,
    )


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def evaluate_snapshot(
    snap: Snapshot, rules: Sequence[Rule], cfg: Config, *, inventory: bool = True
) -> ScanResult:
    """Evaluate, then mark waived findings and compare with the baseline named by ``cfg``.

    ``inventory=False`` for a caller that reads only the findings (the twin's re-evaluation,
    a diff of two snapshots, a baseline): the audit schema then holds only what the rules
    read (``engine.evaluate``).

    The waivers and baseline files are read before the evaluation: a damaged one is the
    same one-line exit 2 either way, and reporting it first costs no evaluation."""

    loaded = waivers_mod.load(cfg.waivers) if cfg.waivers is not None else None
    base = baseline_mod.load(cfg.baseline) if cfg.baseline is not None else None
    result = evaluate(snap, rules, cfg, inventory=inventory)
    if loaded is not None:
        waivers_mod.apply(result.findings, loaded, resolve_ids(rules))
        result.meta["waivers_file"] = str(cfg.waivers)
        result.meta["waiver_problems"] = waivers_mod.lint(
            loaded, resolve_ids(rules), checked_findings=True
        )
    if base is not None:
        result.resolved = baseline_mod.apply(result.findings, base)
        result.meta["baseline_file"] = str(cfg.baseline)
    return result


def load_rules_for(cfg: Config) -> list[Rule]:
    rules = load_rules(cfg.rules_dirs)
    cfg.resolve_rules(rules)
    return rules


def run_scan(
    conninfo: str,
    *,
    output_dir: Path | None = None,
    formats: Sequence[str] | None = None,
    config: Config | None = None,
    rules: Sequence[Rule] | None = None,
    snapshot_out: Path | None = None,
    progress: Progress | None = None,
    report_options: dict[str, Any] | None = None,
) -> tuple[ScanResult, dict[str, Path]]:
    """Collect ``conninfo``, evaluate, and write the report files; return both.

    ``formats``/``output_dir`` default to the configuration's. ``text`` is written as a
    file with the others (see ``write_files``); the caller prints the summary where it
    belongs (stdout or stderr).
    """

    cfg = config or Config()
    rules = list(rules) if rules is not None else load_rules_for(cfg)
    snap = collect_snapshot(conninfo, cfg, progress)
    if snapshot_out is not None:
        save(snap, snapshot_out)
    if progress:
        progress(f"evaluating {len(rules)} rules")
    result = evaluate_snapshot(snap, rules, cfg)
    paths = write_files(
        result,
        formats if formats is not None else cfg.formats,
        output_dir or cfg.output_dir,
        report_options or {},
    )
    return result, paths


def file_formats(formats: Sequence[str], *, text_file: bool = False) -> list[str]:
    """The formats written as files: ``text`` (the terminal summary) becomes a file too when
    other files are written or ``text_file`` (an output directory was asked for); a plain
    ``scan`` with the default ``text`` only prints, and creates no directory."""
    wanted = [f for f in formats if f != "text"]
    if "text" in formats and (wanted or text_file):
        wanted.append("text")
    return wanted


def refuse_output_dir_that_is_a_file(
    formats: Sequence[str], output_dir: Path, *, text_file: bool = False
) -> None:
    """Exit 2 before any work when the reports' directory is an existing non-directory,
    with the line :func:`write_files` would give after the whole collection and
    evaluation (a scan of a large cluster takes minutes to learn it cannot write)."""
    if file_formats(formats, text_file=text_file) and os.path.exists(output_dir):
        if not os.path.isdir(output_dir):
            raise UsageError(
                f"cannot create report directory {output_dir}: {os.strerror(errno.EEXIST)}"
            )


def write_files(
    result: ScanResult,
    formats: Sequence[str],
    output_dir: Path,
    options: dict[str, Any],
    *,
    text_file: bool = False,
) -> dict[str, Path]:
    """Write the report files (those of :func:`file_formats`)."""
    wanted = file_formats(formats, text_file=text_file)
    if not wanted:
        return {}
    return write_reports(result, wanted, output_dir, **options)
