"""Argument conventions every command shares, so the CLI reads the same everywhere.

- The text output is called ``text`` in every command; ``table`` (the older name in
  ``query`` and ``rules list``) is still accepted and means the same (``TextChoice``).
- What is audited comes first: ``COMMAND SNAPSHOT_OR_DSN ...`` (``scan``, ``check``,
  ``query``, ``paths``, ``explain``, ``who-can``). ``explain`` and ``who-can`` also accept
  their older order, with the target last, when the arguments leave no doubt
  (``target_first``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

TEXT_ALIASES = {"table": "text"}


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
