"""The HTML templates read only fields that html_view's types have, and every field of the
page is read: a misspelled name in a template fails here, without a fixture that happens
to reach that branch (mypy does the same for the Python that fills the fields). Pure."""

from __future__ import annotations

import dataclasses
import re

import pytest

from pgaudit_roles.core.model import RequirementResult, RuleResult
from pgaudit_roles.core.resources import templates_dir
from pgaudit_roles.reports import html_view

# template -> (variable, the type it holds there): the loop variables of the partials
LOOPS = [
    ("_rule.html.j2", "v", html_view.FindingRow),
    ("_waivers.html.j2", "v", html_view.FindingRow),
    ("_findings.html.j2", "r", html_view.RuleSection),
    ("_appendix.html.j2", "r", html_view.RuleLine),
    ("_top_risks.html.j2", "t", html_view.TopRisk),
    ("_roles.html.j2", "r", html_view.LoginCard),
    ("_roles.html.j2", "m", html_view.Membership),
    ("_routes.html.j2", "r", html_view.Route),
    ("_routes.html.j2", "c", html_view.RouteStep),
    ("_checklist.html.j2", "info", html_view.FrameworkInfo),
    ("_checklist.html.j2", "q", RequirementResult),
    ("_errors.html.j2", "r", RuleResult),
]


def _page_templates() -> dict[str, str]:
    names = ["report.html.j2"] + sorted(p.name for p in templates_dir().glob("_*.html.j2"))
    return {n: (templates_dir() / n).read_text(encoding="utf-8") for n in names}


def _reads(text: str, var: str) -> set[str]:
    """``var.<name>`` inside Jinja expressions and statements (not in the HTML around)."""
    code = " ".join(re.findall(r"\{\{.*?\}\}|\{%.*?%\}", text, re.S))
    return set(re.findall(rf"(?<![\w.]){var}\.(\w+)", code))


def _fields(cls: type) -> set[str]:
    names = set(getattr(cls, "_fields", ())) or {f.name for f in dataclasses.fields(cls)}
    return names | {n for n in vars(cls) if not n.startswith("_")}  # methods, properties


def test_templates_read_only_fields_of_the_page_and_read_them_all():
    texts = _page_templates()
    read = set().union(*(_reads(t, "page") for t in texts.values()))
    fields = set(html_view.Page._fields)
    assert read - fields == set(), "templates read page fields that html_view.Page lacks"
    assert fields - read == set(), "html_view.Page fields no template reads"
    assets = set().union(*(_reads(t, "assets") for t in texts.values()))
    assert assets == set(html_view.Assets._fields)


@pytest.mark.parametrize(("template", "var", "cls"), LOOPS, ids=[f"{t}:{v}" for t, v, _ in LOOPS])
def test_loop_variables_read_fields_of_their_type(template, var, cls):
    read = _reads(_page_templates()[template], var)
    assert read, f"{template} no longer reads {var}.*: update LOOPS"
    assert read - _fields(cls) == set(), f"{template}: {var} is a {cls.__name__}"


def test_a_baseline_entry_with_only_a_fingerprint_renders():
    """baseline.load accepts entries that hold only a fingerprint; the page once read
    them as dicts under StrictUndefined and failed as a whole (exit 4)."""
    from report_fixtures import IMG, full_result

    from pgaudit_roles.reports import html_report

    result = full_result()
    result.resolved = [
        {"fingerprint": "ab" * 16},
        {"fingerprint": "cd" * 16, "rule_id": "PGR-ROLE-009", "object": IMG, "role": 7},
    ]
    page = html_report.render(result)
    lines = re.search(r'<ul class="resolved">(.*?)</ul>', page, re.S)
    assert lines is not None
    assert lines.group(1).count("<li>") == 2
    assert "<code></code>" in lines.group(1)  # the bare entry: an empty line, not a failure
    assert "PGR-ROLE-009" in lines.group(1) and IMG not in page
