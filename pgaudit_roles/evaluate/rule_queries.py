"""Run the rule queries of one evaluation on two DuckDB connections at once.

Why: at the size of most clusters (the audit schema on one DuckDB thread, see
``audit_schema.SMALL_SNAPSHOT_ROWS``) each of the 66 rule queries costs 2-50 ms, most of it
DuckDB's binder and optimizer, and they ran one after the other on one core. DuckDB
releases the GIL while it plans and executes, so a second connection to the same
in-memory database (``con.cursor()``) runs a second query on the other core: the rules
take about half the wall time for the same CPU. Results do not depend on it: each query
still runs on one DuckDB thread over the same data, and :func:`QueryPool.run` hands the
outcomes back in the order of the queries given.

The limits of ``audit.limits`` hold here too: a query past :func:`limits.query_timeout`
is interrupted and becomes :class:`QueryTimeout`; the address-space ceiling
(``memory_ceiling``) covers the whole batch; the main thread only waits, in short steps,
so Ctrl-C or SIGTERM reaches it at once and interrupts every running query.

The sandbox stays whole: the second connection is opened before ``lock_down`` and given
the connection-local settings ``lock_down`` sets (``python_enable_replacements``) and
the temporary macros the audit schema defined (by the loader's own statements); after
the lock, every connection-local setting must equal the first connection's, or the pool
runs on the first connection alone. When DuckDB runs on more than one thread (large snapshots)
the queries run one at a time, as before: there each query already uses every core, and
two at once would share the memory cap.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Generator, Sequence
from typing import Any

from ..audit.audit_schema import temp_macros
from ..audit.limits import QueryTimeout, memory_ceiling, query_timeout, run_limited
from ..collect.columnfile import duckdb_literal
from ..core import cpus

WORKERS = 2
"""Connections that run rule queries at once (fewer on a one-CPU machine)."""

_POLL = 0.05
_GRACE = 5.0  # seconds an interrupted query gets to stop before it is given up on

PARSED_LIMIT = 1024
"""Rule query texts whose parsed statement is kept (the built-in rules are 67; user rules
and ``--kind`` subsets add a few). Past it the cache starts again: texts are never data."""

_PARSED: dict[str, Any] = {}


def parsed(con: Any, sql: str) -> Any:
    """``sql`` as DuckDB's parsed statement, parsed once per process for a given text, or
    ``sql`` itself when it is not exactly one statement or does not parse.

    Why: at the size of most clusters a rule query's cost is DuckDB's fixed work (parse,
    bind, optimize), not its rows, and parsing is about an eighth of it (31 of 262 ms for the
    67 queries on a two-database snapshot); an evaluation used to parse every text again.
    DuckDB executes a copy of the statement, so one parsed statement serves every connection
    and thread; binding and planning still happen on each connection, against its own
    schema and settings. A text that does not parse is executed as text, so its error is the
    one DuckDB gives for the text, raised where it always was.
    """
    hit = _PARSED.get(sql)
    if hit is not None:
        return hit
    try:
        statements = con.extract_statements(sql)
    except Exception:  # noqa: BLE001 - the execution of the text raises it
        return sql
    if len(statements) != 1:
        return sql
    if len(_PARSED) >= PARSED_LIMIT:
        _PARSED.clear()
    _PARSED[sql] = statements[0]
    return statements[0]


LOCAL_SETTINGS = {"python_enable_replacements": "false", "enable_progress_bar": "false"}
"""Connection-local settings and the values the sandbox gives them (``audit_schema``'s
``lock_down`` and ``new_connection``): set on the extra connection before the lock. Any
other difference found after the lock leaves the extra connection unused."""

Outcome = tuple[list[str], list[tuple[Any, ...]]] | BaseException

Job = Callable[[Any], Any]
"""Work other than a rule query that :meth:`QueryPool.run` can take in a batch: called with
the connection it runs on, its return value (or the exception it raised) is its outcome.
Not interrupted at the query time limit (``engine.build_inventory``, which it is for, never
was)."""


def _setting(con: Any, name: str) -> Any:
    return con.execute("SELECT current_setting(?)", [name]).fetchone()[0]


def _temp_macros(con: Any) -> list[tuple[Any, ...]]:
    """The temporary macros ``con`` has, as DuckDB lists them (tests compare the two
    connections with it; :func:`prepare` creates them from ``audit_schema.temp_macros``)."""
    return sorted(
        con.execute(
            "SELECT function_name, function_type, parameters, macro_definition "
            "FROM duckdb_functions() WHERE database_name = 'temp'"
        ).fetchall(),
        key=repr,
    )


_LOCAL_NAMES: list[tuple[str, ...]] = []


def list_local_settings(con: Any) -> None:
    """List which settings are connection-local now (``pipeline.EvaluationStart``, while
    the child collects), so that :func:`verified` only reads their values."""
    if not _LOCAL_NAMES:
        _local_settings(con)


def _local_settings(con: Any) -> list[tuple[Any, ...]]:
    """Every connection-local setting of ``con``, by name. Which settings are local is a
    property of the DuckDB build: listed once per process from ``duckdb_settings()``
    (3.5 ms a read), then read with ``current_setting`` (under 1 ms)."""
    if not _LOCAL_NAMES:
        _LOCAL_NAMES.append(
            tuple(
                r[0]
                for r in con.execute(
                    "SELECT name FROM duckdb_settings() WHERE scope = 'LOCAL' ORDER BY name"
                ).fetchall()
            )
        )
    names = _LOCAL_NAMES[0]
    values = con.execute(
        "SELECT " + ", ".join(f"current_setting({duckdb_literal(n)})::VARCHAR" for n in names)
    ).fetchone()
    return list(zip(names, values, strict=True))


def prepare(con: Any, *, small: bool = False) -> list[Any]:
    """Extra connections for :class:`QueryPool`, opened on ``con`` BEFORE ``lock_down``.

    Empty when DuckDB runs on several threads, the machine has one CPU, or the temporary
    macros cannot be created (then the rules run on ``con`` alone). The macros are the
    audit schema's own (``audit_schema.temp_macros``), created by the same statements the
    loader ran on ``con``: ``small`` is the form the loader chose for the snapshot
    (``audit_schema.is_small``).
    """
    if WORKERS < 2 or (os.cpu_count() or 1) < 2:
        return []
    extra: list[Any] = []
    try:
        if int(_setting(con, "threads")) != 1:
            return []
        for _ in range(WORKERS - 1):
            _configure(con, con.cursor(), extra, small)
    except Exception:  # noqa: BLE001 - no second connection: the rules run on one
        close(extra)
        return []
    return extra


def prepare_side(con: Any, *, small: bool = False) -> list[Any]:
    """A connection for the evaluation's jobs (``engine.build_inventory``) beside the rule
    queries, opened on ``con`` BEFORE ``lock_down``: when DuckDB runs on several threads
    (large snapshots, where :func:`prepare` opens none) and a second core is free
    (``core.cpus.spare_cpu``); else none.

    Why: there the rules run one query at a time on ``con``, and between queries the main
    thread builds their findings in Python, a core idle meanwhile; the inventory's queries
    (1.2 s at the bench's large preset) ran first, alone. Beside the rules
    (:class:`QueryPool` ``side``) they use that core. The same queries over the same data,
    on a connection of the same database.

    The audit-schema load takes it as its second connection too (``audit.load_schedule``:
    a ready step runs on it while the main connection runs another), which the one-thread
    connections of :func:`prepare` are for a small snapshot: at the bench's large preset
    the load 6.7-6.8 -> 5.6-5.9 s, peak RSS about 200 MiB more (two statements' working
    memory at once, under the same DuckDB cap)."""
    side: list[Any] = []
    try:
        if (os.cpu_count() or 1) < 2 or int(_setting(con, "threads")) == 1:
            return []
        if not cpus.spare_cpu():
            return []
        _configure(con, con.cursor(), side, small)
    except Exception:  # noqa: BLE001 - no side connection: the jobs run before the rules
        close(side)
        return []
    return side


def _configure(con: Any, cur: Any, into: list[Any], small: bool) -> None:
    """``cur`` (a new connection to ``con``'s database instance) made like ``con``: its
    default database (a large snapshot's compressed one, ``audit_schema.
    use_compressed_storage``), the connection-local settings and the temporary macros.
    Appended to ``into`` first, so that a failure closes it too."""
    into.append(cur)
    database = con.execute("SELECT current_database()").fetchone()[0]
    if cur.execute("SELECT current_database()").fetchone()[0] != database:
        cur.execute('USE "' + str(database).replace('"', '""') + '"')
    for name, value in LOCAL_SETTINGS.items():
        cur.execute(f"SET {name} = {value}")
    for stmt in temp_macros(small=small):
        cur.execute(stmt)


def verified(con: Any, extra: list[Any]) -> list[Any]:
    """``extra`` if, after ``lock_down(con)``, each sees the same connection-local settings
    as ``con``; else none of them (closed). (The temporary macros were created in
    ``prepare`` by the loader's own statements, which a failure there would have shown;
    reading ``duckdb_functions()`` to compare them costs 15 ms per connection.)"""
    if not extra:
        return []
    try:
        want = _local_settings(con)
        if all(_local_settings(c) == want for c in extra):
            return extra
    except Exception:  # noqa: BLE001, S110 - unverifiable is not used
        pass
    close(extra)
    return []


def close(extra: Sequence[Any]) -> None:
    for c in extra:
        try:
            c.close()
        except Exception:  # noqa: BLE001, S110 - closing is best effort
            pass


class QueryPool:
    """``con`` and the extra connections of :func:`prepare`, or the side connection of
    :func:`prepare_side`; :meth:`run` runs queries."""

    def __init__(self, con: Any, extra: Sequence[Any] = (), side: Sequence[Any] = ()) -> None:
        self.con = con
        self.extra = list(extra)
        self.side = list(side)

    def close(self) -> None:
        close(self.extra + self.side)
        self.extra = []
        self.side = []

    @property
    def jobs_beside(self) -> bool:
        """Whether :meth:`run` starts the jobs at once on the side connection, beside the
        queries (so a caller need not take their outcomes first)."""
        return not self.extra and bool(self.side)

    def run(self, queries: Sequence[str | Job]) -> Generator[Any, None, None]:
        """Each query's (columns, rows), or the exception it raised, in the given order; a
        :data:`Job`'s return value or exception in its place."""
        if self.jobs_beside and any(callable(q) for q in queries):
            yield from _Beside(self.con, self.side[0], queries).outcomes()
            return
        if not self.extra:
            for sql in queries:
                try:
                    if callable(sql):
                        yield sql(self.con)
                    else:
                        yield run_limited(self.con, parsed(self.con, sql))
                except Exception as exc:  # noqa: BLE001 - QueryTimeout or DuckDB's: the rule's error
                    yield exc
            return
        yield from _Batch([self.con, *self.extra], queries).outcomes()


def _outcome(con: Any, item: str | Job) -> Any:
    """``item`` run on ``con`` by a worker thread: a query's (columns, rows) or a job's
    return value, else the exception it raised, handed to the waiting thread (a
    ``MemoryError`` as DuckDB's out-of-memory text)."""
    try:
        if callable(item):
            return item(con)
        cur = con.execute(parsed(con, item))
        return [d[0] for d in cur.description], cur.fetchall()
    except MemoryError:
        return MemoryError("Out of Memory Error: the result does not fit under the memory ceiling")
    except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread
        return exc


class _Batch:
    """One batch of queries over several connections, one worker thread each."""

    def __init__(self, cons: list[Any], queries: Sequence[str | Job]) -> None:
        self.cons = cons
        self.queries = list(queries)
        self.limit = query_timeout()
        self.lock = threading.Lock()
        self.next = 0
        self.stop = False
        self.done = [threading.Event() for _ in self.queries]
        self.results: list[Any] = [None] * len(self.queries)
        self.running: list[int | None] = [None] * len(cons)
        self.started: list[float] = [0.0] * len(self.queries)
        self.interrupted: dict[int, float] = {}

    def _work(self, w: int) -> None:
        con = self.cons[w]
        while True:
            with self.lock:
                if self.stop or self.next >= len(self.queries):
                    self.running[w] = None
                    return
                i = self.next
                self.next += 1
                self.running[w] = i
                self.started[i] = time.monotonic()
            outcome = _outcome(con, self.queries[i])
            with self.lock:
                self.running[w] = None
                if i in self.interrupted:
                    outcome = QueryTimeout(self.limit)
                self.results[i] = outcome
            self.done[i].set()

    def _watch(self) -> None:
        """Interrupt queries past the time limit (again at every step until they stop);
        give one up :data:`_GRACE` s after its first interrupt."""
        now = time.monotonic()
        with self.lock:
            for w, i in enumerate(self.running):
                if i is None or not self.limit or now - self.started[i] <= self.limit:
                    continue
                if callable(self.queries[i]):  # a Job: no time limit
                    continue
                first = self.interrupted.setdefault(i, now)
                if now - first > _GRACE and not self.done[i].is_set():
                    self.results[i] = QueryTimeout(self.limit)
                    self.done[i].set()
                    continue
                try:
                    self.cons[w].interrupt()
                except Exception:  # noqa: BLE001, S110 - nothing left to interrupt
                    pass

    def _halt(self, workers: list[threading.Thread]) -> None:
        with self.lock:
            self.stop = True
            busy = [w for w, i in enumerate(self.running) if i is not None]
        for w in busy:
            try:
                self.cons[w].interrupt()
            except Exception:  # noqa: BLE001, S110
                pass
        deadline = time.monotonic() + _GRACE
        for t in workers:
            t.join(max(0.0, deadline - time.monotonic()))

    def outcomes(self) -> Generator[Any, None, None]:
        workers = [
            threading.Thread(target=self._work, args=(w,), name="pgaudit-query", daemon=True)
            for w in range(len(self.cons))
        ]
        with memory_ceiling():
            try:
                for t in workers:
                    t.start()
                for i in range(len(self.queries)):
                    while not self.done[i].wait(_POLL):
                        self._watch()
                    yield self.results[i]
            finally:  # done, Ctrl-C/SIGTERM, or the consumer stopped early
                self._halt(workers)


class _Beside:
    """The jobs of one batch on the side connection, on a thread of their own started at
    once, one after the other; the queries on the calling thread, one at a time, as
    without a pool (``limits.run_limited``). Outcomes are handed back in the order given:
    a job's is waited for in short steps, so Ctrl-C or SIGTERM reaches the main thread."""

    def __init__(self, con: Any, side: Any, queries: Sequence[str | Job]) -> None:
        self.con = con
        self.side = side
        self.queries = list(queries)
        self.jobs = [q for q in self.queries if callable(q)]
        self.results: list[Any] = [None] * len(self.jobs)
        self.done = [threading.Event() for _ in self.jobs]
        self.stop = False

    def _work(self) -> None:
        for i, job in enumerate(self.jobs):
            self.results[i] = RuntimeError("stopped") if self.stop else _outcome(self.side, job)
            self.done[i].set()

    def outcomes(self) -> Generator[Any, None, None]:
        worker = threading.Thread(target=self._work, name="pgaudit-jobs", daemon=True)
        with memory_ceiling():
            try:
                worker.start()
                k = 0
                for item in self.queries:
                    if callable(item):
                        while not self.done[k].wait(_POLL):
                            pass
                        yield self.results[k]
                        k += 1
                        continue
                    try:
                        yield run_limited(self.con, parsed(self.con, item))
                    except Exception as exc:  # noqa: BLE001 - QueryTimeout or DuckDB's: the rule's error
                        yield exc
            finally:  # done, Ctrl-C/SIGTERM, or the consumer stopped early
                self.stop = True
                if not all(d.is_set() for d in self.done):
                    try:
                        self.side.interrupt()
                    except Exception:  # noqa: BLE001, S110 - nothing left to interrupt
                        pass
                # joined, not left running: a report forks only when no other thread is
                # alive (core.cpus.can_fork)
                worker.join(_GRACE)
