"""Options and the command body shared by ``scan`` and ``check``.

One body means a snapshot checked offline gives the same findings, files and exit code as
the live scan that produced it: configuration, waivers, baseline, reports and gate are
applied in exactly one place.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from ..config import load_config
from ..core.errors import EXIT_FINDINGS, EXIT_OK, ConfigError, UsageError
from ..pipeline import (
    EvaluationStart,
    evaluate_snapshot,
    load_rules_for,
    refuse_output_dir_that_is_a_file,
    write_files,
)
from ..reports import parse_formats, write_format
from ..reports.common import printable, scrub
from ..reports.registry import MACHINE_FORMATS, format_help
from ._args import FAIL_ON as FAIL_ON  # re-exported: commands import it from here
from ._args import (
    baseline_option,
    config_option,
    fail_on_option,
    history_keep_option,
    rules_dir_option,
    sarif_anchor_option,
    sarif_omit_waived_option,
    verbose_option,
    waivers_option,
)

AUTO_VERIFY_MAX_OBJECTS = 5000
"""Above this many objects the SQL script is verified only with --verify (bench/RESULTS.md:
a twin of 2,000 tables builds in about 3 s since the build sends its statements in batches,
14 s before; of 20,000 in nearly 4 minutes before)."""

FORMAT_HELP = format_help()


def report_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """Options shared by ``scan`` and ``check`` that shape evaluation and reports."""
    options = [
        config_option,
        rules_dir_option,
        click.option("--framework", help="Scope report and gate to a framework (golive, cis)."),
        click.option("--format", "formats", help=FORMAT_HELP),
        click.option(
            "--output-dir",
            help="Directory for report files (created if missing); "
            "'-' writes the one machine format to stdout.",
        ),
        fail_on_option,
        baseline_option,
        waivers_option,
        click.option(
            "--remediation-level",
            type=click.Choice(["safe", "all"]),
            default="safe",
            show_default=True,
            help="Whether the SQL script includes destructive statements.",
        ),
        click.option(
            "--verify/--no-verify",
            "verify",
            default=None,
            help="Prove the SQL script on a throwaway twin of the snapshot (apply, "
            "re-scan, fold in follow-up fixes). Default: on for snapshots of up "
            "to 5,000 objects; --no-verify marks the script unverified.",
        ),
        sarif_anchor_option,
        sarif_omit_waived_option,
        click.option(
            "--history",
            "history_dir",
            type=click.Path(file_okay=False, path_type=Path),
            help="Append this run (summary and findings, as Parquet) to the history "
            "store DIR for `pgaudit-roles history` (config: history.dir).",
        ),
        history_keep_option,
        click.option(
            "--target-name",
            metavar="NAME",
            help="Name of the target in the history and Prometheus metrics (default: "
            "the cluster's host:port; config: target_name).",
        ),
        click.option(
            "--show-config",
            is_flag=True,
            help="Print every effective setting and where it came from, then exit.",
        ),
        click.option(
            "--quiet",
            "-q",
            is_flag=True,
            help="No progress; of the summary only the gate line (PASS/FAIL and why), "
            "and nothing when text is not among the formats.",
        ),
        verbose_option,
    ]
    for opt in reversed(options):
        f = opt(f)
    return f


class Offline:
    """A snapshot for ``run`` that needs no collection: ``finish`` reads it (the
    evaluation's start-up then happens in the evaluation itself)."""

    def __init__(self, read: Callable[[], Any]) -> None:
        self.read = read

    def __enter__(self) -> Offline:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def finish(self, _meanwhile: Callable[[], None]) -> Any:
        return self.read()


def _rules(cfg: Any) -> Any:
    """The rules ``cfg`` names, its framework checked against them (exit 2 if unknown)."""
    from ..evaluate.frameworks import load_framework

    rules = load_rules_for(cfg)
    if cfg.framework:
        load_framework(cfg.framework, rules)
    return rules


def _missing_baseline(cfg: Any, opts: dict[str, Any], source: str | None) -> None:
    """One line naming the missing file and the exact command that creates it."""
    import shlex

    from ..evaluate.baseline import create_command

    src = shlex.quote(scrub(source)) if source is not None else "SNAPSHOT_OR_DSN"
    given = opts.get("baseline") or cfg.baseline  # as the user wrote it, when on the command line
    cmd = create_command(given, src)
    for flag, key in (("--config", "config_path"), ("--waivers", "waivers")):
        if opts.get(key):
            cmd += f" {flag} {shlex.quote(str(opts[key]))}"
    for d in opts.get("rules_dirs") or ():
        cmd += f" --rules-dir {shlex.quote(str(d))}"
    raise ConfigError(
        f"baseline file not found: {given}; to accept today's findings first, run: {cmd}"
    )


def _verification(
    snap: Any,
    rules: Any,
    cfg: Any,
    result: Any,
    opts: dict[str, Any],
    progress: Callable[[str], None],
) -> Any:
    """The twin's proof of the SQL script (pgaudit_roles.twin.verify), or why there is none."""
    from ..twin.verify import unverified, verify_remediation

    level = opts["remediation_level"]
    if opts.get("verify") is False:
        return unverified(level, "--no-verify was given")
    if not any(f.remediation and f.suppressed is None for f in result.findings):
        return unverified(level, "no finding has an SQL fix")
    if opts.get("verify") is None:
        objects = sum(len(d.table("objects")) for d in snap.databases if d.status == "collected")
        if objects > AUTO_VERIFY_MAX_OBJECTS:
            return unverified(
                level,
                f"{objects:,} objects: above the {AUTO_VERIFY_MAX_OBJECTS:,} "
                "that are verified by default (a twin build takes about "
                "2 s per 1,000 objects); pass --verify to verify anyway",
            )
    return verify_remediation(snap, rules, cfg, result, level, progress=progress)


def target_name(cfg: Any, meta: dict[str, Any], label: str) -> str:
    """The name a run is recorded and labelled under: ``--target-name``/``target_name``,
    else the cluster's ``host:port`` from the snapshot, else ``label``."""
    from ..reports.prometheus_report import default_target

    return str(cfg.target_name or scrub(default_target(meta) or label))


def _record_history(result: Any, cfg: Any, seconds: float, began: dt.datetime) -> None:
    """Append this run to the history store (after the reports: a report is never held
    back by the store, and a store that cannot be written is exit 2, as a report is).

    A snapshot collected by this run (``scan``) is recorded at the run's start, to the
    microsecond: ``collected_at`` has whole seconds, and two scans within one second would
    tie and be listed in either order. A snapshot read from a file (``check``) keeps the
    time it was collected."""
    from ..history import record, run_from_result

    collected = str(result.meta.get("collected_at") or "")
    try:
        fresh = dt.datetime.fromisoformat(collected) >= began.replace(microsecond=0)
    except (TypeError, ValueError):  # unparsable, or a naive time from an old snapshot
        fresh = False
    run_ = run_from_result(
        result,
        target=result.meta["target_name"],
        duration_seconds=round(seconds, 3),
        started_at=began if fresh else None,
    )
    record(run_, cfg.history["dir"], cfg.history.get("keep"))


def run(
    opts: dict[str, Any],
    extra_overrides: dict[str, Any],
    get_snapshot: Callable[[Any, Callable[[str], None]], Any],
    *,
    label: str | None,
    source: str | None = None,
) -> None:
    """Shared body of ``scan`` and ``check``: config, rules, evaluate, report, exit code.

    ``label`` names the target in the reports; None: the snapshot source's ``label``,
    known once it is read (a scan's DSN is described by the process that collects).
    ``source`` is what ``baseline create`` would read to make the same findings (the DSN
    without its password, or the snapshot path): a missing baseline file names the exact
    command that creates it, before anything is collected.
    """
    import time

    if opts["verbose"]:
        import logging  # only -v logs: ~2 ms of import a check does not otherwise need

        logging.basicConfig(
            level=logging.DEBUG, stream=sys.stderr, format="pgaudit-roles: %(name)s: %(message)s"
        )
    started = time.monotonic()
    began = dt.datetime.now(dt.UTC)
    formats = parse_formats(opts["formats"]) if opts["formats"] else None
    cfg = load_config(
        opts["config_path"],
        overrides={
            "fail_on": opts["fail_on"],
            "framework": opts["framework"],
            "rules_dirs": [str(d) for d in opts["rules_dirs"]] or None,
            "waivers": str(opts["waivers"]) if opts["waivers"] else None,
            "baseline": str(opts["baseline"]) if opts["baseline"] else None,
            "formats": formats,
            "output_dir": opts["output_dir"] if opts["output_dir"] not in (None, "-") else None,
            "history.dir": str(opts["history_dir"]) if opts.get("history_dir") else None,
            "history.keep": opts.get("history_keep"),
            "target_name": opts.get("target_name"),
            **extra_overrides,
        },
    )
    quiet = opts["quiet"]
    show_progress = not quiet and sys.stderr.isatty()

    def progress(msg: str) -> None:
        if show_progress:
            click.echo(f"pgaudit-roles: {printable(msg)}", err=True)

    if opts["show_config"]:
        _rules(cfg)  # the configuration shown is the one resolved against the rules
        click.echo(cfg.show())
        return
    if cfg.baseline is not None and not Path(cfg.baseline).exists():
        _missing_baseline(cfg, opts, source)
    to_stdout = opts["output_dir"] == "-"
    machine = [f for f in cfg.formats if f != "text"]
    if to_stdout and len(machine) != 1:
        raise UsageError(
            "--output-dir - writes one machine format to stdout: give exactly one "
            f"of {', '.join(MACHINE_FORMATS)} in --format"
        )
    if not to_stdout:
        refuse_output_dir_that_is_a_file(
            cfg.formats, cfg.output_dir, text_file="output_dir" in cfg.sources
        )

    # A live scan starts collecting here (in a forked child, collect.forked) and runs the
    # evaluation's start-up meanwhile; the rules load while the child connects.
    # DuckDB's connection (the start's) stays open until the reports' child renders, and
    # is closed then, while that child works (write_files(meanwhile=)), or on any error.
    start: EvaluationStart | None = None
    try:
        with get_snapshot(cfg, progress) as pending:
            rules = _rules(cfg)
            start = EvaluationStart(cfg.formats, rules)
            snap = pending.finish(start)
            progress(f"evaluating {len(rules)} rules")
            result = evaluate_snapshot(snap, rules, cfg, con=start.con, keep_open=True)
        if label is None:  # named by the snapshot's source, once it is read (scan._Collection)
            label = str(pending.label)
        result.meta["target_label"] = label
        result.meta["target_name"] = target_name(cfg, result.meta, label)
        result.meta["run_seconds"] = round(time.monotonic() - started, 3)
        options = {
            "sql_level": opts["remediation_level"],
            "sarif_anchor": opts["sarif_anchor"],
            "sarif_include_suppressed": not opts["sarif_omit_waived"],
        }
        wants_sql = machine[:1] == ["sql"] if to_stdout else "sql" in cfg.formats
        if wants_sql:
            if opts.get("verify") is not False:
                start.close()  # a twin may be evaluated: one audit schema in memory at a time
            options["sql_verification"] = _verification(snap, rules, cfg, result, opts, progress)
        if to_stdout:
            start.close()
            write_format(result, machine[0], sys.stdout, **options)
            paths: dict[str, Path] = {}
        else:
            paths = write_files(
                result,
                cfg.formats,
                cfg.output_dir,
                options,
                text_file="output_dir" in cfg.sources,
                meanwhile=start.close,
            )
    finally:
        if start is not None:
            start.close()
    from ..reports.text_report import echo_summary

    summary_to = sys.stderr if to_stdout else sys.stdout
    if not quiet:
        echo_summary(result, paths, file=summary_to)
    elif "text" in cfg.formats:  # -q: the gate line only, so a quiet run still says why
        echo_summary(result, paths, file=summary_to, quiet=True)
    if cfg.history.get("dir") is not None:
        _record_history(result, cfg, time.monotonic() - started, began)
    sys.exit(EXIT_FINDINGS if result.gating_findings() else EXIT_OK)
