"""A trend as text (terminal), JSON (machines) or self-contained HTML with inline SVG.

Every name that came from a server (target, role, database, object, message) is shown
through ``printable`` (control and bidi characters as visible escapes); the HTML is
autoescaped and its SVG is built with ElementTree, which escapes text and attributes.
"""

from __future__ import annotations

import json
from typing import Any

from ..core.model import SEVERITIES
from ..core.resources import templates_dir
from ..reports.common import json_text, printable
from .svg import severity_chart, turnover_chart
from .trend import TargetTrend, Trend

DAY = 86400.0

SEVERITY_COLOUR = {
    "critical": "#8b0000",
    "high": "#c0392b",
    "medium": "#d68910",
    "low": "#5d6d7e",
    "info": "#aab7b8",
}


def days(seconds: float, at_least: bool = False) -> str:
    """``1.5 d``; ``>= 1.5 d`` when the start is only a lower bound."""
    text = f"{seconds / DAY:.1f} d" if seconds >= DAY / 10 else f"{seconds / 3600:.1f} h"
    return (">= " if at_least else "") + text


def _when(t: Any) -> str:
    return f"{t:%Y-%m-%d %H:%M}"


def _what(f: dict[str, Any]) -> str:
    where = " ".join(
        x
        for x in (
            f.get("database") and f"[{f['database']}]",
            f.get("object_identity") or f.get("role"),
        )
        if x
    )
    return printable(f"{f.get('message') or ''}" + (f"  {where}" if where else ""))


def render_text(trend: Trend) -> str:
    runs = sum(len(t.runs) for t in trend.targets)
    lines = [
        f"pgaudit-roles history {printable(trend.directory)}: {runs} run(s) of "
        f"{len(trend.targets)} target(s)" + (f" since {_when(trend.since)}" if trend.since else "")
    ]
    for t in trend.targets:
        lines += [""] + _target_text(t)
    return "\n".join(lines) + "\n"


def _target_text(t: TargetTrend) -> list[str]:
    lines = [f"target {printable(t.target)}"]
    head = "  ".join(f"{s:>8}" for s in SEVERITIES)
    lines.append(
        f"  {'run (UTC)':<16}  {head}  {'new':>4} {'resolved':>8} {'unknown':>7} {'gaps':>4}  gate"
    )
    for r in t.runs:
        counts = "  ".join(f"{r.counts[s]:>8}" for s in SEVERITIES)
        nums = (
            "   -        -       -"
            if r.first
            else f"{len(r.new):>4} {len(r.resolved):>8} {len(r.unknown):>7}"
        )
        lines.append(f"  {_when(r.started_at):<16}  {counts}  {nums} {r.gaps:>4}  {r.gate}")
    for r in t.runs:
        for tag, items in (("NEW", r.new), ("RESOLVED", r.resolved)):
            for f in items:
                lines.append(
                    f"  {_when(r.started_at)}  {tag:<8} {f['severity']:<8} "
                    f"{f['rule_id']}  {_what(f)}"
                )
        for f in r.unknown:
            lines.append(
                f"  {_when(r.started_at)}  {'UNKNOWN':<8} {f['severity']:<8} "
                f"{f['rule_id']}  {_what(f)} [{printable(f['why'])}]"
            )
    if t.time_to_fix:
        lines.append("  time to fix (findings resolved in these runs):")
        for x in t.time_to_fix:
            lines.append(
                f"    {x['rule_id']:<14} {x['fixed']:>4} fixed  median "
                f"{days(x['median_seconds'], x['at_least'])}  max "
                f"{days(x['max_seconds'], x['at_least'])}"
            )
    if t.longest_open:
        lines.append("  longest open:")
        for f in t.longest_open:
            lines.append(
                f"    {days(f['open_seconds'], f['at_least']):>10}  {f['severity']:<8} "
                f"{f['rule_id']}  {_what(f)}"
            )
    return lines


def render_json(trend: Trend) -> str:
    return json_text(json.dumps(trend.to_json(), indent=1, ensure_ascii=False, default=str)) + "\n"


def render_html(trend: Trend) -> str:
    import jinja2
    from markupsafe import Markup

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        finalize=lambda v: (
            v if isinstance(v, Markup) else printable(v) if isinstance(v, str) else v
        ),
    )
    tpl = env.get_template("history.html.j2")
    charts = {
        i: (Markup(severity_chart(t)), Markup(turnover_chart(t)))  # noqa: S704 - ElementTree output
        for i, t in enumerate(trend.targets)
    }
    return tpl.render(
        trend=trend,
        charts=charts,
        severities=SEVERITIES,
        days=days,
        when=_when,
        colour=SEVERITY_COLOUR,
    )


def write(trend: Trend, fmt: str) -> str:
    if fmt == "json":
        return render_json(trend)
    if fmt == "html":
        return render_html(trend)
    return render_text(trend)
