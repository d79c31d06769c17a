"""Argument conventions every command shares, so the CLI reads the same everywhere.

- The text output is called ``text`` in every command; ``table`` (the older name in
  ``query`` and ``rules list``) is still accepted and means the same (``TextChoice``).
- What is audited comes first: ``COMMAND SNAPSHOT_OR_DSN ...`` (``scan``, ``check``,
  ``query``, ``paths``, ``explain``, ``who-can``). ``explain`` and ``who-can`` also accept
  their older order, with the target last, when the arguments leave no doubt
  (``target_first``).
- An option that means the same in several commands is declared once, below, and used as
  a decorator (``@rules_dir_option``): the same name, help, type and default everywhere.
  Where the meaning differs (``fleet --fail-on`` gates on any target, ``diff --waivers``
  only spares new findings), the command keeps its own option and its own help.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

TEXT_ALIASES = {"table": "text"}

FAIL_ON = ("critical", "high", "medium", "low", "info", "none")

F = TypeVar("F", bound=Callable[..., Any])

CONFIG_HELP = (
    "Configuration file (default: .pgaudit-roles.toml or [tool.pgaudit-roles] in "
    "pyproject.toml, searched upwards)."
)
RULES_DIR_HELP = "Also load user rules from this directory (repeatable)."

# --- options shared by several commands (see the module docstring) ---------------------------

config_option = click.option(
    "--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), help=CONFIG_HELP
)
rules_dir_option = click.option(
    "--rules-dir",
    "rules_dirs",
    multiple=True,
    type=click.Path(file_okay=False, path_type=Path),
    help=RULES_DIR_HELP,
)
fail_on_option = click.option(
    "--fail-on",
    type=click.Choice(FAIL_ON),
    help="Lowest severity that exits 1 (default high; none never gates).",
)
baseline_option = click.option(
    "--baseline",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Baseline of accepted findings: only new ones gate.",
)
waivers_option = click.option(
    "--waivers",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Waiver file: reviewed, expiring exceptions.",
)
statement_timeout_option = click.option(
    "--statement-timeout", metavar="DURATION", help="Per-statement limit (default 60s)."
)
lock_timeout_option = click.option(
    "--lock-timeout", metavar="DURATION", help="Lock wait limit (default 2s)."
)
sarif_anchor_option = click.option(
    "--sarif-anchor",
    default="pgaudit-roles.toml",
    show_default=True,
    help="Repository file SARIF results point at (GitHub needs a file).",
)
sarif_omit_waived_option = click.option(
    "--sarif-omit-waived",
    is_flag=True,
    help="Leave waived findings out of SARIF (default: kept, with a "
    "suppression carrying the waiver's reason, level note).",
)
history_keep_option = click.option(
    "--history-keep",
    metavar="RETENTION",
    help="Retention applied when recording: days ('90d') or runs per target "
    "('30 runs'); default: keep all (config: history.keep).",
)
verbose_option = click.option("--verbose", "-v", is_flag=True, help="Debug logs on stderr.")
output_file_option = click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to this file (atomically) instead of stdout.",
)


def text_json_html_format(f: F) -> F:
    """``--format text|json|html`` of the commands that print one document (history)."""
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(["text", "json", "html"]),
        default="text",
        show_default=True,
    )(f)


class TextChoice(click.Choice):
    """A ``--format`` choice whose help lists ``text`` but that also accepts ``table``."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and value.lower() in TEXT_ALIASES:
            value = TEXT_ALIASES[value.lower()]
        return super().convert(value, param, ctx)


def looks_like_target(arg: str) -> bool:
    """A snapshot file that exists, or a libpq connection string / URI."""
    if "://" in arg or "=" in arg:
        return True
    try:
        return Path(arg).is_file()
    except (OSError, ValueError):
        return False
