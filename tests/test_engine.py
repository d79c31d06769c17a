"""The rule engine on snapshots collected from real servers (13-18).

Covers the sandbox (a rule that slipped past validation still cannot read a file), the
statuses (skipped never passes; query and remediation failures are errors), config
overrides, finding mapping, framework scoping, the inventory, and `check` end to end.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from cli_support import cli_process

from pgaudit_roles.collect.snapshot import Snapshot, save
from pgaudit_roles.config import config_from_mapping
from pgaudit_roles.core.model import Rule
from pgaudit_roles.evaluate.engine import evaluate, open_sandbox
from pgaudit_roles.evaluate.rules import find_rule

pytestmark = pytest.mark.pg


def raw_rule(query: str, **kw: Any) -> Rule:
    """A rule built without the loader's validation: what a slipped-through rule looks like."""
    base: dict[str, Any] = dict(
        id="PGR-TEST-001",
        title="t",
        severity="high",
        category="roles",
        rationale="r",
        query=query,
        message="{{ role }}",
        path="test",
    )
    base.update(kw)
    return Rule(**base)


@pytest.fixture(scope="module")
def layout(pg: Any) -> Iterator[dict[str, Any]]:
    """A small guide-like layout with deliberate mistakes, collected as superuser.

    Module scope: one database and one collection per version, read by every test that
    takes it (the tests that change a snapshot change a copy of it)."""
    from pgaudit_roles.collect.collector import collect

    fresh_db = pg.create_database()
    p = pg.unique("en")
    hostile = f'{p} bad"\nname <script>'
    pg.execute(f"""
        CREATE ROLE db_owner_{p} NOLOGIN; CREATE ROLE db_writer_{p} NOLOGIN;
        CREATE ROLE app_{p} LOGIN; GRANT db_writer_{p} TO app_{p};
        CREATE ROLE ops_{p} LOGIN SUPERUSER;
        CREATE ROLE "{hostile.replace('"', '""')}" LOGIN SUPERUSER;
    """)
    pg.execute(
        f"""
        GRANT CREATE ON SCHEMA public TO PUBLIC;
        CREATE SCHEMA app_data AUTHORIZATION db_owner_{p};
        CREATE TABLE app_data.orders (id int);
        ALTER TABLE app_data.orders OWNER TO app_{p};
    """,
        dbname=fresh_db,
    )
    snap = collect(pg.conninfo(dbname=fresh_db), databases=[fresh_db])
    try:
        yield {"p": p, "db": fresh_db, "snapshot": snap, "hostile": hostile}
    finally:
        pg.drop_database(fresh_db)
        names = [
            r[0]
            for r in pg.query("SELECT rolname FROM pg_roles WHERE strpos(rolname, %s) > 0", (p,))
        ]
        for n in names:
            pg.execute(
                f'DROP OWNED BY "{n.replace(chr(34), chr(34) * 2)}"; '
                f'DROP ROLE "{n.replace(chr(34), chr(34) * 2)}"'
            )


@pytest.fixture(scope="module")
def full_result(layout: dict[str, Any], builtin_rules: tuple) -> Any:
    """Every built-in rule over the layout with the default configuration, evaluated once
    per version: the tests that take it only read it."""
    return evaluate(layout["snapshot"], list(builtin_rules), config_from_mapping({}))


def result_of(snapshot: Snapshot, rule: Rule, **cfg: Any) -> Any:
    """The rule's result; the tests read results, not the inventory: ``inventory=False``
    builds only what the rule reads (the same findings, test_build_plan proves it)."""
    (rr,) = evaluate(snapshot, [rule], config_from_mapping(cfg), inventory=False).results
    return rr


def mine(rr: Any, p: str) -> list[Any]:
    return [f for f in rr.findings if p in (f.role or "") or p in (f.database or "")]


def test_sandbox_blocks_files_even_for_an_unvalidated_rule(
    layout: dict[str, Any], tmp_path: Path
) -> None:
    secret = tmp_path / "secret.csv"
    secret.write_text("role\nleaked\n")
    for query in (
        f"SELECT * FROM read_csv('{secret}')",  # noqa: S608
        f"SELECT content AS role FROM read_text('{secret}')",  # noqa: S608
        f"SELECT * FROM '{secret}'",
    ):  # noqa: S608
        rr = result_of(layout["snapshot"], raw_rule(query))
        assert rr.status == "error", query
        assert "leaked" not in (rr.reason or "")
        assert not rr.findings
    con = open_sandbox(layout["snapshot"])
    try:
        for stmt in (
            "SET enable_external_access = true",
            "SET lock_configuration = false",
            f"COPY roles TO '{tmp_path / 'out.csv'}'",
            f"ATTACH '{tmp_path / 'x.db'}'",
        ):
            with pytest.raises(Exception):  # noqa: B017 - any refusal will do
                con.execute(stmt)
        assert not (tmp_path / "out.csv").exists() and not (tmp_path / "x.db").exists()
    finally:
        con.close()


def test_skips_never_pass(layout: dict[str, Any]) -> None:
    snap = layout["snapshot"]
    rr = result_of(snap, raw_rule("SELECT name AS role FROM roles", min_server_version=990000))
    assert rr.status == "skipped" and "needs PostgreSQL 99 or later" in rr.reason
    patched = copy.copy(snap)
    patched.meta = copy.deepcopy(snap.meta)
    patched.meta["sources"]["hba_rules"] = {"collected": False, "reason": "no grant"}
    rr = result_of(patched, raw_rule("SELECT 1 AS role FROM hba_rules", requires=("hba_rules",)))
    assert rr.status == "skipped" and "hba_rules (no grant)" in rr.reason
    del patched.meta["sources"]["activity"]
    rr = result_of(patched, raw_rule("SELECT 1 AS role", requires=("activity",)))
    assert rr.status == "skipped" and "activity (not in the snapshot)" in rr.reason


def test_hba_not_visible_to_auditor_skips(pg: Any, fresh_db: str) -> None:
    from pgaudit_roles.collect.collector import collect

    auditor = pg.unique("aud")
    pg.execute(f'CREATE ROLE "{auditor}" LOGIN; GRANT pg_monitor TO "{auditor}"')
    try:
        snap = collect(pg.conninfo(user=auditor, dbname=fresh_db), databases=[fresh_db])
    finally:
        pg.execute(f'DROP ROLE "{auditor}"')
    rr = result_of(snap, raw_rule("SELECT 1 AS role FROM hba_rules", requires=("hba_rules",)))
    assert rr.status == "skipped" and "pg_hba_file_rules" in rr.reason


def test_errors_are_reported_not_passed(layout: dict[str, Any]) -> None:
    snap = layout["snapshot"]
    rr = result_of(snap, raw_rule("SELECT no_such_column AS role FROM roles"))
    assert rr.status == "error" and rr.reason.startswith("query failed:")
    rr = result_of(snap, raw_rule("SELECT name AS role FROM roles", message="{{ nope }}"))
    assert rr.status == "error" and "message template" in rr.reason
    bad_fix = raw_rule(
        f"SELECT name AS role FROM roles WHERE name = 'ops_{layout['p']}'",  # noqa: S608
        remediation="DROP TABLE {{ role|ident }} CASCADE;",
    )
    rr = result_of(snap, bad_fix)
    assert rr.status == "error" and "remediation did not render" in rr.reason
    assert len(rr.findings) == 1 and rr.findings[0].remediation is None, "findings are kept"


def test_config_disable_and_severity(layout: dict[str, Any], builtin_rules: tuple) -> None:
    rule = find_rule(list(builtin_rules), "PGR-ROLE-001")
    assert rule is not None
    rr = result_of(layout["snapshot"], rule, rules={"disable": ["PGR-ROLE-001"]})
    assert rr.status == "skipped" and rr.reason.startswith("disabled by config")
    rr = result_of(layout["snapshot"], rule, rules={"severity": {"PGR-ROLE-001": "low"}})
    assert rr.status == "fail" and rr.severity == "low" and rr.effective_severity == "low"
    assert all(f.severity == "low" for f in rr.findings)


def test_findings_carry_fields_details_and_stable_fingerprints(
    layout: dict[str, Any], builtin_rules: tuple
) -> None:
    p, db = layout["p"], layout["db"]
    rule = find_rule(list(builtin_rules), "PGR-OWN-001")
    assert rule is not None
    first = mine(result_of(layout["snapshot"], rule), p)
    second = mine(result_of(layout["snapshot"], rule), p)
    (f,) = [f for f in first if f.object_name == "orders"]
    assert (f.database, f.schema, f.object_type, f.role) == (db, "app_data", "table", f"app_{p}")
    assert f.object_identity == "app_data.orders"
    assert f.details["evidence"] == "direct" and f.details["new_owner"] == f"db_owner_{p}"
    assert f.remediation and f.remediation.endswith(f"OWNER TO db_owner_{p};")
    assert sorted(x.fingerprint for x in first) == sorted(x.fingerprint for x in second)
    json.dumps([x.details for x in first])  # details are JSON-ready


def test_hostile_names_are_quoted_in_remediation(
    layout: dict[str, Any], builtin_rules: tuple
) -> None:
    rule = find_rule(list(builtin_rules), "PGR-ROLE-001")
    assert rule is not None
    rr = result_of(layout["snapshot"], rule)
    (f,) = [f for f in rr.findings if f.role == layout["hostile"]]
    quoted = '"' + layout["hostile"].replace('"', '""') + '"'
    assert f.remediation == f"ALTER ROLE {quoted} NOSUPERUSER;"


def test_live_superuser_sessions_are_evidence(layout: dict[str, Any], builtin_rules: tuple) -> None:
    """pg_stat_activity rows from a remote application (cannot be made from loopback here,
    so rows are added to a real snapshot: the rule logic is what is tested)."""
    snap = copy.deepcopy(layout["snapshot"])
    p = layout["p"]
    act = snap.table("activity")
    cols = act.columns

    def row(**kw: Any) -> list[Any]:
        base = {
            "pid": 4242,
            "role_name": f"ops_{p}",
            "database": layout["db"],
            "client_addr": "10.1.2.3/32",
            "application_name": "billing-worker",
            "backend_type": "client backend",
            "state": "idle",
            "ssl": True,
        }
        base.update(kw)
        return [base[c] for c in cols]

    act.rows += [
        row(),
        row(pid=4243, client_addr="10.1.2.4"),
        row(pid=1, application_name="psql"),  # a person
        row(pid=2, client_addr="127.0.0.1/32"),  # local
        row(pid=3, client_addr=None),  # unix socket
        row(pid=4, role_name=f"app_{p}"),
    ]  # not a superuser
    snap.cluster["activity"] = act
    rule = find_rule(list(builtin_rules), "PGR-ROLE-002")
    assert rule is not None
    rr = result_of(snap, rule)
    live = [f for f in mine(rr, p) if f.details.get("evidence") == "live_session"]
    assert len(live) == 1
    (f,) = live
    assert f.role == f"ops_{p}" and f.object_type == "session" and f.object_name == "billing-worker"
    assert f.details["sessions"] == 2 and f.details["client_addrs"] == "10.1.2.3, 10.1.2.4"
    assert f.manual and f.remediation is None


def test_framework_scopes_rules(
    layout: dict[str, Any], builtin_rules: tuple, full_result: Any
) -> None:
    rules = list(builtin_rules)
    # the results and requirements only: no inventory (the same results, test_build_plan)
    res = evaluate(
        layout["snapshot"], rules, config_from_mapping({"framework": "golive"}), inventory=False
    )
    from pgaudit_roles.evaluate.frameworks import load_framework

    fw = load_framework("golive", rules)
    coverage = {r.id for r in rules if r.category == "coverage" and r.on_snapshot}  # never hidden
    assert {r.rule.id for r in res.results} == fw.rule_ids() | coverage
    assert {q.framework for q in res.requirements} == {"golive"}
    by_id = {q.id: q for q in res.requirements}
    assert by_id["GL-2"].status == "manual"
    assert by_id["GL-8"].status == "fail"  # PUBLIC CREATE on public was granted
    res = full_result
    assert len(res.results) == len([r for r in rules if r.on_snapshot]) and res.requirements


def test_inventory(layout: dict[str, Any], full_result: Any) -> None:
    inv = full_result.inventory
    assert not inv["errors"]
    roles = {r["name"]: r for r in inv["roles"]}
    p, db = layout["p"], layout["db"]
    assert roles[f"app_{p}"]["kind"] == "app" and roles[f"db_owner_{p}"]["kind"] == "owner"
    assert any(
        m["member"] == f"app_{p}" and m["role"] == f"db_writer_{p}" for m in inv["memberships"]
    )
    summary = inv["login_privileges"][f"app_{p}"]
    assert summary["superuser"] is False
    assert any(
        o["identity"] == "app_data.orders" and o["via"] == ["owner"] for o in summary["top_objects"]
    )
    assert {
        "database": db,
        "privilege": "SELECT",
        "object_class": "relation",
        "objects": 1,
        "via": f"app_{p}",
    } in summary["counts"]
    assert inv["login_privileges"][f"ops_{p}"]["superuser"] is True
    assert {"database": db, "privilege": "CONNECT", "objects": 1} in inv["public_privileges"]
    logins = [r["name"] for r in inv["roles"] if r.get("login")]
    assert set(inv["login_privileges"]) == set(logins[:500]) or inv["truncated"]


def test_inventory_follows_group_grants(pg: Any, fresh_db: str) -> None:
    """A login role's summary names the group role its privileges come through."""
    from pgaudit_roles.collect.collector import collect

    p = pg.unique("inv")
    pg.execute(
        f"CREATE ROLE db_writer_{p} NOLOGIN; CREATE ROLE app_{p} LOGIN; "
        f"GRANT db_writer_{p} TO app_{p};"
    )
    try:
        pg.execute(
            f"CREATE TABLE a(i int); CREATE TABLE b(i int); "
            f"GRANT SELECT, INSERT ON a, b TO db_writer_{p}; "
            f"GRANT SELECT (i) ON TABLE a TO app_{p};",
            dbname=fresh_db,
        )
        snap = collect(pg.conninfo(dbname=fresh_db), databases=[fresh_db])
        inv = evaluate(snap, [], config_from_mapping({})).inventory
        counts = inv["login_privileges"][f"app_{p}"]["counts"]
        assert {
            "database": fresh_db,
            "privilege": "INSERT",
            "object_class": "relation",
            "objects": 2,
            "via": f"db_writer_{p}",
        } in counts
        assert {
            "database": fresh_db,
            "privilege": "SELECT (columns)",
            "object_class": "column",
            "objects": 1,
            "via": f"app_{p}",
        } in counts
    finally:
        pg.drop_database(fresh_db)
        pg.execute(f"DROP ROLE app_{p}; DROP ROLE db_writer_{p};")


USER_RULE = """
id = "PGR-USER-001"
title = "Login superusers are named in the site's list"
severity = "high"
category = "roles"
object_type = "role"
rationale = "A site rule written by a user."
references = [{ kind = "other", text = "Site policy 7" }]
requires = ["roles"]
query = "SELECT name AS role FROM roles WHERE superuser AND login AND NOT is_bootstrap_superuser"
message = "Login superuser {{ role }}."
remediation = "ALTER ROLE {{ role|role }} NOLOGIN;"
fix_safety = "review"
"""


def run_check(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pgaudit_roles.cli", "check", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
    )


def check_here(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``check`` run in this process (tests/cli_support.py), for the exit codes and the
    output: a subprocess per run paid the interpreter start and the heavy imports again
    (about 0.6 s of CPU each); the bad-input test below keeps a real process."""
    return cli_process(["check", *args], cwd=cwd)


def test_check_command_exit_codes(layout: dict[str, Any], tmp_path: Path) -> None:
    snap_file = tmp_path / "snap.json.gz"
    save(layout["snapshot"], snap_file)
    # one run for the gate, the terminal summary (printed whatever the formats) and the
    # JSON report: a run per output paid a whole evaluation again
    proc = check_here(str(snap_file), "--format", "json", "--output-dir", "first", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    out = proc.stdout
    assert out.count("\n") > 3 and "FAIL: " in out and "PGR-ROLE-001" in out
    assert 'bad"\nname' not in out, "a newline in a name must not forge a line"
    # critical only: the catalogue's critical rule (PGR-ROLE-002) has nothing here
    proc = check_here(str(snap_file), "--fail-on", "critical", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout
    assert check_here(str(snap_file), "--fail-on", "none", cwd=tmp_path).returncode == 0
    # JSON report says what fired; a config file that disables exactly those gates nothing
    report = json.loads((tmp_path / "first" / "pgaudit-report.json").read_text())
    firing = sorted(r["id"] for r in report["rules"] if r["status"] == "fail")
    assert "PGR-ROLE-001" in firing and "PGR-OWN-001" in firing
    (tmp_path / ".pgaudit-roles.toml").write_text(
        f'formats = ["json"]\noutput_dir = "out"\n[rules]\ndisable = {json.dumps(firing)}\n'
    )
    proc = check_here(str(snap_file), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads((tmp_path / "out" / "pgaudit-report.json").read_text())
    statuses = {r["id"]: r["status"] for r in report["rules"]}
    assert statuses["PGR-ROLE-001"] == "skipped"
    proc = check_here(str(snap_file), "--show-config", cwd=tmp_path)
    assert proc.returncode == 0 and 'formats = ["json"]' in proc.stdout
    # a user rule that fires on the superusers created here
    rules_dir = tmp_path / "user-rules"
    rules_dir.mkdir()
    (rules_dir / "PGR-USER-001.toml").write_text(USER_RULE, encoding="utf-8")
    proc = check_here(str(snap_file), "--rules-dir", str(rules_dir), cwd=tmp_path)
    assert proc.returncode == 1 and "PGR-USER-001" in proc.stdout


def test_check_bad_inputs_exit_2(tmp_path: Path) -> None:
    """The first through the real entry point (exit code of a real process), the others
    in this process: the same exit codes and messages, without two more interpreters."""
    proc = run_check(str(tmp_path / "missing.json"), cwd=tmp_path)
    assert proc.returncode == 2 and "snapshot file not found" in proc.stderr
    assert "Traceback" not in proc.stderr
    (tmp_path / "bad.json").write_text("{}")
    proc = check_here(str(tmp_path / "bad.json"), cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    proc = check_here(cwd=tmp_path)
    assert proc.returncode == 2 and "missing argument SNAPSHOT" in proc.stderr


def test_rule_replace_keeps_origin() -> None:
    r = raw_rule("SELECT 1")
    assert replace(r, severity="low").origin == "builtin"
