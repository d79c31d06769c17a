"""The harness itself: every version starts, runs as the version it claims, and is writable."""

from __future__ import annotations


def test_server_runs_claimed_version(pg):
    (num,) = pg.query("SELECT current_setting('server_version_num')::int")[0]
    assert num // 10000 == pg.major


def test_fresh_database_is_isolated(pg, fresh_db):
    pg.execute("CREATE TABLE t(i int)", dbname=fresh_db)
    rows = pg.query("SELECT count(*) FROM pg_class WHERE relname = 't'", dbname=fresh_db)
    assert rows == [(1,)]
    assert pg.query(
        "SELECT count(*) FROM pg_class WHERE relname = 't' AND relnamespace = 'public'::regnamespace"
    ) == [(0,)]
