"""The CI contract of ``scan``: the exit-code matrix on a real server of every version.

The matrix needs a cluster whose only roles and objects are the ones this module makes,
so it starts its own pristine server per version (module scope) rather than the shared
session server, which other modules fill with deliberate mistakes.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_support import cli_process
from conftest import VERSIONS, install_for

from pgaudit_roles.core.localpg import LocalCluster, free_port

CLEAN_LAYOUT = """
REVOKE ALL ON DATABASE {db} FROM PUBLIC;
REVOKE ALL ON SCHEMA public FROM PUBLIC;
CREATE ROLE db_owner_shop NOLOGIN;
CREATE ROLE db_writer_shop NOLOGIN;
CREATE ROLE db_reader_shop NOLOGIN;
GRANT CONNECT ON DATABASE {db} TO db_writer_shop, db_reader_shop, db_owner_shop;
CREATE SCHEMA shop AUTHORIZATION db_owner_shop;
GRANT USAGE ON SCHEMA shop TO db_writer_shop, db_reader_shop;
ALTER DEFAULT PRIVILEGES FOR ROLE db_owner_shop IN SCHEMA shop
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO db_writer_shop;
ALTER DEFAULT PRIVILEGES FOR ROLE db_owner_shop IN SCHEMA shop
    GRANT SELECT ON TABLES TO db_reader_shop;
ALTER DEFAULT PRIVILEGES FOR ROLE db_owner_shop IN SCHEMA shop
    GRANT USAGE, SELECT ON SEQUENCES TO db_writer_shop;
SET ROLE db_owner_shop;
CREATE TABLE shop.orders (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, total numeric);
RESET ROLE;
CREATE ROLE deploy_shop LOGIN CONNECTION LIMIT 5 VALID UNTIL '2999-01-01';
GRANT db_owner_shop TO deploy_shop;
CREATE ROLE app_shop LOGIN CONNECTION LIMIT 50 VALID UNTIL '2999-01-01';
GRANT db_writer_shop TO app_shop;
"""

PASSWORD = "matrix-test-secret-7f3a"

CONFIG = """
[naming]
breakglass = ["postgres"]
auditor = ["pgaudit_auditor"]
"""


@pytest.fixture(scope="module", params=VERSIONS, ids=[f"pg{v}" for v in VERSIONS])
def clean(request: pytest.FixtureRequest, tmp_path_factory) -> Iterator[dict]:
    inst = install_for(request.param)
    cluster = LocalCluster(
        inst,
        settings={"log_connections": "on", "log_disconnections": "on", "log_statement": "'ddl'"},
    )
    cluster.start()
    try:
        import psycopg

        with psycopg.connect(cluster.conninfo(), autocommit=True) as conn:
            conn.execute("CREATE DATABASE shop")
        with psycopg.connect(cluster.conninfo(dbname="shop"), autocommit=True) as conn:
            conn.execute(CLEAN_LAYOUT.format(db="shop").encode())
        with psycopg.connect(cluster.conninfo(), autocommit=True) as conn:
            conn.execute("REVOKE ALL ON DATABASE postgres FROM PUBLIC")
        if request.param < 15:  # before 15 every database, template1 too, lets PUBLIC create
            for db in ("postgres", "template1"):
                with psycopg.connect(cluster.conninfo(dbname=db), autocommit=True) as conn:
                    conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        with psycopg.connect(cluster.conninfo(), autocommit=True) as conn:
            conn.execute(
                "CREATE ROLE pgaudit_auditor LOGIN CONNECTION LIMIT 3 VALID UNTIL '2999-01-01'; "
                "GRANT pg_monitor TO pgaudit_auditor; "
                "GRANT CONNECT ON DATABASE postgres, shop TO pgaudit_auditor; "
                "GRANT SELECT ON pg_catalog.pg_hba_file_rules TO pgaudit_auditor; "
                "GRANT EXECUTE ON FUNCTION pg_catalog.pg_hba_file_rules() TO pgaudit_auditor"
            )
            conn.execute(
                f"ALTER ROLE postgres PASSWORD '{PASSWORD}'; "
                f"ALTER ROLE pgaudit_auditor PASSWORD '{PASSWORD}'"
            )
        # from here on every connection authenticates: a clean cluster has no trust line
        cluster.write_hba("local all all scram-sha-256\nhost all all 127.0.0.1/32 scram-sha-256\n")
        work = tmp_path_factory.mktemp(f"scan{request.param}")
        (work / "pgaudit-roles.toml").write_text(CONFIG)
        yield {
            "cluster": cluster,
            "dsn": cluster.conninfo(user="pgaudit_auditor", password=PASSWORD),
            "work": work,
            "major": request.param,
        }
    finally:
        cluster.stop()


def scan(clean: dict, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pgaudit_roles.cli",
            "scan",
            clean["dsn"],
            "--config",
            str(clean["work"] / "pgaudit-roles.toml"),
            *args,
        ],
        capture_output=True,
        text=True,
        cwd=clean["work"],
        timeout=300,
    )


def scan_here(clean: dict, *args: str) -> subprocess.CompletedProcess[str]:
    """``scan`` run in this process (tests/cli_support.py): the exit-code matrix reads exit
    codes, output and files, not the process; a subprocess per run paid the interpreter
    start and the heavy imports again, about 0.6 s of CPU each."""
    return cli_process(
        ["scan", clean["dsn"], "--config", str(clean["work"] / "pgaudit-roles.toml"), *args],
        cwd=clean["work"],
    )


def baseline_create(clean: dict, out: Path) -> subprocess.CompletedProcess[str]:
    work: Path = clean["work"]
    return cli_process(
        [
            "baseline",
            "create",
            clean["dsn"],
            "-o",
            str(out),
            "--config",
            str(work / "pgaudit-roles.toml"),
        ],
        cwd=work,
    )


def superuser(clean: dict, sql: str, db: str = "postgres") -> None:
    import psycopg

    with psycopg.connect(
        clean["cluster"].conninfo(dbname=db, password=PASSWORD), autocommit=True
    ) as conn:
        conn.execute(sql.encode())


def test_exit_code_matrix(clean: dict) -> None:
    work: Path = clean["work"]
    ok = scan_here(clean, "--format", "json", "--output-dir", "clean")
    report = json.loads((work / "clean" / "pgaudit-report.json").read_text())
    gating = [
        f"{f['rule_id']} {f['message']}"
        for f in report["findings"]
        if f["gating"] and f["severity"] in ("critical", "high")
    ]
    assert ok.returncode == 0, gating or ok.stdout + ok.stderr
    assert PASSWORD not in ok.stdout + ok.stderr

    # a baseline of the clean state, taken before the mistakes
    base = baseline_create(clean, work / "baseline.json")
    assert base.returncode == 0, base.stderr

    # a high-only violation: the app role may create databases (not CREATEROLE: before
    # PostgreSQL 16 that lets it grant itself pg_execute_server_program, a critical route)
    superuser(clean, "ALTER ROLE app_shop CREATEDB")
    high = scan_here(clean, "--format", "json", "--output-dir", "high")
    sev = {
        f["severity"]
        for f in json.loads((work / "high" / "pgaudit-report.json").read_text())["findings"]
        if f["gating"]
    }
    assert "critical" not in sev and "high" in sev
    assert high.returncode == 1
    assert scan_here(clean, "--fail-on", "critical").returncode == 0
    assert scan_here(clean, "--fail-on", "none").returncode == 0

    # baseline covering everything -> 0; a new finding after it -> 1
    covered = baseline_create(clean, work / "all.json")
    assert covered.returncode == 0
    assert scan_here(clean, "--baseline", str(work / "all.json")).returncode == 0
    superuser(clean, "ALTER ROLE app_shop SUPERUSER")
    try:
        new = scan_here(
            clean, "--baseline", str(work / "all.json"), "--format", "json", "--output-dir", "new"
        )
        assert new.returncode == 1
        findings = json.loads((work / "new" / "pgaudit-report.json").read_text())["findings"]
        assert any(f["baseline"] == "new" and f["severity"] == "critical" for f in findings)
        assert any(f["baseline"] == "unchanged" for f in findings)
    finally:
        superuser(clean, "ALTER ROLE app_shop NOSUPERUSER NOCREATEDB")

    # the password in the DSN never reaches a report
    for path in work.rglob("*"):
        if path.is_file():
            assert PASSWORD not in path.read_text(errors="replace"), path

    # bad configuration -> 2, one line, no traceback
    bad = work / "bad.toml"
    bad.write_text('fail_on = "sometimes"\n')
    res = subprocess.run(
        [sys.executable, "-m", "pgaudit_roles.cli", "scan", clean["dsn"], "--config", str(bad)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 2 and "fail_on" in res.stderr and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1

    # unreachable server -> 3 (in this process: tests/test_faults.py's closed-port case
    # proves exit 3 of scan through the real entry point, with its $TMPDIR)
    res = cli_process(
        ["scan", f"host=127.0.0.1 port={free_port()} user=x dbname=x connect_timeout=3"]
    )
    assert res.returncode == 3 and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_machine_format_on_stdout_is_clean(clean: dict) -> None:
    # a real process: nothing but the document may reach file descriptor 1, whoever writes
    res = scan(clean, "--format", "sarif", "--output-dir", "-", "--fail-on", "none")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)  # nothing but the SARIF document on stdout
    assert doc["version"] == "2.1.0"
    assert "FAIL" in res.stderr or "PASS" in res.stderr or "OK" in res.stderr
    # usage errors (in this process: the matrix proves exit 2 through the real entry point)
    res = scan_here(clean, "--format", "sarif,json", "--output-dir", "-")
    assert res.returncode == 2 and "exactly one" in res.stderr


def test_option_that_cannot_take_effect_is_an_error(clean: dict) -> None:
    res = scan_here(clean, "--format", "pdf")
    assert res.returncode == 2 and "pdf" in res.stderr
    res = scan_here(clean, "--framework", "no-such-framework")
    assert res.returncode == 2 and "no-such-framework" in res.stderr
