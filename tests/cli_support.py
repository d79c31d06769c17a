"""Run the CLI in this process, as a user would from the shell, and capture what it says.

In-process runs are much faster than a subprocess per call; tests that need a fresh
interpreter (signals, --help import checks, environment) still use subprocess.
"""

from __future__ import annotations

import signal

import pytest

from pgaudit_roles.cli import main


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """``(exit code, stdout, stderr)`` of ``pgaudit-roles ARGS``."""
    try:
        main(args)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def sigint_default() -> None:
    """``preexec_fn`` for a child that a test will interrupt: pytest-xdist workers ignore
    SIGINT and children inherit that, while a user's shell starts the tool with the default
    (which Python turns into KeyboardInterrupt)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
