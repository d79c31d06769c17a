"""Element ids of the HTML report are unique: anchors, the URL hash and the filters find
elements by id, and two findings can share a fingerprint (one rule, the same object and
role, different evidence). Pure: fixtures rendered without a server; the demo page's ids
are checked in test_html_demo_browser.py (its real scan)."""

from __future__ import annotations

import copy
import json
from collections import Counter
from html.parser import HTMLParser

import pytest
from report_fixtures import empty_result, full_result, many_result

from pgaudit_roles.core.model import ScanResult
from pgaudit_roles.reports import html_report, render


class Ids(HTMLParser):
    """Every id attribute (HTML and the inline SVG), the in-page links, and the embedded
    JSON rows report.js turns into ``<tr id="f-...">``."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: list[str] = []
        self.links: list[str] = []
        self.json_rows: list[str] = []
        self._data = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id") is not None:
            self.ids.append(a["id"])
        href = a.get("href") or ""
        if tag == "a" and href.startswith("#"):
            self.links.append(href[1:])
        self._data = tag == "script" and a.get("id") == "report-data"

    def handle_endtag(self, tag):
        self._data = False

    def handle_data(self, data):
        if self._data:
            extra = json.loads(data)["extra"]
            self.json_rows += ["f-" + row[0] for rows in extra.values() for row in rows]


def page_ids(html: str) -> Ids:
    c = Ids()
    c.feed(html)
    c.close()
    return c


def duplicates(html: str) -> list[str]:
    """Ids used twice, counting the rows report.js adds from the embedded JSON."""
    c = page_ids(html)
    return sorted(k for k, n in Counter(c.ids + c.json_rows).items() if n > 1)


def with_shared_fingerprints(result: ScanResult, copies: int) -> ScanResult:
    """Each failing rule's first finding gets ``copies`` twins: same rule, database,
    object and role (so the same fingerprint), different evidence and message."""
    out = copy.deepcopy(result)
    for r in out.results:
        if not r.findings:
            continue
        first = r.findings[0]
        for n in range(copies):
            twin = copy.deepcopy(first)
            twin.message = f"{first.message} (second grant path {n})"
            twin.details = {**first.details, "via": f"path_{n}"}
            assert twin.fingerprint == first.fingerprint
            r.findings.insert(1, twin)
    return out


def shared(result: ScanResult) -> set[str]:
    seen = Counter(f.fingerprint for f in result.findings)
    return {fp for fp, n in seen.items() if n > 1}


@pytest.mark.parametrize(
    "make",
    [full_result, empty_result, lambda: full_result(baseline=False), lambda: many_result(300)],
    ids=["full", "empty", "no-baseline", "many"],
)
def test_fixture_pages_have_unique_ids(make):
    assert duplicates(render(make(), "html")) == []


@pytest.mark.parametrize("rows_per_rule", [50, 1], ids=["all-rendered", "spill-to-json"])
def test_findings_sharing_a_fingerprint_get_unique_ids(rows_per_rule):
    result = with_shared_fingerprints(full_result(), copies=2)
    fps = shared(result)
    assert fps  # the page under test really has findings sharing a fingerprint
    html = render(result, "html", html_rows_per_rule=rows_per_rule)
    assert duplicates(html) == []
    c = page_ids(html)
    rows = set(c.ids) | set(c.json_rows)
    for fp in fps:
        # the first keeps the plain id (existing links), the others get an ordinal
        assert {f"f-{fp}", f"f-{fp}-2", f"f-{fp}-3"} <= rows
        assert f"f-{fp}-4" not in rows
    # stable: the same result gives the same ids
    assert page_ids(render(result, "html", html_rows_per_rule=rows_per_rule)).ids == c.ids


def test_unshared_fingerprints_keep_their_plain_ids():
    result = full_result()
    assert not shared(result)
    c = page_ids(render(result, "html"))
    finding_ids = {i for i in c.ids + c.json_rows if i.startswith("f-") and len(i) == 34}
    assert finding_ids == {"f-" + f.fingerprint for f in result.findings} & finding_ids
    assert finding_ids and not [i for i in c.ids if i.startswith("f-") and i.count("-") > 1]


@pytest.mark.parametrize("rows_per_rule", [50, 1])
def test_every_in_page_link_has_its_target(rows_per_rule):
    """Top risks link to their own row (or their rule when the row is not rendered); the
    checklist and the appendix link to rules: each target exists exactly once."""
    result = with_shared_fingerprints(full_result(), copies=1)
    html = render(result, "html", html_rows_per_rule=rows_per_rule)
    c = page_ids(html)
    ids = Counter(c.ids)
    missing = [link for link in c.links if ids[link] != 1]
    assert missing == []
    risk_rows = [link for link in c.links if link.startswith("f-")]
    assert risk_rows if rows_per_rule == 50 else True


def test_a_top_risk_sharing_a_fingerprint_links_to_its_own_row():
    result = with_shared_fingerprints(full_result(), copies=1)
    html = html_report.render(result, html_top_risks=50)  # every active finding is a risk
    c = page_ids(html)
    linked = Counter(link for link in c.links if link.startswith("f-"))
    # a risk is linked once; twins that are both risks link to two different rows
    assert linked and max(linked.values()) == 1
    assert any(link.endswith("-2") for link in linked)
