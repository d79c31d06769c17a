"""The inventory beside the rules on a large snapshot (``evaluate.rule_queries``
``prepare_side``, ``QueryPool`` ``side``): where DuckDB runs on several threads no second
rule connection is opened, but the evaluation's jobs run on a side connection while the
rules run one at a time on the main one. The side connection is as locked down as the main
one, the jobs start at once, outcomes come back in order, and the evaluation is the same
with and without it. Pure DuckDB over small synthetic snapshots: no server."""

from __future__ import annotations

import os
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from test_audit_schema import make, role
from test_rule_queries import _same_evaluation, _three_logins

from pgaudit_roles.audit import audit_schema
from pgaudit_roles.core import cpus
from pgaudit_roles.evaluate import engine, rule_queries

TWO_CPUS = pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="one CPU: no side connection")


@pytest.fixture
def large_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any snapshot takes the large path (compressed storage, DuckDB's own threads), and a
    second core counts as free."""
    monkeypatch.setattr(audit_schema, "SMALL_SNAPSHOT_ROWS", -1)
    monkeypatch.setenv(cpus.ENV, "always")


def test_no_side_connection_on_one_duckdb_thread_or_without_a_free_core(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    con = duckdb.connect()
    try:
        con.execute("SET threads = 1")  # a small snapshot: prepare's two connections instead
        monkeypatch.setenv(cpus.ENV, "always")
        assert rule_queries.prepare_side(con) == []
        con.execute("SET threads = 2")
        monkeypatch.setenv(cpus.ENV, "never")
        assert rule_queries.prepare_side(con) == []
    finally:
        con.close()


@TWO_CPUS
@pytest.mark.usefixtures("large_path")
def test_the_side_connection_is_locked_down_and_reads_the_same_database(tmp_path: Path) -> None:
    snap = make(roles=[role(100, "alice", login=True), role(101, "bob")])
    pool = engine.open_query_pool(snap)
    try:
        assert pool.extra == [] and len(pool.side) == 1 and pool.jobs_beside
        side = pool.side[0]
        here = "SELECT current_database(), (SELECT list(name ORDER BY name) FROM roles)"
        assert side.execute(here).fetchall() == pool.con.execute(here).fetchall()
        assert side.execute(here).fetchone()[0] == audit_schema.COMPRESSED_DATABASE
        settings = "SELECT name, value FROM duckdb_settings() ORDER BY name"
        assert side.execute(settings).fetchall() == pool.con.execute(settings).fetchall()
        secret = tmp_path / "secret.csv"
        secret.write_text("x\nleaked\n")
        for stmt in (
            f"SELECT * FROM read_csv('{secret}')",  # noqa: S608
            "SET enable_external_access = true",
            f"COPY roles TO '{tmp_path / 'out.csv'}'",
        ):
            with pytest.raises(duckdb.Error):
                side.execute(stmt).fetchall()
        assert not (tmp_path / "out.csv").exists()
    finally:
        pool.close()
        pool.con.close()


@TWO_CPUS
def test_jobs_beside_start_at_once_on_the_side_and_come_back_in_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(cpus.ENV, "always")
    con = duckdb.connect()
    try:
        con.execute("SET threads = 2")
        side = rule_queries.prepare_side(con)
        assert len(side) == 1
        pool = rule_queries.QueryPool(con, [], side)
        seen: list[tuple[Any, float]] = []

        def job(c: Any) -> str:
            seen.append((c, time.monotonic()))
            return str(c.execute("SELECT 'inventory'").fetchone()[0])

        def broken(c: Any) -> None:
            raise ValueError("job failed")

        slow = "SELECT count(*) AS n FROM range(20000000) WHERE range % 7 = 0"
        work: list[Any] = [slow, "SELECT no_such_column", "SELECT 2 AS n", job, broken]
        outcomes = pool.run(work)
        first = next(outcomes)
        first_done = time.monotonic()
        rest = list(outcomes)
        assert first == (["n"], [(2857143,)])
        assert isinstance(rest[0], duckdb.Error) and "no_such_column" in str(rest[0])
        assert rest[1] == (["n"], [(2,)])
        assert rest[2] == "inventory"
        assert isinstance(rest[3], ValueError) and str(rest[3]) == "job failed"
        # the job ran on the side connection, and before the first query was done
        assert seen[0][0] is side[0] and seen[0][1] < first_done
        # the same outcomes without a side connection, the jobs where they are listed
        again = list(rule_queries.QueryPool(con).run(work))
        assert [type(g) for g in again] == [type(g) for g in [first, *rest]]
        assert again[2:4] == [(["n"], [(2,)]), "inventory"]
    finally:
        con.close()


@TWO_CPUS
@pytest.mark.usefixtures("large_path")
def test_the_evaluation_is_the_same_with_the_inventory_beside_the_rules(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    used: list[Any] = []
    orig = rule_queries._Beside.outcomes

    def spy(self: Any) -> Generator[Any, None, None]:
        used.append(self.side)
        yield from orig(self)

    monkeypatch.setattr(rule_queries._Beside, "outcomes", spy)
    assert not audit_schema.is_small(_three_logins())
    # with the side connection, then without it (the jobs first, on the main connection)
    _same_evaluation(lambda: monkeypatch.setattr(rule_queries, "prepare_side", lambda *a, **k: []))
    assert len(used) == 1
