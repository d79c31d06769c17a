"""The HTML report rendered in a forked child (``reports.forked_render``), no server.

The child is an optimisation only: the files are the bytes the process writes alone; a
child that fails or dies is replaced by a render here, so errors are the ones they always
were; Ctrl-C while the child renders removes every temporary file and keeps the old
reports; the child is never left running or unreaped.
"""

from __future__ import annotations

import os
import re
import signal
import threading
import time
from pathlib import Path

import pytest
from report_fixtures import full_result

from pgaudit_roles.core import cpus
from pgaudit_roles.reports import forked_render, html_report, write_reports

FORMATS = ["json", "html", "junit", "sarif", "markdown", "text"]


@pytest.fixture
def children(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """An idle core whatever the machine's load, and the children the writer forks."""
    if threading.active_count() != 1:  # see tests/test_fork_isolation.py
        pytest.skip("forks only a single-threaded process: run by test_fork_isolation.py")
    monkeypatch.setattr(cpus, "spare_cpu", lambda: True)
    pids: list[int] = []
    real_fork = os.fork

    def fork() -> int:
        pid = real_fork()
        if pid:
            pids.append(pid)
        return pid

    monkeypatch.setattr(forked_render.os, "fork", fork)
    return pids


def files(directory: Path) -> dict[str, bytes]:
    """Each file's bytes, the directory's own name (listed by the text summaries) masked."""
    own = str(directory).encode()
    return {p.name: p.read_bytes().replace(own, b"DIR") for p in sorted(directory.iterdir())}


def reaped(pid: int) -> bool:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return False


def test_the_same_files_with_and_without_the_child(
    tmp_path: Path, children: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    result = full_result()
    write_reports(result, FORMATS, tmp_path / "forked")
    assert len(children) == 1 and reaped(children[0])
    monkeypatch.setattr(cpus, "spare_cpu", lambda: False)
    write_reports(result, FORMATS, tmp_path / "here")
    assert len(children) == 1  # no idle core: no child
    assert files(tmp_path / "forked") == files(tmp_path / "here")
    assert not [p for p in (tmp_path / "forked").iterdir() if p.name.endswith(".tmp")]


def test_two_children_for_many_findings_and_the_same_files(
    tmp_path: Path, children: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above its number of findings the SQL script renders in a second child; below it,
    here: the same bytes every way."""
    result = full_result()
    formats = [*FORMATS, "sql"]
    write_reports(result, formats, tmp_path / "one")
    assert len(children) == 1  # the page; the script is under its threshold
    monkeypatch.setitem(forked_render.FORKED_FORMATS, "sql", len(result.findings))
    write_reports(result, formats, tmp_path / "two")
    assert len(children) == 3 and all(reaped(p) for p in children)
    monkeypatch.setattr(cpus, "spare_cpu", lambda: False)
    write_reports(result, formats, tmp_path / "here")
    assert len(children) == 3
    # the script's header says when it was generated: the three runs may straddle a second
    when = re.compile(rb"^-- generated: \S+", re.MULTILINE)

    def timeless(directory: Path) -> dict[str, bytes]:
        return {k: when.sub(b"-- generated: T", v) for k, v in files(directory).items()}

    assert timeless(tmp_path / "one") == timeless(tmp_path / "two") == timeless(tmp_path / "here")
    assert not [p for p in (tmp_path / "two").iterdir() if p.name.endswith(".tmp")]


def test_not_for_one_file_or_with_other_threads(
    tmp_path: Path, children: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    write_reports(full_result(), ["html"], tmp_path / "alone")
    monkeypatch.setattr(cpus.threading, "active_count", lambda: 2)
    write_reports(full_result(), ["html", "json"], tmp_path / "threads")
    assert children == []


def test_a_child_that_fails_is_replaced_by_a_render_here(
    tmp_path: Path, children: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    parent = os.getpid()
    real = html_report.write_report

    def only_here(ctx: object, fh: object) -> None:
        if os.getpid() != parent:
            fh.write("<half a page")  # type: ignore[attr-defined]
            fh.flush()  # type: ignore[attr-defined]
            os.kill(os.getpid(), signal.SIGKILL)  # dies mid-file
        real(ctx, fh)  # type: ignore[arg-type]

    result = full_result()
    monkeypatch.setattr(cpus, "spare_cpu", lambda: False)
    write_reports(result, FORMATS, tmp_path / "here")
    monkeypatch.setattr(cpus, "spare_cpu", lambda: True)
    monkeypatch.setattr(html_report, "write_report", only_here)
    write_reports(result, FORMATS, tmp_path / "forked")
    assert len(children) == 1 and reaped(children[0])
    assert files(tmp_path / "forked") == files(tmp_path / "here")


def written(out: Path) -> dict[str, bytes]:
    """The reports of a first run into ``out``, which a failed second run must keep."""
    write_reports(full_result(), FORMATS, out)
    return files(out)


def test_an_error_in_the_render_is_raised_here_and_keeps_the_old_reports(
    tmp_path: Path, children: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    before = written(out)

    def broken(ctx: object, fh: object) -> None:
        raise RuntimeError("a bug in the page")

    monkeypatch.setattr(html_report, "write_report", broken)
    with pytest.raises(RuntimeError, match="a bug in the page"):
        write_reports(full_result(), FORMATS, out)
    assert files(out) == before
    assert len(children) == 2 and all(reaped(p) for p in children)


def test_ctrl_c_while_the_child_renders(
    tmp_path: Path, children: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    before = written(out)
    parent = os.getpid()
    real = html_report.write_report

    def slow_in_child(ctx: object, fh: object) -> None:
        if os.getpid() != parent:
            time.sleep(60)
        real(ctx, fh)  # type: ignore[arg-type]

    def interrupted(ctx: object, fh: object) -> None:
        raise KeyboardInterrupt  # the parent's last format: Ctrl-C while the child renders

    from pgaudit_roles.reports import text_report

    monkeypatch.setattr(html_report, "write_report", slow_in_child)
    monkeypatch.setattr(text_report, "write_report", interrupted)
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        write_reports(full_result(), FORMATS, out)
    assert time.monotonic() - started < 10
    assert len(children) == 2 and reaped(children[1])
    assert files(out) == before  # old reports kept, no temporary file left


def test_meanwhile_runs_once_while_the_child_renders(
    tmp_path: Path, children: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``meanwhile`` (a live scan closes DuckDB there) runs once, after the child has
    forked and before anything renders here; with no child, before the first format.
    The files are the same bytes either way."""
    from pgaudit_roles.reports import json_report

    events: list[str] = []
    real_json = json_report.write_report

    def json_here(ctx: object, fh: object) -> None:
        events.append("json rendered here")
        real_json(ctx, fh)  # type: ignore[arg-type]

    monkeypatch.setattr(json_report, "write_report", json_here)
    result = full_result()

    def meanwhile() -> None:
        events.append(f"meanwhile after {len(children)} fork(s)")

    write_reports(result, FORMATS, tmp_path / "forked", meanwhile=meanwhile)
    assert events == ["meanwhile after 1 fork(s)", "json rendered here"]
    events.clear()
    monkeypatch.setattr(cpus, "spare_cpu", lambda: False)
    write_reports(result, FORMATS, tmp_path / "here", meanwhile=meanwhile)
    assert events == ["meanwhile after 1 fork(s)", "json rendered here"]  # no new child
    assert files(tmp_path / "forked") == files(tmp_path / "here")


def test_an_error_in_meanwhile_stops_the_child_and_keeps_the_old_reports(
    tmp_path: Path, children: list[int]
) -> None:
    out = tmp_path / "out"
    before = written(out)

    def failing() -> None:
        raise OSError(5, "closing failed")

    with pytest.raises(Exception, match="closing failed"):
        write_reports(full_result(), FORMATS, out, meanwhile=failing)
    assert files(out) == before
    assert len(children) == 2 and all(reaped(p) for p in children)
