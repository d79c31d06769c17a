"""``pgaudit-roles waivers lint``: review the waiver file itself (a pre-commit gate)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..config import load_config
from ..evaluate import waivers as waivers_mod
from ..evaluate.engine import evaluate
from ..evaluate.rules import resolve_ids
from ..pipeline import load_rules_for
from ..reports.common import printable
from ._args import config_option, rules_dir_option
from ._target import load_snapshot


@click.group("waivers")
def waivers() -> None:
    """Check waiver files (reviewed, expiring exceptions for findings)."""


@waivers.command("lint")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--against",
    metavar="SNAPSHOT_OR_DSN",
    help="Also report waivers that match no current finding.",
)
@config_option
@rules_dir_option
def lint(
    file: Path, against: str | None, config_path: Path | None, rules_dirs: tuple[Path, ...]
) -> None:
    """Report unknown rule ids, expired waivers and (with --against) unused ones.

    Exit 0 when the file is clean, 1 when it has problems, 2 when it cannot be read.
    """

    cfg = load_config(config_path, overrides={"rules_dirs": [str(d) for d in rules_dirs] or None})
    rules = load_rules_for(cfg)
    ids = resolve_ids(rules)
    loaded = waivers_mod.load(file)
    if against:
        result = evaluate(load_snapshot(against, cfg), rules, cfg, inventory=False)
        waivers_mod.apply(result.findings, loaded, ids)
    problems = waivers_mod.lint(loaded, ids, checked_findings=bool(against))
    for p in problems:
        click.echo(f"{printable(str(file))}: {printable(p)}")
    click.echo(f"{len(loaded)} waiver(s), {len(problems)} problem(s)", err=True)
    sys.exit(1 if problems else 0)
