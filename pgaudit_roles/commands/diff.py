"""``pgaudit-roles diff OLD NEW``: what changed between two scans."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..config import load_config
from ..core.errors import UsageError
from ..diffing import compare_files, parse_formats, write, write_files
from ..evaluate.drift import KINDS
from ._args import FAIL_ON, output_file_option, rules_dir_option


@click.command("diff")
@click.argument("old")
@click.argument("new")
@click.option(
    "--format",
    "fmt",
    default="text",
    show_default=True,
    metavar="FORMATS",
    help="Comma-separated: text, json, html. Several at once need --output-dir "
    "(one comparison for all of them).",
)
@output_file_option
@click.option(
    "--output-dir",
    type=click.Path(file_okay=False, path_type=Path),
    metavar="DIR",
    help="Write each format to DIR/pgaudit-diff.txt, .json, .html (created if missing) "
    "instead of stdout.",
)
@click.option(
    "--fail-on",
    type=click.Choice(FAIL_ON),
    default=None,
    help="Exit 1 when a new finding at or above this severity appeared "
    "(default from config, else high).",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Configuration (naming policy, rules) used to evaluate snapshots.",
)
@rules_dir_option
@click.option(
    "--framework",
    help="Compare only the findings of a framework's rules (golive, "
    "cis) and the coverage rules, as scan --framework reports them.",
)
@click.option(
    "--baseline",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Baseline of accepted findings (snapshots only): a finding it accepts "
    "never gates, also when new to this diff.",
)
@click.option(
    "--waivers",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Waived new findings do not make the diff fail.",
)
@click.option(
    "--database",
    "-d",
    "databases",
    multiple=True,
    metavar="NAME",
    help="Compare only this database (repeatable): its findings, privileges, "
    "ownership and default privileges, and the grants on it.",
)
@click.option(
    "--kind",
    "kinds",
    multiple=True,
    type=click.Choice(list(KINDS)),
    help="Compare only this kind of drift and the findings of that category (repeatable).",
)
@click.option(
    "--fail-on-drift",
    is_flag=True,
    help="Also exit 1 when there is any raw drift in the chosen scope (snapshots only).",
)
def diff(
    old: str,
    new: str,
    fmt: str,
    output: Path | None,
    output_dir: Path | None,
    fail_on: str | None,
    config_path: Path | None,
    rules_dirs: tuple[Path, ...],
    framework: str | None,
    baseline: Path | None,
    waivers: Path | None,
    databases: tuple[str, ...],
    kinds: tuple[str, ...],
    fail_on_drift: bool,
) -> None:
    """Compare two snapshots (findings and raw drift) or two JSON reports (findings).

    Findings are new, resolved, changed (same finding, other evidence: a widened grant
    gates like a new finding) or unknown (one side did not collect the database or source
    they come from: never called resolved or new). Drift covers roles and their
    attributes, memberships, privileges, ownership, objects, default privileges, pg_hba
    lines and settings, compared by name so a restored copy compares equal to its source.
    Exit 1 when a new or widened finding at or above --fail-on appeared (or, with
    --fail-on-drift, any drift), 0 otherwise, 2 on bad input.
    """

    formats = parse_formats(fmt)
    if output is not None and output_dir is not None:
        raise UsageError("-o/--output and --output-dir exclude each other: give one")
    if len(formats) > 1 and output_dir is None:
        raise UsageError(f"--format {','.join(formats)}: several formats need --output-dir DIR")
    cfg = load_config(
        config_path,
        overrides={
            "fail_on": fail_on,
            "rules_dirs": [str(d) for d in rules_dirs] or None,
            "waivers": str(waivers) if waivers else None,
            "framework": framework,
            "baseline": str(baseline) if baseline else None,
        },
    )
    if baseline is None:  # a baseline in the configuration is the scan's, not the diff's
        cfg.baseline = None
    elif not baseline.is_file():
        raise UsageError(f"baseline file not found: {baseline}")
    result = compare_files(old, new, cfg, databases=databases, kinds=kinds)
    if fail_on_drift and result.drift is None:
        raise UsageError("--fail-on-drift needs two snapshots: JSON reports hold no raw drift")
    try:
        if output_dir is not None:
            write_files(result, formats, output_dir)
        else:
            text = write(result, formats[0], output)
            if text is not None:
                click.echo(text, nl=False)
    except OSError as exc:
        where = output_dir or output or "stdout"
        raise UsageError(f"cannot write {where}: {exc.strerror or exc}") from None
    drifted = fail_on_drift and result.drift_count() > 0
    sys.exit(1 if result.gating_new(cfg.fail_on) or drifted else 0)
