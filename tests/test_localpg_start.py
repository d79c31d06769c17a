"""Starting a throwaway cluster (core/localpg.py) on real servers 13-18.

``LocalCluster.start`` returns as soon as the server's pid file says it is ready, without
waiting for ``pg_ctl -w``'s next look (every 100 ms); pg_ctl is reaped when the cluster
stops. What must hold: a connection made right after ``start`` works (no retry), stop
leaves no server and no pg_ctl behind, and a server that cannot start is still reported
with the server's own reason, never taken for a started one.
"""

from __future__ import annotations

import psycopg
import pytest
from conftest import VERSIONS, install_for

from pgaudit_roles.core.localpg import LocalCluster

BY_VERSION = pytest.mark.parametrize("major", VERSIONS, ids=[f"pg{v}" for v in VERSIONS])


@BY_VERSION
def test_start_returns_a_server_that_accepts_connections(major: int) -> None:
    cluster = LocalCluster(install_for(major)).start()
    try:
        with psycopg.connect(cluster.conninfo(), autocommit=True, connect_timeout=5) as conn:
            row = conn.execute("SELECT current_setting('server_version_num')::int").fetchone()
        assert row is not None and row[0] // 10000 == major
        lines = (cluster.data_dir / "postmaster.pid").read_text().splitlines()
        assert lines[7].strip() == "ready"
        starter = cluster._starter
    finally:
        cluster.stop(keep_dir=True)
    assert cluster._starter is None
    if starter is not None:  # start returned before pg_ctl did: stop reaped it
        assert starter.returncode is not None
    assert not (cluster.data_dir / "postmaster.pid").exists()
    cluster.stop()  # removes the directory kept above


@BY_VERSION
def test_a_server_that_cannot_start_is_reported(major: int) -> None:
    """Version-independent (pg_ctl's exit and the log are read as before): once, on 18."""
    if major != 18:
        pytest.skip("a failed start is exercised once, on 18")
    cluster = LocalCluster(install_for(major), settings={"shared_buffers": "'plenty'"})
    with pytest.raises(RuntimeError, match=f"could not start pg{major}") as err:
        cluster.start()
    assert "shared_buffers" in str(err.value)  # the server's reason, from its log
    assert cluster._starter is None and not cluster._running
    cluster.stop()
