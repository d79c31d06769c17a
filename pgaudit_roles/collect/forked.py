"""A live scan's collection in a child process, while this one prepares the evaluation.

Why: a small scan's collection is about 130 ms, half of it importing psycopg and half
waiting on the server, and the evaluation after it starts with about as much start-up
work (importing DuckDB and the reporters, opening the in-memory database). Both are
Python, so a thread cannot overlap them (the GIL); a forked child can, on the second
core. The child runs :func:`collector.collect` exactly as the process itself would and
sends the snapshot back through a pipe; its column files are written into a spool the
parent created, so they are the parent's to keep or remove whatever the child does.

When it is not used (``collect_with`` then runs both in this process, one after the
other): no ``os.fork``; another thread is running (forking a threaded process can copy
a lock held by a thread that does not exist in the child); or no core is idle
(``core.cpus.spare_cpu``: a busy host gains nothing from a second process).

Errors are the collector's own: a ``CollectionError`` or ``UsageError`` raised in the
child is raised here with its message. A child that dies without an answer is a
``CollectionError``. Ctrl-C and SIGTERM end the child (its statement on the server is
cancelled with its session) and unwind here as before.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import sys
import time
from collections.abc import Callable
from typing import Any

from ..core import cpus, signals
from ..core.errors import CollectionError
from .spool import Spool


def available() -> bool:
    """Whether :func:`collect_with` forks (``core.cpus.may_fork``)."""
    return cpus.may_fork()


def collect_with(
    collect: Callable[[Spool], Any], meanwhile: Callable[[], None], *, fork: bool = True
) -> Any:
    """``collect(spool)`` (a Snapshot) in a child process, ``meanwhile()`` here; both
    finished, the snapshot. ``fork=False`` or not :func:`available`: one after the other
    in this process (the spool is then the collector's own)."""
    with start(collect, fork=fork) as pending:
        return pending.finish(meanwhile)


class Pending:
    """A collection started by :func:`start`: running in a child process, or, where this
    process may not fork, to be run by :meth:`finish`.

    Why apart from :func:`collect_with`: the caller forks as soon as it knows what to
    collect, then does the rest of its own start-up (loading the rules, say) while the
    child is already connecting. Leaving the ``with`` block without :meth:`finish` (an
    error in that start-up) ends the child and removes its spool: nothing it read is
    kept."""

    def __init__(
        self, collect: Callable[[Spool], Any], fork: bool, also: Callable[[], Any] | None
    ) -> None:
        self._collect = collect
        self._also = also
        self.also: Any = None
        """What ``also`` returned (set by :meth:`finish`)."""
        self._spool = Spool()
        self._pid = 0
        self._read_fd = -1
        if fork and available():
            self._fork()

    def _fork(self) -> None:
        read_fd, write_fd = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child; its exit status and answer are tested
            os.close(read_fd)
            _child(self._collect, self._spool, write_fd, self._also)
        os.close(write_fd)
        self._pid, self._read_fd = pid, read_fd

    @property
    def forked(self) -> bool:
        """Whether a child process is collecting."""
        return self._pid != 0

    def finish(self, meanwhile: Callable[[], None]) -> Any:
        """``meanwhile()``, then the snapshot (the child's, or collected here now)."""
        if not self._pid:
            snap = self._collect(self._spool)
            self.also = self._also() if self._also is not None else None
            meanwhile()
            signals.raise_received()  # not swallowed by what meanwhile ran: see there
            return snap
        pid, self._pid = self._pid, 0
        done = False
        try:
            meanwhile()
            signals.raise_received()  # not swallowed by what meanwhile ran: see there
            with os.fdopen(self._read_fd, "rb") as pipe:
                self._read_fd = -1
                answer = pipe.read()
            _pid, status = os.waitpid(pid, 0)
            done = True
        finally:
            self._close_pipe()
            if not done:  # an error or a signal here: the child goes too
                _end(pid)
        snap, self.also = _unpack(answer, status, self._spool)
        return snap

    def cancel(self) -> None:
        """End a child still collecting and remove what it wrote (nothing if finished)."""
        pid, self._pid = self._pid, 0
        self._close_pipe()
        if pid:
            _end(pid)
            self._spool.cleanup()

    def _close_pipe(self) -> None:
        fd, self._read_fd = self._read_fd, -1
        if fd >= 0:
            os.close(fd)

    def __enter__(self) -> Pending:
        return self

    def __exit__(self, *exc: object) -> None:
        self.cancel()


def start(
    collect: Callable[[Spool], Any],
    *,
    fork: bool = True,
    also: Callable[[], Any] | None = None,
) -> Pending:
    """Start ``collect(spool)`` in a child process now (when :func:`available` and
    ``fork``); :meth:`Pending.finish` returns its snapshot. Use it as a context manager,
    so that an error before ``finish`` ends the child.

    ``also``: a small value to compute where the collection runs, after it, kept in
    ``Pending.also`` (picklable; its errors are its own to handle). Why: the scan's
    label parses the DSN with psycopg, which only the collecting process imports; in the
    parent, before the fork, it cost every scan about 100 ms on the way to the child."""
    return Pending(collect, fork, also)


def _child(
    collect: Callable[[Spool], Any],
    spool: Spool,
    write_fd: int,
    also: Callable[[], Any] | None = None,
) -> None:
    """Collect, send ``("ok", snapshot, also())`` or ``("error", exception)``, and leave
    without running this process's exit handlers (the spool and the parent's temporary
    directories are the parent's)."""
    code = 0
    try:
        try:
            snap = collect(spool)
            snap.spool = None  # the parent's Spool object owns the directory
            extra = also() if also is not None else None
            answer = pickle.dumps(("ok", snap, extra), protocol=pickle.HIGHEST_PROTOCOL)
        except KeyboardInterrupt:  # Ctrl-C or SIGTERM reached the parent too
            code = 130
            answer = b""
        except Exception as exc:  # noqa: BLE001 - re-raised in the parent
            answer = _pickled_error(exc)
        with open(write_fd, "wb", closefd=True) as out:
            out.write(answer)
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:  # noqa: BLE001 - the parent reports a child without an answer
        code = code or 1
    finally:
        os._exit(code)


def _pickled_error(exc: Exception) -> bytes:
    try:
        return pickle.dumps(("error", exc), protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # noqa: BLE001 - an exception that does not pickle: its text
        return pickle.dumps(("error", RuntimeError(f"{type(exc).__name__}: {exc}")))


END_GRACE_SECONDS = 3.0
"""How long the child gets to cancel its statement and close its sessions after SIGTERM
before it is killed (a process that ignores SIGTERM, as this one does after a first one,
passes that on to a child forked later)."""


def _end(pid: int) -> None:
    """Stop the child and reap it (it may have ended already)."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + END_GRACE_SECONDS
    try:
        while os.waitpid(pid, os.WNOHANG) == (0, 0):
            if time.monotonic() > deadline:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                return
            time.sleep(0.005)
    except ChildProcessError:
        pass


def _unpack(answer: bytes, status: int, spool: Spool) -> tuple[Any, Any]:
    """The child's snapshot (its files now the parent's ``spool``) and ``also`` value,
    or its error raised here."""
    if not answer:
        how = (
            f"signal {os.WTERMSIG(status)}"
            if os.WIFSIGNALED(status)
            else f"exit status {os.waitstatus_to_exitcode(status)}"
        )
        raise CollectionError(f"the collection process ended without a snapshot ({how})")
    kind, value, *extra = pickle.loads(answer)  # noqa: S301 - our own child's bytes, over a pipe
    if kind == "error":
        raise value
    value.spool = spool
    return value, extra[0]
