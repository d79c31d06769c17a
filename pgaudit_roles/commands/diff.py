"""``pgaudit-roles diff OLD NEW``: what changed between two scans."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ._shared import FAIL_ON


@click.command("diff")
@click.argument("old")
@click.argument("new")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "html"]), default="text",
              show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to this file (atomically) instead of stdout.")
@click.option("--fail-on", type=click.Choice(FAIL_ON), default=None,
              help="Exit 1 when a new finding at or above this severity appeared "
                   "(default from config, else high).")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Configuration (naming policy, rules) used to evaluate snapshots.")
@click.option("--rules-dir", "rules_dirs", multiple=True,
              type=click.Path(file_okay=False, path_type=Path), help="Also load user rules.")
@click.option("--waivers", type=click.Path(dir_okay=False, path_type=Path),
              help="Waived new findings do not make the diff fail.")
def diff(old: str, new: str, fmt: str, output: Path | None, fail_on: str | None,
         config_path: Path | None, rules_dirs: tuple[Path, ...], waivers: Path | None) -> None:
    """Compare two snapshots (findings and raw drift) or two JSON reports (findings).

    Drift covers roles added/removed and attribute changes, memberships, privilege grants
    and revokes, ownership, objects, default privileges, pg_hba lines and settings, all
    compared by name so a restored copy compares equal to its source. Exit 1 when new
    findings at or above --fail-on appeared, 0 otherwise, 2 on bad input.
    """
    from ..config import load_config
    from ..diffing import compare_files, write

    cfg = load_config(config_path, overrides={
        "fail_on": fail_on, "rules_dirs": [str(d) for d in rules_dirs] or None,
        "waivers": str(waivers) if waivers else None})
    cfg.baseline = None
    result = compare_files(old, new, cfg)
    try:
        text = write(result, fmt, output)
    except OSError as exc:
        from ..errors import UsageError

        raise UsageError(f"cannot write {output or 'stdout'}: {exc.strerror or exc}") from None
    if text is not None:
        click.echo(text, nl=False)
    sys.exit(1 if result.gating_new(cfg.fail_on) else 0)
