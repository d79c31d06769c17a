"""``scan --history`` over four real scans with changes between them, then ``history``.

Run 1 is the start; before run 2 a table is granted to PUBLIC (new findings); before run 3
that grant is revoked *and* the auditor loses CONNECT on the database (so run 3 cannot say
the grant is gone: unknown, not resolved); before run 4 CONNECT comes back (now it is
resolved). Every trend number is checked against the scans' own JSON reports.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from cli_support import run_cli
from test_html_browser import ARGS, CHROMIUM, _need

from pgaudit_roles.reports.common import printable

TARGET = 'nightly "db1"\n<b>x</b>'


def _auditor(pg) -> str:
    name = pg.unique("aud")
    pg.execute(
        f"CREATE ROLE {name} LOGIN; GRANT pg_monitor TO {name}; "
        f"GRANT SELECT ON pg_catalog.pg_hba_file_rules TO {name}; "
        f"GRANT EXECUTE ON FUNCTION pg_catalog.pg_hba_file_rules() TO {name}"
    )
    return name


def _open_counts(report: dict) -> dict[str, int]:
    out = dict.fromkeys(("critical", "high", "medium", "low", "info"), 0)
    for f in report["findings"]:
        if not f.get("suppressed"):
            out[f["severity"]] += 1
    return out


def _fps(report: dict) -> dict[str, dict]:
    return {f["fingerprint"]: f for f in report["findings"]}


@pytest.fixture
def auditor(pg):
    name = _auditor(pg)
    yield name
    pg.execute(f"DROP OWNED BY {name}; DROP ROLE IF EXISTS {name}")


def test_history_of_four_scans(pg, fresh_db, auditor, tmp_path, capsys):
    db = fresh_db
    hist = tmp_path / "hist"
    pg.execute("CREATE SCHEMA s; CREATE TABLE s.t (i int);", dbname=db)
    reports: list[dict] = []

    def scan(n: int, *extra: str) -> None:
        out = tmp_path / f"r{n}"
        code, _, err = run_cli(
            [
                "scan",
                pg.conninfo(user=auditor),
                "--history",
                str(hist),
                "--target-name",
                TARGET,
                "--format",
                "json,prometheus",
                "--output-dir",
                str(out),
                "--fail-on",
                "none",
                "-q",
                "--no-verify",
                *extra,
            ],
            capsys,
        )
        assert code == 0, err
        reports.append(json.loads((out / "pgaudit-report.json").read_text()))

    scan(1, "--snapshot-out", str(tmp_path / "first.json.gz"))
    pg.execute("GRANT INSERT ON s.t TO PUBLIC", dbname=db)
    scan(2)
    pg.execute("REVOKE INSERT ON s.t FROM PUBLIC", dbname=db)
    pg.execute(f'REVOKE CONNECT ON DATABASE "{db}" FROM PUBLIC')
    scan(3)
    pg.execute(f'GRANT CONNECT ON DATABASE "{db}" TO PUBLIC')
    scan(4)

    code, out, err = run_cli(["history", str(hist), "--format", "json"], capsys)
    assert code == 0, err
    (t,) = json.loads(out)["targets"]
    assert t["target"] == TARGET
    runs = t["runs"]
    assert len(runs) == 4
    # findings per severity: exactly what each scan reported
    assert [r["counts"] for r in runs] == [_open_counts(r) for r in reports]

    r1, r2, r3, r4 = (_fps(r) for r in reports)
    granted = {fp for fp, f in r2.items() if fp not in r1 and f["rule_id"] == "PGR-PRIV-005"}
    assert granted, "GRANT INSERT ... TO PUBLIC must produce PGR-PRIV-005"
    new2 = {f["fingerprint"] for f in runs[1]["new"]}
    assert new2 == set(r2) - set(r1)
    assert runs[1]["resolved"] == [] and set(r1) <= set(r2)

    # run 3: the database was not read; what disappeared is unknown, never resolved
    gone3 = set(r2) - set(r3)
    assert granted <= gone3
    unknown3 = {f["fingerprint"] for f in runs[2]["unknown"] if f["present_in"] == "old"}
    assert granted <= unknown3
    assert not granted & {f["fingerprint"] for f in runs[2]["resolved"]}
    assert all(f["database"] != db for f in runs[2]["resolved"])
    assert any(f["rule_id"].startswith("PGR-COV") for f in runs[2]["new"])  # the gap itself
    assert runs[2]["coverage_gaps"] >= 1 and runs[3]["coverage_gaps"] == runs[0]["coverage_gaps"]

    # run 4: readable again and the grant is gone: now resolved; the gap finding too
    resolved4 = {f["fingerprint"] for f in runs[3]["resolved"]}
    assert granted <= resolved4
    assert resolved4 == (set(r2) | set(r3)) - set(r4) - (set(r2) - set(r3) - unknown3)
    assert {f["fingerprint"] for f in runs[3]["new"]} == set()
    ttf = {x["rule_id"]: x for x in t["time_to_fix"]}
    assert ttf["PGR-PRIV-005"]["fixed"] == len(granted)

    # the Prometheus file of the last run parses and matches its report
    from prometheus_client.parser import text_string_to_metric_families

    fams = {
        f.name: f
        for f in text_string_to_metric_families(
            (tmp_path / "r4" / "pgaudit-report.prom").read_text()
        )
    }
    per = {}
    for s in fams["pgaudit_findings"].samples:
        assert s.labels["target"] == printable(TARGET)  # one line: \\n shown, not a newline
        per[(s.labels["rule"], s.labels["severity"])] = s.value
    want: dict[tuple[str, str], float] = {}
    for f in reports[3]["findings"]:
        if not f.get("suppressed"):
            want[(f["rule_id"], f["severity"])] = want.get((f["rule_id"], f["severity"]), 0) + 1
    assert {k: v for k, v in per.items() if v} == want
    gaps = fams["pgaudit_coverage_gaps"].samples[0]
    assert gaps.value == runs[3]["coverage_gaps"]

    # `check` of the first night's snapshot, recorded in the same store with retention
    # "2 runs" (per target): the run goes under the cluster's host:port when no name is
    # given, with the numbers the first scan reported, and of TARGET's four runs the last
    # two stay (a run of the same target beside the retention would be a fifth evaluation)
    code, _, err = run_cli(
        [
            "check",
            str(tmp_path / "first.json.gz"),
            "--history",
            str(hist),
            "--history-keep",
            "2 runs",
            "-q",
            "--fail-on",
            "none",
            "--no-verify",
        ],
        capsys,
    )
    assert code == 0, err
    code, out, err = run_cli(["history", str(hist), "--format", "json"], capsys)
    assert code == 0, err
    by_target = {x["target"]: x for x in json.loads(out)["targets"]}
    host = f"{pg.cluster.socket_dir}:{pg.cluster.port}"
    assert set(by_target) == {TARGET, host}
    kept = by_target[TARGET]["runs"]
    assert [r["started_at"] for r in kept] == [r["started_at"] for r in runs[2:]]
    assert [r["counts"] for r in kept] == [_open_counts(r) for r in reports[2:]]
    (checked,) = by_target[host]["runs"]
    assert checked["counts"] == _open_counts(reports[0])
    assert len(list((hist / "findings").glob("*.parquet"))) == 3


@pytest.mark.browser
def test_history_html_in_chromium(pg, fresh_db, auditor, tmp_path, capsys):
    """Three runs, the HTML rendered by headless Chromium: no console errors, charts drawn."""
    hist = tmp_path / "hist"
    pg.execute("CREATE SCHEMA s; CREATE TABLE s.t (i int);", dbname=fresh_db)
    conf = tmp_path / "audit.toml"  # the store and the name from the configuration
    conf.write_text('target_name = "<img src=x onerror=alert(1)>"\n[history]\ndir = "hist"\n')
    for step in ("", "GRANT INSERT ON s.t TO PUBLIC", "REVOKE INSERT ON s.t FROM PUBLIC"):
        if step:
            pg.execute(step, dbname=fresh_db)
        code, _, err = run_cli(
            [
                "scan",
                pg.conninfo(user=auditor),
                "--config",
                str(conf),
                "-q",
                "--fail-on",
                "none",
                "--no-verify",
                "--format",
                "json",
                "--output-dir",
                str(tmp_path / "r"),
            ],
            capsys,
        )
        assert code == 0, err
    page_file = tmp_path / "history.html"
    code, _, err = run_cli(["history", str(hist), "--format", "html", "-o", str(page_file)], capsys)
    assert code == 0, err
    if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        _need("chromium not installed")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _need("playwright (Python package) not installed")
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium"),
            args=ARGS,
        )
        try:
            page = browser.new_page()
            events: list[str] = []
            page.on("console", lambda m: events.append(f"{m.type}: {m.text}"))
            page.on("pageerror", lambda e: events.append(str(e)))
            page.on("dialog", lambda d: (events.append("dialog " + d.message), d.dismiss()))
            page.goto(Path(page_file).as_uri())
            page.wait_for_load_state("load")
            assert events == []
            assert page.locator("svg.chart").count() == 2
            assert page.locator("table.runs tr[data-run]").count() == 3
            heading = page.locator("section.target h2 code").inner_text()
            assert heading == "<img src=x onerror=alert(1)>"
            assert page.locator("img").count() == 0
            resolved = page.locator("svg.turnover rect.resolved").count()
            assert resolved == 1
            new_bars = page.locator("svg.turnover rect.new").count()
            assert new_bars == 1
        finally:
            browser.close()
