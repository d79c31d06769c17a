"""The Markdown summary: gate, counts, top risks, checklist and coverage gaps, compact
enough for a GitHub job summary (``$GITHUB_STEP_SUMMARY``) or a GitLab merge-request
comment, which both render GitHub-flavoured Markdown.

Why the escaping is strict: both renderers accept raw HTML and turn ``[x](url)`` into
links, and role, database and object names are chosen by whoever can create them. So
every name is a code span (no markup, link or HTML is ever recognised inside one, and the
fence is longer than any backtick run in the name), every other text from the catalog has
each ASCII punctuation character backslash-escaped (CommonMark's escape: it also breaks
``www.`` and ``http://`` autolinks apart), and control and bidi characters are made
visible first (``printable``). ``|`` is escaped inside code spans too: a GFM table splits
cells on it before it sees code spans.
"""

from __future__ import annotations

import re
from typing import IO

from .. import __version__
from ..core.model import SEVERITIES, Finding, RequirementResult
from .common import (
    TOOL_NAME,
    not_collected,
    not_collected_label,
    object_label,
    outside_lines,
    printable,
    target_label,
    top_findings,
)
from .registry import ReportContext
from .sql_script import one_line

TOP_RISKS = 10
"""Rows of the top-risks table (the rest is in the other reports)."""
MAX_LISTED = 20
"""Rows of the checklist and gap lists before "... and N more"."""
# What can start markup, HTML, an entity, math or an autolink (``http:``, ``a@b``,
# ``www.``); other punctuation stays as typed, so "16.4" and "PGR-ROLE-001" read plainly.
_ESCAPED = re.compile(r"([\\`*_{}\[\]()<>#!|~&:@$]|(?<=[wW]{3})\.)")
_STATUS_MARK = {
    "pass": "✅",
    "fail": "❌",
    "incomplete": "⚠️",
    "error": "⚠️",
    "skipped": "⏭️",
    "manual": "📝",
}
_VERDICT_MARK = {"pass": "✅", "fail": "❌", "incomplete": "⚠️"}


def md_text(text: object) -> str:
    """Text from the catalog (or anything not ours) as inert Markdown inline text."""
    return _ESCAPED.sub(r"\\\1", printable(text))


def md_code(text: object, *, cell: bool = True, sql: bool = False) -> str:
    """A name as a code span: shown as typed, never markup, a link or HTML. ``cell``: it
    sits in a table row, where GFM needs ``|`` escaped even inside a code span. ``sql``:
    text already made printable by ``sql_script.one_line``, kept as is (its backslashes
    are SQL's)."""
    s = str(text) if sql and str(text).isprintable() else printable(text)
    s = s.replace("|", "\\|") if cell else s
    runs = [len(m) for m in re.findall(r"`+", s)]
    fence = "`" * (max(runs, default=0) + 1)
    pad = " " if s.startswith("`") or s.endswith("`") or not s.strip(" ") else ""
    return f"{fence}{pad}{s}{pad}{fence}" if s else "` `"


def _fix(f: Finding) -> str:
    """The one-line fix: the first SQL statement (names with line breaks in PostgreSQL's
    escaped form, as in the script), else the first sentence of the manual procedure."""
    if f.remediation:
        stmts: list[str] = []
        current: list[str] = []
        for ln in one_line(f.remediation).splitlines():
            if ln.strip() and not ln.lstrip().startswith("--"):
                current.append(ln.strip())
                if ln.rstrip().endswith(";"):
                    stmts.append(" ".join(current))
                    current = []
        if current:
            stmts.append(" ".join(current))
        if stmts:
            first = stmts[0] if len(stmts[0]) <= 200 else stmts[0][:199] + "…"
            more = f" (+{len(stmts) - 1} more)" if len(stmts) > 1 else ""
            return md_code(first, sql=True) + more
    if f.manual:
        text = " ".join(f.manual.split())
        cut = text.find(". ")
        return md_text(text if cut < 0 else text[: cut + 1])
    return ""


def _where(f: Finding) -> str:
    obj = object_label(f)
    parts = [md_code(f.database) + " " if f.database else "", md_code(obj)]
    if f.role and not (f.object_type == "role" and obj == f.role):
        parts.append(" role " + md_code(f.role))
    return "".join(parts)


def _requirements(reqs: list[RequirementResult]) -> list[str]:
    by_fw: dict[str, list[RequirementResult]] = {}
    for q in reqs:
        by_fw.setdefault(q.framework, []).append(q)
    out: list[str] = []
    for fw, items in by_fw.items():
        counts: dict[str, int] = {}
        for q in items:
            counts[q.status] = counts.get(q.status, 0) + 1
        out += [
            "",
            f"### Checklist: {md_text(fw)}",
            "",
            ", ".join(f"{_STATUS_MARK.get(k, '')} {n} {k}" for k, n in sorted(counts.items())),
        ]
        open_items = [q for q in items if q.status != "pass"]
        if open_items:
            out += ["", "| status | requirement | rules |", "|---|---|---|"]
            for q in open_items[:MAX_LISTED]:
                note = f" ({md_text(q.note)})" if q.note else ""
                out.append(
                    f"| {_STATUS_MARK.get(q.status, '')} {md_text(q.status)} | "
                    f"{md_text(q.id)} {md_text(q.title)}{note} | "
                    f"{', '.join(md_text(r) for r in q.rules) or '-'} |"
                )
            if len(open_items) > MAX_LISTED:
                out.append(f"\n… and {len(open_items) - MAX_LISTED} more")
    return out


def render_markdown(ctx: ReportContext, *, top: int = TOP_RISKS) -> str:
    result, s = ctx.result, ctx.summary
    meta = result.meta
    mark = _VERDICT_MARK.get(s.verdict, "")
    lines = [
        f"## {mark} {TOOL_NAME}: {s.verdict.upper()}",
        "",
        f"**{s.verdict.upper()}**: {md_text(s.verdict_detail())}",
        "",
    ]
    about = [f"target {md_code(target_label(meta), cell=False)}"]
    if meta.get("server_version"):
        about.append(f"PostgreSQL {md_text(meta['server_version'])}")
    if meta.get("collected_at"):
        about.append(f"collected {md_text(meta['collected_at'])}")
    about.append(f"{TOOL_NAME} {__version__}")
    lines += [" · ".join(about), ""]

    head = [*SEVERITIES, "waived"]
    cells = [str(s.by_severity[sev]) for sev in SEVERITIES] + [str(s.waived)]
    if s.baseline_used:
        head += ["new", "baselined", "widened", "resolved"]
        cells += [str(s.new), str(s.unchanged), str(s.updated), str(s.resolved)]
    lines += [
        "| " + " | ".join(head) + " |",
        "|" + "---:|" * len(head),
        "| " + " | ".join(cells) + " |",
    ]
    st = s.by_status
    lines += [
        "",
        f"Rules: {st.get('pass', 0)} pass, {st.get('fail', 0)} fail, "
        f"{st.get('incomplete', 0)} incomplete, {st.get('skipped', 0)} skipped, "
        f"{st.get('error', 0)} error",
    ]
    lines += [f"\n{md_text(line)}" for line in outside_lines(s.outside)[:1]]

    best = top_findings(result, top)
    if best:
        lines += [
            "",
            "### Top risks",
            "",
            "| severity | rule | where | finding | fix |",
            "|---|---|---|---|---|",
        ]
        for f in best:
            lines.append(
                f"| **{f.severity.upper()}** | {md_text(f.rule_id)} | {_where(f)} | "
                f"{md_text(f.message)} | {_fix(f)} |"
            )
        rest = sum(1 for f in result.findings if f.gating) - len(best)
        if rest > 0:
            lines += ["", f"… and {rest} more active findings (see the full reports)"]

    lines += _requirements(result.requirements)

    missing = not_collected(meta)
    problems = [r for r in result.results if r.status in ("skipped", "error") or r.not_evaluated]
    if missing or problems:
        lines += ["", "### Coverage gaps", ""]
        if missing:
            lines.append("Not collected (rules needing it were not evaluated there, never passed):")
            lines.append("")
            for m in missing[:MAX_LISTED]:
                lines.append(
                    f"- {md_code(not_collected_label(m), cell=False)}: "
                    f"{md_text(m['reason'] or 'no reason given')}"
                )
            if len(missing) > MAX_LISTED:
                lines.append(f"- … and {len(missing) - MAX_LISTED} more")
            lines.append("")
        if problems:
            lines.append("Rules not evaluated everywhere:")
            lines.append("")
            for r in problems[:MAX_LISTED]:
                word = "incomplete" if r.not_evaluated and r.status != "skipped" else r.status
                lines.append(
                    f"- **{word}** {md_text(r.rule.id)}: {md_text(r.reason or 'no reason given')}"
                )
            if len(problems) > MAX_LISTED:
                lines.append(f"- … and {len(problems) - MAX_LISTED} more")

    paths = ctx.options.report_paths or {}
    others = [
        f"{md_text(fmt)}: {md_code(p, cell=False)}" for fmt, p in paths.items() if fmt != "markdown"
    ]
    if others:
        lines += ["", "Reports: " + ", ".join(others)]
    return "\n".join(lines).rstrip("\n") + "\n"


def write_report(ctx: ReportContext, fh: IO[str]) -> None:
    """The registry's entry point (registry.REPORTERS)."""
    fh.write(render_markdown(ctx))
