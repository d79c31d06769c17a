"""``pgaudit-roles lint``: role and privilege mistakes in SQL migrations, at file and line.

stdout carries the compiler-style text (or GitHub annotations with ``--format github``);
json, sarif and junit are files in ``--output-dir``, or, with ``--output-dir -``, exactly
one of them on stdout with the text on stderr. Exit codes as for scan; a file that does not
parse is one ``file:line: ...`` line on stderr and exit 2.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from ..config import load_config
from ..core.errors import EXIT_FINDINGS, EXIT_OK, UsageError
from ..core.text import printable
from ..demo import choose_install
from ..lint.outputs import write_github, write_text
from ..lint.run import LintOptions
from ..lint.run import lint as run_lint
from ..lint.source import LintSyntaxError
from ..pipeline import load_rules_for
from ..reports import write_format, write_reports
from ._args import (
    baseline_option,
    config_option,
    fail_on_option,
    rules_dir_option,
    waivers_option,
)

LINT_FORMATS = ("text", "json", "sarif", "junit", "github")
FILE_FORMATS = ("json", "sarif", "junit")


@click.command("lint")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--snapshot",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Apply the migrations to the twin of this snapshot (production's roles "
    "and objects) instead of an empty cluster.",
)
@click.option(
    "--database",
    "-d",
    default="postgres",
    show_default=True,
    metavar="NAME",
    help="Database the migrations run in until a \\connect.",
)
@config_option
@rules_dir_option
@click.option(
    "--format",
    "formats",
    default="text",
    show_default=True,
    help="Comma-separated: text, json, sarif, junit, github.",
)
@click.option(
    "--output-dir",
    help="Directory for json/sarif/junit files (default from config); "
    "'-' writes the one machine format to stdout.",
)
@fail_on_option
@baseline_option
@waivers_option
@click.option(
    "--no-twin",
    is_flag=True,
    help="Statement checks only: no server, fast (the pre-commit hook's mode).",
)
@click.option(
    "--checkpoints",
    type=click.IntRange(1, 1000),
    default=12,
    show_default=True,
    metavar="N",
    help="Evaluate the twin at most N times after the migrations (files grouped "
    "evenly; one file per group when there are at most N): the cost of "
    "exact attribution.",
)
@click.option(
    "--pg-bin",
    type=click.Path(file_okay=False, path_type=Path),
    help="PostgreSQL bin directory for the empty twin (default: as the demo).",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress and no report file names on stderr.")
@click.option(
    "--verbose",
    "-v",
    is_flag=True,
    help="Print the file order, skipped meta-commands and pre-existing findings.",
)
def lint(
    paths: tuple[Path, ...],
    snapshot: Path | None,
    database: str,
    config_path: Path | None,
    rules_dirs: tuple[Path, ...],
    formats: str,
    output_dir: str | None,
    fail_on: str | None,
    baseline: Path | None,
    waivers: Path | None,
    no_twin: bool,
    checkpoints: int,
    pg_bin: Path | None,
    quiet: bool,
    verbose: bool,
) -> None:
    """Check SQL migration files (and directories of them) for role and privilege mistakes.

    Statement checks (PGR-LINT rules) read each statement with PostgreSQL's parser; unless
    --no-twin, the migrations are then applied one by one to a throwaway twin cluster and
    the whole rule catalogue runs on the result, each new finding at the statement that
    caused it. Directories are ordered as Flyway, golang-migrate, dbmate, sqitch or
    Liquibase would run them, else in natural sort order.
    """

    wanted = [f.strip().lower() for f in formats.split(",") if f.strip()]
    bad = [f for f in wanted if f not in LINT_FORMATS]
    if bad or not wanted:
        raise UsageError(
            f"unknown lint format {(bad or [''])[0]!r} (choose from {', '.join(LINT_FORMATS)})"
        )
    to_stdout = output_dir == "-"
    machine = [f for f in wanted if f != "text"]
    if to_stdout and len(machine) != 1:
        raise UsageError(
            "--output-dir - writes one machine format to stdout: give exactly one "
            "of json, sarif, junit, github in --format"
        )
    cfg = load_config(
        config_path,
        overrides={
            "fail_on": fail_on,
            "rules_dirs": [str(d) for d in rules_dirs] or None,
            "waivers": str(waivers) if waivers else None,
            "baseline": str(baseline) if baseline else None,
            "output_dir": output_dir if output_dir not in (None, "-") else None,
        },
    )
    rules = load_rules_for(cfg)
    install = None
    if pg_bin is not None and not no_twin:
        install = choose_install(pg_bin)

    def progress(msg: str) -> None:
        if verbose and not quiet:
            click.echo(f"pgaudit-roles: {msg}", err=True)

    try:
        result = run_lint(
            LintOptions(
                paths=list(paths),
                database=database,
                twin=not no_twin,
                snapshot=snapshot,
                install=install,
                checkpoints=checkpoints,
                progress=progress,
            ),
            rules,
            cfg,
        )
    except LintSyntaxError as exc:
        click.echo(_shown(" ".join(str(exc).split())), err=True)
        sys.exit(exc.exit_code)

    if verbose and not quiet:
        _echo_order(result.meta.get("lint") or {})
    text_out = sys.stderr if to_stdout else sys.stdout
    if to_stdout:
        _write_one(result, machine[0], sys.stdout)
    else:
        if "github" in machine:
            write_github(result, sys.stdout)
        files = [f for f in machine if f in FILE_FORMATS]
        if files:
            paths_out = write_reports(
                result,
                files,
                cfg.output_dir,
                basename="pgaudit-lint",
                sarif_anchor="pgaudit-roles.toml",
            )
            if not quiet:
                for fmt, p in paths_out.items():
                    click.echo(f"pgaudit-roles: wrote {fmt} report {p}", err=True)
    if "text" in wanted:
        write_text(result, text_out, verbose=verbose)
    sys.exit(EXIT_FINDINGS if result.gating_findings() else EXIT_OK)


def _write_one(result: Any, fmt: str, fh: Any) -> None:
    if fmt == "github":
        write_github(result, fh)
        return

    write_format(result, fmt, fh)


def _shown(text: str) -> str:
    """A note or error on one visible line: control and bidi characters of file names
    escaped; psql's backslash commands (``\\restrict``) keep their one backslash."""
    return printable(text).replace("\\\\", "\\")


def _echo_order(lint_meta: dict[str, Any]) -> None:
    for entry in lint_meta.get("layouts") or []:
        click.echo(
            f"pgaudit-roles: {printable(entry['directory'])}: {entry['layout']} order", err=True
        )
    for i, f in enumerate(lint_meta.get("order") or [], 1):
        click.echo(f"pgaudit-roles: {i:4d} {printable(f)}", err=True)
    for note in lint_meta.get("notes") or []:
        click.echo(f"pgaudit-roles: note: {_shown(note)}", err=True)
