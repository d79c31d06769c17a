"""The fleet's terminal summary: the verdict, then the targets that need attention.

Bounded for a fleet of thousands: at most ``top`` target lines (not audited first, then
by gating findings), the rules failing on most targets, and the report paths. Every name
goes through ``printable`` (a target or role name cannot forge a line or colour it).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from ..core.model import SEVERITIES, SEVERITY_RANK
from ..reports.common import printable
from .envdrift import summary_lines
from .outcome import FleetResult, TargetOutcome

_ORDER = {"unreachable": 0, "timeout": 0, "error": 0, "interrupted": 1, "not_run": 2, "audited": 3}


def _sort_key(o: TargetOutcome) -> tuple[Any, ...]:
    worst = max((SEVERITY_RANK[f.severity] for f in o.gating), default=-1)
    return (_ORDER[o.status], -worst, -len(o.gating), o.target.name)


def _counts(o: TargetOutcome) -> str:
    c = o.counts()
    return ", ".join(f"{c[s]} {s}" for s in SEVERITIES if c[s]) or "no findings"


def render_text(
    r: FleetResult, report_paths: Mapping[str, Path] | None = None, top: int = 15
) -> str:
    lines = []
    by = r.by_status()
    head = f"fleet {printable(r.inventory)}: {len(r.outcomes)} target(s)"
    if r.shard:
        head += f", shard {printable(r.shard)}"
    head += "; " + ", ".join(f"{n} {s.replace('_', ' ')}" for s, n in by.items() if n)
    lines.append(head)
    for o in sorted(r.outcomes, key=_sort_key)[:top]:
        name = printable(o.target.name)
        if o.status == "audited":
            verdict = o.verdict().upper()
            lines.append(f"  {verdict:<10} {name}: {_counts(o)}")
        else:
            lines.append(f"  {o.status.upper():<10} {name}: {printable(o.reason or '')}")
    if len(r.outcomes) > top:
        lines.append(f"  ... and {len(r.outcomes) - top} more targets (see the fleet report)")
    rows = r.rule_rows()[:5]
    if rows:
        lines.append("rules failing on the most targets:")
        for row in rows:
            lines.append(
                f"  {row['rule_id']} [{row['severity']}] on {len(row['targets'])} "
                f"target(s): {printable(row['title'])}"
            )
    if r.environments:
        lines.append("drift between environments:")
        lines += [f"  {printable(x)}" for x in summary_lines(r.environments)]
    for note in r.environment_notes[:3]:
        lines.append(f"note: {printable(note)}")
    if report_paths:
        lines.append("reports: " + ", ".join(str(p) for p in report_paths.values()))
    verdict = r.verdict().upper()
    gating = r.gating_total()
    detail = (
        f"{gating} finding(s) at or above the gate on "
        f"{sum(1 for o in r.outcomes if o.gating)} target(s)"
        if gating
        else "no finding at or above the gate"
    )
    if r.incomplete:
        missing = sum(1 for o in r.outcomes if o.status != "audited")
        detail += f"; {missing} target(s) not audited" if missing else ""
        if r.interrupted:
            detail += f"; stopped by {r.interrupted}"
    lines.append(f"{verdict}: {detail} (fail-on {r.fail_on}; exit {r.exit_code()})")
    return "\n".join(lines) + "\n"


def echo_summary(
    r: FleetResult, report_paths: Mapping[str, Path] | None = None, *, file: IO[str] | None = None
) -> None:
    import click

    color: bool | None = False if os.environ.get("NO_COLOR") else None
    click.echo(render_text(r, report_paths), file=file, nl=False, color=color)


def write(r: FleetResult, fh: IO[str], **_: Any) -> None:
    fh.write(render_text(r))
