"""diff between two real scans: exactly the changes made, and the findings they bring or end.

Also the guide's go-live item "restores preserve ownership and privileges": a database
dumped and restored into a new one compares equal to its source (drift per database).
"""

from __future__ import annotations

import json
import subprocess
import sys

from cli_support import cli_process

from pgaudit_roles.collect.collector import collect
from pgaudit_roles.collect.snapshot import save
from pgaudit_roles.core.localpg import DEFAULT_HBA
from pgaudit_roles.evaluate import drift

HBA_WIDE = DEFAULT_HBA + "host all all 0.0.0.0/0 trust\n"


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pgaudit_roles.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_diff_shows_exactly_the_changes(pg, fresh_db, tmp_path):
    # the diffs run in this process (tests/cli_support.py): they read exit codes, output
    # and files, not the process; test_diff_rejects_mixed_inputs keeps a real one
    p = pg.unique("dr")
    reader, newbie = f"db_reader_{p}", f"app_{p}"
    pg.execute(f'CREATE ROLE "{reader}" NOLOGIN')
    table = 's."Orders ""x"""'
    pg.execute(
        f"CREATE SCHEMA s; CREATE TABLE {table} (i int); GRANT CREATE ON SCHEMA public TO PUBLIC;",
        dbname=fresh_db,
    )
    try:
        old = collect(pg.conninfo(dbname=fresh_db), databases=[fresh_db])
        pg.execute(
            f'GRANT SELECT ON {table} TO "{reader}"; REVOKE CREATE ON SCHEMA public FROM PUBLIC;',
            dbname=fresh_db,
        )
        pg.execute(f'CREATE ROLE "{newbie}" LOGIN SUPERUSER')
        pg.cluster.write_hba(HBA_WIDE)
        new = collect(pg.conninfo(dbname=fresh_db), databases=[fresh_db])

        d = drift.compare(old, new)
        assert d["roles"] == {"added": [newbie], "removed": [], "changed": []}
        assert d["privileges"]["granted"] == [
            {
                "database": fresh_db,
                "object_class": "relation",
                "schema": "s",
                "object": 'Orders "x"',
                "args": None,
                "column": None,
                "grantee": reader,
                "privilege": "SELECT",
                "grantable": False,
            }
        ]
        revoked = d["privileges"]["revoked"]
        assert [
            (r["object_class"], r["object"], r["grantee"], r["privilege"]) for r in revoked
        ] == [("schema", "public", "PUBLIC", "CREATE")]
        assert d["hba"]["added"] == ["host all all 0.0.0.0/0 trust"]
        assert d["hba"]["removed"] == []
        # nothing else moved
        for section in ("memberships", "default_privileges", "objects", "ownership", "databases"):
            assert all(not v for v in d[section].values()), (section, d[section])

        old_path, new_path = tmp_path / "old.json", tmp_path / "new.json.gz"
        save(old, old_path)
        save(new, new_path)
        res = cli_process(["diff", str(old_path), str(new_path), "--format", "json"])
        assert res.returncode == 1, res.stderr  # a new critical finding appeared
        doc = json.loads(res.stdout)
        new_rules = {(f["rule_id"], f["role"]) for f in doc["findings"]["new"]}
        assert ("PGR-ROLE-002", newbie) in new_rules
        resolved = {(f["rule_id"], f["database"]) for f in doc["findings"]["resolved"]}
        assert ("PGR-PRIV-001", fresh_db) in resolved
        assert not any(f["role"] == newbie for f in doc["findings"]["resolved"])

        # text and HTML from one comparison (--output-dir), not one diff per format
        out = tmp_path / "out"
        res = cli_process(
            [
                "diff",
                str(old_path),
                str(new_path),
                "--format",
                "text,html",
                "--output-dir",
                str(out),
                "--fail-on",
                "none",
            ]
        )
        assert res.returncode == 0, res.stderr
        text = (out / "pgaudit-diff.txt").read_text(encoding="utf-8")
        assert f"role added: {newbie}" in text
        assert "pg_hba line added: host all all 0.0.0.0/0 trust" in text
        html = out / "pgaudit-diff.html"
        assert 'Orders "x"'.replace('"', "&#34;") in html.read_text(encoding="utf-8")
    finally:
        pg.cluster.write_hba(DEFAULT_HBA)
        pg.execute(f'DROP ROLE IF EXISTS "{newbie}"')
        pg.execute(f'DROP OWNED BY "{reader}"', dbname=fresh_db)
        pg.execute(f'DROP ROLE IF EXISTS "{reader}"')


def test_identical_scans_have_no_drift(pg, fresh_db):
    pg.execute(
        "CREATE SCHEMA s; CREATE TABLE s.t (i int); GRANT SELECT ON s.t TO PUBLIC;", dbname=fresh_db
    )
    a = collect(pg.conninfo(dbname=fresh_db), databases=[fresh_db])
    b = collect(pg.conninfo(dbname=fresh_db), databases=[fresh_db])
    assert drift.is_empty(drift.compare(a, b))


def test_diff_rejects_mixed_inputs(tmp_path):
    snap = tmp_path / "s.json"
    snap.write_text(
        '{"format": "pgaudit-roles/snapshot", "version": 1, "meta": {}, "cluster": {}, "databases": []}'
    )
    report = tmp_path / "r.json"
    report.write_text('{"schema_version": "1.0", "findings": []}')
    res = _cli("diff", str(snap), str(report))
    assert res.returncode == 2
    assert "cannot diff a snapshot" in res.stderr and "Traceback" not in res.stderr
    # the same exit 2 in this process (the real entry point proved it above)
    res = cli_process(["diff", str(tmp_path / "missing.json"), str(report)])
    assert res.returncode == 2 and "file not found" in res.stderr


def _report_pair(tmp_path) -> tuple[str, str]:
    """Two JSON reports (a diff of reports evaluates nothing): ``a`` resolved, ``c`` new."""

    def report(name: str, *fps: str) -> str:
        doc = {
            "schema_version": "1.0",
            "rules": [{"id": "PGR-ROLE-001", "status": "failed", "category": "roles"}],
            "findings": [
                {
                    "fingerprint": fp,
                    "rule_id": "PGR-ROLE-001",
                    "severity": "critical",
                    "role": f'r{fp} "<b>"',
                    "message": f'role r{fp} "<b>" is a superuser',
                }
                for fp in fps
            ],
        }
        path = tmp_path / name
        path.write_text(json.dumps(doc), encoding="utf-8")
        return str(path)

    return report("old.json", "a", "b"), report("new.json", "b", "c")


def test_diff_writes_several_formats_from_one_comparison(tmp_path):
    """--format json,text,html --output-dir: one comparison, and each file holds exactly
    what --format X alone prints."""
    old, new = _report_pair(tmp_path)
    out = tmp_path / "out"
    multi = cli_process(["diff", old, new, "--format", "json,text,html", "--output-dir", str(out)])
    assert multi.returncode == 1 and multi.stdout == "", multi.stdout + multi.stderr
    names = {"json": "pgaudit-diff.json", "text": "pgaudit-diff.txt", "html": "pgaudit-diff.html"}
    assert sorted(p.name for p in out.iterdir()) == sorted(names.values())
    for fmt, name in names.items():
        alone = cli_process(["diff", old, new, "--format", fmt])
        assert alone.returncode == 1, alone.stderr
        assert (out / name).read_text(encoding="utf-8") == alone.stdout, fmt
    doc = json.loads((out / names["json"]).read_text(encoding="utf-8"))
    assert [f["fingerprint"] for f in doc["findings"]["new"]] == ["c"]
    assert [f["fingerprint"] for f in doc["findings"]["resolved"]] == ["a"]
    # one format into the directory: that file only
    one = tmp_path / "one"
    res = cli_process(["diff", old, new, "--format", "html", "--output-dir", str(one)])
    assert res.returncode == 1 and [p.name for p in one.iterdir()] == [names["html"]]


def test_diff_several_formats_need_a_directory(tmp_path):
    old, new = _report_pair(tmp_path)
    target = tmp_path / "d"
    for args, msg in (
        (["--format", "json,html"], "several formats need --output-dir"),
        (["--format", "json", "-o", str(target / "x"), "--output-dir", str(target)], "exclude"),
        (["--format", "json,yaml", "--output-dir", str(target)], "unknown diff format 'yaml'"),
        (["--format", " , ", "--output-dir", str(target)], "--format names no format"),
    ):
        res = cli_process(["diff", old, new, *args])
        lines = res.stderr.strip().splitlines()
        assert res.returncode == 2 and len(lines) == 1 and msg in lines[0], (args, res.stderr)
        assert res.stdout == "" and not target.exists()


def test_diff_framework_evaluates_only_its_rules_and_coverage():
    """diff --framework compares the framework's findings and the coverage rules' only, so
    only those rules are evaluated (scan and check run all of them: outside_framework)."""
    from pgaudit_roles.diffing import _rules_in_framework
    from pgaudit_roles.evaluate.frameworks import load_framework
    from pgaudit_roles.evaluate.rules import load_rules

    rules = load_rules()
    for name in ("golive", "cis"):
        wanted = load_framework(name, rules).rule_ids()
        scoped = {r.id for r in _rules_in_framework(rules, name)}
        coverage = {r.id for r in rules if r.category == "coverage"}
        assert coverage and wanted <= scoped and scoped == wanted | coverage, name
        assert len(scoped) < len(rules), name
