"""SIGTERM and SIGINT end a run the same clean way: as an exception in the main thread.

Why: Python's default SIGTERM kills the process on the spot, so nothing in ``finally`` or
``atexit`` runs; a ``timeout`` in cron then left the spool and DuckDB spill directories in
``$TMPDIR`` (23-35 MB each) and sessions on the server until their TCP timeout. As an
exception, SIGTERM unwinds like Ctrl-C: temporary files written through ``atomic`` are
removed, sessions are closed (a statement running on the server is cancelled first),
temporary directories go with their finalisers, and the CLI prints one line and exits
with :data:`EXIT_SIGTERM` (SIGINT: :data:`EXIT_SIGINT`), the shell's 128 + signal number.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType

EXIT_SIGINT = 130
EXIT_SIGTERM = 143


class Terminated(BaseException):
    """SIGTERM was received. A BaseException, like KeyboardInterrupt, so that ``except
    Exception`` blocks (a rule's error, a database's failure) do not swallow it."""


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise Terminated()


def install() -> None:
    """Turn SIGTERM into :class:`Terminated` (main thread only; a no-op elsewhere)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _on_sigterm)
