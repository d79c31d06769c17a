"""HTML report without a browser: escaping, CSP, self-containment, size at scale."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
from html.parser import HTMLParser

import pytest
from report_fixtures import HOSTILE, IMG, SCRIPT, SECRET, empty_result, full_result, many_result

from pgaudit_roles.core.resources import templates_dir
from pgaudit_roles.reports import html_report, render


class Collector(HTMLParser):
    """Every tag and attribute as the browser's tokenizer would see them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag):
        self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.scripts.append(data)


@pytest.fixture(scope="module")
def page() -> str:
    return render(full_result(), "html")


@pytest.fixture(scope="module")
def parsed(page) -> Collector:
    c = Collector()
    c.feed(page)
    return c


def test_hostile_names_never_become_markup(page, parsed):
    assert IMG not in page and SCRIPT not in page
    assert "</script><script>alert(2)" not in page
    tags = [t for t, _ in parsed.tags]
    assert "img" not in tags
    scripts = [a for t, a in parsed.tags if t == "script"]
    assert len(scripts) == 2 and scripts[0].get("type") == "application/json"
    for _, attrs in parsed.tags:
        for k in attrs:
            assert not k.startswith("on"), k  # no event handler attributes at all
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "{{ 7*7 }}" in page and "49" not in re.findall(r"\b49\b", page)


def test_only_our_script_runs_and_csp_pins_it(page, parsed):
    (csp,) = [
        a["content"]
        for t, a in parsed.tags
        if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"
    ]
    assert "default-src 'none'" in csp and "unsafe-inline" not in csp
    js = (templates_dir() / "report.js").read_text(encoding="utf-8")
    css = (templates_dir() / "report.css").read_text(encoding="utf-8")
    for text in (js, css):
        digest = base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in csp
    assert f"<script>{js}</script>" in page and f"<style>{css}</style>" in page


def test_self_contained(parsed):
    for tag, attrs in parsed.tags:
        assert tag not in ("link", "iframe", "object", "embed", "img")
        assert "src" not in attrs
        href = attrs.get("href")
        if href and not href.startswith("#"):
            assert href.startswith("https://"), href


def test_unsafe_links_dropped(page):
    assert "javascript:" not in page


def test_embedded_data_is_json_and_escaped(parsed):
    data = json.loads(parsed.scripts[0])
    assert data["format"] == "pgaudit-roles/html-data"
    assert "<" not in parsed.scripts[0]  # tojson escapes <, >, & and '


def test_content_for_the_meeting(page):
    assert "FAIL" in page and "7 findings at or above high" in page
    for text in (
        "Go-live checklist",
        "GL-2",
        "manual",
        "Waived",
        "2099-12-31",
        "legacy schema",
        "Accepted by the baseline",
        "Resolved since the baseline",
        "old_admin",
        "Rules not evaluated",
        "permission denied for view pg_hba_file_rules",
        "Login roles",
        "Role membership graph",
        "<svg",
        "All rules evaluated",
        "NOSUPERUSER",
        "Copy",
        "waiver expired",
        "Production role guide",
        "top objects",
        "app.&#34;Orders&#34;",
        "not bold",
    ):
        assert text in page, text
    assert SECRET not in page


def test_empty_result_renders():
    page = render(empty_result(), "html")
    assert "PASS" in page and "No findings" in page and "No role memberships" in page


def test_templates_never_mark_data_safe():
    for path in templates_dir().glob("*.j2"):
        text = path.read_text(encoding="utf-8")
        assert "|safe" not in text.replace(" ", ""), path.name
        assert "autoescape false" not in text, path.name


def test_environment_is_strict():
    import jinja2

    env = html_report.environment()
    assert env.autoescape is True and env.undefined is jinja2.StrictUndefined
    with pytest.raises(jinja2.UndefinedError):
        env.from_string("{{ missing }}").render()


def test_svg_escapes_names():
    from report_fixtures import inventory

    from pgaudit_roles.reports.graph_svg import render_svg

    svg = render_svg(inventory())
    assert svg is not None and IMG not in svg and "&lt;img" in svg
    import xml.etree.ElementTree as ET

    root = ET.fromstring(svg)
    assert not [el for el in root.iter() if el.tag.endswith("script")]
    texts = [el.text for el in root.iter() if el.tag.endswith("text")]
    assert any("new\\nline" in (t or "") for t in texts)


def test_rows_per_rule_and_embedding_bounds():
    result = many_result(3000, rules=3)
    page = render(result, "html", html_rows_per_rule=20, html_max_embedded=500)
    assert page.count('<tr class="finding ') == 60
    c = Collector()
    c.feed(page)
    data = json.loads(c.scripts[0])
    assert sum(len(v) for v in data["extra"].values()) == 500
    assert "more findings of this rule are not in this page" in page
    assert "By role:" in page


@pytest.mark.slow
def test_bench_100k_findings(tmp_path, capsys):
    """Bench-style: prints size and time (not asserted on time; machines differ)."""
    result = many_result(100_000, rules=20)
    out = tmp_path / "big.html"
    start = time.perf_counter()
    with out.open("w", encoding="utf-8") as fh:
        html_report.write(result, fh)
    elapsed = time.perf_counter() - start
    size = out.stat().st_size
    with capsys.disabled():
        print(f"\n[bench] html, 100,000 findings: {size / 1e6:.1f} MB in {elapsed:.2f} s")
    assert size < 40_000_000
    assert all(h for h in HOSTILE)


def test_cards_with_a_privilege_table_skip_the_generic_view():
    """context() builds a login card's generic privilege view only when the card has no
    table (the template shows one or the other): the page is the same bytes as with the
    generic view built for every card."""
    import io

    result = full_result()
    page = html_report.context(result)
    privs = result.inventory["role_privileges"]
    tables = [c for c in page.logins if c.priv_table is not None]
    assert tables and all(c.privileges is None for c in tables)
    assert any(c.priv_table is None and c.privileges is not None for c in page.logins)
    both = page._replace(
        logins=tuple(
            c._replace(privileges=html_report._plain(privs.get(c.name))) for c in page.logins
        )
    )
    assert any(c.privileges is not None for c in both.logins if c.priv_table is not None)
    lean, full = io.StringIO(), io.StringIO()
    html_report.write_page(page, lean)
    html_report.write_page(both, full)
    assert lean.getvalue() == full.getvalue()
