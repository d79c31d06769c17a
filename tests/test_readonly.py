"""The tool never writes and never needs SUPERUSER, proven by the server's own log.

The harness runs every server with ``log_statement=all`` and ``app=%a`` in the log line
prefix (the lines are written while a test holds the ``statement_log`` fixture). A full
collection as a pg_monitor-only auditor must log nothing but
SELECT/SHOW/SET/BEGIN/COMMIT/ROLLBACK for ``app=pgaudit-roles``, no error, and a fixed
number of statements per database whatever the number of objects in it.
"""

from __future__ import annotations

from collections import Counter

import pytest
from layouts import FX, apply_fixture_layout, make_auditor
from layouts.logparse import entries, first_keyword, non_read_statements, read_since

from pgaudit_roles.collect.collector import collect
from pgaudit_roles.collect.connect import APPLICATION_NAME, ConnectSettings, connect

APP = APPLICATION_NAME

SAMPLE_LOG = """\
2025-01-01 00:00:00.000 UTC [11] app=pgaudit-roles user=a db=x LOG:  statement: BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY
2025-01-01 00:00:00.001 UTC [11] app=pgaudit-roles user=a db=two
lines LOG:  execute <unnamed>: SELECT 1
\tFROM t
2025-01-01 00:00:00.002 UTC [11] app=pgaudit-roles user=a db=x LOG:  statement: DECLARE c CURSOR FOR SELECT 1
2025-01-01 00:00:00.003 UTC [12] app=psql user=a db=x LOG:  statement: DROP TABLE t
2025-01-01 00:00:00.004 UTC [11] app=pgaudit-roles user=a db=x ERROR:  permission denied for table t
2025-01-01 00:00:00.005 UTC [11] app=pgaudit-roles user=a db=x LOG:  statement: COPY (SELECT q."oid" FROM (SELECT 1 AS oid) AS q) TO STDOUT (FORMAT csv, ENCODING 'UTF8')
2025-01-01 00:00:00.006 UTC [11] app=pgaudit-roles user=a db=x LOG:  statement: COPY t FROM STDIN
2025-01-01 00:00:00.007 UTC [11] app=pgaudit-roles user=a db=x LOG:  statement: COPY (SELECT 1) TO '/tmp/x'
"""


def test_log_parser_finds_non_read_statements():
    """The checker itself must be able to fail: it flags DECLARE, keeps other apps apart."""
    items = entries(SAMPLE_LOG)
    assert [e.statement for e in items if e.app == APP and e.statement][:3] == [
        "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
        "SELECT 1\n\tFROM t",
        "DECLARE c CURSOR FOR SELECT 1",
    ]
    assert non_read_statements(items, APP) == [
        "DECLARE c CURSOR FOR SELECT 1",
        "COPY t FROM STDIN",
        "COPY (SELECT 1) TO '/tmp/x'",
    ]
    assert non_read_statements(items, "psql") == ["DROP TABLE t"]
    assert [e.severity for e in items if e.app == APP].count("ERROR") == 1
    assert first_keyword("  select 1") == "SELECT"


@pytest.mark.pg
def test_full_collection_logs_only_reads(pg, statement_log):
    db = pg.unique("ro_layout")
    pg.create_database(db)
    apply_fixture_layout(pg, db)
    empty = pg.create_database(pg.unique("ro_empty"))
    auditor = make_auditor(pg, pg.unique("ro_auditor"), password_check=True)
    offset = statement_log.stat().st_size
    snap = collect(auditor)  # every database
    assert snap.meta["is_superuser"] is False
    assert pg.query(
        "SELECT rolsuper FROM pg_roles WHERE rolname = %s", (snap.meta["connected_user"],)
    ) == [(False,)]
    items = [e for e in entries(read_since(statement_log, offset)) if e.app == APP]
    statements = [e for e in items if e.statement is not None]
    assert len(statements) > 20, "no pgaudit-roles statement found in the server log"
    assert non_read_statements(items, APP) == []
    assert [e.text for e in items if e.severity in ("ERROR", "FATAL")] == []
    kinds = Counter(first_keyword(e.statement or "") for e in statements)
    assert kinds["BEGIN"] == kinds["COMMIT"] > 0
    assert all(
        e.statement == "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
        for e in statements
        if first_keyword(e.statement or "") == "BEGIN"
    )
    assert kinds["SET"] == 0  # settings travel in the startup packet
    # Set-based: every per-database session sends the same number of statements, whether
    # its database is empty or holds the whole layout.
    per_pid = Counter(e.pid for e in statements)
    collected = [d for d in snap.databases if d.status == "collected"]
    assert {db, empty, FX.hostile_db} <= {d.name for d in collected}
    others = [n for pid, n in per_pid.items()]
    # One session for the cluster-wide reads and its own database (the auditor's, which is
    # collected), then one per other database (a pool of 2 jobs).
    assert len(per_pid) == len(collected)
    assert len(set(sorted(others)[:-1])) == 1, per_pid  # all but the first session are equal
    from pgaudit_roles.collect.catalog_queries import database_queries

    assert kinds["COPY"] == len(collected) * len(database_queries(snap.meta["server_version_num"]))


@pytest.mark.pg
def test_session_settings_and_writes_refused(pg):
    import psycopg

    auditor = make_auditor(pg, pg.unique("ro_session"))
    # A user's own options cannot switch read-only off: ours come last and win.
    from psycopg.conninfo import make_conninfo

    dsn = make_conninfo(
        auditor, options="-c default_transaction_read_only=off -c statement_timeout=0"
    )
    with connect(dsn, ConnectSettings(statement_timeout="45s")) as conn:
        show = {
            name: conn.execute(f"SHOW {name}").fetchone()[0]
            for name in (  # type: ignore[index]
                "default_transaction_read_only",
                "statement_timeout",
                "lock_timeout",
                "idle_in_transaction_session_timeout",
                "search_path",
                "jit",
                "application_name",
                "max_parallel_workers_per_gather",
            )
        }
        assert show == {
            "default_transaction_read_only": "on",
            "statement_timeout": "45s",
            "lock_timeout": "2s",
            "idle_in_transaction_session_timeout": "5min",
            "search_path": "pg_catalog, pg_temp",
            "jit": "off",
            "application_name": "pgaudit-roles",
            "max_parallel_workers_per_gather": "0",
        }
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute("CREATE TABLE ro_should_fail (i int)")


@pytest.mark.pg
def test_settings_are_set_when_a_pooler_drops_startup_options(pg, monkeypatch):
    """Fallback path: if the options did not take effect, SET them after connecting."""
    import pgaudit_roles.collect.connect as c

    monkeypatch.setattr(c, "startup_options", lambda settings, user_options=None: "")
    with connect(pg.conninfo()) as conn:
        assert conn.execute("SHOW default_transaction_read_only").fetchone() == ("on",)
        assert conn.execute("SHOW search_path").fetchone() == ("pg_catalog, pg_temp",)
        assert conn.execute("SHOW lock_timeout").fetchone() == ("2s",)
