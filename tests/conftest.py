"""Test harness: real PostgreSQL servers, one per major version per test session.

Tests that take the ``pg`` fixture run once per version 13-18 (ids ``pg13`` ... ``pg18``).
pytest groups tests by this session-scoped parameter, so each server starts once and is
stopped before the next version starts. Server logs are copied to ``test-artifacts/``.

Two tiers (see CONTRIBUTING.md): ``-m "not pg"`` starts no server and runs in seconds;
``-m pg`` is every test that needs one. The collection hook below marks every test that is
parametrized by a server version (the ``pg`` fixture, or its own ``pgNN`` id) as ``pg`` and
puts it in the xdist group of its version, so under ``-n 2 --dist loadgroup`` (tests/run.sh)
each worker owns whole versions and starts each server once. A test without the ``pg``
marker that starts a server fails (the unit tier must stay server-free).

With ``PGAUDIT_REQUIRE_ALL_VERSIONS=1`` (set by tests/run.sh in CI) a missing version is a
failure, not a skip: CI must prove every version.
"""

from __future__ import annotations

import atexit
import itertools
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pgaudit_roles.core.localpg import INITDB_CACHE_ENV, LocalCluster, PgInstall, find_installs

VERSIONS = (13, 14, 15, 16, 17, 18)
ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
SHARED = ROOT.parent / "shared"

_installs: dict[int, PgInstall] | None = None

FAST_TMP_ENV = "PGAUDIT_TEST_TMPDIR"
"""Where the session's temporary files go: a directory (its own subdirectory is made
there), or empty for the system default. Unset: /dev/shm when it qualifies."""
FAST_TMP_MIN_FREE = 6 << 30
"""Free bytes /dev/shm needs to be chosen by default: the rule cases' batch group holds
about 300 databases of ~7.5 MB on one scratch server, on each of two xdist workers (5.2 GB
at the peak of a two-worker run; a 16 GB machine's default /dev/shm has ~7.8 GB)."""


def _fast_tmp_parent() -> str | None:
    """The memory file system the session's temporary files (every test cluster's data
    directory, the twins' too, and pytest's tmp_path) should live in, or None.

    Why: on a virtual disk, creating and removing files costs the servers much more
    kernel CPU than the statements do: CREATE DATABASE copies ~300 files, and the rule
    cases create about 420 databases per version (pg16: 4.2 s of server CPU per 60 FILE_COPY
    databases on ext4, 0.3 s on tmpfs; the rule cases' run 172 s -> 103 s). The servers
    run with fsync off already, so nothing the tests rely on changes."""
    want = os.environ.get(FAST_TMP_ENV)
    if want is not None:
        return want or None
    shm = "/dev/shm"
    try:
        st = os.statvfs(shm)
    except OSError:
        return None
    if st.f_flag & (os.ST_NOEXEC | os.ST_RDONLY):  # binaries may be copied to TMPDIR
        return None
    if st.f_bavail * st.f_frsize < FAST_TMP_MIN_FREE or not os.access(shm, os.W_OK | os.X_OK):
        return None
    return shm


if not os.environ.get("PGAUDIT_TEST_TMP_SET"):
    # before xdist starts its workers, so they, the CLI subprocesses and the servers all
    # inherit it; the controller removes it at exit
    os.environ["PGAUDIT_TEST_TMP_SET"] = "1"
    _parent = _fast_tmp_parent()
    if _parent:
        _session_tmp = tempfile.mkdtemp(prefix="pgaudit-tests-", dir=_parent)
        os.chmod(_session_tmp, 0o1777)  # like /tmp: a server may run as another OS user
        os.environ["TMPDIR"] = _session_tmp
        tempfile.tempdir = None  # re-read TMPDIR
        atexit.register(shutil.rmtree, _session_tmp, True)

if not os.environ.get(INITDB_CACHE_ENV):
    # every cluster of the session (the shared servers, the twins that verify scans' SQL
    # scripts in CLI subprocesses, demo and fault servers) copies one initdb per version;
    # set before xdist starts its workers, so they and their children share it
    _initdb_cache = tempfile.mkdtemp(prefix="pgaudit-initdb-")
    os.chmod(_initdb_cache, 0o755)
    os.environ[INITDB_CACHE_ENV] = _initdb_cache
    atexit.register(shutil.rmtree, _initdb_cache, True)

_counter = itertools.count()
_VERSION_ID = re.compile(r"^pg(\d+)$")
_running_pg_test = False  # set around each test: may it start a server?


def worker_id() -> str:
    """The xdist worker's id (``gw0``...), or ``main`` without xdist: keeps names and
    artifact files of parallel workers apart."""
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def version_in_nodeid(nodeid: str) -> int | None:
    """The PostgreSQL major named by a test id's first ``pgNN`` parameter part.

    Under xdist the controller only sees node ids, so it and the workers both derive a
    test's version from the id (the ``pg`` fixture's id ``pgNN`` comes first).
    """
    if not nodeid.endswith("]") or "[" not in nodeid:
        return None
    for part in nodeid[nodeid.index("[") + 1 : -1].split("-"):
        m = _VERSION_ID.match(part)
        if m and int(m.group(1)) in VERSIONS:
            return int(m.group(1))
    return None


def server_version(item: pytest.Item) -> int | None:
    """The PostgreSQL major a test runs on: the ``pg`` fixture's parameter, or a ``pgNN``
    part of its parametrize id (tests that start their own server per version)."""
    callspec = getattr(item, "callspec", None)
    if callspec is None:
        return None
    major = callspec.params.get("pg")
    if isinstance(major, int):
        return major
    return version_in_nodeid(item.nodeid)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "xdist_group(name): run these tests on one xdist worker")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark each version's tests ``pg`` and group them per version (before ``-m`` selects
    and before xdist reads the groups)."""
    for item in items:
        major = server_version(item)
        if major is None:
            continue
        if version_in_nodeid(item.nodeid) != major:
            raise pytest.UsageError(
                f"{item.nodeid}: runs on PostgreSQL {major} but its id does "
                f"not start with pg{major} (the xdist grouping needs it)"
            )
        if item.get_closest_marker("pg") is None:
            item.add_marker(pytest.mark.pg)
        item.add_marker(pytest.mark.xdist_group(f"pg{major}"))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object:
    """``--dist loadgroup`` with the groups taken from the node ids.

    xdist 3.8 groups by appending ``@group`` to ``item._nodeid``, which pytest 9.2 no
    longer reads, so its own grouping silently does nothing; this scheduler derives the
    same per-version groups from the ids instead. Whole versions go to one worker, the
    biggest units first (xdist's ``loadscopereorder``).
    """
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadGroupScheduling

    class VersionGroupScheduling(LoadGroupScheduling):
        def _split_scope(self, nodeid: str) -> str:
            major = version_in_nodeid(nodeid)
            return f"pg{major}" if major is not None else super()._split_scope(nodeid)

    return VersionGroupScheduling(config, log)  # type: ignore[arg-type]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    global _running_pg_test
    _running_pg_test = item.get_closest_marker("pg") is not None
    try:
        yield
    finally:
        _running_pg_test = False


_real_start = LocalCluster.start


def _guarded_start(self: LocalCluster) -> LocalCluster:
    if not _running_pg_test:
        raise RuntimeError(
            "a test without the 'pg' marker started a PostgreSQL server: mark it "
            "@pytest.mark.pg (the -m 'not pg' tier must start none)"
        )
    return _real_start(self)


LocalCluster.start = _guarded_start  # type: ignore[method-assign]


def installs() -> dict[int, PgInstall]:
    global _installs
    if _installs is None:
        _installs = find_installs()
    return _installs


def require_all() -> bool:
    return os.environ.get("PGAUDIT_REQUIRE_ALL_VERSIONS") == "1"


def install_for(major: int) -> PgInstall:
    inst = installs().get(major)
    if inst is None:
        msg = f"no PostgreSQL {major} binaries found (set PGAUDIT_TEST_PG_BIN or run tests/run.sh)"
        if require_all():
            pytest.fail(msg)
        pytest.skip(msg)
    return inst


class Server:
    """A running test cluster plus helpers to run SQL as the superuser."""

    def __init__(self, cluster: LocalCluster) -> None:
        self.cluster = cluster
        self.major = cluster.install.major
        self.initial: tuple[frozenset[str], frozenset[str]] = (frozenset(), frozenset())
        """Database and role names right after the start (what the module cleanup keeps)."""

    def conninfo(self, user: str = "postgres", dbname: str = "postgres") -> str:
        return self.cluster.conninfo(user=user, dbname=dbname)

    def execute(self, sql: str, dbname: str = "postgres", user: str = "postgres") -> None:
        """Run one or more statements in autocommit (as the superuser by default)."""
        import psycopg

        with psycopg.connect(self.conninfo(user, dbname), autocommit=True) as conn:
            conn.execute(sql.encode("utf-8"))  # bytes: no client-side placeholder parsing

    def query(
        self,
        sql: str,
        params: tuple | dict | None = None,
        dbname: str = "postgres",
        user: str = "postgres",
    ) -> list[tuple]:
        import psycopg

        with psycopg.connect(self.conninfo(user, dbname), autocommit=True) as conn:
            return conn.execute(sql, params).fetchall()  # type: ignore[arg-type]

    def unique(self, prefix: str = "t") -> str:
        """A name unique within this test session (for roles and databases), across xdist
        workers too: the process id differs per worker."""
        return f"{prefix}_{os.getpid()}_{next(_counter)}"

    def create_database(self, name: str | None = None) -> str:
        from psycopg import sql as psql

        name = name or self.unique("db")
        import psycopg

        with psycopg.connect(self.conninfo(), autocommit=True) as conn:
            conn.execute(
                psql.SQL("CREATE DATABASE {} TEMPLATE template0").format(psql.Identifier(name))
            )
        return name

    def drop_roles(self, names: Iterable[str]) -> None:
        """Drop what ``names`` own, then the roles (a test layout's teardown; the
        databases it used are dropped first)."""
        from pgaudit_roles.core.sqlquote import quote_ident

        idents = ", ".join(quote_ident(n) for n in sorted(set(names)))
        if idents:
            self.execute(f"DROP OWNED BY {idents}; DROP ROLE {idents};")

    def drop_database(self, name: str) -> None:
        import psycopg
        from psycopg import sql as psql

        with psycopg.connect(self.conninfo(), autocommit=True) as conn:
            conn.execute(
                psql.SQL(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)"
                    if self.major >= 13
                    else "DROP DATABASE IF EXISTS {}"
                ).format(psql.Identifier(name))
            )


QUIET_LOG = "fatal"
"""The test servers' ``log_min_messages``: ``log_statement = 'all'`` stays the setting every
collection sees (rules and tests read it), but the lines are only written while a test that
reads the log holds the ``statement_log`` fixture. ``PGAUDIT_TEST_LOG_ALL=1`` logs always."""


def _server_cpu_seconds(cluster: LocalCluster) -> float | None:
    """CPU time of the postmaster and its finished backends (Linux), for the artifacts."""
    try:
        pid = int((cluster.data_dir / "postmaster.pid").read_text().split()[0])
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


@pytest.fixture(scope="session", params=VERSIONS, ids=[f"pg{v}" for v in VERSIONS])
def pg(request: pytest.FixtureRequest) -> Iterator[Server]:
    """A running server of each major version (session scope: started once per version)."""
    inst = install_for(request.param)
    settings = {"log_statement": "'all'"}
    if os.environ.get("PGAUDIT_TEST_LOG_ALL") != "1":
        settings["log_min_messages"] = f"'{QUIET_LOG}'"
    cluster = LocalCluster(inst, settings=settings)
    cluster.start()
    server = Server(cluster)
    server.initial = _names(server)
    _servers[inst.major] = server
    try:
        yield server
    finally:
        _servers.pop(inst.major, None)
        ARTIFACTS.mkdir(exist_ok=True)
        suffix = "" if worker_id() == "main" else f"-{worker_id()}"
        cpu = _server_cpu_seconds(cluster)
        if cpu is not None:
            with open(ARTIFACTS / "server-cpu.txt", "a", encoding="utf-8") as fh:
                fh.write(f"{inst.label}{suffix} {cpu:.1f} s\n")
        if cluster.log_file.exists():
            shutil.copy(cluster.log_file, ARTIFACTS / f"{inst.label}{suffix}.log")
        cluster.stop()


_servers: dict[int, Server] = {}
"""The running shared server of each version (the ``pg`` fixture), for the module cleanup."""


def _names(server: Server) -> tuple[frozenset[str], frozenset[str]]:
    """The server's database and role names."""
    return (
        frozenset(r[0] for r in server.query("SELECT datname FROM pg_database")),
        frozenset(r[0] for r in server.query("SELECT rolname FROM pg_roles")),
    )


def drop_leftovers(server: Server) -> list[str]:
    """Drop every database and role the server did not have when it started; return what
    went wrong (one line each: the cleanup never fails a test).

    Why: tests and their module fixtures create databases and roles on the shared server
    and not all of them drop them. Every later whole-cluster collection (and the twin that
    verifies a scan's SQL script, which rebuilds every database) then reads them too, so
    the suite got slower the further it ran. Roles go with DROP OWNED in the databases
    that stay (their privileges on shared objects go with it)."""
    import psycopg
    from psycopg import sql as psql

    problems: list[str] = []
    dbs, roles = _names(server)
    keep_dbs, keep_roles = server.initial
    for db in sorted(dbs - keep_dbs):
        try:
            with psycopg.connect(server.conninfo(), autocommit=True) as conn:
                ident = psql.Identifier(db)
                conn.execute(psql.SQL("ALTER DATABASE {} IS_TEMPLATE false").format(ident))
                conn.execute(psql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(ident))
        except psycopg.Error as exc:
            problems.append(f"database {db!r}: {str(exc).strip()}")
    gone = sorted(roles - keep_roles)
    if gone:
        idents = psql.SQL(", ").join(psql.Identifier(n) for n in gone)
        try:
            for db in sorted(keep_dbs - {"template0"}):
                with psycopg.connect(server.conninfo(dbname=db), autocommit=True) as conn:
                    conn.execute(psql.SQL("DROP OWNED BY {}").format(idents))
            with psycopg.connect(server.conninfo(), autocommit=True) as conn:
                conn.execute(psql.SQL("DROP ROLE {}").format(idents))
        except psycopg.Error as exc:
            problems.append(f"roles {gone!r}: {str(exc).strip()}")
    return problems


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """After the last test of a module on a version (its module fixtures are finalized by
    then), drop what the module left on that version's shared server."""
    yield
    major = version_in_nodeid(item.nodeid)
    server = _servers.get(major) if major is not None else None
    if server is None or nextitem is None:
        return  # no shared server running, or the session (and the server) ends here
    if nextitem.module is item.module and version_in_nodeid(nextitem.nodeid) == major:
        return
    problems = drop_leftovers(server)
    if problems:
        ARTIFACTS.mkdir(exist_ok=True)
        with open(ARTIFACTS / "cleanup.txt", "a", encoding="utf-8") as fh:
            for line in problems:
                fh.write(f"{item.nodeid}: {line}\n")


def _set_log_level(pg: Server, level: str | None) -> None:
    """ALTER SYSTEM log_min_messages (None: back to the file's value), reload, and wait
    until new sessions see it: the postmaster handles the reload signal asynchronously."""
    import time

    if level is None:
        pg.execute("ALTER SYSTEM RESET log_min_messages")
    else:
        pg.execute(f"ALTER SYSTEM SET log_min_messages = '{level}'")
    pg.execute("SELECT pg_reload_conf()")
    want = level or (QUIET_LOG if os.environ.get("PGAUDIT_TEST_LOG_ALL") != "1" else "warning")
    deadline = time.monotonic() + 15
    while pg.query("SELECT current_setting('log_min_messages')")[0][0] != want:
        if time.monotonic() > deadline:
            raise AssertionError(f"server did not reload log_min_messages = {want}")
        time.sleep(0.05)


@pytest.fixture
def statement_log(pg: Server) -> Iterator[Path]:
    """The server log with every statement in it, for the duration of one test.

    Yields the log file; read it from an offset taken inside the test. The servers run
    with ``log_statement = 'all'`` but write the lines only while this fixture is active.
    """
    _set_log_level(pg, "warning")
    try:
        yield pg.cluster.log_file
    finally:
        _set_log_level(pg, None)


@pytest.fixture
def fresh_db(pg: Server) -> Iterator[str]:
    """An empty database for one test, dropped afterwards."""
    name = pg.create_database()
    try:
        yield name
    finally:
        pg.drop_database(name)


@pytest.fixture(scope="session")
def builtin_rules() -> tuple[Any, ...]:
    """The built-in rules, loaded and validated once per session (loading checks every
    query with sqlglot: about half a second). A tuple: take ``list(...)`` to change it."""
    from pgaudit_roles.evaluate.rules import load_rules

    return tuple(load_rules())


@pytest.fixture(scope="session")
def shared_schemas() -> Path:
    """../shared/schemas: a test that needs it fails loudly when it is missing."""
    path = SHARED / "schemas"
    if not (path / "sarif-schema-2.1.0.json").exists() or not (path / "junit.xsd").exists():
        pytest.fail(
            f"report schemas not found at {path} (expected ../shared/schemas beside the repo)"
        )
    return path
