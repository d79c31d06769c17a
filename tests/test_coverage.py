"""Coverage is data: a part of the cluster that was not read is a finding, never a PASS.

Real servers 13-18. The module starts its own pristine cluster per version (module scope):
"otherwise clean" must mean that the coverage gap alone makes the scan fail, which the
shared session server (full of deliberate mistakes) cannot show; the fault tests also stop
that server. Every connection authenticates with SCRAM (no trust line, which would itself
be a high finding).

- a database whose CONNECT was revoked from PUBLIC (the auditor had it only that way):
  a high PGR-COV-001 finding naming it with the exact GRANT, incomplete rules and
  checklist items, listed under "Not collected" in text, HTML, JSON, JUnit and SARIF,
  exit 1 at --fail-on high; the GRANT applied, the scan is clean again; a waiver accepts it;
- pg_hba not readable: a high PGR-COV-002 finding with both grants;
- faults (PostgreSQL 13 and 18): the auditor's CONNECTION LIMIT 1 with -j 4 (each database
  not read is listed and is a high finding), -j 1 under the same limit reads every
  database, a --statement-timeout and a held lock that drop one database, a scan that
  reads no database (exit 3, one line), the server stopped (immediate) mid-collection
  (exit 3, one line, no report).
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any

import pytest
from cli_support import cli_process
from conftest import VERSIONS, install_for

from pgaudit_roles.core.localpg import LocalCluster

pytestmark = pytest.mark.pg

PASSWORD = "coverage-test-secret-5c1e"
AUDITOR = "pgaudit_auditor"
VICTIM = 'vic"tim db'  # quoting: a quote and a space
FAULT_VERSIONS = (13, 18)
EXTRA_DBS = 6

LAYOUT = """
REVOKE ALL ON SCHEMA public FROM PUBLIC;
CREATE SCHEMA IF NOT EXISTS shop AUTHORIZATION db_owner_shop;
GRANT USAGE ON SCHEMA shop TO db_writer_shop;
ALTER DEFAULT PRIVILEGES FOR ROLE db_owner_shop IN SCHEMA shop
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO db_writer_shop;
ALTER DEFAULT PRIVILEGES FOR ROLE db_owner_shop IN SCHEMA shop
    GRANT USAGE, SELECT ON SEQUENCES TO db_writer_shop;
SET ROLE db_owner_shop;
CREATE TABLE shop.orders (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, total numeric);
RESET ROLE;
"""

CONFIG = f"""
[naming]
breakglass = ["postgres"]
auditor = ["{AUDITOR}"]
"""


def qi(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@pytest.fixture(scope="module", params=VERSIONS, ids=[f"pg{v}" for v in VERSIONS])
def clean(request: pytest.FixtureRequest, tmp_path_factory: Any) -> Iterator[dict[str, Any]]:
    """A clean cluster: databases postgres, shop, the victim and a few small ones, all laid
    out by the guide; the auditor set up by bootstrap-sql; SCRAM everywhere."""
    import psycopg

    inst = install_for(request.param)
    cluster = LocalCluster(
        inst,
        settings={"log_connections": "on", "log_disconnections": "on", "log_statement": "'ddl'"},
    )
    cluster.start()
    try:
        dbs = ["postgres", "shop", VICTIM] + [f"small{i}" for i in range(EXTRA_DBS)]
        with psycopg.connect(cluster.conninfo(), autocommit=True) as conn:
            conn.execute(
                "CREATE ROLE db_owner_shop NOLOGIN; CREATE ROLE db_writer_shop NOLOGIN; "
                "CREATE ROLE app_shop LOGIN CONNECTION LIMIT 50 VALID UNTIL '2999-01-01'; "
                "GRANT db_writer_shop TO app_shop"
            )
            for db in dbs[1:]:
                conn.execute(f"CREATE DATABASE {qi(db)}".encode())
        for db in ["template1", *dbs]:
            with psycopg.connect(cluster.conninfo(dbname=db), autocommit=True) as conn:
                conn.execute(
                    LAYOUT.encode()
                    if db != "template1"
                    else b"REVOKE ALL ON SCHEMA public FROM PUBLIC"
                )
                if db != "template1":  # the guide's step 1
                    conn.execute(
                        f"REVOKE ALL ON DATABASE {qi(db)} FROM PUBLIC; "
                        f"GRANT CONNECT ON DATABASE {qi(db)} TO db_writer_shop".encode()
                    )
        # README quick start, step 1, after the guide's revokes: its DO block must give the
        # auditor CONNECT on every database by name (the first scan reads them all)
        made = cli_process(["bootstrap-sql", "--role", AUDITOR])
        assert made.returncode == 0, made.stderr
        bootstrap = made.stdout
        with psycopg.connect(cluster.conninfo(), autocommit=True) as conn:
            conn.execute(bootstrap.encode())
            conn.execute(
                f"ALTER ROLE {AUDITOR} VALID UNTIL '2999-01-01'; "
                f"ALTER ROLE postgres PASSWORD '{PASSWORD}'; "
                f"ALTER ROLE {AUDITOR} PASSWORD '{PASSWORD}'"
            )
        cluster.write_hba("local all all scram-sha-256\nhost all all 127.0.0.1/32 scram-sha-256\n")
        work = tmp_path_factory.mktemp(f"cov{request.param}")
        (work / "pgaudit-roles.toml").write_text(CONFIG)
        yield {
            "cluster": cluster,
            "major": request.param,
            "work": work,
            "dbs": dbs,
            "dsn": cluster.conninfo(user=AUDITOR, password=PASSWORD),
        }
    finally:
        cluster.stop(mode="immediate")


def su(clean: dict[str, Any], sql: str, db: str = "postgres") -> None:
    import psycopg

    with psycopg.connect(
        clean["cluster"].conninfo(dbname=db, password=PASSWORD), autocommit=True
    ) as conn:
        conn.execute(sql.encode())


def cli(clean: dict[str, Any], *args: str) -> subprocess.CompletedProcess[str]:
    """In this process (a subprocess per run cost half a CPU second of imports); the test
    of a server stopped mid-collection starts its own process."""
    return cli_process(list(args), cwd=clean["work"])


def scan(clean: dict[str, Any], out: str, *args: str) -> subprocess.CompletedProcess[str]:
    return evaluate(clean, out, "scan", clean["dsn"], *args)


def check(
    clean: dict[str, Any], out: str, snapshot: str, *args: str
) -> subprocess.CompletedProcess[str]:
    """``check`` of a scan's ``--snapshot-out``: the same gate and reports as a scan of the
    unchanged cluster, without collecting it again (about 0.3 s of client and server CPU
    per collect of this cluster)."""
    return evaluate(clean, out, "check", snapshot, *args)


def evaluate(
    clean: dict[str, Any], out: str, command: str, source: str, *args: str
) -> subprocess.CompletedProcess[str]:
    return cli(
        clean,
        command,
        source,
        "--config",
        str(clean["work"] / "pgaudit-roles.toml"),
        "--format",
        "json,html,junit,sarif,sql,text",
        "--output-dir",
        out,
        *args,
    )


def reports(clean: dict[str, Any], out: str) -> dict[str, Any]:
    d = clean["work"] / out
    return {
        "json": json.loads((d / "pgaudit-report.json").read_text()),
        "html": (d / "pgaudit-report.html").read_text(),
        "junit": ET.parse(d / "pgaudit-report.junit.xml").getroot(),
        "sarif": json.loads((d / "pgaudit-report.sarif").read_text()),
    }


def gating(doc: dict[str, Any]) -> list[str]:
    return [
        f"{f['rule_id']} {f['severity']} {f['message']}"
        for f in doc["findings"]
        if f["gating"] and f["severity"] in ("critical", "high")
    ]


def cov_findings(
    doc: dict[str, Any], rule: str = "PGR-COV-001"
) -> dict[str | None, dict[str, Any]]:
    return {f["database"]: f for f in doc["findings"] if f["rule_id"] == rule}


def verdict_line(stdout: str) -> str:
    """The summary's gate line (the header above it may wrap onto several lines)."""
    return next(ln for ln in stdout.splitlines() if ln.startswith(("PASS", "FAIL", "INCOMPLETE")))


def assert_listed_everywhere(
    res: subprocess.CompletedProcess[str], rep: dict[str, Any], skipped: dict[str, str]
) -> None:
    """Every database in ``skipped`` (name -> reason fragment) is a high finding and is
    listed with its reason in the text, JSON, HTML, JUnit and SARIF reports."""
    from markupsafe import escape

    doc = rep["json"]
    listed = {
        m["database"]: m["reason"]
        for m in doc["scan"]["not_collected"]
        if m["source"] == "database"
    }
    cov = cov_findings(doc)
    junit_text = ET.tostring(rep["junit"], encoding="unicode")
    sarif_results = rep["sarif"]["runs"][0]["results"]
    for db, why in skipped.items():
        assert db in listed and why in (listed[db] or ""), (db, listed)
        assert db in cov and cov[db]["severity"] == "high" and cov[db]["gating"], (db, sorted(cov))
        assert why in cov[db]["message"]
        shown = " ".join(res.stdout.split())  # the summary wraps to 80 columns in a pipe
        assert f"database {db}: " in shown and why in shown, res.stdout
        assert str(escape(db)) in rep["html"].split('id="not-evaluated"')[0], db
        assert db in junit_text
        assert any(
            r["ruleId"] == "PGR-COV-001" and db in r["message"]["text"] for r in sarif_results
        ), db
    assert doc["summary"]["verdict"] != "pass"
    assert not verdict_line(res.stdout).startswith("PASS")


# --- a database the auditor may not enter ---------------------------------------------------


def test_revoked_connect_is_a_high_gap_until_granted(clean: dict[str, Any]) -> None:
    ok = scan(clean, "before")
    before = reports(clean, "before")["json"]
    assert ok.returncode == 0, gating(before) or ok.stderr
    assert not cov_findings(before)
    assert before["summary"]["verdict"] == "pass"

    su(clean, f"REVOKE CONNECT ON DATABASE {qi(VICTIM)} FROM PUBLIC, {AUDITOR}")
    try:
        snap = str(clean["work"] / "revoked.json.gz")
        res = scan(clean, "revoked", "--fail-on", "high", "--snapshot-out", snap)
        rep = reports(clean, "revoked")
        doc = rep["json"]
        assert res.returncode == 1, res.stderr
        assert gating(doc) and all(g.startswith("PGR-COV-001") for g in gating(doc)), gating(doc)
        f = cov_findings(doc)[VICTIM]
        grant = f'GRANT CONNECT ON DATABASE "vic""tim db" TO {AUDITOR};'
        assert f["remediation"] == grant
        assert "CONNECT" in f["message"] and AUDITOR in f["message"]
        assert_listed_everywhere(res, rep, {VICTIM: "CONNECT"})

        # rules over per-database catalogs: incomplete for the victim, never pass
        rules = {r["id"]: r for r in doc["rules"]}
        own = rules["PGR-OWN-001"]
        assert own["status"] == "incomplete", own
        assert own["not_evaluated"] == [{"database": VICTIM, "reason": f["details"]["reason"]}]
        assert VICTIM in own["reason"]
        assert rules["PGR-ROLE-001"]["status"] == "pass"  # cluster-wide: still complete
        # the checklist: items built on those rules are incomplete, none of them PASS
        reqs = {q["id"]: q for q in doc["requirements"]}
        assert reqs["GL-7"]["status"] == "incomplete" and reqs["GL-4"]["status"] == "incomplete"
        assert "incomplete" in doc["summary"]["requirements"]
        assert 'class="status incomplete"' in rep["html"]
        assert any(
            sk.get("message", "").startswith("incomplete:") for sk in rep["junit"].iter("skipped")
        )
        notes = rep["sarif"]["runs"][0]["invocations"][0]["toolConfigurationNotifications"]
        assert any(
            n["descriptor"]["id"] == "PGR-OWN-001" and VICTIM in n["message"]["text"] for n in notes
        )
        # the remediation script carries the grant
        assert grant in next((clean["work"] / "revoked").glob("*.sql")).read_text()

        # the same cluster, still revoked, through other options: the revoked scan's
        # snapshot checked (the gap is in it, as the scan found it), not collected 3 times
        # --fail-on critical: the gap does not gate, and the verdict is not PASS either
        # (--no-verify here and below: the twin's proof of the script, about 4 s, does not
        # change the exit code or the findings these runs check; "revoked" proved it)
        crit = check(clean, "crit", snap, "--fail-on", "critical", "--no-verify")
        assert crit.returncode == 0, crit.stderr
        assert verdict_line(crit.stdout).startswith("INCOMPLETE"), crit.stdout
        # a --framework scope never hides the gap
        fw = check(clean, "fw", snap, "--framework", "golive", "--no-verify")
        assert fw.returncode == 1 and VICTIM in cov_findings(reports(clean, "fw")["json"])

        # waived like any finding: the gate passes, the report still shows it waived
        waivers = clean["work"] / "waivers.toml"
        waivers.write_text(
            '[[waiver]]\nrule = "PGR-COV-001"\ndatabase = \'vic"tim db\'\n'
            'reason = "audited by its own team"\nowner = "dba"\n'
        )
        waived = check(clean, "waived", snap, "--waivers", str(waivers))
        wdoc = reports(clean, "waived")["json"]
        assert waived.returncode == 0, gating(wdoc)
        assert cov_findings(wdoc)[VICTIM]["suppressed"] is not None

        # the printed grant is the fix
        su(clean, grant)
        fixed = scan(clean, "fixed")
        assert fixed.returncode == 0, gating(reports(clean, "fixed")["json"])
        assert not cov_findings(reports(clean, "fixed")["json"])
    finally:
        su(clean, f"GRANT CONNECT ON DATABASE {qi(VICTIM)} TO {AUDITOR}")


def test_pg_hba_not_readable_is_a_high_gap(clean: dict[str, Any]) -> None:
    su(clean, f"REVOKE SELECT ON pg_catalog.pg_hba_file_rules FROM {AUDITOR}")
    try:
        # --no-verify: the twin's proof of the script (2 s) changes neither the exit code
        # nor the reports read here; the revoked-CONNECT scan proves a coverage fix
        res = scan(clean, "nohba", "--framework", "cis", "--no-verify")
        rep = reports(clean, "nohba")
        doc = rep["json"]
        assert res.returncode == 1, res.stderr
        assert gating(doc) and all(g.startswith("PGR-COV-002") for g in gating(doc)), gating(doc)
        f = cov_findings(doc, "PGR-COV-002")[None]
        assert f["remediation"] == (
            f"GRANT SELECT ON pg_catalog.pg_hba_file_rules TO {AUDITOR};\n"
            f"GRANT EXECUTE ON FUNCTION pg_catalog.pg_hba_file_rules() TO {AUDITOR};"
        )
        assert "pg_hba_file_rules" in f["message"]
        assert any(m["source"] == "hba_rules" for m in doc["scan"]["not_collected"])
        assert "  - hba_rules: " in res.stdout
        rules = {r["id"]: r for r in doc["rules"]}
        assert rules["PGR-HBA-001"]["status"] == "skipped"
        assert rules["PGR-HBA-001"]["not_evaluated"][0]["source"] == "hba_rules"
        statuses = {q["id"]: q["status"] for q in doc["requirements"]}
        assert statuses["5.4"] == "incomplete", statuses
        assert "pass" not in {statuses[k] for k in ("5.4",)}
        assert any(r["ruleId"] == "PGR-COV-002" for r in rep["sarif"]["runs"][0]["results"])
        assert "PGR-COV-002" in ET.tostring(rep["junit"], encoding="unicode")
    finally:
        su(clean, f"GRANT SELECT ON pg_catalog.pg_hba_file_rules TO {AUDITOR}")


def test_coverage_table_in_query(clean: dict[str, Any]) -> None:
    """The coverage table is part of the audit schema: `query` reads it (and says when its
    answer covers only part of the cluster)."""
    su(clean, f"REVOKE CONNECT ON DATABASE {qi(VICTIM)} FROM PUBLIC, {AUDITOR}")
    try:
        snap = clean["work"] / "partial.json.gz"
        res = cli(clean, "collect", clean["dsn"], "-o", str(snap))
        assert res.returncode == 0, res.stderr
    finally:
        su(clean, f"GRANT CONNECT ON DATABASE {qi(VICTIM)} TO {AUDITOR}")
    q = cli(
        clean,
        "query",
        str(snap),
        "--format",
        "json",
        "SELECT source, database, status, cause, fix_sql FROM coverage "
        "WHERE status <> 'collected' ORDER BY source, database",
    )
    assert q.returncode == 0, q.stderr
    rows = json.loads(q.stdout)
    by_db = {r["database"]: r for r in rows if r["source"] == "database"}
    assert by_db[VICTIM]["status"] == "not_collected"
    assert by_db[VICTIM]["cause"] == "no_connect_privilege"
    assert by_db[VICTIM]["fix_sql"] == f'GRANT CONNECT ON DATABASE "vic""tim db" TO {AUDITOR};'
    assert by_db["template0"]["status"] == "not_connectable"
    assert not [r for r in rows if r["source"] != "database" and r["cause"] == "failed"], rows
    # a query over per-database tables says its answer is partial (on stderr: stdout is JSON)
    q = cli(
        clean,
        "query",
        str(snap),
        "--format",
        "json",
        "SELECT DISTINCT database FROM privileges WHERE database IS NOT NULL",
    )
    assert q.returncode == 0 and VICTIM not in json.loads(q.stdout)
    assert "Partial answer" in q.stderr and VICTIM in q.stderr
    # a query that reads only cluster-wide tables is complete
    q = cli(clean, "query", str(snap), "SELECT name FROM roles WHERE name = 'app_shop'")
    assert q.returncode == 0 and "app_shop" in q.stdout and "artial" not in q.stdout + q.stderr

    # explain: the ownership and privileges it lists miss the victim database: it says so
    ex = cli(clean, "explain", "db_owner_shop", str(snap))
    assert ex.returncode == 0, ex.stderr
    assert "shop.orders" in ex.stdout
    assert "Unknown (database not collected)" in ex.stdout and qi(VICTIM) in ex.stdout
    exj = cli(clean, "explain", "db_owner_shop", str(snap), "--format", "json")
    assert exj.returncode == 0
    assert VICTIM in [d["database"] for d in json.loads(exj.stdout)["not_collected"]]

    # who-can: an object of the victim database is unknown, not "nobody has it"
    un = cli(
        clean, "who-can", "SELECT", "ON", "TABLE", "shop.orders", str(snap), "--database", VICTIM
    )
    assert un.returncode == 3, un.stdout + un.stderr
    assert "unknown" in un.stderr and qi(VICTIM) in un.stderr and "Traceback" not in un.stderr
    assert len(un.stderr.strip().splitlines()) == 1
    un = cli(clean, "who-can", "SELECT", "ON", "TABLE", "shop.no_such_table", str(snap))
    assert un.returncode == 3 and "unknown" in un.stderr and qi(VICTIM) in un.stderr
    # found in the collected databases: answered, with the note that it is partial
    wc = cli(clean, "who-can", "SELECT", "ON", "TABLE", "shop.orders", str(snap))
    assert wc.returncode == 0, wc.stderr
    assert "db_writer_shop" in wc.stdout and "Partial answer" in wc.stdout
    # scoped to a collected database: complete, no note
    wc = cli(clean, "who-can", "SELECT", "ON", "TABLE", "shop.orders", str(snap), "-d", "shop")
    assert wc.returncode == 0 and "artial" not in wc.stdout + wc.stderr


# --- faults: the collection is cut short ------------------------------------------------------


def fault_version(clean: dict[str, Any]) -> None:
    if clean["major"] not in FAULT_VERSIONS:
        pytest.skip(f"fault cases run on PostgreSQL {' and '.join(map(str, FAULT_VERSIONS))}")


def test_connection_limit_reached_with_jobs(clean: dict[str, Any]) -> None:
    fault_version(clean)
    su(clean, f"ALTER ROLE {AUDITOR} CONNECTION LIMIT 1")
    try:
        one = scan(clean, "j1", "-j", "1")  # one session at a time: every database is read
        assert one.returncode == 0, gating(reports(clean, "j1")["json"]) or one.stderr
        assert not cov_findings(reports(clean, "j1")["json"])

        res = scan(clean, "j4", "-j", "4")
        rep = reports(clean, "j4")
        snapdb = {
            m["database"]: m["reason"]
            for m in rep["json"]["scan"]["not_collected"]
            if m["source"] == "database" and m["database"] != "template0"
        }
        assert snapdb, "4 sessions under CONNECTION LIMIT 1 read every database"
        assert res.returncode == 1
        assert_listed_everywhere(res, rep, dict.fromkeys(snapdb, "too many connections"))
    finally:
        su(clean, f"ALTER ROLE {AUDITOR} CONNECTION LIMIT -1")


@pytest.mark.parametrize("kind", ["statement_timeout", "lock_timeout"])
def test_timeout_drops_one_database(clean: dict[str, Any], kind: str) -> None:
    """A session holds ACCESS EXCLUSIVE on a catalog the collector reads in one database:
    that database is dropped by the timeout, listed and a high finding; the rest is read."""
    import psycopg

    fault_version(clean)
    victim = "small2"
    args = (
        ["--statement-timeout", "1s", "--lock-timeout", "60s"]
        if kind == "statement_timeout"
        else ["--lock-timeout", "500ms"]
    )
    with psycopg.connect(clean["cluster"].conninfo(dbname=victim, password=PASSWORD)) as holder:
        holder.execute("LOCK TABLE pg_catalog.pg_largeobject_metadata IN ACCESS EXCLUSIVE MODE")
        res = scan(clean, kind, *args)
        holder.rollback()
    rep = reports(clean, kind)
    why = "statement timeout" if kind == "statement_timeout" else "lock timeout"
    assert res.returncode == 1, res.stderr
    assert_listed_everywhere(res, rep, {victim: why})
    skipped = {m["database"] for m in rep["json"]["scan"]["not_collected"] if m["database"]}
    assert skipped == {victim, "template0"}


def test_scan_that_reads_no_database_exits_3(clean: dict[str, Any]) -> None:
    fault_version(clean)
    su(clean, f"REVOKE CONNECT ON DATABASE {qi(VICTIM)} FROM PUBLIC, {AUDITOR}")
    try:
        res = scan(clean, "nothing", "-d", VICTIM)
        coll = cli(clean, "collect", clean["dsn"], "-d", VICTIM, "-o", "nothing.json")
    finally:
        su(clean, f"GRANT CONNECT ON DATABASE {qi(VICTIM)} TO {AUDITOR}")
    for r in (res, coll):
        assert r.returncode == 3, r.stdout + r.stderr
        assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
        assert "no database could be read" in r.stderr and "CONNECT" in r.stderr
    assert not (clean["work"] / "nothing").exists()
    assert not (clean["work"] / "nothing.json").exists()


def test_server_stopped_mid_collection_exits_3(clean: dict[str, Any]) -> None:
    """Runs last in the module: it stops the server (immediate) while the collector waits
    on a lock in the middle of the cluster; the scan ends with exit 3 and one line."""
    import psycopg

    fault_version(clean)
    cluster = clean["cluster"]
    holder = psycopg.connect(cluster.conninfo(dbname="small3", password=PASSWORD))
    holder.execute("LOCK TABLE pg_catalog.pg_largeobject_metadata IN ACCESS EXCLUSIVE MODE")
    monitor = psycopg.connect(cluster.conninfo(password=PASSWORD), autocommit=True)
    out = clean["work"] / "stopped"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pgaudit_roles.cli",
            "scan",
            clean["dsn"],
            "-j",
            "1",
            "--lock-timeout",
            "120s",
            "--statement-timeout",
            "120s",
            "--config",
            str(clean["work"] / "pgaudit-roles.toml"),
            "--format",
            "json,html",
            "--output-dir",
            str(out),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=clean["work"],
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            row = monitor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE usename = %s "
                "AND wait_event_type = 'Lock'",
                (AUDITOR,),
            ).fetchone()
            if row and row[0]:
                break
            time.sleep(0.1)
        else:
            pytest.fail("the collector never waited on the held lock")
        monitor.close()
        stopper = threading.Thread(
            target=cluster.stop, kwargs={"keep_dir": True, "mode": "immediate"}
        )
        stopper.start()
        stdout, stderr = proc.communicate(timeout=120)
        stopper.join(60)
    finally:
        if proc.poll() is None:
            proc.kill()
        for conn in (holder, monitor):
            with contextlib.suppress(Exception):
                conn.close()
    assert proc.returncode == 3, stdout + stderr
    assert len(stderr.strip().splitlines()) == 1 and "Traceback" not in stderr, stderr
    assert "collection failed" in stderr
    assert not out.exists() or not any(out.iterdir())
