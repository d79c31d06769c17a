"""diff and baselines never overstate: what one side did not look at is unknown, a widened
grant is a change that gates, and SARIF keeps waived and baselined results with their state.

Snapshots are collected once per module and version, as a least-privileged auditor:
``full`` (everything readable), ``nodb`` (CONNECT on the test database revoked from the
auditor and PUBLIC), ``nohba`` (pg_hba_file_rules not granted) and ``widened`` (the
PUBLIC grant on s.t grew from INSERT to INSERT, UPDATE, DELETE, TRUNCATE, and a new PUBLIC
grant on s.t2 appeared).
"""

from __future__ import annotations

import json
import shlex
import subprocess
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest
from cli_support import cli_process

from pgaudit_roles.collect.collector import collect
from pgaudit_roles.collect.snapshot import Table, load, save
from pgaudit_roles.evaluate import drift

HBA_GRANTS = (
    "GRANT SELECT ON pg_catalog.pg_hba_file_rules TO {a}; "
    "GRANT EXECUTE ON FUNCTION pg_catalog.pg_hba_file_rules() TO {a}"
)
HBA_REVOKES = (
    "REVOKE SELECT ON pg_catalog.pg_hba_file_rules FROM {a}; "
    "REVOKE EXECUTE ON FUNCTION pg_catalog.pg_hba_file_rules() FROM {a}"
)


def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return cli_process(list(args), cwd=cwd)


@pytest.fixture(scope="module")
def snaps(pg, tmp_path_factory) -> Iterator[dict]:
    work = tmp_path_factory.mktemp(f"honest{pg.major}")
    db = pg.create_database(pg.unique("honest"))
    aud = pg.unique("aud")
    pg.execute(f"CREATE ROLE {aud} LOGIN; GRANT pg_monitor TO {aud}; " + HBA_GRANTS.format(a=aud))
    pg.execute(
        "CREATE SCHEMA s; CREATE TABLE s.t (i int); CREATE TABLE s.t2 (i int); "
        "GRANT INSERT ON s.t TO PUBLIC;",
        dbname=db,
    )
    dsn = pg.conninfo(user=aud)
    dbs = ["postgres", db]
    paths = {k: work / f"{k}.json.gz" for k in ("full", "nodb", "nohba", "widened")}
    try:
        save(collect(dsn, databases=dbs), paths["full"])
        pg.execute(f'REVOKE CONNECT ON DATABASE "{db}" FROM PUBLIC, {aud}')
        save(collect(dsn, databases=dbs), paths["nodb"])
        pg.execute(f'GRANT CONNECT ON DATABASE "{db}" TO PUBLIC')
        pg.execute(HBA_REVOKES.format(a=aud))
        save(collect(dsn, databases=dbs), paths["nohba"])
        pg.execute(HBA_GRANTS.format(a=aud))
        pg.execute(
            "GRANT UPDATE, DELETE, TRUNCATE ON s.t TO PUBLIC; GRANT SELECT ON s.t2 TO PUBLIC;",
            dbname=db,
        )
        save(collect(dsn, databases=dbs), paths["widened"])
        yield {
            "db": db,
            "aud": aud,
            "work": work,
            "dsn": dsn,
            **{k: str(v) for k, v in paths.items()},
        }
    finally:
        pg.drop_database(db)
        pg.execute(f"DROP OWNED BY {aud}; DROP ROLE IF EXISTS {aud}")


def _diff_json(old: str, new: str, *extra: str) -> tuple[int, dict]:
    res = _cli("diff", old, new, "--format", "json", *extra)
    assert res.returncode in (0, 1), res.stderr
    return res.returncode, json.loads(res.stdout)


def _diff_files(old: str, new: str, out: Path, *extra: str, formats: str = "json,text") -> tuple:
    """One ``diff --format FORMATS --output-dir OUT``: (exit code, JSON document, text,
    HTML or None). One comparison, both snapshots evaluated once, for every format read."""
    res = _cli("diff", old, new, "--format", formats, "--output-dir", str(out), *extra)
    assert res.returncode in (0, 1), res.stderr
    assert res.stdout == "", res.stdout
    html = out / "pgaudit-diff.html"
    return (
        res.returncode,
        json.loads((out / "pgaudit-diff.json").read_text(encoding="utf-8")),
        (out / "pgaudit-diff.txt").read_text(encoding="utf-8"),
        html.read_text(encoding="utf-8") if html.exists() else None,
    )


def test_unreadable_database_is_unknown_not_resolved(snaps, tmp_path):
    db = snaps["db"]
    code, doc, text, _ = _diff_files(
        snaps["full"], snaps["nodb"], tmp_path, "--fail-on", "critical"
    )
    f = doc["findings"]
    assert not [x for x in f["resolved"] if x["database"] == db], f["resolved"]
    unknown = [x for x in f["unknown"] if x["database"] == db]
    assert any(x["rule_id"] == "PGR-PRIV-005" and x["present_in"] == "old" for x in unknown)
    assert all(f"database {db} not collected in NEW" in x["why"] for x in unknown)
    # no drift invented for the database NEW could not read
    for section in ("privileges", "objects", "default_privileges"):
        for items in doc["drift"][section].values():
            assert not [x for x in items if isinstance(x, dict) and x.get("database") == db]
    assert any(
        line.startswith(f"database {db}: not collected in NEW")
        for line in doc["coverage"]["unknown"]
    )
    assert "RESOLVED" not in " ".join(line for line in text.splitlines() if db in line)
    assert "UNKNOWN" in text and f"database {db} not collected in NEW" in text

    # the other way round the findings are not "new" either: OLD could not look; they gate
    code, doc = _diff_json(snaps["nodb"], snaps["full"], "--fail-on", "high")
    assert not [x for x in doc["findings"]["new"] if x["database"] == db]
    assert any(x["database"] == db and x["present_in"] == "new" for x in doc["findings"]["unknown"])
    assert code == 1


def test_unreadable_hba_is_unknown_not_resolved(snaps, tmp_path):
    code, doc, text, _ = _diff_files(
        snaps["full"], snaps["nohba"], tmp_path, "--fail-on", "critical"
    )
    f = doc["findings"]
    assert not [x for x in f["resolved"] if x["rule_id"].startswith("PGR-HBA-")]
    hba_unknown = [x for x in f["unknown"] if x["rule_id"].startswith("PGR-HBA-")]
    assert hba_unknown, "the local trust line's finding must be reported as unknown"
    assert doc["drift"]["hba"]["added"] == [] and doc["drift"]["hba"]["removed"] == []
    assert any(
        line.startswith("pg_hba: not collected in NEW") for line in doc["coverage"]["unknown"]
    )
    assert "pg_hba line removed" not in text


def test_widened_grant_is_changed_shown_old_and_new_and_gates(snaps, tmp_path):
    db = snaps["db"]
    code, doc, text, page = _diff_files(
        snaps["full"],
        snaps["widened"],
        tmp_path,
        "--fail-on",
        "high",
        "-d",
        db,
        formats="json,text,html",
    )
    (ch,) = [c for c in doc["findings"]["changed"] if c["rule_id"] == "PGR-PRIV-005"]
    assert ch["widened"]["table_privileges"] == [
        ["INSERT"],
        ["DELETE", "INSERT", "TRUNCATE", "UPDATE"],
    ]
    assert "INSERT" in ch["old_message"] and "TRUNCATE" in ch["message"]
    assert code == 1
    assert "WIDENED" in text and "was: " in text and "now: " in text
    assert "table privileges: INSERT widened to DELETE, INSERT, TRUNCATE, UPDATE" in text
    assert (
        f"PUBLIC: INSERT widened to DELETE, INSERT, TRUNCATE, UPDATE on table s.t in {db}" in text
    )
    assert "True" not in text.split() and "False" not in text.split()
    assert "(widened)" in page and "Changed findings" in page


def test_fail_on_drift_and_scope(snaps):
    db = snaps["db"]
    same = _cli("diff", snaps["full"], snaps["full"], "-d", db, "--fail-on-drift")
    assert same.returncode == 0 and "drift: none" in same.stdout, same.stdout + same.stderr
    moved = _cli(
        "diff",
        snaps["full"],
        snaps["widened"],
        "-d",
        db,
        "--fail-on-drift",
        "--fail-on",
        "none",
        "--kind",
        "privileges",
    )
    assert moved.returncode == 1, moved.stdout
    assert "PUBLIC was granted SELECT on table s.t2" in moved.stdout
    # the privilege rules ran (a --kind diff evaluates only the rules of its kinds)
    assert "NEW" in moved.stdout and "PGR-PRIV-005" in moved.stdout, moved.stdout
    # hba and settings are other kinds: no drift there between these two snapshots
    other = _cli(
        "diff",
        snaps["full"],
        snaps["widened"],
        "--kind",
        "hba",
        "--kind",
        "settings",
        "--fail-on-drift",
        "--fail-on",
        "none",
    )
    assert other.returncode == 0, other.stdout


def test_hba_row_with_every_field_empty_does_not_crash(snaps, tmp_path):
    old = load(snaps["full"])
    new = load(snaps["full"])
    t = new.table("hba_rules")
    new.cluster["hba_rules"] = Table(
        columns=list(t.columns), rows=[*t.rows, [None] * len(t.columns)]
    )
    d = drift.compare(old, new)
    assert d["hba"]["added"] == ["(a line with every field empty)"]
    path = tmp_path / "new.json.gz"
    save(new, path)
    res = _cli("diff", snaps["full"], str(path), "--fail-on", "none")
    assert res.returncode == 0 and "Traceback" not in res.stderr
    assert "pg_hba line added: (a line with every field empty)" in res.stdout


def _check(snap: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return _cli("check", snap, *args, cwd=cwd)


@pytest.fixture(scope="module")
def full_baseline(snaps) -> Path:
    """``baseline create`` of the full snapshot, made once: the tests that use it only read
    it (test_missing_baseline_names_the_command_that_creates_it makes its own, as printed)."""
    base = snaps["work"] / "audit-baseline.json"
    res = _cli("baseline", "create", snaps["full"], "-o", str(base))
    assert res.returncode == 0, res.stderr
    return base


def test_baseline_does_not_cover_a_widened_grant(snaps, full_baseline, tmp_path):
    base = full_baseline
    entry = next(
        e
        for e in json.loads(base.read_text())["findings"]
        if e["rule_id"] == "PGR-PRIV-005" and e["database"] == snaps["db"]
    )
    assert entry["widening"]["table_privileges"] == ["INSERT"] and entry["evidence"]

    same = _check(snaps["full"], "--baseline", str(base), "--fail-on", "low", cwd=tmp_path)
    assert same.returncode == 0, same.stdout
    out = tmp_path / "out"
    res = _check(
        snaps["widened"],
        "--baseline",
        str(base),
        "--fail-on",
        "high",
        "--format",
        "json,text",
        "--output-dir",
        str(out),
        cwd=tmp_path,
    )
    assert res.returncode == 1, res.stdout + res.stderr
    report = json.loads((out / "pgaudit-report.json").read_text())
    (f,) = [
        x
        for x in report["findings"]
        if x["rule_id"] == "PGR-PRIV-005"
        and x["object_identity"] == "s.t"
        and x["database"] == snaps["db"]
    ]
    assert f["baseline"] == "updated" and f["gating"] is True
    assert f["baseline_previous"]["widened"]["table_privileges"] == [
        ["INSERT"],
        ["DELETE", "INSERT", "TRUNCATE", "UPDATE"],
    ]
    assert report["summary"]["baseline"]["updated"] == 1
    assert (
        "widened since the baseline: table privileges: INSERT -> DELETE, INSERT, TRUNCATE, UPDATE"
        in " ".join(res.stdout.split())
    )  # the summary wraps to 80 columns in a pipe

    # a version-1 baseline (no evidence) is still read: it accepts the finding as it is now
    doc = json.loads(base.read_text())
    doc["version"] = 1
    for e in doc["findings"]:
        e.pop("evidence"), e.pop("widening")
    old = tmp_path / "v1.json"
    old.write_text(json.dumps(doc))
    res = _check(
        snaps["widened"],
        "--baseline",
        str(old),
        "--fail-on",
        "high",
        "--format",
        "json",
        "--output-dir",
        str(tmp_path / "v1"),
        cwd=tmp_path,
    )
    report = json.loads((tmp_path / "v1" / "pgaudit-report.json").read_text())
    states = {
        x["baseline"]
        for x in report["findings"]
        if x["object_identity"] == "s.t" and x["rule_id"] == "PGR-PRIV-005"
    }
    assert states == {"unchanged"}


def test_missing_baseline_names_the_command_that_creates_it(snaps, tmp_path):
    res = _check(snaps["full"], "--baseline", "audit-baseline.json", cwd=tmp_path)
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in res.stderr, res.stderr
    assert "baseline file not found: audit-baseline.json" in lines[0]
    cmd = lines[0].split("run: ", 1)[1]
    assert (
        cmd == f"pgaudit-roles baseline create {shlex.quote(snaps['full'])} -o audit-baseline.json"
    )
    made = _cli(*shlex.split(cmd)[1:], cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    again = _check(snaps["full"], "--baseline", "audit-baseline.json", cwd=tmp_path)
    assert again.returncode == 0, again.stdout


def test_sarif_keeps_waived_and_marks_baseline_states(
    snaps, full_baseline, tmp_path, shared_schemas
):
    base = full_baseline
    waivers = tmp_path / "waivers.toml"
    waivers.write_text(
        '[[waiver]]\nrule = "PGR-HBA-002"\nreason = "trust on the CI socket only"\n'
        'owner = "dba team"\n',
        encoding="utf-8",
    )
    out = tmp_path / "out"
    res = _check(
        snaps["widened"],
        "--baseline",
        str(base),
        "--waivers",
        str(waivers),
        "--format",
        "sarif",
        "--output-dir",
        str(out),
        "--fail-on",
        "none",
        cwd=tmp_path,
    )
    assert res.returncode == 0, res.stderr
    doc = json.loads((out / "pgaudit-report.sarif").read_text())
    schema = json.loads((shared_schemas / "sarif-schema-2.1.0.json").read_text())
    errors = list(jsonschema.validators.validator_for(schema)(schema).iter_errors(doc))
    assert not errors, errors[0].message
    results = doc["runs"][0]["results"]
    waived = [r for r in results if r["ruleId"] == "PGR-HBA-002"]
    assert waived and all(
        r["suppressions"]
        == [
            {
                "kind": "external",
                "status": "accepted",
                "justification": "trust on the CI socket only",
            }
        ]
        and r["level"] == "note"
        for r in waived
    )
    db = snaps["db"]

    def state(obj: str) -> list[str]:
        return [
            r["baselineState"]
            for r in results
            if r["ruleId"] == "PGR-PRIV-005"
            and r["properties"]["database"] == db
            and r["properties"]["object"] == obj
        ]

    assert state("s.t") == ["updated"] and state("s.t2") == ["new"]
    unchanged = [r for r in results if r["baselineState"] == "unchanged"]
    assert unchanged and {r["level"] for r in unchanged} == {"note"}
    (upd,) = [r for r in results if r["baselineState"] == "updated"]
    assert upd["level"] == "error"
    assert upd["properties"]["baselineEvidence"]["widened"]["table_privileges"][0] == ["INSERT"]
    # asked to drop them, waived results go
    res = _check(
        snaps["widened"],
        "--baseline",
        str(base),
        "--waivers",
        str(waivers),
        "--format",
        "sarif",
        "--output-dir",
        str(out),
        "--fail-on",
        "none",
        "--sarif-omit-waived",
        cwd=tmp_path,
    )
    results = json.loads((out / "pgaudit-report.sarif").read_text())["runs"][0]["results"]
    assert not [r for r in results if r["ruleId"] == "PGR-HBA-002"]


def test_framework_scopes_the_gate_but_shows_what_lies_outside(snaps, tmp_path):
    snap = load(snaps["full"])
    t = snap.table("hba_rules")
    row = dict.fromkeys(t.columns)
    row.update(
        rule_number=len(t.rows) + 1,
        file_name="pg_hba.conf",
        line_number=99,
        type="host",
        databases=["all"],
        users=["all"],
        address="0.0.0.0",
        netmask="0.0.0.0",
        auth_method="trust",
        options=[],
    )
    snap.cluster["hba_rules"] = Table(
        columns=list(t.columns), rows=[*t.rows, [row[c] for c in t.columns]]
    )
    path = tmp_path / "trust.json.gz"
    save(snap, path)
    out = tmp_path / "out"
    res = _check(
        str(path),
        "--framework",
        "golive",
        "--fail-on",
        "critical",
        "--format",
        "json,html,junit,sarif,sql,text",
        "--no-verify",
        "--output-dir",
        str(out),
        cwd=tmp_path,
    )
    assert res.returncode in (0, 1), res.stderr
    report = json.loads((out / "pgaudit-report.json").read_text())
    assert not [f for f in report["findings"] if f["rule_id"] == "PGR-HBA-001"]  # scoped
    outside = report["summary"]["outside_framework"]
    assert outside["framework"] == "golive" and outside["by_severity"]["critical"] >= 1
    assert outside["total"] == sum(outside["by_severity"].values())
    assert any(c["rule_id"] == "PGR-HBA-001" for c in outside["critical"])
    lines = res.stdout.splitlines()
    (head,) = [x for x in lines if x.startswith("Outside framework golive (not gated): ")]
    assert f"{outside['by_severity']['critical']} critical" in head
    assert any(x.strip().startswith("CRITICAL PGR-HBA-001") for x in lines)
    html = (out / "pgaudit-report.html").read_text()
    assert 'id="outside-framework"' in html and "PGR-HBA-001" in html
    sarif = json.loads((out / "pgaudit-report.sarif").read_text())
    crit = sarif["runs"][0]["properties"]["outsideFramework"]["critical"]
    assert any(c["rule_id"] == "PGR-HBA-001" for c in crit)
    for name in ("pgaudit-report.junit.xml", "pgaudit-report.sql"):
        body = (out / name).read_text()
        assert "Outside framework golive (not gated)" in body and "CRITICAL PGR-HBA-001" in body, (
            name
        )


def test_diff_of_two_json_reports_knows_unknown_and_changed(snaps, tmp_path):
    reports = {}
    for name in ("full", "nohba", "widened"):
        out = tmp_path / name
        res = _check(
            snaps[name],
            "--format",
            "json",
            "--output-dir",
            str(out),
            "--fail-on",
            "none",
            cwd=tmp_path,
        )
        assert res.returncode == 0, res.stderr
        reports[name] = str(out / "pgaudit-report.json")
    code, doc = _diff_json(reports["full"], reports["nohba"], "--fail-on", "critical")
    assert doc["drift"] is None
    assert not [x for x in doc["findings"]["resolved"] if x["rule_id"].startswith("PGR-HBA-")]
    assert [x for x in doc["findings"]["unknown"] if x["rule_id"].startswith("PGR-HBA-")]
    code, doc = _diff_json(
        reports["full"], reports["widened"], "--fail-on", "high", "-d", snaps["db"]
    )
    (ch,) = [c for c in doc["findings"]["changed"] if c["rule_id"] == "PGR-PRIV-005"]
    assert ch["widened"]["table_privileges"][1] == ["DELETE", "INSERT", "TRUNCATE", "UPDATE"]
    assert code == 1
    res = _cli("diff", reports["full"], reports["widened"], "--fail-on-drift")
    assert res.returncode == 2 and "needs two snapshots" in res.stderr
