"""``pgaudit-roles baseline create``: accept today's findings so the gate fails only on new ones."""

from __future__ import annotations

from pathlib import Path

import click

from ..config import load_config
from ..core.errors import UsageError
from ..evaluate import baseline as baseline_mod
from ..pipeline import evaluate_snapshot, load_rules_for
from ._args import rules_dir_option
from ._target import load_snapshot


@click.group("baseline")
def baseline() -> None:
    """Manage a baseline of accepted findings (used with --baseline)."""


@baseline.command("create")
@click.argument("source")
@click.option(
    "--output",
    "-o",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Baseline file to write (JSON, sorted, stable under version control).",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Configuration file (naming policy, disabled rules...).",
)
@rules_dir_option
@click.option(
    "--waivers",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Waived findings are not written into the baseline.",
)
def create(
    source: str,
    output: Path,
    config_path: Path | None,
    rules_dirs: tuple[Path, ...],
    waivers: Path | None,
) -> None:
    """Evaluate SOURCE (a snapshot file or a DSN) and accept every finding it has now.

    Later runs with --baseline FILE mark these findings as unchanged (they do not gate),
    gate on new ones and list the ones that were resolved. Findings are matched by their
    fingerprint (rule + database + object + role), never by message text or time.
    """

    cfg = load_config(
        config_path,
        overrides={
            "rules_dirs": [str(d) for d in rules_dirs] or None,
            "waivers": str(waivers) if waivers else None,
        },
    )
    cfg.baseline = None
    rules = load_rules_for(cfg)
    result = evaluate_snapshot(load_snapshot(source, cfg), rules, cfg, inventory=False)
    try:
        n = baseline_mod.create(result.findings, output)
    except OSError as exc:
        raise UsageError(f"cannot write {output}: {exc.strerror or exc}") from None
    waived = sum(1 for f in result.findings if f.suppressed)
    click.echo(
        f"baseline {output}: {n} finding(s) accepted"
        + (f", {waived} waived finding(s) left out" if waived else ""),
        err=True,
    )
