"""The initdb cache of local clusters (twin, demo, lint), on real servers 13-18.

A cluster copies one pristine initdb per server binary from the user's cache directory
instead of running initdb at every start (PGAUDIT_ROLES_INITDB_CACHE, core/localpg.py).
What must hold: the first start stores a whole entry and a later one starts from it
without initdb; an entry that is not whole is never started (it is replaced); runs that
start at the same time with an empty cache all work and leave one entry; ``off`` turns
the cache off. Pure-logic tests (where the cache is, pruning) start no server.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psycopg
import pytest
from conftest import VERSIONS, install_for

from pgaudit_roles.core import localpg
from pgaudit_roles.core.localpg import INITDB_CACHE_ENV, LocalCluster

BY_VERSION = pytest.mark.parametrize("major", VERSIONS, ids=[f"pg{v}" for v in VERSIONS])
SESSION_CACHE = os.environ.get(INITDB_CACHE_ENV, "")
"""The test session's own cache (tests/conftest.py), read before a test unsets the variable."""


@pytest.fixture
def user_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The default cache (the variable unset) in a private XDG cache home."""
    monkeypatch.delenv(INITDB_CACHE_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    return tmp_path / "xdg" / "pgaudit-roles" / "initdb"


def _initdb_calls(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    calls: list[Path] = []
    real = LocalCluster._initdb

    def counting(self: LocalCluster, bin_dir: Path, data_dir: Path) -> None:
        calls.append(data_dir)
        real(self, bin_dir, data_dir)

    monkeypatch.setattr(LocalCluster, "_initdb", counting)
    return calls


def _server_major(cluster: LocalCluster) -> int:
    with psycopg.connect(cluster.conninfo(), autocommit=True) as conn:
        row = conn.execute("SELECT current_setting('server_version_num')::int").fetchone()
    assert row is not None
    return int(row[0]) // 10000


def _entries(cache: Path) -> list[Path]:
    return sorted(cache.iterdir()) if cache.is_dir() else []


def _stored_entry(major: int, cache: Path) -> None:
    """``cache`` holding the whole entry a first start of ``major`` stores there.

    Copied from the session's cache (the entry every cluster of this version started from,
    the same key: the key does not name the directory), which a start fills the first time
    only; a cache of its own otherwise. Why: an initdb and a start and stop of a server
    per version were only this setup; that a first start stores a whole entry is
    ``test_first_start_stores_an_entry_the_next_copies``'s to prove."""
    session = Path(SESSION_CACHE) if SESSION_CACHE.strip().lower() not in ("", "off") else None
    if session is None:
        with LocalCluster(install_for(major)):
            pass
        return
    cluster = LocalCluster(install_for(major))
    cluster._runas = localpg._os_user_for_server()
    key = cluster._cache_key(cluster.bin_dir)
    if not (session / key / "data" / "global" / "pg_control").is_file():
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv(INITDB_CACHE_ENV, str(session))
            with LocalCluster(install_for(major)):
                pass
    cache.mkdir(parents=True, exist_ok=True)
    subprocess.run(["cp", "-a", str(session / key), str(cache / key)], check=True)


@BY_VERSION
def test_first_start_stores_an_entry_the_next_copies(
    major: int, user_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _initdb_calls(monkeypatch)
    with LocalCluster(install_for(major)) as first:
        assert _server_major(first) == major
    assert len(calls) == 1
    [entry] = _entries(user_cache)
    assert (entry / "data" / "PG_VERSION").read_text().strip() == str(major)
    # the entry is the pristine initdb: no setting of the cluster that was started from it
    assert "pgaudit-roles local cluster" not in (entry / "data" / "postgresql.conf").read_text()

    with LocalCluster(install_for(major), settings={"work_mem": "'7MB'"}) as second:
        assert _server_major(second) == major
        with psycopg.connect(second.conninfo(), autocommit=True) as conn:
            row = conn.execute("SHOW work_mem").fetchone()
        assert row == ("7MB",)
    assert len(calls) == 1, "the second cluster ran initdb although the cache had its entry"
    assert _entries(user_cache) == [entry]


@BY_VERSION
def test_an_entry_that_is_not_whole_is_never_started(
    major: int, user_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _stored_entry(major, user_cache)
    [entry] = _entries(user_cache)
    (entry / "data" / "global" / "pg_control").unlink()  # as a half-written copy would be
    leftover = user_cache / f".{entry.name}.4242.deadbeef"  # a run that died while storing
    leftover.mkdir()
    (leftover / "data").mkdir()

    calls = _initdb_calls(monkeypatch)
    with LocalCluster(install_for(major)) as cluster:
        assert _server_major(cluster) == major
    assert len(calls) == 1, "the broken entry was not replaced by a real initdb"
    assert (entry / "data" / "global" / "pg_control").is_file(), "the entry was not repaired"
    assert leftover.is_dir(), "a recent temporary name of another run was removed"


@BY_VERSION
def test_parallel_first_runs_share_one_entry(major: int, user_cache: Path) -> None:
    script = textwrap.dedent(
        """
        import sys
        from pathlib import Path
        from pgaudit_roles.core.localpg import LocalCluster, probe_install
        import psycopg
        with LocalCluster(probe_install(Path(sys.argv[1]))) as c:
            with psycopg.connect(c.conninfo(), autocommit=True) as conn:
                print(conn.execute("SELECT 1").fetchone()[0])
        """
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(install_for(major).bin_dir)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=os.environ.copy(),
        )
        for _ in range(3)
    ]
    for p in procs:
        out, err = p.communicate(timeout=180)
        assert p.returncode == 0, err
        assert out.strip() == "1"
    entries = _entries(user_cache)
    assert len(entries) == 1, entries  # no temporary names left behind either
    assert (entries[0] / "data" / "global" / "pg_control").is_file()


@BY_VERSION
def test_off_runs_initdb_and_stores_nothing(
    major: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(INITDB_CACHE_ENV, "off")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    calls = _initdb_calls(monkeypatch)
    for _ in range(2):
        with LocalCluster(install_for(major)) as cluster:
            assert _server_major(cluster) == major
    assert len(calls) == 2
    assert not (tmp_path / "xdg").exists()


def test_where_the_cache_is(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv(INITDB_CACHE_ENV, raising=False)
    assert localpg.initdb_cache_dir() == tmp_path / "xdg" / "pgaudit-roles" / "initdb"
    monkeypatch.setenv(INITDB_CACHE_ENV, "")
    assert localpg.initdb_cache_dir() == tmp_path / "xdg" / "pgaudit-roles" / "initdb"
    monkeypatch.setenv(INITDB_CACHE_ENV, str(tmp_path / "mine"))
    assert localpg.initdb_cache_dir() == tmp_path / "mine"
    monkeypatch.setenv(INITDB_CACHE_ENV, "OFF")
    assert localpg.initdb_cache_dir() is None


def test_prune_removes_only_long_unused_entries(tmp_path: Path) -> None:
    old_days = localpg._CACHE_UNUSED_DAYS + 1
    now = time.time()

    def make(name: str, age_days: float) -> Path:
        p = tmp_path / name
        (p / "data").mkdir(parents=True)
        os.utime(p, (now - age_days * 86400, now - age_days * 86400))
        return p

    keep = make("aaaa", old_days)  # the entry just stored or used: never removed
    recent = make("bbbb", 1)
    stale = make("cccc", old_days)
    temp_new = make(".dddd.1.ab", 0.1)
    temp_old = make(".eeee.1.cd", 2)
    localpg._prune_cache(tmp_path, keep.name)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [keep.name, recent.name, temp_new.name]
    )
    assert not stale.exists() and not temp_old.exists()
