"""Limits and sandbox for SQL users write (``query`` and ``--rules-dir`` rules): time limit,
memory ceiling, prompt Ctrl-C, and no way out of the DuckDB sandbox. Pure DuckDB over a
small synthetic snapshot: no server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from cli_support import sigint_default
from test_audit_schema import make, role
from test_query_cli import run

from pgaudit_roles.audit import limits
from pgaudit_roles.collect.snapshot import save
from pgaudit_roles.evaluate.engine import open_sandbox

ROOT = Path(__file__).resolve().parent.parent
ENDLESS = "WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t) SELECT count(*) FROM t"
HUGE_LIST = "SELECT len(range(3000000000)) AS n"


@pytest.fixture
def snap_file(tmp_path: Path) -> Path:
    path = tmp_path / "snap.json"
    save(make(roles=[role(100, "alice", login=True), role(101, "bob")]), str(path))
    return path


def _address_space_capped(pid: int) -> bool:
    """Whether the process runs under the memory ceiling now (``limits.memory_ceiling``
    lowers its RLIMIT_AS only while a query or a batch of rule queries runs)."""
    try:
        text = Path(f"/proc/{pid}/limits").read_text(encoding="ascii")
    except OSError:
        return False
    line = next((ln for ln in text.splitlines() if ln.startswith("Max address space")), "")
    return bool(line) and line.split()[3] != "unlimited"


def wait_for_running_query(proc: subprocess.Popen[str], fallback: float) -> None:
    """Return once ``proc`` is well inside a long query: under the memory ceiling for 0.3 s
    without a break (the binding of a rule's or a user's SQL, also under the ceiling, takes
    milliseconds). Where this process already has an address-space limit the ceiling may
    not be lowered at all: then sleep ``fallback`` seconds, as before."""
    import resource

    if resource.getrlimit(resource.RLIMIT_AS)[0] != resource.RLIM_INFINITY:
        time.sleep(fallback)
        return
    deadline = time.monotonic() + 30
    since: float | None = None
    while True:
        assert time.monotonic() < deadline and proc.poll() is None
        now = time.monotonic()
        if not _address_space_capped(proc.pid):
            since = None
        elif since is None:
            since = now
        elif now - since >= 0.3:
            return
        time.sleep(0.01)


def user_rule(tmp_path: Path, query: str, rule_id: str = "USR-TEST-001") -> Path:
    d = tmp_path / "user-rules"
    d.mkdir(exist_ok=True)
    body = textwrap.indent(query, "")
    (d / f"{rule_id}.toml").write_text(
        textwrap.dedent(f'''\
        id = "{rule_id}"
        title = "A user rule"
        severity = "low"
        category = "roles"
        object_type = "role"
        rationale = "test"
        references = [{{ kind = "docs", text = "x" }}]
        requires = ["roles"]
        query = """
        {body}
        """
        message = "x"
        fix_safety = "manual"
        manual = "x"
        '''),
        encoding="utf-8",
    )
    return d


def test_size_and_timeout_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    assert limits.size_bytes("512MB") == 512 * 10**6
    assert limits.size_bytes("2 GiB") == 2 * 2**30
    assert limits.size_bytes("lots") is None
    monkeypatch.setenv(limits.TIMEOUT_ENV, "2.5")
    assert limits.query_timeout() == 2.5
    monkeypatch.setenv(limits.TIMEOUT_ENV, "soon")
    with pytest.raises(Exception, match="PGAUDIT_ROLES_QUERY_TIMEOUT='soon'"):
        limits.query_timeout()
    monkeypatch.delenv(limits.TIMEOUT_ENV)
    assert limits.query_timeout() == limits.DEFAULT_TIMEOUT


def test_query_past_the_time_limit_is_one_line_naming_the_setting(
    snap_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(limits.TIMEOUT_ENV, "1")
    start = time.monotonic()
    code, out, err = run(["query", str(snap_file), ENDLESS], capsys)
    assert time.monotonic() - start < 10
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "stopped after 1 s" in err and limits.TIMEOUT_ENV in err


def test_query_that_would_exhaust_memory_fails_under_the_ceiling(
    snap_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import resource

    ceiling = resource.getrlimit(resource.RLIMIT_AS)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    code, out, err = run(["query", str(snap_file), HUGE_LIST], capsys)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "Out of Memory" in err and "PGAUDIT_ROLES_MEMORY_LIMIT" in err
    assert after - before < 3 * 2**30  # 3e9 BIGINTs would be 24 GB
    assert resource.getrlimit(resource.RLIMIT_AS) == ceiling  # lifted again afterwards


def test_user_rule_time_limit_and_memory_are_rule_errors_naming_rule_and_setting(
    snap_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    user_rule(tmp_path, ENDLESS.replace("count(*)", "count(*) AS role"), "USR-LOOP-001")
    # not a constant (an aggregate), so it is built when the rule runs, not when it is bound
    rules_dir = user_rule(
        tmp_path, "SELECT len(range(3000000000 + count(*))) AS role FROM roles", "USR-HUGE-001"
    )
    monkeypatch.setenv(limits.TIMEOUT_ENV, "1")
    monkeypatch.setenv("COLUMNS", "1000")  # one line per rule: the summary wraps otherwise
    start = time.monotonic()
    code, out, err = run(
        [
            "check",
            str(snap_file),
            "--rules-dir",
            str(rules_dir),
            "--fail-on",
            "none",
            "--output-dir",
            str(tmp_path / "out"),
        ],
        capsys,
    )
    assert time.monotonic() - start < 30
    assert code == 0, err
    text = out + err
    loop = [
        line for line in text.splitlines() if "USR-LOOP-001" in line and "ERROR" in line.upper()
    ]
    huge = [
        line for line in text.splitlines() if "USR-HUGE-001" in line and "ERROR" in line.upper()
    ]
    assert loop and "stopped after 1 s" in loop[0] and limits.TIMEOUT_ENV in loop[0]
    assert huge and "Out of Memory" in huge[0] and "PGAUDIT_ROLES_MEMORY_LIMIT" in huge[0]


def test_user_rule_whose_constant_would_exhaust_memory_is_a_rule_error(
    snap_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """DuckDB builds a constant list while planning: that is under the ceiling too."""
    rules_dir = user_rule(tmp_path, HUGE_LIST.replace(" AS n", " AS role"), "USR-HUGE-002")
    code, out, err = run(
        [
            "check",
            str(snap_file),
            "--rules-dir",
            str(rules_dir),
            "--fail-on",
            "none",
            "--output-dir",
            str(tmp_path / "out"),
        ],
        capsys,
    )
    assert code == 0, err
    huge = [line for line in (out + err).splitlines() if "USR-HUGE-002" in line and "ERROR" in line]
    assert huge and "Out of Memory" in huge[0]


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM read_parquet('{tmp}/x.parquet')",
        "SELECT * FROM '/etc/passwd'",
        "COPY (SELECT 1) TO '{tmp}/out.csv'",
        "ATTACH '{tmp}/other.duckdb' AS o",
        "INSTALL httpfs",
        "LOAD httpfs",
        "SET enable_external_access = true",
        "RESET enable_external_access",
        "PRAGMA enable_external_access",
        "SET memory_limit = '100GB'",
        "SELECT 1; SELECT 2",
        "SELECT name FROM roles; COPY roles TO '{tmp}/out.csv'",
    ],
)
def test_sandbox_escapes_fail_in_query_and_in_the_locked_connection(
    sql: str, snap_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import duckdb

    (tmp_path / "x.parquet").write_bytes(b"PAR1")
    text = sql.format(tmp=tmp_path)
    code, out, err = run(["query", str(snap_file), text], capsys)
    assert code == 2 and out == "" and err.count("\n") == 1, err
    if sql == "SELECT 1; SELECT 2":
        return  # harmless to DuckDB itself; the validator's "exactly one SELECT" is the point
    # and below the validator: the locked connection itself refuses
    con = open_sandbox(make(roles=[role(100, "alice")]))
    try:
        with pytest.raises(duckdb.Error):
            con.execute(text).fetchall()
        assert con.execute("SELECT current_setting('enable_external_access')").fetchone() == (
            False,
        )
        assert con.execute("SELECT current_setting('memory_limit')").fetchone() != ("100.0 GB",)
    finally:
        con.close()
    assert not (tmp_path / "out.csv").exists()


def test_ctrl_c_interrupts_a_running_query_promptly(snap_file: Path, tmp_path: Path) -> None:
    env = dict(os.environ, PGAUDIT_ROLES_QUERY_TIMEOUT="0", TMPDIR=str(tmp_path))
    for sig, code, word in (
        (signal.SIGINT, 130, "interrupted"),
        (signal.SIGTERM, 143, "terminated"),
    ):
        proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from pgaudit_roles.cli import main; main()",
                "query",
                str(snap_file),
                ENDLESS,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=ROOT,
            preexec_fn=sigint_default,
        )
        deadline = time.monotonic() + 30
        while not any(p.name.startswith("pgaudit-duckdb-") for p in tmp_path.iterdir()):
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.02)
        wait_for_running_query(proc, fallback=1.5)  # the schema is loaded, the query runs
        assert proc.poll() is None
        sent = time.monotonic()
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=20)
        assert time.monotonic() - sent < 5, f"{sig!r} took too long"
        assert proc.returncode == code and out == ""
        assert err.strip() == f"pgaudit-roles: {word}" + (" (SIGTERM)" if code == 143 else "")
        assert [p.name for p in tmp_path.iterdir() if p.name.startswith("pgaudit-")] == []


@pytest.mark.parametrize(
    ("sig", "code", "line"),
    [
        (signal.SIGTERM, 143, "pgaudit-roles: terminated (SIGTERM)"),
        (signal.SIGINT, 130, "pgaudit-roles: interrupted"),
    ],
)
def test_signal_while_duckdb_runs_in_the_main_thread(
    tmp_path: Path, sig: int, code: int, line: str
) -> None:
    """Building the audit schema runs DuckDB in the main thread, which turns a signal into
    its own RuntimeError("Query interrupted"): still 130/143, one line, nothing left."""
    from test_audit_schema import member

    # a 250-role membership chain: seconds of closure search (the closure got faster: a
    # 60-role chain, about 1 s of check, sometimes ended before the signal came)
    snap = tmp_path / "chain.json"
    save(
        make(
            roles=[role(100 + i, f"r{i}") for i in range(250)],
            memberships=[member(101 + i, 100 + i) for i in range(249)],
        ),
        str(snap),
    )
    tmpdir = tmp_path / "tmpdir"
    tmpdir.mkdir()
    env = dict(os.environ, TMPDIR=str(tmpdir))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from pgaudit_roles.cli import main; main()",
            "check",
            str(snap),
            "--format",
            "json,html",
            "--output-dir",
            str(tmp_path / "out"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
        preexec_fn=sigint_default,
    )
    deadline = time.monotonic() + 30
    while not any(p.name.startswith("pgaudit-duckdb-") for p in tmpdir.iterdir()):
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.02)
    time.sleep(0.5)  # inside the closure search
    assert proc.poll() is None
    sent = time.monotonic()
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)
    assert time.monotonic() - sent < 5
    assert (proc.returncode, err.strip()) == (code, line), err
    assert list(tmpdir.iterdir()) == [] and not (tmp_path / "out").exists()
