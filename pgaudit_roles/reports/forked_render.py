"""The HTML report (and, for many findings, the SQL script) rendered in forked children
while this process writes the other formats.

Why: the HTML page is the costliest report to render (about 60% of the five a scan
writes by default) and every report is pure Python, so a thread cannot render two at once
(the GIL); a child process can, on the second core, when it is idle. With tens of
thousands of findings the SQL script costs as much (every statement parsed and ordered:
2.4 s of 6.7 at the bench's large preset), so it gets a child of its own there. The child renders
into the temporary file ``atomic_writer`` opened here, syncs it and exits; the renames
stay here, after every file is complete, so the set is still all or nothing.

Nothing depends on the child: if it fails in any way, this process empties the file and
renders the page itself, so an error is raised here with the message it always had.
"""

from __future__ import annotations

import contextlib
import gc
import os
import signal
import sys
from collections.abc import Callable
from typing import IO

from ..core import cpus

FORKED_FORMATS: dict[str, int] = {"html": 0, "sql": 2_000}
"""Formats worth a child from this many findings: their rendering costs more than a fork
(a few ms; more for a process holding a large result). The SQL script of a small scan
takes about 20 ms, the fork most of that."""


def possible(fmt: str, jobs: int, findings: int = 0) -> bool:
    """Whether ``fmt`` is rendered in a child: one of :data:`FORKED_FORMATS` with at least
    its number of ``findings``, with other files to write meanwhile, and this process may
    fork (``core.cpus.may_fork``)."""
    least = FORKED_FORMATS.get(fmt)
    return least is not None and findings >= least and jobs > 1 and cpus.may_fork()


class Child:
    """One format rendering in a child process into ``fh``."""

    def __init__(self, render: Callable[[IO[str]], None], fh: IO[str]) -> None:
        self.render = render
        self.fh = fh
        fh.flush()
        sys.stdout.flush()
        sys.stderr.flush()
        self.pid = os.fork()
        if self.pid == 0:  # pragma: no cover - the child; what it writes is tested
            # The child renders one file and exits: what it allocates is freed by its exit,
            # so the cyclic collector would only find nothing to free, after walking what
            # it made (and a full collection, every object inherited, writing to each one's
            # page: copied from the parent). Off: 0.1-0.3 s of each child's CPU with a
            # large result (the HTML page of the bench's large preset ran a 0.23 s one).
            gc.disable()
            code = 1
            try:
                render(fh)
                fh.flush()
                os.fsync(fh.fileno())
                code = 0
            except BaseException:  # noqa: BLE001, S110 - the parent renders it again
                pass
            finally:
                os._exit(code)

    def finish(self) -> None:
        """Wait for the child; if it did not render the file completely, render it here."""
        try:
            _pid, status = os.waitpid(self.pid, 0)
        except BaseException:
            self.stop()
            raise
        if os.waitstatus_to_exitcode(status) != 0:
            self.fh.seek(0)
            self.fh.truncate()
            self.render(self.fh)
            self.fh.flush()
            os.fsync(self.fh.fileno())

    def stop(self) -> None:
        """End the child (Ctrl-C or an error here): the temporary file is removed here."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.pid, 0)
