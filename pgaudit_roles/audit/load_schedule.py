"""Run the audit-schema load's steps on the connections a small evaluation already has.

Why: below ``audit_schema.SMALL_SNAPSHOT_ROWS`` DuckDB runs each statement on one thread,
so the load (about 70 statements and the Python around them) kept one core busy while
the other waited; yet the evaluation opens a second connection for its rule queries
anyway (``evaluate.rule_queries``). Opened before the load instead of after, it takes
every step whose inputs are ready: the load of the bench's small preset goes from
about 235 to 150 ms of wall time for the same work.

Why the result cannot depend on it: each task writes its own tables (``build_plan``
lists what each step writes and reads, and ``tests/test_build_plan.py`` checks that
against the SQL), a task starts only when every earlier task that writes a table it
reads has finished (DuckDB commits each statement, and a statement sees what was
committed before it started), and no two tasks write the same table. DuckDB runs
statements of two connections at once, each in its own transaction. With no helper
connection the tasks run one after the other in the order given, as before.

The first failure in task order is raised once both threads have stopped; a task
that has not started when another fails is not started.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Task:
    """One unit of the load: ``run`` creates ``writes`` from ``reads``."""

    name: str
    writes: tuple[str, ...]
    reads: tuple[str, ...]
    run: Callable[[], None]
    main_only: bool = False
    """Run on the calling thread only: a step that can spend long in Python (the role
    closure's search) stays where Ctrl-C and SIGTERM interrupt it at once; a helper's
    DuckDB statement is interrupted through its connection."""
    cost: float = 1.0
    """Its expected time, in any unit shared by the tasks of one run: only the order in
    which a free thread picks ready tasks depends on it (:func:`priorities`)."""


def dependencies(tasks: Sequence[Task]) -> list[set[int]]:
    """For each task, the earlier tasks that write a table it reads (indexes)."""
    writer: dict[str, int] = {}
    deps: list[set[int]] = []
    for i, task in enumerate(tasks):
        deps.append({writer[t] for t in task.reads if t in writer})
        for t in task.writes:
            if t in writer:
                raise ValueError(f"{t} is written by {tasks[writer[t]].name} and {task.name}")
            writer[t] = i
    return deps


def priorities(deps: Sequence[set[int]], costs: Sequence[float] | None = None) -> list[float]:
    """For each task, the cost of the longest chain of tasks that starts with it (its own
    cost, then the costliest chain among the tasks that wait on it; every cost 1 without
    ``costs``): a free thread takes the ready task with the most, so the chain that ends
    the load (roles, objects, privileges, escalation) is not left behind the independent
    ones, and a long last task (the escalation routes) is not started after short ones
    that could have run beside it."""
    cost = [1.0] * len(deps) if costs is None else [float(c) for c in costs]
    waiting: list[list[int]] = [[] for _ in deps]
    for i, ds in enumerate(deps):
        for d in ds:
            waiting[d].append(i)
    rank = [0.0] * len(deps)
    for i in range(len(deps) - 1, -1, -1):  # a task waits only on earlier ones
        rank[i] = cost[i] + max((rank[j] for j in waiting[i]), default=0.0)
    return rank


def run(
    tasks: Sequence[Task],
    helpers: Sequence[Any],
    use: Callable[[Any], None],
    main: Any,
) -> None:
    """Run ``tasks``: on the calling thread with ``main``, and on one thread per helper
    connection. ``use(con)`` makes ``con`` the connection the calling thread's tasks
    run on; it is set back to ``main`` at the end."""
    if not helpers or len(tasks) < 2:
        use(main)
        for task in tasks:
            task.run()
        return
    _Schedule(tasks, use).run(main, helpers)


class _Schedule:
    def __init__(self, tasks: Sequence[Task], use: Callable[[Any], None]) -> None:
        self.tasks = list(tasks)
        self.use = use
        self.deps = dependencies(self.tasks)
        rank = priorities(self.deps, [t.cost for t in self.tasks])
        self.order = sorted(range(len(self.tasks)), key=lambda i: (-rank[i], i))
        self.done: set[int] = set()
        self.started: set[int] = set()
        self.failed: dict[int, BaseException] = {}
        self.cond = threading.Condition()

    def run(self, main: Any, helpers: Sequence[Any]) -> None:
        threads = [
            threading.Thread(target=self._worker, args=(con,), name="pgaudit-load", daemon=True)
            for con in helpers
        ]
        for t in threads:
            t.start()
        try:
            self._worker(main, on_main=True)
        except BaseException as exc:  # Ctrl-C on the main thread: stop handing out tasks
            with self.cond:
                self.failed.setdefault(-1, exc)
                self.cond.notify_all()
            for con in helpers:  # a statement still running on a helper returns now
                con.interrupt()
            raise
        finally:
            for t in threads:
                t.join()
            self.use(main)
        if self.failed:
            raise self.failed[min(self.failed)]

    def _next(self, on_main: bool) -> int | None:
        """The next task to start, or None when there is nothing left to do."""
        with self.cond:
            while True:
                if self.failed or len(self.done) == len(self.tasks):
                    return None
                # the main thread first takes what only it may run, so that work is not
                # left waiting behind tasks a helper could have taken
                ready = [
                    i for i in self.order if i not in self.started and self.deps[i] <= self.done
                ]
                mine = [i for i in ready if self.tasks[i].main_only] if on_main else []
                free = [i for i in ready if not self.tasks[i].main_only]
                for i in mine[:1] or (ready[:1] if on_main else free[:1]):
                    self.started.add(i)
                    return i
                if not on_main and len(self.started) == len(self.tasks):
                    return None  # the rest is running elsewhere
                self.cond.wait()

    def _worker(self, con: Any, *, on_main: bool = False) -> None:
        self.use(con)
        while (i := self._next(on_main)) is not None:
            try:
                self.tasks[i].run()
            except BaseException as exc:
                with self.cond:
                    self.failed[i] = exc
                    self.cond.notify_all()
                if on_main and not isinstance(exc, Exception):
                    raise  # Ctrl-C: run() interrupts the helpers' statements
                return
            with self.cond:
                self.done.add(i)
                self.cond.notify_all()
