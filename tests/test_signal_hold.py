"""``core.signals.held``: a SIGTERM/SIGINT that arrives during a block is raised when it
ends, so that it never meets the inside of a C extension's module initialisation.

Pure: subprocesses of this interpreter, no server. The reproduction is exact: DuckDB's
module (nanobind) creates its enums by calling Python's ``enum``; a SIGTERM delivered
there, turned into our ``Terminated`` by the handler, aborts the interpreter ("Critical
nanobind error", SIGABRT), where a scan then leaves its child, spool and sessions behind.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from pgaudit_roles.core import signals

SIGNAL_IN_DUCKDB_INIT = textwrap.dedent(
    """
    import contextlib, os, signal, sys
    from pgaudit_roles.core import signals
    signals.install()
    fired = []

    def prof(frame, event, arg):
        # the first Python call into enum from inside DuckDB's module initialisation
        if (event == "call" and not fired and "duckdb" in sys.modules
                and frame.f_code.co_filename.endswith("enum.py")):
            fired.append(1)
            os.kill(os.getpid(), signal.SIG{sig})

    block = signals.held() if sys.argv[1] == "held" else contextlib.nullcontext()
    try:
        with block:
            sys.setprofile(prof)
            import duckdb
            sys.setprofile(None)
    except KeyboardInterrupt as exc:
        sys.setprofile(None)
        import duckdb
        answer = duckdb.connect().execute("SELECT 42").fetchone()[0]
        print(type(exc).__name__, bool(fired), answer)
    """
)


def run(how: str, sig: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", SIGNAL_IN_DUCKDB_INIT.format(sig=sig), how],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(("sig", "raised"), [("TERM", "Terminated"), ("INT", "KeyboardInterrupt")])
def test_a_signal_during_duckdbs_import_is_raised_after_it(sig: str, raised: str) -> None:
    done = run("held", sig)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == [raised, "True", "42"]  # raised once the module was whole


def test_without_the_hold_the_same_signal_aborts_the_interpreter() -> None:
    """What the hold is for: if this stops failing, DuckDB no longer needs it."""
    done = run("plain", "TERM")
    assert done.returncode == -signal.SIGABRT
    assert "Critical nanobind error" in done.stderr


def test_held_blocks_nest_and_raise_once_at_the_outermost(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(signals, "_received", [])
    old = signal.getsignal(signal.SIGTERM)
    signal.signal(signal.SIGTERM, signals._on_sigterm)
    try:
        steps = []
        with pytest.raises(signals.Terminated):
            with signals.held():
                with signals.held():
                    os.kill(os.getpid(), signal.SIGTERM)
                    steps.append("inner block finished")
                steps.append("outer block finished")
        assert steps == ["inner block finished", "outer block finished"]
        assert signals.received() == signal.SIGTERM
        with signals.held():  # nothing pending is left for the next block
            steps.append("next")
        assert steps[-1] == "next"
    finally:
        signal.signal(signal.SIGTERM, old)


SWALLOWED = textwrap.dedent(
    """
    import contextlib, os, signal
    from pgaudit_roles.core import signals
    signals.install()
    try:  # a signal held in a block that then fails: raised, not dropped with the error
        with contextlib.suppress(ValueError), signals.held():
            os.kill(os.getpid(), signal.SIG{sig})
            raise ValueError("the block's own error")
    except KeyboardInterrupt as exc:
        print("held", type(exc).__name__, repr(exc.__context__))
    signals._received.clear()
    signals.install()
    # DuckDB turns the handler's exception into its own error, which a caller ignores
    import duckdb
    con = duckdb.connect()
    with contextlib.suppress(Exception):
        try:
            os.kill(os.getpid(), signal.SIG{sig})
        except KeyboardInterrupt:
            raise RuntimeError("Query interrupted") from None
    try:
        signals.raise_received()
    except KeyboardInterrupt as exc:
        print("swallowed", type(exc).__name__)
    """
)


@pytest.mark.parametrize(("sig", "raised"), [("TERM", "Terminated"), ("INT", "KeyboardInterrupt")])
def test_a_signal_is_never_dropped_with_an_error(sig: str, raised: str) -> None:
    """A signal held while the block fails is raised when it ends (with the block's error as
    its context); one that code turned into its own error, which a caller swallowed, is
    raised by ``raise_received`` (the evaluation's start-up calls it before the scan waits
    on its collection: a SIGTERM there was lost and the scan hung on a locked catalog)."""
    res = subprocess.run(
        [sys.executable, "-c", SWALLOWED.format(sig=sig)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines() == [
        f'held {raised} ValueError("the block\'s own error")',
        f"swallowed {raised}",
    ]
