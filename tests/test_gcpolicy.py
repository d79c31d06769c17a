"""The garbage collector's settings while a command runs (core.gcpolicy): tuned inside,
restored after, whatever way the command ends; cycles are still collected. Pure, no server."""

from __future__ import annotations

import contextlib
import gc
import weakref
from collections.abc import Iterator
from typing import Any

import pytest
from cli_support import run_cli

from pgaudit_roles.commands import check as check_cmd
from pgaudit_roles.core import gcpolicy
from pgaudit_roles.core.errors import EXIT_INTERNAL


@pytest.fixture
def default_gc() -> Iterator[tuple[int, int, int]]:
    """The process's own settings, known and put back whatever a test does."""
    saved = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    try:
        yield gc.get_threshold()
    finally:
        gc.set_threshold(*saved)


def test_tuned_inside_restored_after(default_gc: tuple[int, int, int]) -> None:
    with gcpolicy.for_one_command():
        assert gc.get_threshold() == (gcpolicy.YOUNG, gcpolicy.OLDER, gcpolicy.OLDER)
        assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == default_gc and gc.get_freeze_count() == 0
    with pytest.raises(SystemExit), gcpolicy.for_one_command():
        raise SystemExit(3)
    assert gc.get_threshold() == default_gc and gc.get_freeze_count() == 0


def test_a_freeze_made_by_someone_else_is_left_alone(default_gc: tuple[int, int, int]) -> None:
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        # neither frozen again (more) nor unfrozen (0); a frozen object that dies meanwhile
        # (another thread's, a finaliser's) only makes the count smaller
        with gcpolicy.for_one_command():
            assert 0 < gc.get_freeze_count() <= frozen
        assert 0 < gc.get_freeze_count() <= frozen
    finally:
        gc.unfreeze()


def test_cycles_are_still_collected(default_gc: tuple[int, int, int]) -> None:
    class Node:
        pass

    with gcpolicy.for_one_command():
        first = Node()
        first.me = first  # type: ignore[attr-defined]
        dead = weakref.ref(first)
        del first
        # no explicit gc.collect(): the allocations alone must trigger a collection
        for _ in range(3 * gcpolicy.YOUNG):
            node = Node()
            node.me = node  # type: ignore[attr-defined]
        assert dead() is None


def test_the_cli_runs_a_command_with_the_policy(
    default_gc: tuple[int, int, int],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Any,
) -> None:
    seen: list[tuple[tuple[int, int, int], int]] = []

    def load(*_a: Any, **_k: Any) -> None:
        seen.append((gc.get_threshold(), gc.get_freeze_count()))
        raise ZeroDivisionError("stop here")

    monkeypatch.setattr(check_cmd, "load", load)
    (tmp_path / "snap.json").write_text("{}")
    code, _out, _err = run_cli(["check", str(tmp_path / "snap.json"), "-q"], capsys)
    assert code == EXIT_INTERNAL
    assert len(seen) == 1
    assert seen[0][0] == (gcpolicy.YOUNG, gcpolicy.OLDER, gcpolicy.OLDER) and seen[0][1] > 0
    assert gc.get_threshold() == default_gc and gc.get_freeze_count() == 0


def test_a_fleet_child_audits_with_the_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    # the child is forked here (monkeypatched audit included) and answers through the pipe
    import multiprocessing
    from types import SimpleNamespace

    from pgaudit_roles.fleet import worker

    def audit(_job: Any) -> worker.Payload:
        return worker.Payload(status="audited", reason=repr(gc.get_threshold()))

    monkeypatch.setattr(worker, "audit", audit)
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe()
    job = SimpleNamespace(target=SimpleNamespace(service_file=None))
    proc = ctx.Process(target=worker.child_main, args=(job, child))
    proc.start()
    child.close()
    payload = parent.recv()
    proc.join(30)
    assert proc.exitcode == 0 and payload.status == "audited"
    assert payload.reason == repr((gcpolicy.YOUNG, gcpolicy.OLDER, gcpolicy.OLDER))


def test_the_console_script_leaves_what_it_kept_frozen_for_the_shutdown() -> None:
    """``pgaudit-roles`` (the installed script) is ``cli.console_main``: it exits with
    ``main``'s code, and what the run kept is frozen, so the interpreter's shutdown
    collections skip it. ``main`` itself, which tests call in their process, does not."""
    import subprocess
    import sys
    import tomllib
    from pathlib import Path

    from pgaudit_roles import cli

    project = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    assert project["project"]["scripts"]["pgaudit-roles"] == "pgaudit_roles.cli:console_main"
    code = (
        "import atexit, gc, sys\n"
        "from pgaudit_roles.cli import console_main\n"
        "atexit.register(lambda: print('frozen', gc.get_freeze_count() > 0, file=sys.stderr))\n"
        "console_main()\n"
    )
    for args, rc in ((["--version"], 0), (["check", "/nonexistent/snap.json"], 2)):
        done = subprocess.run(
            [sys.executable, "-c", code, *args], capture_output=True, text=True, check=False
        )
        assert done.returncode == rc, done.stderr
        assert done.stderr.splitlines()[-1] == "frozen True", done.stderr
    before = gc.get_freeze_count()
    with contextlib.suppress(SystemExit):
        cli.main(["--version"])
    assert gc.get_freeze_count() == before  # main alone freezes nothing for good
