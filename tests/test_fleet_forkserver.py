"""The fleet's forkserver: every target's child starts with the heavy libraries imported,
from a forkserver that is still single-threaded (forking a threaded process is unsafe).

Pure: a forkserver and one child, no PostgreSQL server.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from pgaudit_roles.fleet import runner


def _probe(conn: Any) -> None:
    """In the forked child: which preloaded libraries are already there, and how many
    threads its parent (the forkserver) runs."""
    threads = len(os.listdir(f"/proc/{os.getppid()}/task"))
    conn.send(([m for m in runner.HEAVY_PRELOAD if m in sys.modules], threads))
    conn.close()


def test_fleet_children_start_with_the_heavy_libraries_imported() -> None:
    assert {"psycopg", "duckdb", "pglast"} <= {m.split(".")[0] for m in runner.HEAVY_PRELOAD}
    ctx = runner._context()
    reader, writer = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_probe, args=(writer,), daemon=True)
    proc.start()
    writer.close()
    try:
        assert reader.poll(60), "the forked child did not report"
        present, forkserver_threads = reader.recv()
    finally:
        proc.join(30)
    assert present == list(runner.HEAVY_PRELOAD)
    assert forkserver_threads == 1
