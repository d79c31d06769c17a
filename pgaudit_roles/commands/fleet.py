"""``pgaudit-roles fleet INVENTORY``: audit every cluster of an inventory in one run.

Each target goes through the ``scan`` pipeline in its own process (``pgaudit_roles.fleet``);
this module only turns options into a configuration and prints the summary.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from ..config import load_config
from ..core.errors import UsageError
from ..evaluate.frameworks import load_framework
from ..fleet.audit import FleetOptions, execute, parse_fleet_formats, select, write_reports
from ..fleet.inventory import parse_duration
from ..fleet.report_text import echo_summary
from ..pipeline import load_rules_for
from ._args import (
    FAIL_ON,
    history_keep_option,
    lock_timeout_option,
    rules_dir_option,
    sarif_anchor_option,
    sarif_omit_waived_option,
    statement_timeout_option,
    verbose_option,
)


@click.command("fleet")
@click.argument("inventory", type=click.Path(path_type=Path))
@click.option(
    "--select",
    "selects",
    multiple=True,
    metavar="KEY=VALUE",
    help="Keep targets whose tag (tag=eu), name (name='orders-*'), environment, "
    "application or team matches; repeat to narrow, commas for alternatives.",
)
@click.option(
    "--shard",
    metavar="I/N",
    help="Audit only part I of N (0-based; a stable split by target name) for "
    "running one fleet across several machines or batch jobs.",
)
@click.option(
    "--parallel",
    "-p",
    type=click.IntRange(1, 64),
    default=4,
    show_default=True,
    metavar="N",
    help="Targets audited at once, each in its own process.",
)
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(1, 32),
    metavar="N",
    help="Databases read at once per target, one connection each (default 2).",
)
@click.option(
    "--target-timeout",
    metavar="DURATION",
    help="Stop a target's audit after this long (default 30min; an inventory "
    "target's own timeout wins): it becomes a finding of that target.",
)
@click.option(
    "--connect-timeout",
    type=click.IntRange(min=0),
    metavar="SECONDS",
    help="Give up connecting to a target after this long (default 10).",
)
@statement_timeout_option
@lock_timeout_option
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Configuration file every target starts from (a target's own [config] "
    "in the inventory is applied on top).",
)
@rules_dir_option
@click.option("--framework", help="Scope reports and gate to a framework (golive, cis).")
@click.option(
    "--format",
    "formats",
    help="Comma-separated. A combined report and each target's own: json, html, "
    "junit, sarif, markdown, prometheus; each target's only: any other format "
    "of scan (sql...); text: the summary (default: json,html,text). The "
    "combined JSON and each target's JSON are always written.",
)
@click.option(
    "--output-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory for the combined reports and targets/<name>/ (default pgaudit-fleet).",
)
@click.option(
    "--fail-on",
    type=click.Choice(FAIL_ON),
    help="Lowest severity that exits 1, on any target (default high).",
)
@click.option(
    "--waivers",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Waiver file applied to every target.",
)
@click.option(
    "--remediation-level",
    type=click.Choice(["safe", "all"]),
    default="safe",
    show_default=True,
    help="Whether each target's SQL script includes destructive statements.",
)
@sarif_anchor_option
@sarif_omit_waived_option
@click.option(
    "--history",
    "history_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Append every target's run (summary and findings, as Parquet) to the "
    "history store DIR, under the target's name (config: history.dir).",
)
@history_keep_option
@click.option(
    "--no-env-compare", is_flag=True, help="Skip the comparison of each application's environments."
)
@click.option("--quiet", "-q", is_flag=True, help="No per-target progress and no summary.")
@verbose_option
def fleet(
    inventory: Path,
    selects: tuple[str, ...],
    shard: str | None,
    parallel: int,
    jobs: int | None,
    target_timeout: str | None,
    connect_timeout: int | None,
    statement_timeout: str | None,
    lock_timeout: str | None,
    config_path: Path | None,
    rules_dirs: tuple[Path, ...],
    framework: str | None,
    formats: str | None,
    output_dir: Path | None,
    fail_on: str | None,
    waivers: Path | None,
    remediation_level: str,
    sarif_anchor: str,
    sarif_omit_waived: bool,
    history_dir: Path | None,
    history_keep: str | None,
    no_env_compare: bool,
    quiet: bool,
    verbose: bool,
) -> None:
    """Audit every target of INVENTORY and write one combined report, gated across the fleet.

    INVENTORY is a TOML file of [[targets]] (name, dsn or service, environment,
    application, team, tags, timeout, config) or a pg_service.conf, whose sections are
    the targets. A target that cannot be reached or audited is a high finding of that
    target (PGR-FLEET-001) and the others continue. Exit 0: every target audited and
    nothing at or above --fail-on; 1: a finding at or above it on any target (a target
    not audited is one); 2: bad inventory, option or configuration; 3: no target could
    be audited; 130/143: stopped by Ctrl-C/SIGTERM, after writing the reports of what
    finished, marked incomplete.
    """
    import logging

    if verbose:
        logging.basicConfig(
            level=logging.DEBUG, stream=sys.stderr, format="pgaudit-roles: %(name)s: %(message)s"
        )
    cfg = load_config(
        config_path,
        overrides={
            "fail_on": fail_on,
            "framework": framework,
            "rules_dirs": [str(d) for d in rules_dirs] or None,
            "waivers": str(waivers) if waivers else None,
            "collect.statement_timeout": statement_timeout,
            "collect.lock_timeout": lock_timeout,
            "collect.connect_timeout": connect_timeout,
            "collect.jobs": jobs,
            "history.dir": str(history_dir) if history_dir else None,
            "history.keep": history_keep,
        },
    )
    fmts = parse_fleet_formats(
        formats, cfg.formats if cfg.sources.get("formats") else ("json", "html", "text")
    )
    if str(output_dir) == "-":
        raise UsageError("--output-dir - is not available for fleet: it writes a directory")
    out = output_dir or Path("pgaudit-fleet")
    timeout_s = parse_duration(target_timeout, "--target-timeout") if target_timeout else 1800.0
    options: dict[str, Any] = {
        "sql_level": remediation_level,
        "sarif_anchor": sarif_anchor,
        "sarif_include_suppressed": not sarif_omit_waived,
    }
    opts = FleetOptions(
        inventory=inventory,
        output_dir=out,
        formats=fmts,
        select=list(selects),
        shard=shard,
        parallel=parallel,
        timeout_s=timeout_s,
        report_options=options,
        compare_environments=not no_env_compare,
    )

    loaded, chosen = select(opts)  # inventory errors first: they need no rules
    rules = load_rules_for(cfg)
    if cfg.framework:
        load_framework(cfg.framework, rules)

    def progress(line: str) -> None:
        if not quiet:
            click.echo(f"pgaudit-roles: {line}", err=True)

    result = execute(opts, loaded, chosen, cfg, rules, progress)
    paths = write_reports(result, fmts, out, options)
    if not quiet:
        echo_summary(result, paths)
    code = result.exit_code()
    if result.interrupted is not None:
        finished = sum(o.status not in ("interrupted", "not_run") for o in result.outcomes)
        click.echo(
            f"pgaudit-roles: interrupted ({result.interrupted}): the reports of the "
            f"{finished} finished target{'s' if finished != 1 else ''} are written, "
            "marked incomplete",
            err=True,
        )
    sys.exit(code)
