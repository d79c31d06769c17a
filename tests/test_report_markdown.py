"""The Markdown summary, parsed by a real Markdown library (markdown-it-py, CommonMark with
GFM tables and raw HTML allowed, as GitHub and GitLab allow it): hostile names never
become HTML, links, images or extra table cells."""

from __future__ import annotations

import html as html_mod
import re

import pytest
from markdown_it import MarkdownIt
from report_fixtures import HOSTILE, full_result

from pgaudit_roles.core.model import Finding, RequirementResult, Rule, RuleResult, ScanResult
from pgaudit_roles.reports import render
from pgaudit_roles.reports.common import printable
from pgaudit_roles.reports.markdown_report import md_code, md_text

MD_HOSTILE = [
    *HOSTILE,
    "[click](javascript:alert(1))",
    "![x](http://evil.example/p.png)",
    "<http://evil.example>",
    "www.evil.example",
    "https://evil.example/x",
    "mail@evil.example",
    "**bold** _it_ ~~s~~",
    "a|b|c",
    "`tick` ``two``",
    "$x^2$",
    "&lt;b&gt;",
    "# heading",
    "<!-- c -->",
    "\\",
]


def _md() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])


def _tokens(text: str) -> list:
    out = []
    for tok in _md().parse(text):
        out.append(tok)
        out += tok.children or []
    return out


def _hostile_result() -> ScanResult:
    rule = Rule(
        id="PGR-X-001",
        title="t",
        severity="critical",
        category="roles",
        rationale="r",
        query="SELECT 1",
        message="m",
    )
    findings = [
        Finding(
            "PGR-X-001",
            "critical",
            f"role {name} is bad",
            database=name,
            object_type="table",
            schema=name,
            object_name=name,
            role=name,
            remediation=f'ALTER ROLE "{name}" NOSUPERUSER;',
        )
        for name in MD_HOSTILE
    ]
    reqs = [
        RequirementResult(
            "golive", "GL-1", f"check {MD_HOSTILE[0]}", "fail", ("PGR-X-001",), note=MD_HOSTILE[1]
        )
    ]
    meta = {
        "target": {"host": "[h](javascript:x)", "dbname": "<b>db</b>"},
        "server_version": "16.4",
        "collected_at": "2026-01-01T00:00:00+00:00",
        "sources": {"hba_rules": {"collected": False, "reason": "<img src=x>"}},
    }
    return ScanResult(
        meta=meta,
        results=[RuleResult(rule=rule, status="fail", findings=findings)],
        requirements=reqs,
    )


@pytest.mark.parametrize("make", [full_result, _hostile_result], ids=["fixture", "hostile"])
def test_no_raw_html_links_or_images_from_names(make):
    text = render(make(), "markdown", report_paths=None)
    toks = _tokens(text)
    kinds = {t.type for t in toks}
    assert not kinds & {"html_inline", "html_block", "link_open", "image"}, kinds
    html = _md().render(text)
    for tag in ("<script", "<img", "<b>", "<a ", "<!--", "<http"):
        assert tag not in html
    assert "<table>" in html  # the tables parse as tables


def test_table_rows_keep_their_cells_and_names_show_as_typed():
    result = _hostile_result()
    text = render(result, "markdown")
    toks = _md().parse(text)
    rows: list[list[str]] = []
    row: list[str] | None = None
    cell = False
    for t in toks:
        if t.type == "tr_open":
            row = []
        elif t.type in ("td_open", "th_open"):
            cell = True
        elif t.type == "inline" and cell and row is not None:
            row.append(
                "".join(c.content for c in (t.children or []) if c.type in ("text", "code_inline"))
            )
        elif t.type in ("td_close", "th_close"):
            cell = False
        elif t.type == "tr_close" and row is not None:
            rows.append(row)
    risk_rows = [r for r in rows if r and r[0] == "CRITICAL"]
    assert len(risk_rows) == 10  # the top 10 of the hostile findings
    assert all(len(r) == 5 for r in risk_rows)  # a "|" in a name made no extra cell
    # the names come back verbatim from the code spans (where column: database, object, role)
    top = sorted(result.findings, key=lambda f: (f.database or "", f.object_name or ""))[:10]
    assert [r[2] for r in risk_rows] == [
        f"{f.database} {f.schema}.{f.object_name} role {f.role}" for f in top
    ]


def test_escapes_round_trip_as_plain_text():
    for name in MD_HOSTILE:
        if not name.isprintable():
            continue
        html_code = _md().render(md_code(name, cell=False))
        html_text = _md().render(md_text(name))
        for html in (html_code, html_text):
            assert "<a " not in html and "<img" not in html and "<script" not in html
        # the text form shows exactly the characters typed (backslashes doubled, as in
        # every report, so the escapes of control characters stay unambiguous)
        plain = html_mod.unescape(re.sub(r"<[^>]+>", "", html_text).strip())
        assert plain == printable(name), name


def test_summary_sections():
    text = render(full_result(), "markdown")
    assert text.startswith("## ❌ pgaudit-roles: FAIL\n")
    assert "**FAIL**: 7 findings at or above high" in text
    for heading in ("### Top risks", "### Checklist: go-live", "### Coverage gaps"):
        assert heading in text
    assert "`hba_rules`: permission denied" in text
    assert "PGR-ROLE-001" in text and "PGR\\-ROLE" not in text  # ids read plainly
    # the fix column is one statement, names with a line break in PostgreSQL's escape form
    assert '`ALTER ROLE U&"new\\000Aline FAIL: forged" NOSUPERUSER;`' in text
