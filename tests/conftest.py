"""Test harness: real PostgreSQL servers, one per major version per test session.

Tests that take the ``pg`` fixture run once per version 13-18 (ids ``pg13`` ... ``pg18``).
pytest groups tests by this session-scoped parameter, so each server starts once and is
stopped before the next version starts. Server logs are copied to ``test-artifacts/``.

With ``PGAUDIT_REQUIRE_ALL_VERSIONS=1`` (set by tests/run.sh in CI) a missing version is a
failure, not a skip: CI must prove every version.
"""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from pgaudit_roles.localpg import LocalCluster, PgInstall, find_installs

VERSIONS = (13, 14, 15, 16, 17, 18)
ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
SHARED = ROOT.parent / "shared"

_installs: dict[int, PgInstall] | None = None
_counter = itertools.count()


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

    def conninfo(self, user: str = "postgres", dbname: str = "postgres") -> str:
        return self.cluster.conninfo(user=user, dbname=dbname)

    def execute(self, sql: str, dbname: str = "postgres", user: str = "postgres") -> None:
        """Run one or more statements in autocommit (as the superuser by default)."""
        import psycopg

        with psycopg.connect(self.conninfo(user, dbname), autocommit=True) as conn:
            conn.execute(sql.encode("utf-8"))  # bytes: no client-side placeholder parsing

    def query(self, sql: str, params: tuple | dict | None = None, dbname: str = "postgres",
              user: str = "postgres") -> list[tuple]:
        import psycopg

        with psycopg.connect(self.conninfo(user, dbname), autocommit=True) as conn:
            return conn.execute(sql, params).fetchall()  # type: ignore[arg-type]

    def unique(self, prefix: str = "t") -> str:
        """A name unique within this test session (for roles and databases)."""
        return f"{prefix}_{os.getpid()}_{next(_counter)}"

    def create_database(self, name: str | None = None) -> str:
        from psycopg import sql as psql

        name = name or self.unique("db")
        import psycopg

        with psycopg.connect(self.conninfo(), autocommit=True) as conn:
            conn.execute(psql.SQL("CREATE DATABASE {} TEMPLATE template0").format(psql.Identifier(name)))
        return name

    def drop_database(self, name: str) -> None:
        import psycopg
        from psycopg import sql as psql

        with psycopg.connect(self.conninfo(), autocommit=True) as conn:
            conn.execute(psql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)" if self.major >= 13 else
                                  "DROP DATABASE IF EXISTS {}").format(psql.Identifier(name)))


@pytest.fixture(scope="session", params=VERSIONS, ids=[f"pg{v}" for v in VERSIONS])
def pg(request: pytest.FixtureRequest) -> Iterator[Server]:
    """A running server of each major version (session scope: started once per version)."""
    inst = install_for(request.param)
    cluster = LocalCluster(inst, settings={"log_statement": "'all'"})
    cluster.start()
    try:
        yield Server(cluster)
    finally:
        ARTIFACTS.mkdir(exist_ok=True)
        if cluster.log_file.exists():
            shutil.copy(cluster.log_file, ARTIFACTS / f"{inst.label}.log")
        cluster.stop()


@pytest.fixture
def fresh_db(pg: Server) -> Iterator[str]:
    """An empty database for one test, dropped afterwards."""
    name = pg.create_database()
    try:
        yield name
    finally:
        pg.drop_database(name)


@pytest.fixture(scope="session")
def shared_schemas() -> Path:
    """../shared/schemas: a test that needs it fails loudly when it is missing."""
    path = SHARED / "schemas"
    if not (path / "sarif-schema-2.1.0.json").exists() or not (path / "junit.xsd").exists():
        pytest.fail(f"report schemas not found at {path} (expected ../shared/schemas beside the repo)")
    return path
