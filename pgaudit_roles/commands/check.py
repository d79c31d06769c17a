"""``pgaudit-roles check SNAPSHOT``: evaluate the rules offline, print a summary, gate.

No server is needed: the snapshot file holds everything. Exit codes are the CI contract:
0 nothing at or above --fail-on, 1 findings at or above it (after waivers and baseline),
2 usage, configuration or rule error.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from ..config import Config
    from ..model import Rule, ScanResult

FAIL_ON = ("critical", "high", "medium", "low", "info", "none")
MAX_FINDINGS_PER_RULE = 5


@click.command("check")
@click.argument("snapshot", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Configuration file (default: .pgaudit-roles.toml or [tool.pgaudit-roles] "
                   "in pyproject.toml, searched upwards from the working directory).")
@click.option("--rules-dir", "rules_dirs", multiple=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="Also load user rules from this directory (repeatable).")
@click.option("--framework", help="Scope the report and the gate to one compliance framework "
                                  "(golive, cis).")
@click.option("--fail-on", type=click.Choice(FAIL_ON), help="Lowest severity that exits 1 "
                                                             "(default: high; none never gates).")
@click.option("--waivers", type=click.Path(dir_okay=False, path_type=Path),
              help="Waiver file (reviewed, expiring exceptions).")
@click.option("--baseline", type=click.Path(dir_okay=False, path_type=Path),
              help="Baseline of accepted findings: only new ones gate.")
@click.option("--show-config", is_flag=True,
              help="Print every effective setting and where it came from, then exit.")
def check(snapshot: Path | None, config_path: Path | None, rules_dirs: tuple[Path, ...],
          framework: str | None, fail_on: str | None, waivers: Path | None,
          baseline: Path | None, show_config: bool) -> None:
    """Evaluate the rules against SNAPSHOT (from `pgaudit-roles collect`), offline."""
    from ..config import load_config
    from ..errors import EXIT_FINDINGS, EXIT_OK, UsageError
    from ..frameworks import load_framework
    from ..rules import load_rules

    cfg = load_config(config_path, overrides={
        "fail_on": fail_on, "framework": framework,
        "rules_dirs": [str(d) for d in rules_dirs] or None,
        "waivers": str(waivers) if waivers else None,
        "baseline": str(baseline) if baseline else None,
    })
    rules = load_rules(cfg.rules_dirs)
    cfg.resolve_rules(rules)
    if cfg.framework:
        load_framework(cfg.framework, rules)  # unknown name or bad mapping: exit 2 now
    if show_config:
        click.echo(cfg.show())
        return
    if snapshot is None:
        raise UsageError("missing argument SNAPSHOT (a file written by `pgaudit-roles collect`)")

    result = run_check(snapshot, rules, cfg)
    click.echo(render_summary(result, str(snapshot)))
    write_configured_reports(result, cfg)
    sys.exit(EXIT_FINDINGS if result.gating_findings() else EXIT_OK)


def run_check(snapshot_path: Path, rules: list[Rule], cfg: Config) -> ScanResult:
    """Load, evaluate, then apply waivers and the baseline named by the configuration."""
    from .. import baseline as baseline_mod
    from .. import snapshot as snapshot_mod
    from .. import waivers as waivers_mod
    from ..engine import evaluate
    from ..rules import resolve_ids

    snap = snapshot_mod.load(snapshot_path)
    result = evaluate(snap, rules, cfg)
    if cfg.waivers is not None:
        loaded = waivers_mod.load(cfg.waivers)
        waivers_mod.apply(result.findings, loaded, resolve_ids(rules))
    if cfg.baseline is not None:
        result.resolved = baseline_mod.apply(result.findings, baseline_mod.load(cfg.baseline))
    return result


def write_configured_reports(result: ScanResult, cfg: Config) -> None:
    """Formats other than text go to the reporters; an unavailable one is an error."""
    from ..errors import ConfigError

    wanted = [f for f in cfg.formats if f != "text"]
    if not wanted:
        return
    try:
        from ..reports import write_reports
    except ImportError:
        raise ConfigError(f"formats {', '.join(wanted)} ({cfg.sources.get('formats')}) cannot "
                          "take effect: the report writers are not available") from None
    write_reports(result, wanted, cfg.output_dir)


def render_summary(result: ScanResult, label: str) -> str:
    """Plain text: the target, counts, each non-passing rule with its top findings, verdict."""
    from ..model import SEVERITIES
    from ..reports.common import printable

    meta: dict[str, Any] = result.meta
    lines = [f"pgaudit-roles check {printable(label)}"]
    server = meta.get("server_version") or "unknown version"
    lines.append(f"  PostgreSQL {printable(server)}, collected {meta.get('collected_at', '?')}"
                 f" as {printable(meta.get('connected_user', '?'))}")
    if result.meta.get("framework"):
        lines.append(f"  framework: {printable(result.meta['framework'])}")
    status = result.counts_by_status()
    lines.append("  rules: " + ", ".join(f"{status[s]} {s}" for s in ("fail", "pass", "skipped", "error")))
    sev = result.counts_by_severity()
    lines.append("  findings: " + ", ".join(f"{sev[s]} {s}" for s in SEVERITIES))
    waived = sum(1 for f in result.findings if f.suppressed)
    accepted = sum(1 for f in result.findings if f.baseline == "unchanged")
    if waived or accepted or result.resolved:
        lines.append(f"  waived: {waived}, accepted by baseline: {accepted}, "
                     f"resolved since baseline: {len(result.resolved)}")
    lines.append("")
    for r in result.results:
        if r.status == "pass":
            continue
        tag = {"fail": "FAIL", "skipped": "SKIP", "error": "ERROR"}[r.status]
        head = f"{tag:<5} {r.rule.id} [{r.effective_severity}] {printable(r.rule.title)}"
        if r.findings:
            head += f": {len(r.findings)} finding(s)"
        lines.append(head)
        if r.reason:
            lines.append(f"      {printable(r.reason)}")
        for f in r.findings[:MAX_FINDINGS_PER_RULE]:
            mark = " (waived)" if f.suppressed else " (baseline)" if f.baseline == "unchanged" else ""
            lines.append(f"      - {printable(f.message)}{mark}")
        if len(r.findings) > MAX_FINDINGS_PER_RULE:
            lines.append(f"      ... and {len(r.findings) - MAX_FINDINGS_PER_RULE} more")
    if result.requirements:
        fw = result.requirements[0].framework
        counts: dict[str, int] = {}
        for q in result.requirements:
            counts[q.status] = counts.get(q.status, 0) + 1
        lines.append("")
        lines.append(f"{fw} requirements: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
        for q in result.requirements:
            if q.status in ("fail", "error"):
                lines.append(f"  {q.status.upper():<5} {q.id} {printable(q.title)}")
    gating = result.gating_findings()
    lines.append("")
    if gating:
        lines.append(f"FAIL: {len(gating)} finding(s) at or above {result.fail_on}")
    elif result.fail_on == "none":
        lines.append("OK: --fail-on none, nothing gates")
    else:
        lines.append(f"OK: no finding at or above {result.fail_on}")
    return "\n".join(lines)
