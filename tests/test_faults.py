"""Process faults on real servers: signals mid-scan, authentication and TLS refused, output
directories that cannot take the reports, a full disk, databases dropped and created during
collection, and the session count of a parallel scan.

Each case checks the same promises: one line on stderr naming the problem, the documented
exit code, no partial snapshot or report, no ``pgaudit-*`` directory left in ``$TMPDIR``
(spool, DuckDB spill) and no ``pgaudit-roles`` session left on the server.

The CLI runs in a child process (signals, exit codes, temporary directories are per
process). Cases that need a blocked collection hold ACCESS EXCLUSIVE on
``pg_largeobject_metadata`` of one database, which the collector reads in every database:
its session then waits on the server, which is the moment a cron ``timeout`` or a Ctrl-C
arrives in real life. The catalog has no syscache, so a new backend never opens it while
starting (a syscache catalog such as ``pg_default_acl`` is opened at startup whenever the
database's relcache init file was invalidated, and the connection itself would hang).
Signal and disk cases run on two versions (13 and 18), the others on all six.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cli_support import cli_process, sigint_default
from conftest import ROOT, Server

APP = "pgaudit-roles"
TWO_VERSIONS = (13, 18)


def only_two_versions(pg: Server) -> None:
    if pg.major not in TWO_VERSIONS:
        pytest.skip(f"fault case runs on PostgreSQL {TWO_VERSIONS} only")


def cli(
    args: list[str], tmp: Path, *, fork: bool | None = None, **kw: Any
) -> subprocess.Popen[str]:
    """Start ``pgaudit-roles ARGS`` with a private TMPDIR (``tmp/tmpdir``). ``fork``: a
    scan collects in a forked child (True) or in the process (False) whatever the
    machine's load (``collect.forked``); None leaves it to the load."""
    tmpdir = tmp / "tmpdir"
    tmpdir.mkdir(exist_ok=True)
    env = dict(os.environ, TMPDIR=str(tmpdir), PGAUDIT_ROLES_QUERY_TIMEOUT="120")
    env.pop("PGPASSWORD", None)
    if fork is not None:
        env["PGAUDIT_ROLES_SECOND_CORE"] = "always" if fork else "never"
    return subprocess.Popen(
        [sys.executable, "-c", "from pgaudit_roles.cli import main; main()", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp,
        preexec_fn=sigint_default,
        **kw,
    )


def finish(proc: subprocess.Popen[str], timeout: float = 60) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def leftovers(tmp: Path) -> list[str]:
    tmpdir = tmp / "tmpdir"
    return sorted(p.name for p in tmpdir.iterdir()) if tmpdir.exists() else []


def our_sessions(pg: Server) -> int:
    rows = pg.query(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s "
        "AND pid <> pg_backend_pid()",
        (APP,),
    )
    return int(rows[0][0])


def no_session_left(pg: Server, wait: float = 5.0) -> None:
    """The backend of a closed session goes away a moment after the client: poll briefly."""
    deadline = time.monotonic() + wait
    while our_sessions(pg) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert our_sessions(pg) == 0


def assert_clean_failure(
    code: int, want: int, err: str, tmp: Path, pg: Server | None, *words: str
) -> None:
    assert code == want, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    for w in words:
        assert w.lower() in lines[0].lower(), lines[0]
    assert "Traceback" not in err
    assert leftovers(tmp) == []
    if pg is not None:
        no_session_left(pg)


def report_files(path: Path) -> list[str]:
    return sorted(p.name for p in path.rglob("*")) if path.exists() else []


@contextlib.contextmanager
def blocked_database(pg: Server) -> Iterator[str]:
    """A database whose pg_largeobject_metadata is held ACCESS EXCLUSIVE until the block ends."""
    import psycopg

    name = pg.create_database(pg.unique("faultdb"))
    conn = psycopg.connect(pg.conninfo(dbname=name))
    try:
        conn.execute("LOCK TABLE pg_catalog.pg_largeobject_metadata IN ACCESS EXCLUSIVE MODE")
        yield name
    finally:
        conn.rollback()
        conn.close()
        pg.drop_database(name)


def wait_for_lock_wait(pg: Server, proc: subprocess.Popen[str], timeout: float = 30) -> None:
    """Until a pgaudit-roles session waits on a lock (the collector is mid-database)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = pg.query(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s "
            "AND wait_event_type = 'Lock'",
            (APP,),
        )
        if rows[0][0]:
            return
        if proc.poll() is not None:
            pytest.fail(f"the scan ended before it blocked: {proc.communicate()}")
        time.sleep(0.05)
    pytest.fail("the scan never reached the blocked database")


def config_file(tmp: Path, **collect: Any) -> Path:
    path = tmp / "audit.toml"
    lines = ["[collect]"] + [f"{k} = {v!r}".replace("'", '"') for k, v in collect.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# --- signals ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sig", "code", "jobs", "fork"),
    [
        (signal.SIGINT, 130, 1, False),
        (signal.SIGTERM, 143, 1, False),
        (signal.SIGTERM, 143, 4, False),
        (signal.SIGINT, 130, 4, False),
        (signal.SIGTERM, 143, 4, True),  # the signal reaches the parent, not the child
        (signal.SIGINT, 130, 1, True),
    ],
)
def test_signal_mid_scan_leaves_nothing_behind(
    pg: Server, tmp_path: Path, sig: int, code: int, jobs: int, fork: bool
) -> None:
    only_two_versions(pg)
    cfg = config_file(tmp_path, lock_timeout="60s", statement_timeout="120s")
    out_dir = tmp_path / "reports"
    snap = tmp_path / "snap.json"
    with blocked_database(pg):
        proc = cli(
            [
                "scan",
                pg.conninfo(),
                "--config",
                str(cfg),
                "--jobs",
                str(jobs),
                "--format",
                "json,html,sarif",
                "--output-dir",
                str(out_dir),
                "--snapshot-out",
                str(snap),
                "--fail-on",
                "none",
            ],
            tmp_path,
            fork=fork,
        )
        wait_for_lock_wait(pg, proc)
        assert leftovers(tmp_path)  # the spool exists while collecting
        sent = time.monotonic()
        proc.send_signal(sig)
        rc, _out, err = finish(proc, timeout=30)
        elapsed = time.monotonic() - sent
    assert elapsed < 10, f"took {elapsed:.1f} s to stop (the lock wait was not cancelled)"
    word = "terminated" if sig == signal.SIGTERM else "interrupted"
    assert_clean_failure(rc, code, err, tmp_path, pg, word)
    assert report_files(out_dir) == [] and not snap.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


# --- connection faults --------------------------------------------------------------------


def test_authentication_failure(pg: Server, tmp_path: Path) -> None:
    role = pg.unique("auditor")
    pg.execute(f"CREATE ROLE {role} LOGIN PASSWORD 'right-horse-battery' IN ROLE pg_monitor")
    try:
        dsn = pg.cluster.tcp_conninfo(role, "wrong-staple-xyzzy")
        rc, out, err = finish(cli(["scan", dsn, "--output-dir", str(tmp_path / "r")], tmp_path))
        assert_clean_failure(rc, 3, err, tmp_path, pg, "password authentication failed", role)
        assert "wrong-staple-xyzzy" not in out + err and "right-horse" not in out + err
        assert report_files(tmp_path / "r") == []
    finally:
        pg.execute(f"DROP ROLE {role}")


def test_tls_required_but_server_has_none(pg: Server, tmp_path: Path) -> None:
    assert pg.query("SHOW ssl") == [("off",)]
    dsn = pg.cluster.tcp_conninfo("postgres") + " sslmode=require"
    rc, _out, err = finish(cli(["collect", dsn, "-o", str(tmp_path / "s.json")], tmp_path))
    assert_clean_failure(rc, 3, err, tmp_path, pg, "ssl")
    assert not (tmp_path / "s.json").exists()


def test_closed_local_port_is_unreachable(tmp_path: Path) -> None:
    from pgaudit_roles.core.localpg import free_port

    dsn = f"host=127.0.0.1 port={free_port()} user=postgres dbname=postgres connect_timeout=3"
    rc, _out, err = finish(cli(["scan", dsn, "--output-dir", str(tmp_path / "r")], tmp_path))
    assert_clean_failure(rc, 3, err, tmp_path, None, "cannot connect", "127.0.0.1")


# --- output faults ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def in_snapshot(pg: Server, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The input of the output faults, collected once per version and only read (in this
    process: the collect is not the case; each test collected its own copy before)."""
    work = tmp_path_factory.mktemp("faults-in")
    snap = work / "in.json"
    res = cli_process(["collect", pg.conninfo(), "-o", str(snap), "-q"], cwd=work)
    assert res.returncode == 0, res.stderr
    return snap


DISK_FORMATS = ["--format", "json,html,sarif,junit", "--fail-on", "none"]


@pytest.fixture(scope="module")
def report_sizes(
    pg: Server, in_snapshot: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, int]:
    """The size of each report of ``in_snapshot`` (by suffix), measured once for both
    disk-full cases (in this process: only the files are read); those cases' versions only."""
    only_two_versions(pg)
    measure = tmp_path_factory.mktemp("faults-measure") / "measure"
    res = cli_process(["check", str(in_snapshot), *DISK_FORMATS, "--output-dir", str(measure)])
    assert res.returncode == 0, res.stderr
    return {p.suffix: p.stat().st_size for p in measure.iterdir()}


def test_output_dir_that_is_a_file(pg: Server, tmp_path: Path) -> None:
    target = tmp_path / "taken"
    target.write_text("keep me\n", encoding="utf-8")
    rc, _out, err = finish(
        cli(["scan", pg.conninfo(), "--format", "json,html", "--output-dir", str(target)], tmp_path)
    )
    assert_clean_failure(rc, 2, err, tmp_path, pg, str(target))
    assert target.read_text(encoding="utf-8") == "keep me\n"


def test_output_dir_that_is_a_file_is_refused_before_connecting(tmp_path: Path) -> None:
    """Exit 2 for the directory, not 3 for the closed port: nothing is collected for
    reports that cannot be written (in this process: no server, no signal)."""
    from pgaudit_roles.core.localpg import free_port

    target = tmp_path / "taken"
    target.write_text("keep me\n", encoding="utf-8")
    dsn = f"host=127.0.0.1 port={free_port()} user=postgres dbname=postgres connect_timeout=3"
    res = cli_process(["scan", dsn, "--format", "json", "--output-dir", str(target)])
    assert res.returncode == 2, res.stderr
    assert res.stderr.strip().splitlines() == [
        f"pgaudit-roles: error: cannot create report directory {target}: File exists"
    ]
    assert target.read_text(encoding="utf-8") == "keep me\n"


def test_output_dir_unwritable(pg: Server, in_snapshot: Path, tmp_path: Path) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    mounted = _mount(ro, "ro,size=64k")
    if not mounted:
        if os.geteuid() == 0:
            pytest.skip("running as root without mount: no directory is unwritable")
        ro.chmod(0o555)
    try:
        snap = in_snapshot
        rc, _out, err = finish(
            cli(
                [
                    "check",
                    str(snap),
                    "--format",
                    "json,html,sarif",
                    "--output-dir",
                    str(ro / "reports"),
                ],
                tmp_path,
            )
        )
        assert_clean_failure(rc, 2, err, tmp_path, pg, str(ro / "reports"))
    finally:
        if mounted:
            subprocess.run(["umount", str(ro)], check=True)


def test_output_dir_symlink_is_followed_and_report_symlinks_are_replaced(
    in_snapshot: Path, tmp_path: Path
) -> None:
    """Documented choice: a symlinked directory is used (like cp); a report file that is a
    symlink is replaced by the new report, never written through (the target is intact).
    A dangling symlink is an error naming it."""
    real = tmp_path / "real"
    real.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("intact\n", encoding="utf-8")
    (real / "pgaudit-report.json").symlink_to(victim)
    link = tmp_path / "link"
    link.symlink_to(real)
    snap = in_snapshot
    # the files are the case here, not the process (in this process; the dangling
    # symlink's failure below keeps a real one, for its exit code and $TMPDIR)
    res = cli_process(
        ["check", str(snap), "--format", "json", "--fail-on", "none", "--output-dir", str(link)],
        cwd=tmp_path,
    )
    assert res.returncode == 0, res.stderr
    assert victim.read_text(encoding="utf-8") == "intact\n"
    assert not (real / "pgaudit-report.json").is_symlink()
    assert (real / "pgaudit-report.json").read_text(encoding="utf-8").startswith("{")
    dangling = tmp_path / "dangling"
    dangling.symlink_to(tmp_path / "nowhere")
    rc, _out, err = finish(
        cli(
            [
                "check",
                str(snap),
                "--format",
                "json",
                "--fail-on",
                "none",
                "--output-dir",
                str(dangling),
            ],
            tmp_path,
        )
    )
    assert_clean_failure(rc, 2, err, tmp_path, None, str(dangling))


def _mount(path: Path, options: str) -> bool:
    if os.geteuid() != 0:
        return False
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)],
        capture_output=True,
        check=False,
    )
    return done.returncode == 0


@pytest.mark.parametrize("what", ["reports", "snapshot"])
def test_disk_full_for_the_output(
    pg: Server, in_snapshot: Path, report_sizes: dict[str, int], tmp_path: Path, what: str
) -> None:
    only_two_versions(pg)
    snap = in_snapshot
    formats = DISK_FORMATS
    sizes = report_sizes
    # room for the JSON report (and the snapshot's start), not for all four reports
    room = (sizes[".json"] // 4096 + 2) * 4096
    assert room < sum(sizes.values())
    full = tmp_path / "full"
    full.mkdir()
    if not _mount(full, f"size={room}"):
        pytest.skip("cannot mount a small tmpfs here")
    try:
        if what == "reports":  # the JSON fits, the rest does not: none may stay
            args = ["check", str(snap), *formats, "--output-dir", str(full)]
        else:
            args = ["collect", pg.conninfo(), "-o", str(full / "snap.json")]
        rc, _out, err = finish(cli(args, tmp_path))
        assert_clean_failure(rc, 2, err, tmp_path, pg, "no space left")
        assert report_files(full) == []
    finally:
        subprocess.run(["umount", str(full)], check=True)


# --- the cluster changes under the collector --------------------------------------------


def test_database_dropped_and_created_during_collection(pg: Server, tmp_path: Path) -> None:
    import json

    import psycopg

    first = pg.create_database(pg.unique("aa_first"))
    doomed = pg.create_database(pg.unique("zz_doomed"))
    newcomer = pg.unique("zz_new")
    conn = psycopg.connect(pg.conninfo(dbname=first))
    try:
        conn.execute("LOCK TABLE pg_catalog.pg_largeobject_metadata IN ACCESS EXCLUSIVE MODE")
        snap = tmp_path / "snap.json"
        proc = cli(
            [
                "collect",
                pg.conninfo(),
                "--jobs",
                "1",
                "--lock-timeout",
                "60s",
                "-o",
                str(snap),
                "-q",
            ],
            tmp_path,
        )
        wait_for_lock_wait(pg, proc)
        pg.drop_database(doomed)
        pg.create_database(newcomer)
        conn.rollback()
        rc, _out, err = finish(proc)
    finally:
        conn.close()
        pg.drop_database(first)
        pg.drop_database(doomed)
        pg.drop_database(newcomer)
    assert leftovers(tmp_path) == []
    no_session_left(pg)
    assert "Traceback" not in err
    if rc != 0:  # a gap may gate (coverage): then one line naming it and no snapshot
        assert rc == 3 and len(err.strip().splitlines()) == 1 and doomed in err
        return
    data = json.loads(snap.read_text(encoding="utf-8"))
    dbs = {d["name"]: d for d in data["databases"]}
    assert dbs[first]["status"] == "collected"
    assert dbs[doomed]["status"] == "not_collected" and "does not exist" in dbs[doomed]["reason"]
    assert newcomer not in dbs  # created after the list was read: not claimed as collected


# --- load ---------------------------------------------------------------------------------


def test_jobs_8_never_holds_more_than_9_sessions_on_50_databases(
    pg: Server, tmp_path: Path
) -> None:
    """50 databases, 5,000 roles, ``--jobs 8``: at most 8 sessions plus the first one, none
    after. One version (18) is enough: the pool is ours, not the server's."""
    if pg.major != 18:
        pytest.skip("load case runs on PostgreSQL 18 only")
    prefix = pg.unique("load")
    pg.execute(
        f"DO $$BEGIN FOR i IN 1..5000 LOOP EXECUTE format('CREATE ROLE %I', '{prefix}_r' || i); "
        "END LOOP; END$$"
    )
    import psycopg

    with psycopg.connect(pg.conninfo(), autocommit=True) as conn:  # one session for all 50
        for i in range(50):
            conn.execute(f'CREATE DATABASE "{prefix}_db{i:02d}" TEMPLATE template0')
    dbs = [f"{prefix}_db{i:02d}" for i in range(50)]
    peak = 0
    stop = threading.Event()

    def watch() -> None:
        nonlocal peak
        with psycopg.connect(pg.conninfo(), autocommit=True) as conn:
            while not stop.is_set():
                n = conn.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", (APP,)
                ).fetchone()
                peak = max(peak, int(n[0]) if n else 0)
                time.sleep(0.01)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        start = time.monotonic()
        rc, _out, err = finish(
            cli(
                ["collect", pg.conninfo(), "--jobs", "8", "-q", "-o", str(tmp_path / "snap.json")],
                tmp_path,
            ),
            timeout=120,
        )
        elapsed = time.monotonic() - start
    finally:
        stop.set()
        watcher.join()
        with psycopg.connect(pg.conninfo(), autocommit=True) as conn:
            for name in dbs:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        pg.execute(
            f"DO $$BEGIN FOR i IN 1..5000 LOOP EXECUTE format('DROP ROLE %I', '{prefix}_r' || i); "
            "END LOOP; END$$"
        )
    assert rc == 0, err
    assert 2 <= peak <= 9, f"peak {peak} sessions"
    no_session_left(pg)
    assert leftovers(tmp_path) == []
    assert elapsed < 90  # 34 s measured on a busy 2-core machine
    print(f"50 databases, 5,000 roles, --jobs 8: {elapsed:.1f} s, peak {peak} sessions")


def test_help_lists_signal_exit_codes() -> None:
    done = subprocess.run(
        [sys.executable, "-c", "from pgaudit_roles.cli import main; main()", "--help"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert "130  interrupted (SIGINT" in done.stdout and "143  terminated (SIGTERM)" in done.stdout
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "| 130 |" in readme and "| 143 |" in readme
