"""The one pipeline the three users run: collect -> evaluate -> waivers/baseline -> reports.

``check`` (offline, from a snapshot file), ``scan`` (live), ``demo`` and ``baseline create``
all go through :func:`evaluate_snapshot`, so a finding is waived, baselined and gated the
same way whatever command produced it.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .collect import forked
from .collect.collector import DEFAULT_JOBS, collect
from .collect.connect import ConnectSettings
from .collect.snapshot import save
from .config import Config
from .core import gcpolicy, signals
from .core.errors import UsageError

# The evaluation's modules (the audit schema, the engine, the rules, the reporters: with
# DuckDB's, about 40 ms of imports) are imported where they are used, not here: a live
# scan imports this module, reads its configuration and forks the collection
# (:func:`start_collection`) first, so the child starts connecting while this process
# imports them (tests/test_pipeline_imports.py).

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


def collect_snapshot(
    conninfo: str,
    cfg: Config,
    progress: Progress | None = None,
    *,
    meanwhile: Callable[[], None] | None = None,
) -> Snapshot:
    """Collect ``conninfo`` as ``cfg``'s ``[collect]`` table says. ``meanwhile``: work
    this process does while a forked child collects (``collect.forked``), or after the
    collection where it cannot fork."""
    if meanwhile is None:
        return _collector(conninfo, cfg, progress)()
    with start_collection(conninfo, cfg, progress) as pending:
        snap: Snapshot = pending.finish(meanwhile)
    return snap


def start_collection(
    conninfo: str,
    cfg: Config,
    progress: Progress | None = None,
    *,
    also: Callable[[], Any] | None = None,
) -> forked.Pending:
    """The collection of ``conninfo``, started now in a forked child where it may fork
    (``collect.forked``): the caller loads its rules and prepares the evaluation while
    the child connects, then takes the snapshot with ``finish(meanwhile)``. Use it as a
    context manager: an error before ``finish`` ends the child. ``also``: see
    ``forked.start``."""
    return forked.start(_collector(conninfo, cfg, progress), also=also)


def _collector(conninfo: str, cfg: Config, progress: Progress | None) -> Callable[..., Snapshot]:
    databases = cfg.collect.get("databases") or None

    def run(spool: Any = None) -> Snapshot:
        return collect(
            conninfo,
            databases=databases,
            jobs=int(cfg.collect.get("jobs", DEFAULT_JOBS)),
            all_databases=cfg.collect.get("all_databases", databases is None),
            hba_file=_str_or_none(cfg.collect.get("hba_file")),
            settings=connect_settings(cfg),
            progress=progress,
            spool=spool,
        )

    return run


class EvaluationStart:
    """The start-up of a live scan's evaluation, done while the collection runs
    (``collect_snapshot(meanwhile=...)``): DuckDB imported and the audit schema's empty
    connection opened (``audit_schema.new_connection``), the rule queries parsed
    (``rule_queries.parsed``), the reporters of the formats imported, the templates the
    rule phase renders loaded (``template_preload``). The evaluation then
    builds in that connection (``engine.evaluate(con=)``); nothing it computes changes. A failure here is left for the evaluation to meet again
    where it always did."""

    EVALUATION_MODULES = (
        "jinja2.sandbox",  # remediation templates
        "pglast",  # each remediation statement is checked by PostgreSQL's parser
        "pglast.keywords",  # pg_quote_ident's keyword list, in the audit schema
        "pgaudit_roles.evaluate.remediation",
        "pgaudit_roles.evaluate.template_cache",
        "platformdirs",  # where compiled templates are kept
    )
    """What an evaluation with findings imports on the way (checked by
    ``tests/test_report_modules.py``)."""

    def __init__(self, formats: Sequence[str], rules: Sequence[Rule] = ()) -> None:
        from .reports.registry import modules as report_modules

        self.modules = [*self.EVALUATION_MODULES, *report_modules(file_formats(formats))]
        self.queries = [r.query for r in rules if r.on_snapshot]
        self.con: Any = None

    def __call__(self) -> None:
        import importlib

        with contextlib.suppress(Exception):
            from .audit import audit_schema
            from .evaluate import rule_queries

            self.con = audit_schema.new_connection()
            for query in self.queries:  # parsed once per process (rule_queries.parsed)
                rule_queries.parsed(self.con, query)
            rule_queries.list_local_settings(self.con)
        for name in self.modules:
            with contextlib.suppress(Exception), signals.held():  # see signals.held
                importlib.import_module(name)
        if self.queries:  # the templates the rule phase renders, and PostgreSQL's parser
            with contextlib.suppress(Exception):
                from .evaluate import template_preload

                template_preload.preload()
        # a signal DuckDB turned into its own error, which the suppressions above ignored
        signals.raise_received()

    def take(self) -> Any:
        """The connection, once (the evaluation owns and closes it)."""
        con, self.con = self.con, None
        return con

    def close(self) -> None:
        con, self.con = self.con, None
        if con is not None:
            con.close()


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def evaluate_snapshot(
    snap: Snapshot,
    rules: Sequence[Rule],
    cfg: Config,
    *,
    inventory: bool = True,
    con: Any = None,
    keep_open: bool = False,
) -> ScanResult:
    """Evaluate, then mark waived findings and compare with the baseline named by ``cfg``.

    ``inventory=False`` for a caller that reads only the findings (the twin's re-evaluation,
    a diff of two snapshots, a baseline): the audit schema then holds only what the rules
    read (``engine.evaluate``). ``con``: an :class:`EvaluationStart`'s connection, closed
    by the evaluation unless ``keep_open`` (then by the caller, ``EvaluationStart.close``:
    a live scan does it while the reports' child renders, :func:`write_files`).

    The waivers and baseline files are read before the evaluation: a damaged one is the
    same one-line exit 2 either way, and reporting it first costs no evaluation."""

    from .evaluate import baseline as baseline_mod
    from .evaluate import engine
    from .evaluate import waivers as waivers_mod
    from .evaluate.rules import resolve_ids

    loaded = waivers_mod.load(cfg.waivers) if cfg.waivers is not None else None
    base = baseline_mod.load(cfg.baseline) if cfg.baseline is not None else None
    result = engine.evaluate(snap, rules, cfg, inventory=inventory, con=con, keep_open=keep_open)
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
    from .evaluate.rules import load_rules

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

    It runs under the garbage collector's settings of one command, as the CLI's commands
    do (``core.gcpolicy``: restored on return): ~20 ms less CPU on the bench's small
    preset, and the reports' forked child is not slowed by full collections.
    """

    with gcpolicy.for_one_command():
        return _run_scan(
            conninfo,
            output_dir=output_dir,
            formats=formats,
            config=config,
            rules=rules,
            snapshot_out=snapshot_out,
            progress=progress,
            report_options=report_options,
        )


def _run_scan(
    conninfo: str,
    *,
    output_dir: Path | None,
    formats: Sequence[str] | None,
    config: Config | None,
    rules: Sequence[Rule] | None,
    snapshot_out: Path | None,
    progress: Progress | None,
    report_options: dict[str, Any] | None,
) -> tuple[ScanResult, dict[str, Path]]:
    cfg = config or Config()
    formats = formats if formats is not None else cfg.formats
    # collecting (in a child, where it may fork) while the rules load
    with start_collection(conninfo, cfg, progress) as pending:
        rules = list(rules) if rules is not None else load_rules_for(cfg)
        start = EvaluationStart(formats, rules)
        try:
            snap = pending.finish(start)
            if snapshot_out is not None:
                save(snap, snapshot_out)
            if progress:
                progress(f"evaluating {len(rules)} rules")
            result = evaluate_snapshot(snap, rules, cfg, con=start.con, keep_open=True)
            # DuckDB's connection is closed while the reports' child renders
            paths = write_files(
                result,
                formats,
                output_dir or cfg.output_dir,
                report_options or {},
                meanwhile=start.close,
            )
        finally:
            start.close()
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
    meanwhile: Callable[[], None] | None = None,
) -> dict[str, Path]:
    """Write the report files (those of :func:`file_formats`); ``meanwhile`` as
    ``reports.write_reports`` runs it (not at all when no file is written)."""
    wanted = file_formats(formats, text_file=text_file)
    if not wanted:
        return {}
    from .reports import write_reports

    return write_reports(result, wanted, output_dir, meanwhile=meanwhile, **options)
