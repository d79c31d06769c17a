"""The HTML report in headless Chromium: loads cleanly, filters work, names stay text.

Needs Debian's chromium (/usr/bin/chromium) and Playwright's Python package. Without them
the test skips, unless PGAUDIT_REQUIRE_BROWSER=1 (set in CI by tests/run.sh): then it fails.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from report_fixtures import IMG, SCRIPT, full_result

from pgaudit_roles.reports import write_reports

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


def _need(reason: str) -> None:
    if os.environ.get("PGAUDIT_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason} (PGAUDIT_REQUIRE_BROWSER=1)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser():
    if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        _need("chromium not installed (apt-get install chromium chromium-driver)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _need("playwright (Python package) not installed")
    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium"),
            args=ARGS,
        )
        yield b
        b.close()


@pytest.fixture
def report(tmp_path) -> Path:
    # two rows per rule server-side, the rest client-side: exercises "Show more" too
    paths = write_reports(full_result(), ["html"], tmp_path, html_rows_per_rule=2)
    return paths["html"]


@pytest.fixture
def page(browser, report):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    pg.events = {"console": [], "errors": [], "dialogs": [], "requests": []}
    pg.on("console", lambda m: pg.events["console"].append((m.type, m.text)))
    pg.on("pageerror", lambda e: pg.events["errors"].append(str(e)))
    pg.on("dialog", lambda d: (pg.events["dialogs"].append(d.message), d.dismiss()))
    pg.on("request", lambda r: pg.events["requests"].append(r.url))
    pg.goto(report.as_uri())
    pg.wait_for_selector("html[data-ready='1']", timeout=10_000)
    yield pg
    context.close()


def visible_rows(pg) -> list[dict]:
    return pg.eval_on_selector_all(
        "tr.finding",
        "rows => rows.filter(r => r.offsetParent !== null).map(r => ({"
        "rank: +r.dataset.rank, db: r.dataset.db, role: r.dataset.role, state: r.dataset.state,"
        "text: r.innerText}))",
    )


def select(pg, sel: str, label: str) -> None:
    pg.select_option(sel, label=label)


def test_loads_clean_and_names_are_text(page):
    assert page.events["errors"] == []
    assert [c for c in page.events["console"] if c[0] in ("error", "warning")] == []
    assert page.events["dialogs"] == []
    assert all(u.startswith("file://") for u in page.events["requests"]), page.events["requests"]
    assert page.evaluate("document.querySelectorAll('img').length") == 0
    assert page.evaluate("document.scripts.length") == 2
    card_titles = page.eval_on_selector_all(".role-card h3", "els => els.map(e => e.textContent)")
    assert IMG in card_titles and SCRIPT in card_titles
    assert page.locator(".role-card h3").filter(has_text=IMG).first.is_visible()
    assert page.locator("td.where .role").filter(has_text=SCRIPT).first.is_visible()
    assert "FAIL" in page.inner_text("#verdict")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)
    assert (ARTIFACTS / "report.png").stat().st_size > 10_000


def test_severity_filter(page):
    before = visible_rows(page)
    select(page, "#f-sev", "critical")
    rows = visible_rows(page)
    assert rows and all(r["rank"] == 4 for r in rows)
    assert len(rows) == 3 and len(rows) < len(before) + 20
    select(page, "#f-sev", "medium")
    assert all(r["rank"] >= 2 for r in visible_rows(page))
    assert len(visible_rows(page)) > 3


def test_database_filter(page):
    select(page, "#f-db", "reporting")
    rows = visible_rows(page)
    assert rows and all("reporting" in r["text"] for r in rows)
    assert len({r["db"] for r in rows}) == 1
    # rule sections with nothing left are hidden
    assert not page.is_visible("#rule-pgr-role-001")


def test_role_filter_with_hostile_name(page):
    select(page, "#f-role", IMG)
    rows = visible_rows(page)
    assert len(rows) == 1 and IMG in rows[0]["text"]
    cards = page.eval_on_selector_all(
        ".role-card", "els => els.filter(e => e.offsetParent !== null).length"
    )
    assert cards == 1
    assert page.events["dialogs"] == []


def test_text_search_and_state(page):
    page.fill("#f-q", "drop table")
    rows = visible_rows(page)
    assert len(rows) == 1 and "Orders" in rows[0]["text"]
    page.fill("#f-q", "")
    select(page, "#f-state", "waived")
    rows = visible_rows(page)
    assert len(rows) == 1 and rows[0]["state"] == "waived"
    page.click("#f-reset")
    page.wait_for_timeout(50)
    assert len(visible_rows(page)) >= 10


def test_show_more_and_copy(page):
    before = page.locator("#rule-pgr-priv-002 tr.finding").count()
    assert before == 2
    page.click("#rule-pgr-priv-002 button.show-more")
    assert page.locator("#rule-pgr-priv-002 tr.finding").count() == 4
    assert page.locator("#rule-pgr-priv-002 button.show-more").count() == 0
    # a client-side row shows the hostile role as text too
    assert page.evaluate("document.querySelectorAll('img').length") == 0
    btn = page.locator("#rule-pgr-priv-002 button.copy").first
    btn.click()
    page.wait_for_function("b => b.textContent !== 'Copy'", arg=btn.element_handle(), timeout=3000)
    assert page.events["errors"] == [] and page.events["dialogs"] == []
