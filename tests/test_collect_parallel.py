"""Parallel collection (``--jobs``), column files and the load on the server, on 13-18.

The pool must give the same snapshot as reading one database after another, never hold
more than ``jobs`` database sessions at once, keep the catalog order, and take no lock a
concurrent DDL could wait on: a table held in ACCESS EXCLUSIVE mode by another session
must not stop (or even slow) the collection.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from layouts import FX, apply_fixture_layout, make_auditor

import pgaudit_roles.collect.collector as collect_mod
from pgaudit_roles.collect.collector import collect
from pgaudit_roles.collect.connect import ConnectSettings
from pgaudit_roles.collect.snapshot import Snapshot, load, save
from pgaudit_roles.core.errors import UsageError

pytestmark = pytest.mark.pg


@pytest.fixture(scope="module")
def cluster(pg) -> tuple[str, list[str]]:
    """An auditor and five databases: one with the fixture layout, four small ones."""
    dbs = [pg.create_database(pg.unique("par")) for _ in range(5)]
    apply_fixture_layout(pg, dbs[0])
    for i, db in enumerate(dbs[1:]):
        pg.execute(
            f"CREATE SCHEMA s{i}; CREATE TABLE s{i}.t (a int, b text); "
            f"GRANT SELECT (a) ON s{i}.t TO PUBLIC; "
            f"CREATE FUNCTION s{i}.f() RETURNS int LANGUAGE sql SET search_path = pg_catalog "
            f"AS 'SELECT 1'",
            dbname=db,
        )
    return make_auditor(pg, pg.unique("par_auditor"), password_check=True), dbs


def _tables(snap: Snapshot) -> dict[tuple[str, str], Any]:
    return {
        (d.name, name): (d.status, d.reason, t.rows)
        for d in snap.databases
        for name, t in d.tables.items()
    }


def test_parallel_snapshot_equals_sequential(cluster):
    auditor, dbs = cluster
    one = collect(auditor, jobs=1)
    many = collect(auditor, jobs=3)
    assert [d.name for d in many.databases] == [d.name for d in one.databases]
    assert {d.name for d in many.databases if d.status == "collected"} >= set(dbs)
    assert _tables(many) == _tables(one)
    for name in one.cluster:
        if name != "activity":  # our own sessions differ between the two runs
            assert many.cluster[name].rows == one.cluster[name].rows, name
    layout = next(d for d in many.databases if d.name == dbs[0])
    assert not layout.tables["acl"].in_memory  # per-database rows stay in column files
    assert len(layout.tables["acl"]) > 0


def test_pool_never_holds_more_than_jobs_sessions(cluster, monkeypatch):
    """Counting the first session too: the cluster is read on it, then its own database
    (the pool's first job), and it is closed before a third session could open."""
    auditor, _dbs = cluster
    real, real_first = collect_mod.connect_database, collect_mod.connect
    lock = threading.Lock()
    state = {"open": 0, "max": 0, "threads": set(), "databases": 0, "first": 0}

    def counted(conn: Any, key: str) -> Any:
        with lock:
            state[key] += 1
            state["open"] += 1
            state["max"] = max(state["max"], state["open"])
            if key == "databases":
                state["threads"].add(threading.current_thread().name)
        close = conn.close

        def closing() -> None:
            with lock:
                if not conn.closed:
                    state["open"] -= 1
            close()

        conn.close = closing  # type: ignore[method-assign]
        return conn

    def counting(conninfo: str, dbname: str, settings: Any = None) -> Any:
        return counted(real(conninfo, dbname, settings), "databases")

    def counting_first(conninfo: str, settings: Any = None) -> Any:
        return counted(real_first(conninfo, settings), "first")

    monkeypatch.setattr(collect_mod, "connect_database", counting)
    monkeypatch.setattr(collect_mod, "connect", counting_first)
    snap = collect(auditor, jobs=2)
    collected = sum(1 for d in snap.databases if d.status == "collected")
    assert collected >= 5
    assert state["open"] == 0
    assert 1 <= state["max"] <= 2
    assert len(state["threads"]) == 2 and all(t.startswith("collect") for t in state["threads"])
    # the first session read its own database: one session fewer than databases read
    assert state["first"] == 1 and state["databases"] == collected - 1
    assert snap.meta["target"]["dbname"] in {d.name for d in snap.databases}


def test_without_its_database_the_first_session_closes_before_the_pool(cluster, monkeypatch):
    """``--database`` naming others only: the first session holds no database, so it is
    closed before the pool opens its ``jobs`` sessions."""
    auditor, dbs = cluster
    real, real_first = collect_mod.connect_database, collect_mod.connect
    events: list[str] = []

    def counting(conninfo: str, dbname: str, settings: Any = None) -> Any:
        events.append("database")
        return real(conninfo, dbname, settings)

    def counting_first(conninfo: str, settings: Any = None) -> Any:
        conn = real_first(conninfo, settings)
        close = conn.close

        def closing() -> None:
            if not conn.closed:
                events.append("first closed")
            close()

        conn.close = closing  # type: ignore[method-assign]
        return conn

    monkeypatch.setattr(collect_mod, "connect_database", counting)
    monkeypatch.setattr(collect_mod, "connect", counting_first)
    snap = collect(auditor, databases=dbs[1:4], jobs=2)
    assert [d.name for d in snap.databases] == dbs[1:4]
    assert all(d.status == "collected" for d in snap.databases)
    assert events == ["first closed", "database", "database", "database"]


@pytest.mark.parametrize("jobs", [0, 33, -1, True, "2"])
def test_bad_jobs_is_a_usage_error(cluster, jobs):
    with pytest.raises(UsageError, match="--jobs"):
        collect(cluster[0], jobs=jobs)


def test_collection_takes_no_lock_ddl_could_wait_on(pg, cluster):
    """Another session holds ACCESS EXCLUSIVE on a table and on a function's schema's
    objects; with a 1 s lock_timeout the collection still completes and sees them."""
    import psycopg

    auditor, dbs = cluster
    with psycopg.connect(pg.conninfo(dbname=dbs[1])) as holder:
        holder.execute("LOCK TABLE s0.t IN ACCESS EXCLUSIVE MODE")
        snap = collect(
            auditor,
            databases=[dbs[1]],
            settings=ConnectSettings(lock_timeout="1s", statement_timeout="20s"),
        )
        locks = pg.query(
            "SELECT l.mode FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE a.application_name = 'pgaudit-roles'"
        )
        holder.rollback()
    db = snap.databases[0]
    assert db.status == "collected", db.reason
    names = {r[4] for r in db.tables["objects"].rows}
    assert {"t", "f"} <= names
    assert locks == []  # every session of ours is closed when collect returns


def test_archive_of_a_live_snapshot_round_trips(cluster, tmp_path):
    auditor, dbs = cluster
    snap = collect(auditor, databases=[dbs[0], FX.hostile_db], jobs=2)
    save(snap, tmp_path / "s.tar")
    save(snap, tmp_path / "s.json.gz")
    from_tar, from_json = load(tmp_path / "s.tar"), load(tmp_path / "s.json.gz")
    assert _tables(from_tar) == _tables(snap) == _tables(from_json)


def test_full_spool_disk_is_one_line_collection_error(cluster, monkeypatch):
    import errno

    from pgaudit_roles.core.errors import CollectionError

    def full(*_a: Any, **_k: Any) -> Any:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(collect_mod, "copy_to_file", full)
    with pytest.raises(CollectionError) as info:
        collect(cluster[0], jobs=2)
    message = str(info.value)
    assert "No space left on device" in message and "TMPDIR" in message
    assert "\n" not in message
