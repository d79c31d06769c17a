"""A live scan's collection in a forked child (``collect.forked``, ``pipeline.EvaluationStart``).

No server for most: the child runs whatever collection callable it is given, so a fake
one that writes into the spool, fails, or dies shows what comes back. On real servers
13-18: the forked collection of a database is the in-process one, and its column files
outlive the child.
"""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from pgaudit_roles import pipeline
from pgaudit_roles.collect import forked
from pgaudit_roles.collect.snapshot import Snapshot
from pgaudit_roles.core import cpus
from pgaudit_roles.core.errors import CollectionError, UsageError
from pgaudit_roles.reports import registry


@pytest.fixture
def idle_core(monkeypatch: pytest.MonkeyPatch) -> None:
    """An idle core, in a process with no other thread (the only one the product forks):
    a pytest-xdist worker always has its channel's thread, and forking it could copy a
    lock that thread holds, so there these tests are skipped and
    ``tests/test_fork_isolation.py`` runs them in a single-threaded pytest process."""
    if threading.active_count() != 1:
        pytest.skip("forks only a single-threaded process: run by test_fork_isolation.py")
    monkeypatch.setattr(cpus, "spare_cpu", lambda: True)


def fake_collect(spool: Any) -> Snapshot:
    """A snapshot with one file in the spool, written by the process that collects."""
    path = spool.new_file("x")
    Path(path).write_text(f"{os.getpid()}\n", encoding="utf-8")
    return Snapshot(meta={"pid": os.getpid(), "file": path}, cluster={}, databases=[])


def test_the_snapshot_comes_from_a_child_and_its_files_are_ours(idle_core: None) -> None:
    seen: list[int] = []
    snap = forked.collect_with(fake_collect, lambda: seen.append(os.getpid()))
    assert seen == [os.getpid()]  # meanwhile ran here
    assert snap.meta["pid"] != os.getpid()  # the collection did not
    path = Path(snap.meta["file"])
    assert path.read_text() == f"{snap.meta['pid']}\n"  # the child's exit left it
    assert snap.spool is not None and str(path).startswith(snap.spool.path)
    spool_dir = Path(snap.spool.path)
    del snap
    gc.collect()
    assert not spool_dir.exists()  # removed with the snapshot, as an in-process one


def test_without_an_idle_core_or_with_threads_it_runs_here(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(cpus, "spare_cpu", lambda: False)
    assert not forked.available()
    order: list[str] = []

    def collect(spool: Any) -> Snapshot:
        order.append("collect")
        return fake_collect(spool)

    snap = forked.collect_with(collect, lambda: order.append("meanwhile"))
    assert snap.meta["pid"] == os.getpid() and order == ["collect", "meanwhile"]
    monkeypatch.setattr(cpus, "spare_cpu", lambda: True)
    monkeypatch.setattr(cpus.threading, "active_count", lambda: 1)
    assert forked.available()  # (nothing is forked here)
    monkeypatch.setattr(cpus.threading, "active_count", lambda: 2)
    assert not forked.available()  # never fork a process with other threads


@pytest.mark.parametrize(
    "error",
    [
        CollectionError("cannot connect to x@/nowhere: no such socket"),
        UsageError("--jobs must be a whole number from 1 to 32, not 0"),
    ],
)
def test_the_collectors_error_is_raised_here_with_its_message(
    idle_core: None, error: Exception
) -> None:
    def collect(spool: Any) -> Snapshot:
        raise error

    with pytest.raises(type(error)) as got:
        forked.collect_with(collect, lambda: None)
    assert str(got.value) == str(error)


def test_an_error_that_does_not_pickle_keeps_its_text(idle_core: None) -> None:
    class Local(Exception):  # a local class cannot be pickled
        pass

    def collect(spool: Any) -> Snapshot:
        raise Local("the catalog said no")

    with pytest.raises(RuntimeError, match="^Local: the catalog said no$"):
        forked.collect_with(collect, lambda: None)


def test_a_child_that_dies_is_a_collection_error(idle_core: None) -> None:
    def collect(spool: Any) -> Snapshot:
        os.kill(os.getpid(), signal.SIGKILL)
        raise AssertionError("unreachable")

    with pytest.raises(CollectionError, match=r"ended without a snapshot \(signal 9\)"):
        forked.collect_with(collect, lambda: None)


def test_a_failure_here_ends_and_reaps_the_child(
    idle_core: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    started = time.monotonic()
    children: list[int] = []
    real_fork = os.fork

    def fork() -> int:
        pid = real_fork()
        children.append(pid)
        return pid

    monkeypatch.setattr(forked.os, "fork", fork)

    def collect(spool: Any) -> Snapshot:
        time.sleep(30)  # a collection waiting on the server
        return fake_collect(spool)

    def meanwhile() -> None:
        raise KeyboardInterrupt  # Ctrl-C while this process prepared the evaluation

    with pytest.raises(KeyboardInterrupt):
        forked.collect_with(collect, meanwhile)
    assert time.monotonic() - started < 10
    assert len(children) == 1
    with pytest.raises(ChildProcessError):
        os.waitpid(children[0], os.WNOHANG)  # reaped: not even a zombie left


def test_an_error_before_finish_ends_the_child_and_removes_its_files(
    idle_core: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``start`` forks at once (a scan loads its rules while the child connects); a
    failure in that start-up leaves the ``with``: the child is ended and reaped, and
    what it wrote into the spool goes with it."""
    children: list[int] = []
    real_fork = os.fork

    def fork() -> int:
        pid = real_fork()
        children.append(pid)
        return pid

    monkeypatch.setattr(forked.os, "fork", fork)
    read_fd, write_fd = os.pipe()

    def collect(spool: Any) -> Snapshot:
        path = spool.new_file("partial")
        Path(path).write_text("half a catalog\n", encoding="utf-8")
        os.write(write_fd, path.encode() + b"\n")  # the parent learns the file exists
        time.sleep(30)  # then waits on the server
        return fake_collect(spool)

    started = time.monotonic()
    with pytest.raises(UsageError, match="^rule file broken$"):
        with forked.start(collect) as pending:
            assert pending.forked and len(children) == 1
            written = Path(os.read(read_fd, 4096).decode().strip())
            assert written.read_text() == "half a catalog\n"
            raise UsageError("rule file broken")  # as loading a bad rule file does
    os.close(read_fd)
    os.close(write_fd)
    assert time.monotonic() - started < 10
    with pytest.raises(ChildProcessError):
        os.waitpid(children[0], os.WNOHANG)  # reaped
    assert not written.exists() and not written.parent.exists()


def test_start_then_finish_is_collect_with(idle_core: None) -> None:
    """The two steps give what the one call gives: the child's snapshot, meanwhile here,
    the files the parent's; leaving the ``with`` after ``finish`` keeps them."""
    seen: list[int] = []
    with forked.start(fake_collect) as pending:
        assert pending.forked
        snap = pending.finish(lambda: seen.append(os.getpid()))
    assert seen == [os.getpid()] and snap.meta["pid"] != os.getpid()
    assert Path(snap.meta["file"]).read_text() == f"{snap.meta['pid']}\n"


def test_start_without_a_spare_core_collects_in_finish(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cpus, "spare_cpu", lambda: False)
    order: list[str] = []

    def collect(spool: Any) -> Snapshot:
        order.append("collect")
        return fake_collect(spool)

    with forked.start(collect) as pending:
        assert not pending.forked and order == []  # nothing runs before finish
        snap = pending.finish(lambda: order.append("meanwhile"))
    assert order == ["collect", "meanwhile"] and snap.meta["pid"] == os.getpid()
    assert Path(snap.meta["file"]).exists()


def test_also_is_computed_where_the_collection_runs(
    idle_core: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``also`` (the scan's label, which needs psycopg) runs in the collecting process:
    in the child when it forks, here otherwise; its value comes back with the snapshot."""
    with forked.start(fake_collect, also=os.getpid) as pending:
        snap = pending.finish(lambda: None)
    assert pending.also == snap.meta["pid"] != os.getpid()
    monkeypatch.setattr(cpus, "spare_cpu", lambda: False)
    with forked.start(fake_collect, also=lambda: ("label", os.getpid())) as pending:
        pending.finish(lambda: None)
    assert pending.also == ("label", os.getpid())


FORK_RECORDER = """
import os, sys
from pgaudit_roles.collect import forked
forks = []  # (child pid, whether this process had imported psycopg by then, and the
# evaluation's modules)
EVALUATION = ("duckdb", "pgaudit_roles.audit.audit_schema", "pgaudit_roles.evaluate.engine")
real_fork = os.fork
def counted():
    loaded = "psycopg" in sys.modules
    evaluation = any(m in sys.modules for m in EVALUATION)
    pid = real_fork()
    if pid:
        forks.append((pid, loaded, evaluation))
    return pid
forked.os.fork = counted
"""
"""Prepended to a child interpreter's code: every fork of that process recorded in
``forks``."""

CLI_NOTING_FORKS = (
    FORK_RECORDER
    + """
import atexit
atexit.register(lambda: print(
    f"forks={len(forks)} first-fork psycopg={forks[0][1] if forks else None}"
    f" evaluation={forks[0][2] if forks else None}",
    file=sys.stderr,
))
from pgaudit_roles.cli import main
main()
"""
)


HOSTILE_OWNER = 'app "owner"\n<script>\u202e'
"""A superuser role (a finding names it) whose name holds a quote, a newline, markup and a
bidi control."""


def test_check_reads_an_archive_in_a_child_with_the_same_result(tmp_path: Path) -> None:
    """``check`` of an archive snapshot reads it in a forked child when a core is free:
    the same reports as reading it here; a member whose pages are damaged is one line
    naming the archive and the member, exit 2 (it was an internal error, exit 4), and
    nothing is left in TMPDIR. A JSON snapshot is read here (its rows would cross the
    pipe)."""
    import json

    sys.path.insert(0, str(Path(__file__).parent))
    from test_audit_schema import make, member, role

    from pgaudit_roles.collect.snapshot import save

    snap = make(
        roles=[role(100, HOSTILE_OWNER, superuser=True, login=True), role(200, "app_rw")],
        memberships=[member(200, 100)],
        db={
            "objects": [
                {"object_class": "relation", "oid": 500, "kind": "r", "schema_oid": 2200}
                | {"name": "t", "owner_oid": 100}
            ]
        },
    )
    archive = tmp_path / "snap.tar"
    save(snap, archive)
    as_json = tmp_path / "snap.json"
    save(snap, as_json)
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()

    def check(path: Path, mode: str, out: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", CLI_NOTING_FORKS, "check", str(path)]
            + ["--format", "json,sarif", "--output-dir", str(out), "--fail-on", "none", "-q"],
            capture_output=True,
            text=True,
            env=dict(os.environ, TMPDIR=str(tmpdir), PGAUDIT_ROLES_SECOND_CORE=mode),
            check=False,
        )

    def report(out: Path) -> dict[str, Any]:
        doc = json.loads((out / "pgaudit-report.json").read_text())
        doc["scan"]["meta"].pop("run_seconds")
        return dict(doc)

    got = {}
    for mode, forks in (("always", 1), ("never", 0)):
        done = check(archive, mode, tmp_path / mode)
        assert done.returncode == 0, done.stderr
        assert f"forks={forks} " in done.stderr
        assert list(tmpdir.iterdir()) == []
        got[mode] = report(tmp_path / mode)
    assert got["always"] == got["never"] and got["always"]["findings"]
    # the hostile name crossed the pipe whole (its finding names it)
    assert any(f.get("role") == HOSTILE_OWNER for f in got["always"]["findings"])
    done = check(as_json, "always", tmp_path / "json")
    assert done.returncode == 0 and "forks=0 " in done.stderr, done.stderr
    assert report(tmp_path / "json")["findings"] == got["never"]["findings"]

    data = archive.read_bytes()
    cut = data.index(b"PAR1") + 64  # into the first Parquet member's pages
    damaged = tmp_path / "damaged.tar"
    damaged.write_bytes(data[:cut] + b"\xff" * 256 + data[cut + 256 :])
    for mode in ("always", "never"):  # pages DuckDB cannot read: bad input, not a crash
        done = check(damaged, mode, tmp_path / "damaged")
        assert done.returncode == 2, done.stderr
        lines = [line for line in done.stderr.splitlines() if not line.startswith("forks=")]
        assert len(lines) == 1, done.stderr
        assert lines[0].startswith(f"pgaudit-roles: error: {damaged}: snapshot archive member ")
        assert "cannot be read" in lines[0] and "pgaudit-spool" not in lines[0]
        assert "Traceback" not in done.stderr and list(tmpdir.iterdir()) == []
        assert not (tmp_path / "damaged").exists()


def test_the_evaluation_start_imports_what_a_scan_then_uses(tmp_path: Path) -> None:
    """Every module the start imports is one an evaluation with findings and the writing
    of every format import anyway: the lists cannot go stale and make a scan import what
    it does not use."""
    formats = ["json", "html", "junit", "sarif", "sql", "markdown", "text", "prometheus"]
    code = f"""
import sys
from pathlib import Path
from pgaudit_roles import pipeline
from pgaudit_roles.collect.snapshot import Snapshot
from test_audit_schema import BOOT, make, member, role
snap = make(roles=[BOOT, role(100, "app_owner", superuser=True, login=True),
                   role(200, "app_rw")],
            memberships=[member(200, 100)],
            db={{"objects": [{{"oid": 500, "kind": "r", "schema_oid": 2200, "name": "t",
                              "owner_oid": 100}}]}})
cfg = pipeline.Config()
result = pipeline.evaluate_snapshot(snap, pipeline.load_rules_for(cfg), cfg)
assert result.findings
pipeline.write_files(result, {formats!r}, Path({str(tmp_path)!r}), {{}})
print("\\n".join(sorted(sys.modules)))
"""
    # one process (no child renders the page): every module used is in its sys.modules
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).parent), PGAUDIT_ROLES_SECOND_CORE="never")
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 0, done.stderr
    used = set(done.stdout.split())
    start = pipeline.EvaluationStart(formats)
    assert set(start.modules) - used == set()
    assert set(registry.modules(formats)) - used == set()
    assert "grandalf.layouts" in start.modules and "jinja2.sandbox" in start.modules


@pytest.mark.pg
def test_a_forked_collection_is_the_in_process_one(pg: Any, tmp_path: Path) -> None:
    """In a fresh (single-threaded) process: the snapshot a forked child collects is the
    one collected in the process, and the evaluation of both finds the same."""
    code = (
        FORK_RECORDER
        + """
from pgaudit_roles import pipeline
cfg = pipeline.Config()
os.environ["PGAUDIT_ROLES_SECOND_CORE"] = "never"
here = pipeline.collect_snapshot(sys.argv[1], cfg, meanwhile=lambda: None)
assert forks == [], forks
os.environ["PGAUDIT_ROLES_SECOND_CORE"] = "always"
start = pipeline.EvaluationStart(["json", "html"])
there = pipeline.collect_snapshot(sys.argv[1], cfg, meanwhile=start)
assert len(forks) == 1 and start.con is not None
def plain(snap):
    data = snap.to_json()
    for key in ("collected_at", "duration_seconds"):
        data["meta"].pop(key)
    return data
assert plain(there) == plain(here)
assert any(t.file for d in there.databases for t in d.tables.values())
roles = there.table("roles")
assert sys.argv[2] in [r[roles.columns.index("name")] for r in roles.rows]
rules = pipeline.load_rules_for(cfg)
a = pipeline.evaluate_snapshot(here, rules, cfg)
b = pipeline.evaluate_snapshot(there, rules, cfg, con=start.take())
assert [f.fingerprint for f in a.findings] == [f.fingerprint for f in b.findings]
print("same", len(a.findings))
"""
    )
    hostile = 'fork\'ed "role"\n<script>\u202e'  # crosses the pipe as it is
    quoted = '"' + hostile.replace('"', '""') + '"'
    pg.execute(f"CREATE ROLE {quoted}")
    try:
        done = subprocess.run(
            [sys.executable, "-c", code, pg.conninfo(), hostile],
            capture_output=True,
            text=True,
            env=dict(os.environ, TMPDIR=str(tmp_path)),
            check=False,
        )
    finally:
        pg.drop_roles([hostile])
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("same ") and int(done.stdout.split()[1]) > 0
    assert list(tmp_path.iterdir()) == []  # the spool went with the snapshots


@pytest.mark.pg
def test_scan_with_the_collection_forked(pg: Any, tmp_path: Path) -> None:
    """The CLI end to end with the second core forced and refused
    (``PGAUDIT_ROLES_SECOND_CORE``; the suite's machine is often too busy for ``auto``):
    the same exit, reports and snapshot either way, nothing left behind."""
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    outs = {}
    for fork in (True, False):
        out = tmp_path / f"out-{fork}"
        mode = "always" if fork else "never"  # whatever the machine's load
        done = subprocess.run(
            [
                sys.executable,
                "-c",
                CLI_NOTING_FORKS,
                "scan",
                pg.conninfo(),
                "--format",
                "json,html",
            ]
            + ["--output-dir", str(out), "--fail-on", "none", "-q"]
            + ["--snapshot-out", str(out / "snap.json")],
            capture_output=True,
            text=True,
            env=dict(os.environ, TMPDIR=str(tmpdir), PGAUDIT_ROLES_SECOND_CORE=mode),
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert list(tmpdir.iterdir()) == []
        # forked: the collection's child first, before this process needed psycopg, and
        # before it imported the evaluation's modules (DuckDB, the audit schema, the
        # engine: imported while the child collects, pipeline.start_collection)
        assert ("first-fork psycopg=False evaluation=False" in done.stderr) is fork, done.stderr
        outs[fork] = out
    assert sorted(p.name for p in outs[True].iterdir()) == sorted(
        p.name for p in outs[False].iterdir()
    )
    import json

    def findings(out: Path) -> list[str]:
        doc = json.loads((out / "pgaudit-report.json").read_text())
        return sorted(f["fingerprint"] for f in doc["findings"])

    assert findings(outs[True]) == findings(outs[False]) and findings(outs[True])
    # the label is computed where psycopg is loaded (the child), never before the fork
    from pgaudit_roles.collect.connect import describe_target

    labels = [
        json.loads((out / "pgaudit-report.json").read_text())["scan"]["meta"]["target_label"]
        for out in outs.values()
    ]
    assert labels == [describe_target(pg.conninfo())] * 2


def test_the_evaluation_start_opens_the_connection_and_parses_the_rules(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pgaudit_roles.evaluate import rule_queries, template_preload

    preloads: list[int] = []
    monkeypatch.setattr(template_preload, "preload", lambda: preloads.append(1))
    empty = pipeline.EvaluationStart(["json"])
    empty()
    empty.close()
    assert preloads == []  # no rules (the test's start above): no templates to load
    rules = [r for r in pipeline.load_rules_for(pipeline.Config()) if r.on_snapshot]
    rule_queries._PARSED.clear()
    monkeypatch.setattr(rule_queries, "_LOCAL_NAMES", [])
    start = pipeline.EvaluationStart(["json"], rules)
    start()
    try:
        assert preloads == [1] and rule_queries._LOCAL_NAMES
        assert start.con is not None
        assert all(r.query in rule_queries._PARSED for r in rules)
        con = start.take()
        assert start.take() is None  # once
        assert con.execute("SELECT count(*) FROM duckdb_tables()").fetchone() == (0,)
        con.close()
    finally:
        start.close()


def test_an_evaluation_that_keeps_the_start_open_finds_the_same() -> None:
    """``keep_open`` (a live scan closes DuckDB while the reports' child renders): the
    start's connection is open after the evaluation and closed by ``start.close``; the
    findings are the ones of the evaluation that closes it; a connection the evaluation
    opened itself is closed whatever ``keep_open`` says."""
    from test_audit_schema import make, member, role

    snap = make(
        roles=[
            role(100, "root2", superuser=True, login=True),
            role(101, "Bad Name", login=True, createrole=True),
            role(102, "db_owner_shop"),
            role(103, "app_shop", login=True),
        ],
        memberships=[member(102, 103)],
    )
    cfg = pipeline.Config()
    rules = pipeline.load_rules_for(cfg)

    def findings(result: Any) -> list[tuple[str, str]]:
        return sorted((f.rule_id, f.fingerprint) for f in result.findings)

    closed = pipeline.evaluate_snapshot(snap, rules, cfg)
    start = pipeline.EvaluationStart(["json"], rules)
    start()
    try:
        kept = pipeline.evaluate_snapshot(snap, rules, cfg, con=start.con, keep_open=True)
        assert start.con is not None
        roles = len(snap.cluster["roles"])
        assert start.con.execute("SELECT count(*) FROM roles").fetchone() == (roles,)
    finally:
        start.close()
    assert start.con is None
    assert findings(kept) == findings(closed) and findings(closed)
    own = pipeline.evaluate_snapshot(snap, rules, cfg, keep_open=True)  # nothing to keep
    assert findings(own) == findings(closed)


def test_a_child_that_ignores_sigterm_is_killed_after_the_grace(
    idle_core: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(forked, "END_GRACE_SECONDS", 0.3)

    def collect(spool: Any) -> Snapshot:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # as after a first SIGTERM
        time.sleep(30)
        return fake_collect(spool)

    def meanwhile() -> None:
        time.sleep(0.2)  # the child has set its disposition
        raise KeyboardInterrupt

    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        forked.collect_with(collect, meanwhile)
    assert time.monotonic() - started < 5
