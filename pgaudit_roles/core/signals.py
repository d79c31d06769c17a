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

import contextlib
import signal
import threading
import weakref
from collections.abc import Iterator
from types import FrameType
from typing import Any

EXIT_SIGINT = 130
EXIT_SIGTERM = 143


class Terminated(KeyboardInterrupt):
    """SIGTERM was received. A KeyboardInterrupt, so that it unwinds exactly like Ctrl-C:
    ``except Exception`` blocks (a rule's error, a database's failure) do not swallow it,
    and psycopg cancels the statement the main thread is waiting for before re-raising."""


_received: list[int] = []


def received() -> int | None:
    """The first SIGINT/SIGTERM this process got, if any.

    Why: DuckDB, running in the main thread, turns a signal into its own
    ``RuntimeError("Query interrupted")`` (and a cancelled server statement is a psycopg
    error), so the exception that reaches the CLI is not always the one the handler raised.
    Any error after a signal is its consequence and ends the run the same way.
    """
    return _received[0] if _received else None


_held: list[int] = []
"""Depth of :func:`held` blocks on the main thread; a signal arriving in one is raised
when the outermost ends."""

_pending: list[int] = []


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    _received.append(signum)
    # a second SIGTERM (a supervisor repeating itself) must not cut the clean-up short
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _raise(signum)


def _on_sigint(signum: int, frame: FrameType | None) -> None:
    _received.append(signum)
    _raise(signum)


def _raise(signum: int) -> None:
    if _held:
        _pending.append(signum)
        return
    raise Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()


@contextlib.contextmanager
def held() -> Iterator[None]:
    """Run the block whole, then raise the SIGINT/SIGTERM that arrived during it.

    Why: importing DuckDB runs Python code from inside its C++ module initialisation
    (nanobind); the exception our handlers raise, met there, is a "Critical nanobind
    error" that aborts the interpreter instead of unwinding, so the scan left its spool,
    its child and its sessions behind. Held, the signal ends the run a fraction of a
    second later, by the same clean path. Only the main thread runs the handlers: held
    elsewhere, nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _held.append(1)
    try:
        yield
    finally:
        _held.pop()
        # also when the block ends with an error: the signal is what ends the run (the
        # error, if any, is its context), never dropped with it
        if not _held and _pending:
            signum = _pending[0]
            _pending.clear()
            _raise(signum)


def raise_received() -> None:
    """Raise the SIGINT/SIGTERM this process received, if one was and none is held.

    Why: code that turns a signal into its own error can let a caller's ``except
    Exception`` swallow it: DuckDB, interrupted by the handler's exception, raises its own
    ``InterruptException``; a start-up step that ignores its errors (the evaluation's
    preparation while the collection runs) then went on, and the SIGTERM handler had
    already ignored any repeat. Called where such a step returns, before waiting on
    anything long, the signal ends the run as it should."""
    first = received()
    if first is not None and not _held:
        raise Terminated() if first == signal.SIGTERM else KeyboardInterrupt()


def install() -> None:
    """Turn SIGTERM into :class:`Terminated` and record SIGINT (main thread only)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _on_sigterm)
        if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            signal.signal(signal.SIGINT, _on_sigint)


def exit_code(exc: BaseException | None = None) -> int | None:
    """The exit code when the run ends because of a signal (``exc`` the exception seen)."""
    first = received()
    if first == signal.SIGTERM or isinstance(exc, Terminated):
        return EXIT_SIGTERM
    if first == signal.SIGINT or isinstance(exc, KeyboardInterrupt):
        return EXIT_SIGINT
    return None


_sessions: weakref.WeakSet[Any] = weakref.WeakSet()
_lock = threading.Lock()


def track(conn: Any) -> None:
    """Remember an open psycopg connection (weakly) for :func:`cancel_running`."""
    with _lock:
        _sessions.add(conn)


def cancel_running() -> None:
    """Cancel the statement of every tracked, still open session (from any thread).

    Why: a collection worker thread waiting on the server (a lock, a slow catalog read)
    does not see the main thread's KeyboardInterrupt; without a cancel it would hold the
    run, and its session, until lock_timeout or statement_timeout.
    """
    with _lock:
        conns = list(_sessions)
    for conn in conns:
        if not conn.closed:
            with contextlib.suppress(Exception):
                conn.cancel_safe(timeout=2.0)
