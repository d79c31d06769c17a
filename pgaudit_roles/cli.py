"""The ``pgaudit-roles`` command line.

Sub-commands live in ``pgaudit_roles.commands.<module>`` and are imported only when
used, and those modules import heavy libraries (psycopg, duckdb, sqlglot, pglast) inside
their functions. The top-level ``--help`` lists the commands from SUMMARIES, a static
table, so it imports no command module at all (tests/test_cli_summaries.py keeps the table
equal to the commands' own help).
"""

from __future__ import annotations

import gc
import importlib
import sys
from typing import Any

import click

from . import __version__
from .core.errors import EXIT_CODES, EXIT_INTERNAL, EXIT_USAGE, AuditError
from .core.gcpolicy import for_one_command
from .core.signals import EXIT_SIGTERM, exit_code, install
from .core.text import printable

# command name -> "module:attribute" under pgaudit_roles.commands
COMMANDS: dict[str, str] = {
    "check": "check:check",
    "rules": "rules:rules",
    "bootstrap-sql": "bootstrap_sql:bootstrap_sql",
    "collect": "collect:collect",
    "demo": "demo:demo",
    "query": "query:query",
    "explain": "explain:explain",
    "who-can": "who_can:who_can",
    "paths": "paths:paths",
    "scan": "scan:scan",
    "baseline": "baseline:baseline",
    "waivers": "waivers:waivers",
    "diff": "diff:diff",
    "history": "history:history",
    "twin": "twin:twin",
    "lint": "lint:lint",
    "fleet": "fleet:fleet",
}


def _epilog() -> str:
    """The exit-code table of ``errors.EXIT_CODES``, wrapped by hand (``\b``: click keeps
    these lines as they are)."""
    import textwrap

    lines = ["\b", "Exit codes:"]
    for code, text in EXIT_CODES.items():
        wrapped = textwrap.wrap(text.replace("`", ""), 70)
        lines.append(f"  {code:<5}{wrapped[0]}")
        lines += [f"       {w}" for w in wrapped[1:]]
    return "\n".join(lines) + "\n"


EPILOG = _epilog()

# command name -> its one-line summary: each command's own short help (the first sentence of
# its docstring, as click shortens it), kept here so the command list needs no import.
# A command missing here is still listed, by importing it; the test says what to add.
SUMMARIES: dict[str, str] = {
    "baseline": "Manage a baseline of accepted findings (used with --baseline).",
    "bootstrap-sql": (
        "Print SQL that sets up a login role able to run `collect` without superuser: LOGIN,"
        " member of pg_monitor, SELECT on pg_hba_file_rules and EXECUTE on"
        " pg_hba_file_rules(), and CONNECT on every database that accepts connections"
        " (a commented DO block: the guide revokes CONNECT from PUBLIC)."
    ),
    "check": (
        "Evaluate the rules against SNAPSHOT (from `pgaudit-roles collect` or"
        " `scan --snapshot-out`), offline, and write the same reports as `scan`."
    ),
    "collect": "Collect a snapshot of roles, privileges, default privileges and pg_hba rules.",
    "demo": (
        "Start a throwaway PostgreSQL, build a realistic role layout with deliberate mistakes,"
        " scan it as a least-privileged auditor and write every report."
    ),
    "diff": "Compare two snapshots (findings and raw drift) or two JSON reports (findings).",
    "explain": (
        "Explain ROLE: attributes, memberships and chains, ownership, effective privileges."
    ),
    "fleet": (
        "Audit every target of INVENTORY and write one combined report, gated across the fleet."
    ),
    "history": (
        "Trend of the runs recorded in DIRECTORY (`scan --history DIR`, `check --history DIR`)."
    ),
    "lint": (
        "Check SQL migration files (and directories of them) for role and privilege mistakes."
    ),
    "paths": (
        "Shortest escalation routes, every hop with its evidence, the SQL that takes it and"
        " the SQL that removes it."
    ),
    "query": "Run one read-only SELECT over the audit schema of a snapshot or a live cluster.",
    "rules": (
        "List the rules, show one rule's metadata, query and remediation, or start a new one."
    ),
    "scan": "Collect a snapshot of DSN, evaluate every rule, write reports, gate on severity.",
    "twin": (
        "Rebuild SNAPSHOT's roles, memberships, objects (as stubs), ACLs, default privileges"
        " and settings in a throwaway PostgreSQL, collect it, and write the twin's snapshot."
    ),
    "waivers": "Check waiver files (reviewed, expiring exceptions for findings).",
    "who-can": (
        "List the roles that hold PRIVILEGE on OBJECT, and the chain that gives it to them."
    ),
}


class LazyGroup(click.Group):
    """A group whose sub-commands are imported on first use (click's documented pattern)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, attr = target.split(":")
        cmd = getattr(importlib.import_module(f"pgaudit_roles.commands.{module}"), attr)
        assert isinstance(cmd, click.Command)
        return cmd

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list from SUMMARIES: what click's own format_commands prints, but
        without importing every command module (about a third of ``--help``'s time)."""
        rows = []
        for name in self.list_commands(ctx):
            summary = SUMMARIES.get(name)
            cmd = (
                click.Command(name, help=summary)
                if summary is not None
                else self.get_command(ctx, name)
            )
            if cmd is not None and not cmd.hidden:
                rows.append((name, cmd))
        if rows:
            # click's layout: the summary gets the width left after the longest name
            limit = formatter.width - 6 - max(len(name) for name, _ in rows)
            with formatter.section("Commands"):
                formatter.write_dl([(name, cmd.get_short_help_str(limit)) for name, cmd in rows])


@click.group(cls=LazyGroup, epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="pgaudit-roles")
@click.option(
    "--verbose",
    "-v",
    "_verbose_flag",
    is_flag=True,
    help="On an unexpected error, print its traceback (also -v after scan/check).",
)
def cli(_verbose_flag: bool) -> None:
    """Read-only compliance audit of PostgreSQL roles, privileges and pg_hba rules.

    Collects a snapshot as a pg_monitor member (never superuser, never writes), evaluates
    data-driven rules in an in-process DuckDB, and writes JSON, HTML, JUnit, SARIF, SQL and
    text reports with the SQL that fixes each finding.
    """


def main(argv: list[str] | None = None) -> Any:
    """Entry point: every way a command can end becomes one line on stderr and a code
    from ``errors.EXIT_CODES``; a bug's traceback is shown only with ``-v``. The command
    runs with the garbage collector set for one run (``core.gcpolicy``)."""
    args = sys.argv[1:] if argv is None else argv
    install()
    with for_one_command():
        return _run(args)


def console_main() -> None:
    """The ``pgaudit-roles`` console script: :func:`main` in a process that ends with it.

    Why: what the run kept (snapshot rows, findings, DuckDB's Python objects) would be
    traversed once more by the interpreter's collections at shutdown, 30-40 ms of a small
    ``check``'s CPU; frozen first, it is only freed. Not for callers that go on running
    (tests call :func:`main`)."""
    try:
        sys.exit(main())
    finally:
        gc.freeze()


def _run(args: list[str]) -> Any:
    """The command, and what each way it ends prints and exits with (see :func:`main`)."""
    try:
        return cli.main(args=args, prog_name="pgaudit-roles", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.Abort as exc:  # click turns Ctrl-C (and so SIGTERM) into Abort
        _exit_if_signalled(exc.__context__)
        click.echo("pgaudit-roles: aborted", err=True)
        sys.exit(EXIT_USAGE)
    except click.ClickException as exc:
        exc.show()
        sys.exit(EXIT_USAGE)
    except AuditError as exc:
        _exit_if_signalled()
        click.echo(f"pgaudit-roles: error: {_one_line(str(exc))}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt as exc:  # and signals.Terminated
        _exit_if_signalled(exc)
        raise
    except BrokenPipeError:  # `... | head`: the reader left, nothing to report
        _silence_stdout()
        sys.exit(EXIT_USAGE)
    except OSError as exc:  # a file or stream the environment refused (full, read-only)
        _silence_stdout()
        where = f"{exc.filename}" if exc.filename else "output"
        click.echo(
            f"pgaudit-roles: error: I/O error on {_one_line(where)}: "
            f"{_one_line(exc.strerror or str(exc))}",
            err=True,
        )
        sys.exit(EXIT_USAGE)
    except Exception as exc:  # a bug: its own code, one line, traceback only with -v
        _exit_if_signalled()  # e.g. DuckDB's "Query interrupted" after a signal
        if _verbose(args):
            import traceback

            traceback.print_exc(file=sys.stderr)
        what = _one_line(f"{type(exc).__name__}: {exc}")[:500]
        click.echo(
            f"pgaudit-roles: internal error: {what} (exit {EXIT_INTERNAL}; "
            "run `pgaudit-roles -v ...` for the traceback)",
            err=True,
        )
        sys.exit(EXIT_INTERNAL)


def _verbose(args: list[str]) -> bool:
    """``-v``/``--verbose`` anywhere on the command line (an option of scan and check; any
    command accepts it here for the traceback), or PGAUDIT_ROLES_DEBUG=1."""
    import os

    if os.environ.get("PGAUDIT_ROLES_DEBUG") == "1":
        return True
    return any(
        a == "--verbose"
        or (a.startswith("-") and not a.startswith("--") and "v" in a[1:] and a[1:].isalpha())
        for a in args
    )


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail again."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _exit_if_signalled(exc: BaseException | None = None) -> None:
    """One line and 130/143 when the run ends because of SIGINT/SIGTERM."""
    code = exit_code(exc)
    if code is None:
        return
    click.echo(
        "pgaudit-roles: terminated (SIGTERM)"
        if code == EXIT_SIGTERM
        else "pgaudit-roles: interrupted",
        err=True,
    )
    sys.exit(code)


def _one_line(text: str) -> str:
    """One line for the terminal: whitespace runs joined, control and bidi characters
    escaped (a server's error text can carry U+202E or an ESC sequence)."""
    return printable(" ".join(text.split()))


if __name__ == "__main__":  # pragma: no cover
    main()
