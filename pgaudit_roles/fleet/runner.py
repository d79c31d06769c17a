"""The fleet supervisor: at most ``parallel`` targets at once, each in its own process.

Each child audits one target with its own bounded pool of ``jobs`` database sessions, so
the fleet never holds more than ``parallel x (jobs + 1)`` connections in all, and a
server never sees more than ``jobs + 1`` of ours. A child that outlives its target's
timeout is sent SIGTERM (it unwinds: statements cancelled, sessions closed), then SIGKILL
if it does not go within a grace period. Ctrl-C or SIGTERM to the fleet stops every child
the same way and the run ends with what finished; targets still running are
"interrupted", targets not started are "not_run", and the caller writes the combined
reports marked incomplete.

Children come from a ``forkserver``: forking the supervisor itself is unsafe once it has
loaded DuckDB (rule validation binds every query in DuckDB, whose threads a fork would
not copy), and ``spawn`` would re-import psycopg and DuckDB for every target; the
forkserver imports them once (``HEAVY_PRELOAD``).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..core.signals import Terminated
from .worker import Job, Payload, child_main

GRACE_S = 10.0
"""How long a child may take to unwind after SIGTERM before it is killed."""


@dataclass
class Finished:
    job: Job
    status: str  # audited | unreachable | error | timeout | interrupted | not_run
    reason: str | None
    payload: Payload | None
    duration_s: float


@dataclass
class _Running:
    job: Job
    proc: Any
    conn: Any
    started: float
    deadline: float | None
    payload: Payload | None = None


HEAVY_PRELOAD = ("psycopg", "duckdb", "jinja2.sandbox", "pglast", "platformdirs")
"""Libraries every target's audit imports (collection, the audit schema, messages and
remediation, the template cache), imported once in the forkserver so each forked child
starts with them: our modules import them only where used (the CLI starts fast), so
preloading the modules alone left every target importing them again, about 0.2 s of CPU
per target. Importing them starts no thread (checked by the tests: the forkserver must
stay single-threaded to fork safely); a DuckDB connection would, and is only opened in
the child."""


def _context() -> Any:
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(
        [
            "pgaudit_roles.fleet.worker",
            "pgaudit_roles.pipeline",
            "pgaudit_roles.collect.collector",
            "pgaudit_roles.evaluate.engine",
            *HEAVY_PRELOAD,
        ]
    )
    return ctx


def run(
    jobs: Sequence[Job],
    *,
    parallel: int,
    timeout_s: Callable[[Job], float | None],
    on_done: Callable[[Finished], None] | None = None,
) -> tuple[list[Finished], str | None]:
    """Run every job; return the finished list (in completion order) and the signal that
    stopped the run early ("SIGINT"/"SIGTERM"), if any. Never raises KeyboardInterrupt."""

    ctx = _context()
    pending: deque[Job] = deque(jobs)
    running: list[_Running] = []
    done: list[Finished] = []
    stopped: str | None = None

    def finish(item: Finished) -> None:
        done.append(item)
        if on_done is not None:
            on_done(item)

    try:
        while pending or running:
            while pending and len(running) < parallel:
                job = pending.popleft()
                reader, writer = ctx.Pipe(duplex=False)
                proc = ctx.Process(
                    target=child_main,
                    args=(job, writer),
                    name=f"pgaudit-roles fleet {job.target.slug}",
                    daemon=False,
                )
                proc.start()
                writer.close()
                limit = timeout_s(job)
                now = time.monotonic()
                running.append(_Running(job, proc, reader, now, now + limit if limit else None))
            _step(running, finish)
    except KeyboardInterrupt as exc:  # Ctrl-C, or signals.Terminated for SIGTERM
        stopped = "SIGTERM" if isinstance(exc, Terminated) else "SIGINT"
        for r in running:
            _stop(r.proc)
        for r in running:
            _reap(r.proc)
            finish(
                Finished(
                    r.job,
                    "interrupted",
                    f"run stopped ({stopped}) while auditing",
                    None,
                    time.monotonic() - r.started,
                )
            )
        for job in pending:
            finish(
                Finished(job, "not_run", f"run stopped ({stopped}) before this target", None, 0.0)
            )
    return done, stopped


def _step(running: list[_Running], finish: Callable[[Finished], None]) -> None:
    """Wait for a child to report or exit, or for the nearest deadline."""
    from multiprocessing.connection import wait

    now = time.monotonic()
    deadlines = [r.deadline for r in running if r.deadline is not None]
    wait_s = max(0.0, min(deadlines) - now) if deadlines else None
    handles: list[Any] = []
    for r in running:
        handles.append(r.proc.sentinel)
        if r.payload is None and not r.conn.closed:
            handles.append(r.conn)
    ready = set(wait(handles, timeout=min(wait_s, 1.0) if wait_s is not None else 1.0))
    for r in list(running):
        if r.conn in ready and r.payload is None:
            try:
                r.payload = r.conn.recv()
            except (EOFError, OSError):
                r.conn.close()
        if r.proc.sentinel in ready or (r.payload is not None and not r.proc.is_alive()):
            if r.payload is None and not r.conn.closed and r.conn.poll():
                with contextlib.suppress(EOFError, OSError):
                    r.payload = r.conn.recv()
            r.proc.join()
            r.conn.close()
            running.remove(r)
            elapsed = time.monotonic() - r.started
            if r.payload is not None:
                finish(Finished(r.job, r.payload.status, r.payload.reason, r.payload, elapsed))
            else:
                finish(
                    Finished(
                        r.job,
                        "error",
                        f"the audit process ended without a result (exit code {r.proc.exitcode})",
                        None,
                        elapsed,
                    )
                )
    now = time.monotonic()
    for r in list(running):
        if r.deadline is not None and now >= r.deadline and r.payload is None:
            _stop(r.proc)
            _reap(r.proc)
            r.conn.close()
            running.remove(r)
            finish(
                Finished(
                    r.job,
                    "timeout",
                    f"no result within the target's timeout of {_seconds(r.deadline - r.started)}",
                    None,
                    now - r.started,
                )
            )


def _stop(proc: Any) -> None:
    with contextlib.suppress(OSError, ValueError):
        if proc.is_alive():
            proc.terminate()


def _reap(proc: Any) -> None:
    proc.join(GRACE_S)
    if proc.is_alive():
        with contextlib.suppress(OSError, ValueError):
            proc.kill()
        proc.join(5)


def _seconds(s: float) -> str:
    return f"{s:.0f} s" if s >= 1 else f"{s * 1000:.0f} ms"


def cpu_count() -> int:
    return (
        len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    )
