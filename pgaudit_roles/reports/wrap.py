"""Wrapping terminal lines: at spaces only, never inside a token, colour codes not counted.

Why not ``textwrap``: it counts ANSI colour codes as text (a coloured line would wrap
early) and wide East Asian characters as one column (a line of role names in Japanese
would overflow). Why never inside a token: a role name, a SQL identifier or a rule id cut
in two is misread or mis-copied ("billin g_prod"); a token wider than the terminal gets
a line of its own and the terminal shows it whole.
"""

from __future__ import annotations

import os
import re
import shutil
import unicodedata
from typing import IO

DEFAULT_WIDTH = 80
MIN_WIDTH = 20
_SGR = re.compile(r"\x1b\[[0-9;]*m")


def terminal_width(stream: IO[str] | None = None) -> int:
    """Columns to wrap to: ``COLUMNS`` when set to a number, else the terminal's width when
    ``stream`` is a terminal, else 80 (a pipe, a file, a CI log)."""
    env = os.environ.get("COLUMNS", "")
    if env.strip().isdigit() and int(env) > 0:
        return max(MIN_WIDTH, int(env))
    isatty = getattr(stream, "isatty", None)
    if callable(isatty) and isatty():
        try:
            cols = os.get_terminal_size(stream.fileno()).columns  # type: ignore[union-attr]
        except (OSError, ValueError, AttributeError):
            cols = shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns
        return max(MIN_WIDTH, cols or DEFAULT_WIDTH)
    return DEFAULT_WIDTH


def visible_width(text: str) -> int:
    """Columns ``text`` takes on a terminal: colour codes 0, combining marks 0, wide and
    full-width characters 2."""
    text = _SGR.sub("", text)
    if text.isascii():
        return len(text)
    n = 0
    for ch in text:
        if unicodedata.combining(ch):
            continue
        n += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return n


def wrap_line(line: str, width: int, hang: int = 2) -> list[str]:
    """``line`` as lines of at most ``width`` columns, broken at spaces; continuation lines
    start with the line's own indentation plus ``hang`` spaces. A token wider than the room
    left stays whole on a line of its own."""
    if visible_width(line) <= width:
        return [line]
    stripped = line.lstrip(" ")
    indent = len(line) - len(stripped)
    cont = " " * min(indent + hang, max(0, width // 2))
    parts = re.split(r"( +)", stripped)  # words at even positions, their gaps between
    out: list[str] = []
    current = " " * indent + parts[0]
    current_w = indent + visible_width(parts[0])
    for i in range(1, len(parts) - 1, 2):
        gap, word = parts[i], parts[i + 1]
        w = visible_width(word)
        if current_w + len(gap) + w <= width:
            current += gap + word
            current_w += len(gap) + w
        else:
            out.append(current)
            current = cont + word
            current_w = len(cont) + w
    out.append(current)
    return out


def wrap_lines(lines: list[tuple[str, int]], width: int | None) -> list[str]:
    """Each ``(line, hang)`` wrapped to ``width`` (None: unchanged)."""
    if width is None:
        return [line for line, _ in lines]
    width = max(MIN_WIDTH, width)
    return [part for line, hang in lines for part in wrap_line(line, width, hang)]
