"""The audit-schema load's task scheduler (``audit.load_schedule``), no server.

What the load relies on: every task runs once, never before a task that writes a table it
reads, each thread's tasks on that thread's connection; a failure stops the hand-out and
the first failing task in task order is what is raised; Ctrl-C on the main thread
interrupts what runs on the helpers. Random task graphs, random task durations.
"""

from __future__ import annotations

import dataclasses
import random
import threading
import time

import pytest

from pgaudit_roles.audit import load_schedule
from pgaudit_roles.audit.load_schedule import Task
from pgaudit_roles.core import cpus


class Con:
    """A stand-in for a DuckDB connection: a name and whether it was interrupted."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.interrupted = threading.Event()

    def interrupt(self) -> None:
        self.interrupted.set()


class Recorder:
    def __init__(self) -> None:
        self.local = threading.local()
        self.lock = threading.Lock()
        self.events: list[tuple[str, str, str]] = []  # (start/end, task, connection)

    def use(self, con: Con) -> None:
        self.local.con = con

    def task(
        self, name: str, writes: tuple[str, ...], reads: tuple[str, ...], pause: float = 0.0
    ) -> Task:
        def run() -> None:
            con = self.local.con.name
            with self.lock:
                self.events.append(("start", name, con))
            time.sleep(pause)
            with self.lock:
                self.events.append(("end", name, con))

        return Task(name, writes, reads, run)


def random_tasks(rng: random.Random, rec: Recorder, n: int) -> list[Task]:
    tasks = []
    for i in range(n):
        earlier = [f"t{j}" for j in range(i)]
        reads = tuple(rng.sample(earlier, min(len(earlier), rng.randint(0, 3))))
        reads += ("outside",) if rng.random() < 0.2 else ()  # a table no task writes
        task = rec.task(f"s{i}", (f"t{i}",), reads, pause=rng.random() * 0.003)
        tasks.append(dataclasses.replace(task, main_only=rng.random() < 0.25))
    return tasks


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("helpers", [0, 1, 2])
def test_every_task_runs_once_after_what_it_reads(seed: int, helpers: int) -> None:
    rng = random.Random(seed)
    rec = Recorder()
    tasks = random_tasks(rng, rec, 25)
    main = Con("main")
    cons = [Con(f"helper{i}") for i in range(helpers)]
    load_schedule.run(tasks, cons, rec.use, main)

    starts = [e for e in rec.events if e[0] == "start"]
    assert sorted(e[1] for e in starts) == sorted(t.name for t in tasks)
    position = {(kind, name): i for i, (kind, name, _con) in enumerate(rec.events)}
    writer = {t.writes[0]: t.name for t in tasks}
    for t in tasks:
        for table in t.reads:
            if table in writer:
                assert position[("end", writer[table])] < position[("start", t.name)], t.name
    if helpers == 0:  # one after the other, in the order given
        assert [e[1] for e in starts] == [t.name for t in tasks]
        assert {e[2] for e in starts} == {"main"}
    # each task started and ended on one connection, the thread's own
    by_task = {}
    for _kind, name, con in rec.events:
        by_task.setdefault(name, set()).add(con)
    assert all(len(c) == 1 for c in by_task.values())
    assert all(by_task[t.name] == {"main"} for t in tasks if t.main_only)
    assert rec.local.con is main  # the calling thread is given its connection back


def test_two_connections_share_the_work() -> None:
    rec = Recorder()
    tasks = [rec.task(f"s{i}", (f"t{i}",), (), pause=0.01) for i in range(6)]
    load_schedule.run(tasks, [Con("helper")], rec.use, Con("main"))
    used = {con for _k, _n, con in rec.events}
    assert used == {"main", "helper"}


def test_the_longest_chain_goes_first() -> None:
    # t0 -> t1 -> t2 is the chain; a, b, c are independent. The chain's head is picked first.
    deps = load_schedule.dependencies(
        [
            Task("a", ("a",), (), lambda: None),
            Task("b", ("b",), (), lambda: None),
            Task("s0", ("t0",), (), lambda: None),
            Task("s1", ("t1",), ("t0",), lambda: None),
            Task("s2", ("t2",), ("t1", "a"), lambda: None),
        ]
    )
    assert deps == [set(), set(), set(), {2}, {3, 0}]
    assert load_schedule.priorities(deps) == [2, 1, 3, 2, 1]
    # with costs: the costliest chain, not the longest in tasks (b alone outweighs it)
    assert load_schedule.priorities(deps, [1, 9, 1, 1, 1]) == [2, 9, 3, 2, 1]


def test_a_costly_last_task_starts_before_cheap_ones_ready_with_it() -> None:
    # after s0, both the cheap sinks c0..c3 (listed first) and the costly sink x are
    # ready: the one free thread takes x first, so the run does not end with x alone
    rec = Recorder()
    tasks = [rec.task("s0", ("t0",), ())]
    tasks += [rec.task(f"c{i}", (f"c{i}",), ("t0",)) for i in range(4)]
    tasks.append(dataclasses.replace(rec.task("x", ("x",), ("t0",)), cost=30))
    load_schedule.run(tasks, [Con("helper")], rec.use, Con("main"))
    started = [name for kind, name, _con in rec.events if kind == "start"]
    assert started[:2] == ["s0", "x"]


def test_a_table_written_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="t0 is written by s0 and s1"):
        load_schedule.dependencies(
            [Task("s0", ("t0",), (), lambda: None), Task("s1", ("t0",), (), lambda: None)]
        )


@pytest.mark.parametrize("helpers", [0, 1])
def test_the_first_failure_in_task_order_is_raised_and_nothing_more_starts(helpers: int) -> None:
    rec = Recorder()
    ran: list[str] = []

    def fail(name: str, pause: float) -> Task:
        def run() -> None:
            ran.append(name)
            time.sleep(pause)
            raise RuntimeError(name)

        return Task(name, (name,), (), run)

    # s1 fails late, s2 fails at once: s1 comes first in task order, so it is the one raised
    tasks = [
        rec.task("s0", ("t0",), ()),
        fail("s1", 0.05),
        fail("s2", 0.0),
        rec.task("s3", ("t3",), ("s1", "s2")),
        rec.task("s4", ("t4",), ("t0",), pause=0.2),
    ]
    with pytest.raises(RuntimeError, match="^s1$"):
        load_schedule.run(tasks, [Con("h")] * helpers, rec.use, Con("main"))
    assert "s3" not in {e[1] for e in rec.events}
    if not helpers:
        assert ran == ["s1"]  # one after the other: the first failure ends the load


def test_ctrl_c_on_the_main_thread_interrupts_the_helpers() -> None:
    helper = Con("helper")
    started = threading.Event()

    def long_on_helper() -> None:
        started.set()
        assert helper.interrupted.wait(5), "the helper's statement was never interrupted"
        raise RuntimeError("Interrupted")

    def ctrl_c() -> None:
        assert started.wait(5)
        raise KeyboardInterrupt

    local = threading.local()

    def use(con: Con) -> None:
        local.con = con

    def either() -> None:  # whichever thread takes which task
        (ctrl_c if local.con.name == "main" else long_on_helper)()

    tasks = [Task("a", ("a",), (), either), Task("b", ("b",), (), either)]
    with pytest.raises(KeyboardInterrupt):
        load_schedule.run(tasks, [helper], use, Con("main"))
    assert helper.interrupted.is_set()


def test_a_second_core_is_used_only_when_idle(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    monkeypatch.delenv(cpus.ENV, raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0, 1}, raising=False)
    for load, spare in [(0.2, True), (1.4, True), (1.6, False), (3.0, False)]:
        monkeypatch.setattr(os, "getloadavg", lambda load=load: (load, load, load))
        assert cpus.spare_cpu() is spare, load
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0})
    monkeypatch.setattr(os, "getloadavg", lambda: (0.0, 0.0, 0.0))
    assert cpus.spare_cpu() is False  # one CPU: never


def test_the_main_thread_takes_what_only_it_may_run_first() -> None:
    """A main-only task ready at the start is the main thread's first, even when others
    rank higher: left for later, it would wait behind work a helper could have done."""
    rec = Recorder()
    tasks = [rec.task(f"s{i}", (f"t{i}",), (), pause=0.005) for i in range(4)]
    tasks.append(rec.task("late", ("u",), ("t0",)))  # s0 ranks highest: something waits on it
    tasks.append(dataclasses.replace(rec.task("mine", ("m",), ()), main_only=True))
    load_schedule.run(tasks, [Con("helper")], rec.use, Con("main"))
    on_main = [name for kind, name, con in rec.events if kind == "start" and con == "main"]
    assert on_main[0] == "mine"


def test_the_second_core_can_be_forced_or_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from pgaudit_roles.core.errors import UsageError

    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0, 1}, raising=False)
    monkeypatch.setattr(os, "getloadavg", lambda: (9.0, 9.0, 9.0))
    for value, used in [("always", True), (" Always ", True), ("never", False), ("", False)]:
        monkeypatch.setenv(cpus.ENV, value)
        assert cpus.spare_cpu() is used, value
    monkeypatch.setattr(os, "getloadavg", lambda: (0.0, 0.0, 0.0))
    monkeypatch.setenv(cpus.ENV, "never")
    assert cpus.spare_cpu() is False
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0})
    monkeypatch.setenv(cpus.ENV, "always")
    assert cpus.spare_cpu() is False  # one CPU: nothing to force
    monkeypatch.setenv(cpus.ENV, "2")
    with pytest.raises(UsageError, match=f"^{cpus.ENV}='2': use auto, never or always$"):
        cpus.spare_cpu()
