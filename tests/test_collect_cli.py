"""``pgaudit-roles collect`` end to end, as a user runs it, on 13-18.

Bad input must give one clear line on stderr, the documented exit code (3 connection or
collection failure, 2 usage), no traceback and no snapshot file; a password must never
appear in output, logs or the snapshot.

A real process (``run_cli``) where the process is the point: libpq's PG* variables, the
passwords, and exit 0, 2 and 3 through the real entry point; the other cases run the
same command in this process (``run_here``), which reads the same exit code, output and
files without paying the interpreter start and imports again.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cli_support import cli_process
from layouts import FX, apply_fixture_layout, make_auditor

from pgaudit_roles.collect.snapshot import load
from pgaudit_roles.core.localpg import free_port

pytestmark = pytest.mark.pg


def _env(env: dict[str, str] | None) -> dict[str, str]:
    """This environment without libpq's PG* variables, plus ``env``."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    base.update(env or {})
    return base


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pgaudit_roles.cli", *args],
        capture_output=True,
        text=True,
        env=_env(env),
        timeout=120,
    )


def run_here(*args: str) -> subprocess.CompletedProcess[str]:
    """``run_cli`` in this process (tests/cli_support.py), with the same environment."""
    return cli_process(list(args), env=_env(None))


def assert_one_line_error(res: subprocess.CompletedProcess[str], code: int, *needles: str) -> str:
    assert res.returncode == code, (res.returncode, res.stdout, res.stderr)
    assert "Traceback" not in res.stderr
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("pgaudit-roles: error: "), lines
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    assert res.stdout == ""
    return lines[0]


@pytest.fixture(scope="module")
def layout_db(pg) -> str:
    name = pg.unique("cli_layout")
    pg.create_database(name)
    apply_fixture_layout(pg, name)
    return name


@pytest.fixture(scope="module")
def tcp_auditor(pg, layout_db) -> tuple[str, str]:
    """(role name, password) of a pg_monitor auditor that logs in over TCP (scram)."""
    name = pg.unique("cli_auditor")
    password = f"S3cret-{os.getpid()}-pw'\"x"
    make_auditor(pg, name, password=password)
    return name, password


def test_collect_writes_snapshot_and_one_summary_line(pg, layout_db, tmp_path):
    out = tmp_path / "snap.json.gz"
    res = run_here("collect", pg.conninfo(), "--database", layout_db, "-o", str(out))
    assert res.returncode == 0, res.stderr
    assert res.stdout == ""
    lines = res.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("pgaudit-roles: wrote "), res.stderr
    assert "1/1 databases" in lines[0]
    snap = load(out)
    assert [d.name for d in snap.databases] == [layout_db]
    assert out.read_bytes()[:2] == b"\x1f\x8b"
    assert list(tmp_path.iterdir()) == [out]  # no temporary file left behind


def test_environment_and_all_databases(pg, layout_db, tmp_path):
    """libpq conventions: no DSN at all, everything from PG* variables."""
    out = tmp_path / "snap.json"
    env = {
        "PGHOST": str(pg.cluster.socket_dir),
        "PGPORT": str(pg.cluster.port),
        "PGUSER": "postgres",
        "PGDATABASE": "postgres",
    }
    res = run_cli("collect", "--all-databases", "-q", "-o", str(out), env=env)
    assert res.returncode == 0, res.stderr
    assert res.stderr == ""  # --quiet
    names = {d.name for d in load(out).databases}
    assert {layout_db, "postgres", "template0"} <= names


def test_unreachable_port_exit_3(tmp_path):
    out = tmp_path / "snap.json"
    dsn = f"host=127.0.0.1 port={free_port()} user=nobody dbname=postgres"
    res = run_cli("collect", dsn, "--connect-timeout", "5", "-o", str(out))
    assert_one_line_error(res, 3, "cannot connect to nobody@127.0.0.1", "Connection refused")
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_wrong_password_exit_3_and_no_password_anywhere(pg, tcp_auditor, statement_log, tmp_path):
    name, password = tcp_auditor
    wrong = "Wr0ng-" + password[::-1]
    out = tmp_path / "snap.json"
    offset = pg.cluster.log_file.stat().st_size
    res = run_cli("collect", pg.cluster.tcp_conninfo(name, wrong), "-o", str(out))
    line = assert_one_line_error(res, 3, "password authentication failed", name)
    assert wrong not in line and password not in line
    assert not out.exists()
    # The same through PGPASSWORD.
    dsn = pg.cluster.tcp_conninfo(name)
    res = run_cli("collect", dsn, "-o", str(out), env={"PGPASSWORD": wrong})
    line = assert_one_line_error(res, 3, "password authentication failed")
    assert wrong not in line
    log = pg.cluster.log_file.read_bytes()[offset:].decode("utf-8", "replace")
    assert wrong not in log and password not in log


def test_right_password_never_in_snapshot_output_or_log(
    pg, tcp_auditor, layout_db, statement_log, tmp_path
):
    name, password = tcp_auditor
    out = tmp_path / "snap.json"
    offset = pg.cluster.log_file.stat().st_size
    uri = f"postgresql://{name}:{_urlquote(password)}@127.0.0.1:{pg.cluster.port}/postgres"
    res = run_cli("collect", uri, "--database", layout_db, "-o", str(out))
    assert res.returncode == 0, res.stderr
    text = out.read_text(encoding="utf-8")
    for where in (
        text,
        res.stdout,
        res.stderr,
        pg.cluster.log_file.read_bytes()[offset:].decode("utf-8", "replace"),
    ):
        assert password not in where
        assert _urlquote(password) not in where
    snap = load(out)
    assert snap.meta["target"] == {
        "host": "127.0.0.1",
        "port": pg.cluster.port,
        "dbname": "postgres",
        "user": name,
    }
    assert snap.meta["is_superuser"] is False


def _urlquote(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="")


def test_unknown_database_exit_3(pg, tmp_path):
    out = tmp_path / "snap.json"
    res = run_here("collect", pg.conninfo(dbname="no_such_database_x"), "-o", str(out))
    assert_one_line_error(res, 3, "no_such_database_x", "does not exist")
    assert not out.exists()
    res = run_here("collect", pg.conninfo(), "--database", "no_such_database_y", "-o", str(out))
    assert_one_line_error(res, 3, "no_such_database_y")
    assert not out.exists()


def test_hba_file_missing_or_malformed_exit_2(pg, tmp_path):
    nohba = make_auditor(pg, pg.unique("cli_nohba"), hba=False)
    out = tmp_path / "snap.json"
    res = run_here("collect", nohba, "--hba-file", str(tmp_path / "missing.conf"), "-o", str(out))
    assert_one_line_error(res, 2, "missing.conf")
    bad = tmp_path / "bad_hba.conf"
    bad.write_bytes(b"\x00\x01 this is not a pg_hba file\n")
    res = run_here("collect", nohba, "--hba-file", str(bad), "-o", str(out))
    assert_one_line_error(res, 2, "bad_hba.conf")
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad_hba.conf"]


def test_hba_file_used_when_view_unreadable(pg, tmp_path):
    nohba = make_auditor(pg, pg.unique("cli_nohba2"), hba=False)
    hba = tmp_path / "pg_hba.conf"
    hba.write_text(
        "local all all trust\n"
        'host all +db_reader_app 10.0.0.0/8 ldap ldapserver=x ldapbasedn="dc=x" '
        'ldapbinddn="cn=a" ldapbindpasswd=FileSecret99 ldapsearchattribute=uid\n'
        "hostssl all all 0.0.0.0/0 scram-sha-256\n"
    )
    out = tmp_path / "snap.json"
    res = run_here(
        "collect", nohba, "--database", "postgres", "--hba-file", str(hba), "-o", str(out)
    )
    assert res.returncode == 0, res.stderr
    snap = load(out)
    src = snap.meta["sources"]["hba_rules"]
    assert src["collected"] is True and src["origin"] == f"file:{hba}"
    rules = list(snap.table("hba_rules").dicts())
    assert [r["line_number"] for r in rules] == [1, 2, 3]
    assert rules[1]["users"] == ["+db_reader_app"]
    assert "FileSecret99" not in out.read_text()


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--all-databases", "--database", "x"], "not both"),
        (["--statement-timeout", "soon"], "statement-timeout"),
        (["--lock-timeout", "1 s; DROP"], "lock-timeout"),
    ],
)
def test_usage_errors_exit_2(pg, tmp_path, args, needle):
    out = tmp_path / "snap.json"
    res = run_here("collect", pg.conninfo(), *args, "-o", str(out))
    assert_one_line_error(res, 2, needle)
    assert not out.exists()


def test_malformed_dsn_exit_2_without_echoing_it(tmp_path):
    out = tmp_path / "snap.json"
    res = run_cli("collect", "host=x password=Hush123 port", "-o", str(out))
    line = assert_one_line_error(res, 2, "invalid connection string")
    assert "Hush123" not in line


def test_unwritable_output_exit_2(pg, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    res = run_here(
        "collect", pg.conninfo(), "--database", "postgres", "-o", str(blocker / "snap.json")
    )
    assert_one_line_error(res, 2, "cannot write")


def test_hostile_database_collected_via_cli(pg, layout_db, tmp_path):
    out = tmp_path / "snap.json"
    res = run_here("collect", pg.conninfo(), "--database", FX.hostile_db, "-o", str(out))
    assert res.returncode == 0, res.stderr
    snap = load(out)
    assert [(d.name, d.status) for d in snap.databases] == [(FX.hostile_db, "collected")]
    assert Path(out).read_text(encoding="utf-8").count("<script>") >= 1
