"""Run the CLI in this process, as a user would from the shell, and capture what it says.

In-process runs are much faster than a subprocess per call; tests that need a fresh
interpreter (signals, --help import checks, environment) still use subprocess.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import subprocess
import sys
from collections.abc import Mapping

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


def cli_process(
    args: list[str],
    *,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """``pgaudit-roles ARGS`` run in this process, returned as
    ``subprocess.run(..., capture_output=True, text=True, cwd=cwd, env=env)`` returns it.

    For tests that read a command's exit code, output and files but not the process
    itself: a subprocess pays the interpreter start and the heavy imports (DuckDB, Jinja,
    sqlglot) again on every call, about half a CPU second. Keep subprocess where the
    process matters: signals, a fresh interpreter's imports, stdin, ``-v`` logging (set up
    once per process), a real process's exit.
    """
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", newline="")
    err = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", newline="")
    saved_env = dict(os.environ)
    saved_cwd = os.getcwd()
    code: int
    try:
        if env is not None:
            os.environ.clear()
            os.environ.update(env)
        if cwd is not None:
            os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main(list(args))
                code = 0
            except SystemExit as exc:
                if exc.code is None or isinstance(exc.code, int):
                    code = int(exc.code or 0)
                else:  # sys.exit("message"): printed to stderr, exit 1
                    print(exc.code, file=sys.stderr)
                    code = 1
    finally:
        os.chdir(saved_cwd)
        if env is not None:
            os.environ.clear()
            os.environ.update(saved_env)
    texts = []
    for stream in (out, err):
        stream.flush()
        text = stream.buffer.getvalue().decode("utf-8")  # type: ignore[attr-defined]
        # as text=True reads a pipe: universal newlines
        texts.append(text.replace("\r\n", "\n").replace("\r", "\n"))
    return subprocess.CompletedProcess(["pgaudit-roles", *args], code, texts[0], texts[1])
