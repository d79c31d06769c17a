"""Time and memory limits for SQL that users write (rules from ``--rules-dir``, ``query``).

Why this module: DuckDB's ``memory_limit`` only caps its buffer manager. A list built by
one scalar call (``SELECT len(range(3000000000))``) is allocated outside it and took 14 GB
before it finished; such a call also never looks at ``interrupt()``. And a query running
in DuckDB holds the main thread in C++, where Python's SIGINT handler cannot run, so
Ctrl-C waited for the query to finish. So every user query runs:

- in a worker thread, while the main thread waits in short, interruptible steps: Ctrl-C
  (or SIGTERM, see :mod:`pgaudit_roles.core.signals`) reaches the main thread at once, which
  calls ``con.interrupt()`` and re-raises;
- under a time limit (:data:`TIMEOUT_ENV`, seconds, default :data:`DEFAULT_TIMEOUT`): past
  it the main thread interrupts the query and raises :class:`QueryTimeout`;
- under an address-space limit (``RLIMIT_AS``) of the process's current size plus four
  times the DuckDB memory cap (at least 2 GiB: thread stacks and allocator arenas are
  address space too), set for the duration of the query only: an
  allocation past it fails inside DuckDB ("Out of Memory Error") instead of taking the
  machine. The limit is only ever lowered from "unlimited" or a higher value, and put back
  afterwards.
"""

from __future__ import annotations

import os
import re
import resource
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ..core.errors import ConfigError
from .audit_schema import MEMORY_LIMIT, memory_limit

TIMEOUT_ENV = "PGAUDIT_ROLES_QUERY_TIMEOUT"
DEFAULT_TIMEOUT = 300.0
"""Seconds one rule query or one ``query`` may run. The slowest built-in rule takes a few
seconds on the large benchmark preset (1,000,000 tables); a user rule that runs for five
minutes is a mistake, or needs the setting raised."""

_UNITS = {
    "": 1,
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
}
_POLL = 0.05
_GRACE = 5.0  # seconds an interrupted query gets to stop before we stop waiting for it


class QueryTimeout(Exception):
    """A query ran past :data:`TIMEOUT_ENV`."""

    def __init__(self, seconds: float) -> None:
        super().__init__(
            f"stopped after {seconds:g} s ({TIMEOUT_ENV}={seconds:g}; raise it "
            "if the query is meant to take longer)"
        )
        self.seconds = seconds


def query_timeout() -> float:
    """Seconds from :data:`TIMEOUT_ENV` (0 = no limit), else :data:`DEFAULT_TIMEOUT`."""
    raw = os.environ.get(TIMEOUT_ENV)
    if raw is None or not raw.strip():
        return DEFAULT_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value >= 0 or value == float("inf"):
        raise ConfigError(f"{TIMEOUT_ENV}={raw!r} is not a number of seconds (0 = no limit)")
    return value


def size_bytes(text: str) -> int | None:
    """``512MB``, ``2GiB``, ``1.5 GB`` -> bytes (DuckDB's spellings); None if not a size."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", text)
    if not m or m.group(2).lower() not in _UNITS:
        return None
    return int(float(m.group(1)) * _UNITS[m.group(2).lower()])


def _vm_size() -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        return None
    return None


@contextmanager
def memory_ceiling() -> Iterator[None]:
    """Lower RLIMIT_AS to the current size + 4 x the DuckDB cap for the ``with`` body."""
    cap = size_bytes(memory_limit()) or size_bytes(MEMORY_LIMIT) or 2**29
    current = _vm_size()
    if current is None:
        yield
        return
    target = current + max(4 * cap, 2**31)
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    lower = (soft == resource.RLIM_INFINITY or soft > target) and (
        hard == resource.RLIM_INFINITY or hard >= target
    )
    if lower:
        resource.setrlimit(resource.RLIMIT_AS, (target, hard))
    try:
        yield
    finally:
        if lower:
            resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def run_limited(
    con: Any, sql: Any, timeout: float | None = None
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """``con.execute(sql)`` and fetch all rows, under the limits above (``sql``: a text or
    a statement DuckDB parsed).

    Returns (column names, rows). Raises what DuckDB raised, :class:`QueryTimeout`, or
    (re-raised after interrupting the query) KeyboardInterrupt / the SIGTERM exception.
    A ``MemoryError`` from fetching the rows becomes DuckDB's out-of-memory error text.
    """
    limit = query_timeout() if timeout is None else timeout
    outcome: dict[str, Any] = {}
    done = threading.Event()

    def work() -> None:
        try:
            cur = con.execute(sql)
            outcome["columns"] = [d[0] for d in cur.description]
            outcome["rows"] = cur.fetchall()
        except MemoryError:
            outcome["error"] = MemoryError(
                "Out of Memory Error: the result does not fit under the memory ceiling"
            )
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread
            outcome["error"] = exc
        finally:
            done.set()

    with memory_ceiling():
        worker = threading.Thread(target=work, name="pgaudit-query", daemon=True)
        started = time.monotonic()
        worker.start()
        timed_out = False
        try:
            while not done.wait(_POLL):
                if limit and time.monotonic() - started > limit:
                    timed_out = True
                    break
        except BaseException:
            _stop(con, done)
            raise
        if timed_out:
            _stop(con, done)
            raise QueryTimeout(limit)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["columns"], outcome["rows"]


def _stop(con: Any, done: threading.Event) -> None:
    """Interrupt the running query and give it a moment to unwind."""
    if done.is_set():
        return
    try:
        con.interrupt()
    except Exception:  # noqa: BLE001, S110 - a closed connection has nothing to interrupt
        pass
    done.wait(_GRACE)
