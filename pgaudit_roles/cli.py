"""The ``pgaudit-roles`` command line.

Sub-commands live in ``pgaudit_roles.commands.<module>`` and are imported only when
used (or when help lists them), and those modules import heavy libraries (psycopg,
duckdb, sqlglot, pglast) inside their functions, so ``--help`` stays fast.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from . import __version__
from .errors import AuditError

# command name -> "module:attribute" under pgaudit_roles.commands
COMMANDS: dict[str, str] = {
    "check": "check:check",
    "rules": "rules_cmd:rules",
    "bootstrap-sql": "bootstrap_sql:bootstrap_sql",
    "collect": "collect:collect",
    "demo": "demo:demo",
    "query": "query:query",
    "explain": "explain:explain",
    "who-can": "who_can:who_can",
    "paths": "paths:paths",
    "scan": "scan:scan",
    "baseline": "baseline_cmd:baseline",
    "waivers": "waivers_cmd:waivers",
    "diff": "diff:diff",
    "twin": "twin:twin",
    "lint": "lint:lint",
}

EPILOG = """\b
Exit codes:
  0  nothing at or above --fail-on
  1  findings at or above --fail-on (after baseline and waivers)
  2  usage, configuration or rule error
  3  target unreachable or collection failed
  130  interrupted (SIGINT, Ctrl-C)
  143  terminated (SIGTERM)
"""


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


@click.group(cls=LazyGroup, epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="pgaudit-roles")
def cli() -> None:
    """Read-only compliance audit of PostgreSQL roles, privileges and pg_hba rules.

    Collects a snapshot as a pg_monitor member (never superuser, never writes), evaluates
    data-driven rules in an in-process DuckDB, and writes JSON, HTML, JUnit, SARIF, SQL and
    text reports with the SQL that fixes each finding.
    """


def main(argv: list[str] | None = None) -> Any:
    """Entry point: turn AuditError into one line on stderr and its exit code."""
    from .signals import install

    install()
    try:
        return cli.main(args=argv, prog_name="pgaudit-roles", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.Abort as exc:  # click turns Ctrl-C (and so SIGTERM) into Abort
        _exit_if_signalled(exc.__context__)
        click.echo("pgaudit-roles: aborted", err=True)
        sys.exit(2)
    except click.ClickException as exc:
        exc.show()
        sys.exit(2)
    except AuditError as exc:
        _exit_if_signalled()
        click.echo(f"pgaudit-roles: error: {_one_line(str(exc))}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt as exc:  # and signals.Terminated
        _exit_if_signalled(exc)
        raise
    except Exception:
        _exit_if_signalled()  # e.g. DuckDB's "Query interrupted" after a signal
        raise


def _exit_if_signalled(exc: BaseException | None = None) -> None:
    """One line and 130/143 when the run ends because of SIGINT/SIGTERM."""
    from .signals import EXIT_SIGTERM, exit_code

    code = exit_code(exc)
    if code is None:
        return
    click.echo("pgaudit-roles: terminated (SIGTERM)" if code == EXIT_SIGTERM
               else "pgaudit-roles: interrupted", err=True)
    sys.exit(code)


def _one_line(text: str) -> str:
    return " ".join(text.split())


if __name__ == "__main__":  # pragma: no cover
    main()
