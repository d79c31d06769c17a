"""The fleet as Markdown: for a merge-request comment, a wiki page or a chat message.

The same content as the HTML overview in plain tables: verdict, targets x severity,
worst findings, rules failing on many targets, drift between environments. Every cell
is escaped (``|``, backticks, brackets, HTML), so a name cannot break the table, inject a
link or run markup where it is rendered.
"""

from __future__ import annotations

from typing import IO, Any

from ..core.model import SEVERITIES
from ..reports.common import printable, where_label
from .envdrift import detail_lines
from .outcome import FleetResult

WORST_SHOWN = 20


def cell(text: object) -> str:
    out = []
    for ch in printable(" ".join(str(text).split())):
        if ch in "\\`*_{}[]()#!|<>&~":
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


def render(r: FleetResult) -> str:
    verdict = r.verdict().upper()
    gating = r.gating_total()
    lines = [f"# pgaudit-roles fleet: {verdict}", ""]
    detail = (
        f"{gating} finding(s) at or above `{r.fail_on}` on "
        f"{sum(1 for o in r.outcomes if o.gating)} target(s)"
        if gating
        else f"no finding at or above `{r.fail_on}`"
    )
    missing = sum(1 for o in r.outcomes if o.status != "audited")
    if missing:
        detail += f"; {missing} target(s) not audited"
    if r.interrupted:
        detail += f"; the run was stopped ({r.interrupted}): incomplete"
    lines += [f"**{verdict}**: {detail} (exit {r.exit_code()}).", ""]
    lines += [
        "## Targets",
        "",
        "| Target | Environment | Application | Status | " + " | ".join(SEVERITIES) + " | Report |",
        "|---|---|---|---|" + "---:|" * len(SEVERITIES) + "---|",
    ]
    for o in r.outcomes:
        counts = o.counts()
        status = o.status if o.status != "audited" else o.verdict()
        if o.reason and o.status != "audited":
            status += f": {o.reason}"
        report = o.reports.get("html") or o.reports.get("json")
        link = f"[report](<{report}>)" if report else ""
        lines.append(
            f"| {cell(o.target.name)} | {cell(o.target.environment or '')} | "
            f"{cell(o.target.application or '')} | {cell(status)} | "
            + " | ".join(str(counts[s]) for s in SEVERITIES)
            + f" | {link} |"
        )
    worst = r.worst(WORST_SHOWN)
    lines += ["", "## Worst risks", ""]
    if worst:
        lines += ["| Severity | Target | Rule | Where | Finding |", "|---|---|---|---|---|"]
        for o, f in worst:
            lines.append(
                f"| {f.severity} | {cell(o.target.name)} | {cell(f.rule_id)} | "
                f"{cell(where_label(f))} | {cell(f.message)} |"
            )
    else:
        lines.append("No active finding on any audited target.")
    rows = r.rule_rows()
    lines += ["", "## Rules failing on many targets", ""]
    if rows:
        lines += ["| Rule | Severity | Targets | Title |", "|---|---|---:|---|"]
        for row in rows[:30]:
            lines.append(
                f"| {cell(row['rule_id'])} | {row['severity']} | {len(row['targets'])} | "
                f"{cell(row['title'])} |"
            )
    else:
        lines.append("No rule fails on any target.")
    if r.environments:
        lines += ["", "## Drift between environments", ""]
        for e in r.environments:
            lines.append(
                f"### {cell(e['application'])}: {cell(e['other']['environment'])} "
                f"vs {cell(e['base']['environment'])} ({e['count']} difference(s))"
            )
            lines.append("")
            lines += [f"- {cell(x)}" for x in detail_lines(e, limit=50)] or ["- no difference"]
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def write(r: FleetResult, fh: IO[str], **_: Any) -> None:
    fh.write(render(r))
