"""``pgaudit-roles diff OLD NEW``: what changed between two scans."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..config import load_config
from ..core.errors import UsageError
from ..diffing import compare_files, write
from ..evaluate.drift import KINDS
from ._args import FAIL_ON, output_file_option, rules_dir_option, text_json_html_format


@click.command("diff")
@click.argument("old")
@click.argument("new")
@text_json_html_format
@output_file_option
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
        text = write(result, fmt, output)
    except OSError as exc:
        raise UsageError(f"cannot write {output or 'stdout'}: {exc.strerror or exc}") from None
    if text is not None:
        click.echo(text, nl=False)
    drifted = fail_on_drift and result.drift_count() > 0
    sys.exit(1 if result.gating_new(cfg.fail_on) or drifted else 0)
