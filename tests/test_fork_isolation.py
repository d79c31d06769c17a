"""The fork tests, in a pytest process of their own.

``collect.forked`` and ``reports.forked_render`` fork only a process with no other thread
(a fork copies the calling thread alone; a lock another thread holds stays locked in the
child). A pytest-xdist worker always has its channel's thread, so there the tests that
fork in-process skip, and this test runs them in a single-threaded pytest process, where
nothing skips. No server.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent


def test_the_fork_tests_pass_in_a_single_threaded_process(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:xdist", "-p", "no:cacheprovider"]
        + ["-m", "not pg", "-rs", "--basetemp", str(tmp_path / "t")]
        + [str(HERE / "test_forked_collect.py"), str(HERE / "test_report_forked.py")],
        capture_output=True,
        text=True,
        cwd=HERE.parent,
        env=dict(os.environ, PGAUDIT_ROLES_SECOND_CORE="auto"),
        check=False,
        timeout=300,
    )
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    passed = re.search(r"(\d+) passed", summary)
    assert passed and int(passed.group(1)) >= 15, summary
    assert "skipped" not in summary, done.stdout[-3000:]
