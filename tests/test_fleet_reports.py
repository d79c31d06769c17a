"""The combined fleet reports without a server: a FleetResult made of the reporter tests'
synthetic ScanResults (hostile names, waived and baselined findings, every rule status),
a target that was not audited and one that never ran.

Each format validates against its schema, names stay text, and the fleet-wide views
(matrix, worst risks, rules across targets, exit code) add up from the targets. The HTML
overview is also opened in headless Chromium: its Content-Security-Policy must let its own
stylesheet apply (a wrong hash would silently leave the page unstyled).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest
import xmlschema
from report_fixtures import HOSTILE, SCRIPT, clone, full_result

from pgaudit_roles.config import Config
from pgaudit_roles.core.resources import schemas_dir
from pgaudit_roles.fleet import (
    report_html,
    report_json,
    report_junit,
    report_markdown,
    report_sarif,
)
from pgaudit_roles.fleet.audit import write_reports
from pgaudit_roles.fleet.inventory import Target
from pgaudit_roles.fleet.outcome import FleetResult, TargetOutcome, not_audited_result

T0 = dt.datetime(2026, 12, 5, 2, 30, tzinfo=dt.UTC)


def target(name: str, **kw: object) -> Target:
    return Target(name=name, conninfo="host=127.0.0.1 port=5999 user=aud password=s3cr3t-pw", **kw)  # type: ignore[arg-type]


@pytest.fixture
def fleet() -> FleetResult:
    a = full_result()
    b = clone(a)
    b.meta["server_version"] = "13.23"
    down = target(SCRIPT + " down", environment="prod", tags=("eu",))
    outcomes = [
        TargetOutcome(
            target("orders-prod", environment="prod", application="orders"),
            "audited",
            result=a,
            label="aud@127.0.0.1:5432/postgres",
            duration_s=2.5,
            reports={
                "json": "targets/orders-prod/pgaudit-report.json",
                "html": "targets/orders-prod/pgaudit-report.html",
            },
            snapshot="targets/orders-prod/snapshot.json.gz",
            peak_rss_kb=150_000,
        ),
        TargetOutcome(
            target(HOSTILE[4], tags=("misc",)),
            "audited",
            result=b,
            duration_s=1.0,
            reports={"json": "targets/x/pgaudit-report.json"},
        ),
        TargetOutcome(
            down,
            "unreachable",
            reason="connection refused",
            duration_s=0.1,
            result=not_audited_result(
                down,
                "unreachable",
                "connection refused",
                [],
                Config(),
                "aud@127.0.0.1:5999/postgres",
            ),
        ),
        TargetOutcome(target("later"), "not_run", reason="run stopped (SIGINT) before this target"),
    ]
    return FleetResult(
        inventory="fleet.toml",
        inventory_kind="toml",
        outcomes=outcomes,
        fail_on="high",
        started_at=T0,
        finished_at=T0 + dt.timedelta(seconds=9),
        parallel=2,
        jobs=2,
        interrupted="SIGINT",
        total_in_inventory=5,
    )


def render(mod: object, fleet: FleetResult, **kw: object) -> str:
    buf = io.StringIO()
    mod.write(fleet, buf, **kw)  # type: ignore[attr-defined]
    return buf.getvalue()


def test_json_validates_and_adds_up(fleet: FleetResult) -> None:
    doc = json.loads(render(report_json, fleet))
    schema = json.loads((schemas_dir() / "fleet-report.schema.json").read_text())
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    assert [e.message for e in cls(schema).iter_errors(doc)][:3] == []
    assert doc["summary"]["exit_code"] == 130 and doc["run"]["incomplete"]
    assert doc["summary"]["by_status"] == {
        "audited": 2,
        "unreachable": 1,
        "timeout": 0,
        "error": 0,
        "interrupted": 0,
        "not_run": 1,
    }
    per_target = [sum(t["counts"].values()) for t in doc["targets"]]
    assert sum(doc["summary"]["by_severity"].values()) == sum(per_target)
    assert doc["summary"]["gating"] == sum(t["gating"] for t in doc["targets"])
    spread = {r["rule_id"]: r["targets"] for r in doc["rules"]}
    assert spread["PGR-ROLE-001"] == ["orders-prod", HOSTILE[4]]  # on both audited targets
    assert spread["PGR-FLEET-001"] == [SCRIPT + " down"]
    assert doc["worst"][0]["severity"] == "critical"
    text = json.dumps(doc)
    assert "s3cr3t-pw" not in text  # the conninfo's password never reaches a report
    down = doc["targets"][2]
    assert down["where"] == "" and down["verdict"] == "fail"


def test_exit_code_follows_the_gate(fleet: FleetResult) -> None:
    fleet.interrupted = None
    assert fleet.exit_code() == 1 and fleet.verdict() == "fail"
    for o in fleet.outcomes:
        if o.result is not None:
            o.result.fail_on = "none"
    assert fleet.exit_code() == 0 and fleet.verdict() == "incomplete"  # never a pass
    fleet.outcomes = [o for o in fleet.outcomes if o.status != "audited"]
    assert fleet.exit_code() == 3  # nothing could be audited


def test_junit_sarif_markdown(fleet: FleetResult, shared_schemas: Path) -> None:
    junit = render(report_junit, fleet)
    xsd = xmlschema.XMLSchema(str(shared_schemas / "junit.xsd"))
    assert list(xsd.iter_errors(junit)) == []
    suites = ET.fromstring(junit).findall("testsuite")
    assert len(suites) == 4
    assert suites[3].find("testcase/skipped") is not None  # the target that never ran
    names = [s.get("name") for s in suites]
    assert "target new\\nline FAIL: forged" in names  # one line, escaped

    sarif = json.loads(render(report_sarif, fleet))
    schema = json.loads((shared_schemas / "sarif-schema-2.1.0.json").read_text())
    cls = jsonschema.validators.validator_for(schema)
    assert [e.message for e in cls(schema).iter_errors(sarif)][:3] == []
    assert len(sarif["runs"]) == 3  # not_run has no run

    md = render(report_markdown, fleet)
    assert "<script>" not in md and "\\<script\\>" in md
    rows = [ln for ln in md.splitlines() if ln.startswith("| ") and "|---" not in ln]
    assert all(ln.count(" | ") >= 9 for ln in rows[1:5]), rows[:5]
    assert "\u202e" not in md


def test_html_is_escaped_and_links_targets(fleet: FleetResult) -> None:
    html = render(report_html, fleet)
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert html.count('<tr data-target="') == 4
    assert 'href="targets/orders-prod/pgaudit-report.html"' in html
    assert 'href="targets/x/pgaudit-report.json"' in html
    assert 'id="interrupted"' in html
    assert "s3cr3t-pw" not in html


def test_write_reports_all_formats(fleet: FleetResult, tmp_path: Path) -> None:
    paths = write_reports(
        fleet,
        ["json", "html", "junit", "sarif", "markdown", "text"],
        tmp_path,
        {"sarif_anchor": "x.toml"},
    )
    assert sorted(p.name for p in paths.values()) == [
        "fleet-report.html",
        "fleet-report.json",
        "fleet-report.junit.xml",
        "fleet-report.md",
        "fleet-report.sarif",
    ]
    assert sorted(os.listdir(tmp_path)) == sorted(p.name for p in paths.values())


@pytest.mark.browser
def test_overview_in_chromium(fleet: FleetResult, tmp_path: Path) -> None:
    chromium = (
        "/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else shutil.which("chromium")
    )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        chromium = None
    if not chromium:
        if os.environ.get("PGAUDIT_REQUIRE_BROWSER") == "1":
            pytest.fail("chromium or playwright missing (PGAUDIT_REQUIRE_BROWSER=1)")
        pytest.skip("chromium or playwright missing")
    path = tmp_path / "fleet-report.html"
    path.write_text(render(report_html, fleet))
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
        page = b.new_page()
        console: list[tuple[str, str]] = []
        page.on("console", lambda m: console.append((m.type, m.text)))
        page.goto(path.as_uri())
        # the stylesheet applied: the CSP hash matches the <style> element's text
        bg = page.eval_on_selector("#verdict", "e => getComputedStyle(e).backgroundColor")
        cells = page.eval_on_selector_all(
            "#target-matrix tbody tr", "rows => rows.map(r => r.cells[0].innerText)"
        )
        b.close()
    assert console == [], console
    assert bg not in ("rgba(0, 0, 0, 0)", "transparent"), bg
    assert any(SCRIPT in c for c in cells)  # shown as text


def test_prometheus_one_family_per_metric_and_no_fresh_timestamp_for_a_missed_target(
    fleet: FleetResult,
) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    from pgaudit_roles.fleet import report_prometheus

    text = render(report_prometheus, fleet)
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert len(families) == len([ln for ln in text.splitlines() if ln.startswith("# TYPE")])
    last = {
        s.labels["target"]
        for s in families["pgaudit_last_successful_scan_timestamp_seconds"].samples
    }
    assert last == {"orders-prod", "new\\nline FAIL: forged"}  # not the unreachable target
    fleet_gap = [
        s for s in families["pgaudit_findings"].samples if s.labels["rule"] == "PGR-FLEET-001"
    ]
    assert [(s.labels["target"], s.value) for s in fleet_gap] == [(SCRIPT + " down", 1.0)]
    failing = {s.labels["target"]: s.value for s in families["pgaudit_gate_failing"].samples}
    assert failing[SCRIPT + " down"] == 1.0 and "later" not in failing


def test_history_records_every_target_under_its_name(fleet: FleetResult, tmp_path: Path) -> None:
    """--history: audited and not-audited targets are recorded under their inventory name
    (the one not audited with its rules skipped, so earlier findings stay open)."""
    from pgaudit_roles.fleet.audit import _record_history
    from pgaudit_roles.history import load

    cfg = Config()
    cfg.history = {"dir": tmp_path / "history"}
    for o in fleet.outcomes:
        if o.result is not None:
            _record_history(o, cfg)
    store = load(tmp_path / "history")
    try:
        runs = {r["target"]: r for r in store.runs}
        assert set(runs) == {"orders-prod", HOSTILE[4], SCRIPT + " down"}
        down = runs[SCRIPT + " down"]
        assert down["rules_skipped"] >= 0 and down["gating"] == 1
        assert json.loads(runs["orders-prod"]["labels"]) == {
            "application": "orders",
            "environment": "prod",
        }
        rows = store.rows("findings", [down["run_id"]])
        assert [r["rule_id"] for r in rows] == ["PGR-FLEET-001"]
    finally:
        store.close()


def test_formats_combined_and_per_target() -> None:
    from pgaudit_roles.core.errors import UsageError
    from pgaudit_roles.fleet import formats

    got = formats.parse("md,sql,html,text", ())
    assert got == ["markdown", "sql", "html", "text"]
    assert [r.name for r in formats.combined(got)] == ["json", "markdown", "html"]
    assert formats.per_target(got)[0] == "json" and "sql" in formats.per_target(got)
    assert "text" not in formats.per_target(got)
    # every single-scan format is accepted (each target gets it), so a new one needs no change
    from pgaudit_roles.reports import FORMATS

    assert set(FORMATS) <= set(formats.known())
    with pytest.raises(UsageError, match="unknown report format 'pdf' for fleet"):
        formats.parse("pdf", ())


def test_a_target_not_audited_gets_its_own_reports(tmp_path: Path) -> None:
    """Its reports are written like an audited target's, except formats built from catalog
    data it does not have (csv's access review), which would fail the whole set."""
    from pgaudit_roles.fleet.audit import _outcome
    from pgaudit_roles.fleet.runner import Finished
    from pgaudit_roles.fleet.worker import Job

    job = Job(
        target=target("down"),
        cfg=Config(),
        rules=[],
        formats=["json", "markdown", "csv"],
        directory=tmp_path / "targets" / "down",
        options={},
    )
    o = _outcome(Finished(job, "unreachable", "connection refused", None, 0.1), tmp_path)
    assert o.status == "unreachable" and o.result is not None
    assert set(o.reports) == {"json", "markdown"}
    assert all((tmp_path / p).is_file() for p in o.reports.values())
    own = json.loads((tmp_path / o.reports["json"]).read_text())
    assert [f["rule_id"] for f in own["findings"]] == ["PGR-FLEET-001"]
