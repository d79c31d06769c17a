"""The terminal summary: what a person (or a CI log) needs in twenty lines.

Every name goes through ``printable`` so a role called ``"x\\nPASS: ..."`` cannot forge a
line of output and an escape sequence in a name cannot recolour the terminal. Colour
comes from ``click.style``; ``echo_summary`` lets ``click.echo`` strip it when the stream
is not a terminal (and honours ``NO_COLOR``), so piped output is plain.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from .. import __version__
from ..core.model import SEVERITIES, Finding, ScanResult
from .common import (
    TOOL_NAME,
    not_collected,
    not_collected_label,
    object_label,
    outside_lines,
    printable,
    summarize,
    target_label,
    top_findings,
)
from .registry import ReportContext
from .wrap import terminal_width, wrap_lines

_SEV_COLOR = {
    "critical": "magenta",
    "high": "red",
    "medium": "yellow",
    "low": "cyan",
    "info": "white",
}


def _style(text: str, color: bool, **kw: Any) -> str:
    if not color:
        return text
    import click

    return click.style(text, **kw)


_KEEP = "\x00"
"""Stands for a space inside a name while lines are wrapped, so a name is never broken
(``printable`` escapes every control character, so no name contains it)."""


def _name(text: object) -> str:
    return printable(text).replace(" ", _KEEP)


def widened_lines(f: Finding) -> list[str]:
    """For a baselined finding whose grant widened: ``table privileges: INSERT -> INSERT,
    UPDATE`` per list, the baseline's value beside today's."""
    grew = (f.previous or {}).get("widened") or {}
    return [
        f"{k.replace('_', ' ')}: {', '.join(v[0]) or 'none'} -> {', '.join(v[1])}"
        for k, v in grew.items()
    ]


def render_text(
    result: ScanResult,
    *,
    color: bool = False,
    report_paths: Mapping[str, str | os.PathLike[str]] | None = None,
    top: int = 10,
    width: int | None = None,
) -> str:
    """The summary as text; ANSI styles only when ``color`` is true; wrapped at spaces to
    ``width`` columns when given (continuation lines indented, no token ever cut)."""
    s = summarize(result)
    meta = result.meta
    lines: list[str] = []
    finding_rows: set[int] = set()  # wrapped under the rule id, not under the severity
    server = meta.get("server_version")
    head = f"{TOOL_NAME} {__version__}  target {_name(target_label(meta))}"
    if server:
        head += f"  PostgreSQL {printable(server)}"
    if meta.get("collected_at"):
        head += f"  collected {printable(meta['collected_at'])}"
    lines.append(head)

    verdict = s.verdict_line()
    lines.append(
        _style(
            verdict,
            color,
            fg={"fail": "red", "incomplete": "yellow"}.get(s.verdict, "green"),
            bold=True,
        )
    )

    counts = "  ".join(
        _style(f"{sev} {s.by_severity[sev]}", color and s.by_severity[sev] > 0, fg=_SEV_COLOR[sev])
        for sev in SEVERITIES
    )
    extra = []
    if s.waived:
        extra.append(f"waived {s.waived}")
    if s.baseline_used:
        extra.append(
            f"baseline: new {s.new}, unchanged {s.unchanged}, "
            + (f"widened {s.updated}, " if s.updated else "")
            + f"resolved {s.resolved}"
        )
    if s.expired_waivers:
        extra.append(f"expired waivers {s.expired_waivers}")
    lines.append("Findings: " + counts + (f"  ({'; '.join(extra)})" if extra else ""))
    st = s.by_status
    lines.append(
        f"Rules: {st.get('pass', 0)} pass, {st.get('fail', 0)} fail, "
        f"{st.get('incomplete', 0)} incomplete, "
        f"{st.get('skipped', 0)} skipped, {st.get('error', 0)} error"
    )
    for i, line in enumerate(outside_lines(s.outside)):
        lines.append(("  " if i else "") + printable(line))
    if s.requirements:
        lines.append(
            "Checklist: " + ", ".join(f"{n} {k}" for k, n in sorted(s.requirements.items()))
        )

    missing = not_collected(meta)
    if missing:
        lines.append("Not collected (rules needing it were not evaluated there, never passed):")
        for m in missing:
            lines.append(
                f"  - {_name(not_collected_label(m))}: "
                f"{printable(m['reason'] or 'no reason given')}"
            )

    best = top_findings(result, top)
    if best:
        lines.append("Top findings:")
        for f in best:
            sev = _style(f"{f.severity.upper():8}", color, fg=_SEV_COLOR[f.severity], bold=True)
            where = f"{_name(f.database)}/" if f.database else ""
            same = f.object_type == "role" and object_label(f) == f.role
            who = f" role {_name(f.role)}" if f.role and not same else ""
            finding_rows.add(len(lines))
            lines.append(
                f"  {sev} {f.rule_id}  {where}{_name(object_label(f))}{who}: {printable(f.message)}"
            )
            lines += [
                f"  {'':8} widened since the baseline: {printable(line)}"
                for line in widened_lines(f)
            ]
        rest = sum(1 for f in result.findings if f.gating) - len(best)
        if rest > 0:
            lines.append(f"  ... and {rest} more (see the reports)")

    problems = [r for r in result.results if r.status in ("skipped", "error") or r.not_evaluated]
    if problems:
        lines.append("Not evaluated:")
        for r in problems:
            word = "INCOMPLETE" if r.not_evaluated and r.status != "skipped" else r.status.upper()
            label = _style(word, color, fg="red" if r.status == "error" else "yellow")
            lines.append(f"  {label} {r.rule.id}: {printable(r.reason or 'no reason given')}")

    if report_paths:
        lines.append("Reports:")
        for fmt, path in report_paths.items():
            lines.append(f"  {fmt}: {_name(os.fspath(path))}")
    if width is not None:
        lines = wrap_lines(
            [(line, 9 if i in finding_rows else 2) for i, line in enumerate(lines)], width
        )
    return "\n".join(lines).replace(_KEEP, " ") + "\n"


def echo_summary(
    result: ScanResult,
    report_paths: Mapping[str, str | os.PathLike[str]] | None = None,
    *,
    file: IO[str] | None = None,
    top: int = 10,
    quiet: bool = False,
) -> None:
    """Print the summary to ``file`` (stdout by default; pass stderr when a machine format
    goes to stdout); colour only on a terminal and without NO_COLOR; wrapped to the
    terminal's width (``COLUMNS`` when set, 80 when not a terminal). ``quiet``: only the
    gate line (PASS/FAIL/INCOMPLETE and why), for ``-q``."""
    import sys

    import click

    stream = file if file is not None else sys.stdout
    color: bool | None = False if os.environ.get("NO_COLOR") else None
    width = terminal_width(stream)
    if quiet:
        s = summarize(result)
        verdict = _style(
            s.verdict_line(),
            color is None,
            fg={"fail": "red", "incomplete": "yellow"}.get(s.verdict, "green"),
            bold=True,
        )
        text = "\n".join(wrap_lines([(verdict, 2)], width)) + "\n"
    else:
        text = render_text(
            result, color=color is None, report_paths=report_paths, top=top, width=width
        )
    click.echo(text, file=file, nl=False, color=color)


def write(
    result: ScanResult, fh: IO[str], *, report_paths: Mapping[str, Path] | None = None, **_: Any
) -> None:
    fh.write(render_text(result, color=False, report_paths=report_paths))


def render(result: ScanResult, **options: Any) -> str:
    return render_text(result, color=False, report_paths=options.get("report_paths"))


def write_report(ctx: ReportContext, fh: IO[str]) -> None:
    """The registry's entry point (registry.REPORTERS)."""
    fh.write(
        render_text(
            ctx.result,
            color=ctx.options.text_color,
            report_paths=ctx.options.report_paths,
            width=ctx.options.text_width,
        )
    )
