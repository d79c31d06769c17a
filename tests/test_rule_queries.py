"""Rule queries on two DuckDB connections at once (``evaluate.rule_queries``): the second
connection is as locked down as the first, outcomes come back in order whatever finishes
first, a query past the time limit or failing is that query's error only, and Ctrl-C still
stops a check promptly. Pure DuckDB over a small synthetic snapshot: no server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pytest
from cli_support import sigint_default
from test_audit_schema import make, role
from test_limits import (  # noqa: F401 - snap_file is a fixture
    ENDLESS,
    snap_file,
    user_rule,
    wait_for_running_query,
)

from pgaudit_roles.audit import limits
from pgaudit_roles.evaluate import engine, rule_queries
from pgaudit_roles.evaluate.rules import load_rules

ROOT = Path(__file__).resolve().parent.parent
TWO_CPUS = pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="one CPU: no second connection")


@pytest.fixture
def pool() -> Any:
    p = engine.open_query_pool(make(roles=[role(100, "alice", login=True), role(101, "bob")]))
    yield p
    p.close()
    p.con.close()


@TWO_CPUS
def test_second_connection_is_locked_down_like_the_first(pool: Any, tmp_path: Path) -> None:
    assert len(pool.extra) == 1
    cur = pool.extra[0]
    settings = "SELECT name, value FROM duckdb_settings() ORDER BY name"
    assert cur.execute(settings).fetchall() == pool.con.execute(settings).fetchall()
    names = ("python_enable_replacements", "enable_external_access", "lock_configuration")
    got = cur.execute("SELECT " + ", ".join(f"current_setting('{n}')" for n in names)).fetchone()
    assert got == (False, False, True)
    # the audit schema's temporary macros are there, the same, with the same results
    assert rule_queries._temp_macros(cur) == rule_queries._temp_macros(pool.con)
    q = "SELECT pg_qualified('a b', 'select'), pg_quote_ident('Ok'), pg_quote_ident('ok')"
    assert (
        cur.execute(q).fetchall()
        == pool.con.execute(q).fetchall()
        == [('"a b"."select"', '"Ok"', "ok")]
    )
    secret = tmp_path / "secret.csv"
    secret.write_text("x\nleaked\n")
    for stmt in (
        f"SELECT * FROM read_csv('{secret}')",  # noqa: S608
        "SET python_enable_replacements = true",
        "SET enable_external_access = true",
        f"COPY roles TO '{tmp_path / 'out.csv'}'",
    ):
        with pytest.raises(duckdb.Error):
            cur.execute(stmt).fetchall()
    leak = [1, 2, 3]  # noqa: F841 - what a Python replacement scan would read
    with pytest.raises(duckdb.Error):
        cur.execute("SELECT * FROM leak").fetchall()
    assert not (tmp_path / "out.csv").exists()


def test_no_second_connection_when_duckdb_runs_on_several_threads() -> None:
    con = duckdb.connect()
    try:
        con.execute("SET threads = 2")
        assert rule_queries.prepare(con) == []
    finally:
        con.close()


def test_a_connection_that_differs_after_the_lock_is_not_used() -> None:
    con = duckdb.connect()
    try:
        con.execute("SET threads = 1")
        extra = rule_queries.prepare(con)
        if (os.cpu_count() or 1) < 2:
            assert extra == []
            return
        assert len(extra) == 1
        con.execute("SET python_enable_replacements = false")
        con.execute("SET enable_progress_bar = true")  # a local setting the copy lacks
        assert rule_queries.verified(con, extra) == []
        with pytest.raises(duckdb.Error):  # closed
            extra[0].execute("SELECT 1")
    finally:
        con.close()


def test_outcomes_in_order_errors_and_timeouts_are_the_querys_own(
    pool: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(limits.TIMEOUT_ENV, "1")
    queries = [
        "SELECT count(*) AS n FROM range(3000000) WHERE range % 7 = 0",  # slow first
        "SELECT 2 AS n",
        ENDLESS,
        "SELECT no_such_column FROM roles",
        "SELECT name FROM roles ORDER BY name",
        *[f"SELECT {i} AS n" for i in range(20)],
    ]
    start = time.monotonic()
    got = list(pool.run(queries))
    assert time.monotonic() - start < 15
    assert len(got) == len(queries)
    assert got[0] == (["n"], [(428572,)])
    assert got[1] == (["n"], [(2,)])
    assert isinstance(got[2], limits.QueryTimeout) and "stopped after 1 s" in str(got[2])
    assert isinstance(got[3], duckdb.Error) and "no_such_column" in str(got[3])
    assert got[4] == (["name"], [("alice",), ("bob",), ("postgres",)])
    assert got[5:] == [(["n"], [(i,)]) for i in range(20)]
    # the same outcomes on one connection, one query at a time
    alone = rule_queries.QueryPool(pool.con)
    again = list(alone.run(queries))
    assert [g for g in again if not isinstance(g, BaseException)] == [
        g for g in got if not isinstance(g, BaseException)
    ]
    assert [type(g) for g in again] == [type(g) for g in got]


def _three_logins() -> Any:
    """A snapshot with a superuser login and a name that needs quoting: some rules fail."""
    return make(
        roles=[
            role(100, "alice", login=True),
            role(101, "bob", login=True, superuser=True),
            role(102, 'we"ird name', login=True),
        ]
    )


def _same_evaluation(change: Callable[[], None]) -> list[Any]:
    """Evaluate :func:`_three_logins` with every rule, apply ``change``, evaluate again:
    the same results and findings, some of them failures. Returns the rules."""
    snap = _three_logins()
    rules = load_rules()
    before = engine.evaluate(snap, rules)
    change()
    after = engine.evaluate(snap, rules)
    assert [(r.rule.id, r.status, r.reason) for r in before.results] == [
        (r.rule.id, r.status, r.reason) for r in after.results
    ]
    assert [f.__dict__ for f in before.findings] == [f.__dict__ for f in after.findings]
    assert any(r.status == "fail" for r in before.results)
    assert before.inventory == after.inventory and before.inventory["login_privileges"]
    return rules


def test_a_job_runs_in_the_batch_and_gives_its_outcome_in_order(
    pool: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Job (``engine.build_inventory``) takes the connection it runs on, returns its
    value or exception in its place, and is not stopped at the rule query time limit."""
    monkeypatch.setenv(limits.TIMEOUT_ENV, "1")

    def names(con: Any) -> list[str]:
        time.sleep(1.3)  # past the limit: a query would be a QueryTimeout
        return [r[0] for r in con.execute("SELECT name FROM roles ORDER BY name").fetchall()]

    def broken(con: Any) -> None:
        raise ValueError("job failed")

    work: list[Any] = [names, "SELECT 2 AS n", broken, *[f"SELECT {i} AS n" for i in range(5)]]
    for p in (pool, rule_queries.QueryPool(pool.con)):
        got = list(p.run(work))
        assert got[0] == ["alice", "bob", "postgres"]
        assert got[1] == (["n"], [(2,)])
        assert isinstance(got[2], ValueError) and str(got[2]) == "job failed"
        assert got[3:] == [(["n"], [(i,)]) for i in range(5)]


def test_the_inventory_is_the_one_built_after_the_rules_on_the_main_connection() -> None:
    """evaluate builds the inventory as a job beside the rule queries; before, it ran on the
    main connection after the last rule: the same inventory, and the same results."""
    snap = _three_logins()
    rules = load_rules()
    got = engine.evaluate(snap, rules)
    pool = engine.open_query_pool(snap)
    try:
        selected = [r for r in rules if r.on_snapshot]
        num = engine.server_version_num(snap.meta)
        results, done = engine._evaluate_rules(pool, snap, selected, engine.DefaultSettings(), num)
        assert done == []
        old = engine.build_inventory(pool.con)
    finally:
        pool.close()
        pool.con.close()
    assert got.inventory == old and old["roles"] and old["login_privileges"]
    assert [f.__dict__ for r in results for f in r.findings] == [f.__dict__ for f in got.findings]


def test_evaluation_is_the_same_on_one_connection_and_on_two(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _same_evaluation(lambda: monkeypatch.setattr(rule_queries, "WORKERS", 1))


def test_ctrl_c_stops_a_check_whose_rules_run_at_once(snap_file: Path, tmp_path: Path) -> None:  # noqa: F811
    rules_dir = user_rule(tmp_path, ENDLESS.replace("count(*)", "count(*) AS role"), "USR-LOOP-001")
    env = dict(os.environ, PGAUDIT_ROLES_QUERY_TIMEOUT="0", TMPDIR=str(tmp_path))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from pgaudit_roles.cli import main; main()",
            "check",
            str(snap_file),
            "--rules-dir",
            str(rules_dir),
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
    while not any(p.name.startswith("pgaudit-duckdb-") for p in tmp_path.iterdir()):
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.02)
    wait_for_running_query(proc, fallback=2.0)  # the schema is loaded, the rule runs
    assert proc.poll() is None
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=20)
    assert time.monotonic() - sent < 5, "SIGINT took too long"
    assert proc.returncode == 130 and out == ""
    assert err.strip() == "pgaudit-roles: interrupted"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("pgaudit-")] == []
    assert not (tmp_path / "out").exists()


def test_a_query_text_is_parsed_once_and_runs_the_same_everywhere(pool: Any) -> None:
    q = "SELECT name, pg_quote_ident(name) AS identity FROM roles ORDER BY name -- once"
    rule_queries._PARSED.pop(q, None)
    first = rule_queries.parsed(pool.con, q)
    assert not isinstance(first, str)
    assert rule_queries.parsed(pool.con, q) is first  # the same object: not parsed again
    want = pool.con.execute(q).fetchall()
    assert want == [("alice", "alice"), ("bob", "bob"), ("postgres", "postgres")]
    # one parsed statement serves another connection (DuckDB executes a copy of it)
    for con in (pool.con, *pool.extra, pool.con):
        assert con.execute(first).fetchall() == want
    assert [o for o in pool.run([q, q])] == [(["name", "identity"], want)] * 2


def test_text_that_is_not_one_statement_runs_as_text_with_its_own_error(pool: Any) -> None:
    broken = "SELEC name FROM roles"
    assert rule_queries.parsed(pool.con, broken) == broken
    assert broken not in rule_queries._PARSED
    two = "SELECT 1; SELECT 2"
    assert rule_queries.parsed(pool.con, two) == two
    (got,) = list(pool.run([broken]))
    assert isinstance(got, duckdb.ParserException) and "SELEC" in str(got)
    alone = list(rule_queries.QueryPool(pool.con).run([broken]))
    assert type(alone[0]) is type(got) and str(alone[0]) == str(got)


def test_the_parsed_cache_is_bounded(pool: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rule_queries, "_PARSED", {})
    monkeypatch.setattr(rule_queries, "PARSED_LIMIT", 3)
    for i in range(10):
        rule_queries.parsed(pool.con, f"SELECT {i} AS n")
        assert 1 <= len(rule_queries._PARSED) <= 3
    assert pool.con.execute(rule_queries.parsed(pool.con, "SELECT 9 AS n")).fetchall() == [(9,)]


def test_evaluation_is_the_same_with_parsed_statements_and_with_texts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rules = _same_evaluation(
        lambda: monkeypatch.setattr(rule_queries, "parsed", lambda con, sql: sql)
    )
    assert any(r.query in rule_queries._PARSED for r in rules if r.on_snapshot)
