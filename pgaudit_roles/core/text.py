"""Text that is safe to show: one visible line, whatever a catalog name holds.

Why in core: names from the audited cluster (quotes, newlines, bidi controls, ``<script>``)
reach every stage's messages: the collector's coverage notes, the CLI's errors and every
report. Each of them escapes through this one function, so none needs the reports package.
``map_strings`` walks the nested text a finding carries, for the passes that rewrite it.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable
from typing import Any

# Characters that can forge lines or hide text on a terminal, in a log or in CI output:
# C0/C1 controls, DEL, line/paragraph separators, bidirectional overrides, and the
# noncharacters and surrogates that XML cannot carry.
_BIDI = {0x200E, 0x200F, 0x061C, *range(0x202A, 0x202F), *range(0x2066, 0x206A)}


_STRICT_CATEGORIES = ("Zl", "Zp", "Cf", "Cs", "Co", "Cn")


def printable(text: object, *, strict: bool = False) -> str:
    """``text`` with every control or bidi character written as a visible escape.

    A newline becomes ``\\n`` and ESC becomes ``\\x1b``, so one name always stays on one
    line and cannot colour or move the cursor. The mapping is injective apart from the
    backslash, which is doubled only when it precedes an escape we produce. ``strict``
    also escapes every format, private-use and unassigned character, for text an editor
    may render (SQL comments in the remediation script).
    """
    s = str(text)
    if s.isprintable() and "\\" not in s:
        return s
    # Each character is rewritten on its own (_escaped), and printable ASCII other than
    # the backslash never is: only the other characters go through Python, so a long
    # paragraph with one line break costs one regex pass, not a loop over every letter.
    return _CANDIDATES.sub(_escape_strict if strict else _escape, s)


_CANDIDATES = re.compile(r"[^ -\[\]-~]")
"""Characters ``printable`` may rewrite: all but printable ASCII, and the backslash."""


def _escape(m: re.Match[str]) -> str:
    return _escaped(m.group(), False)


def _escape_strict(m: re.Match[str]) -> str:
    return _escaped(m.group(), True)


@functools.lru_cache(maxsize=4096)
def _escaped(ch: str, strict: bool) -> str:
    """One character as ``printable`` writes it (tests/test_text.py holds it to the
    character loop this replaced, over every code point)."""
    code = ord(ch)
    if ch == "\\":
        return "\\\\"
    if ch == "\n":
        return "\\n"
    if ch == "\r":
        return "\\r"
    if ch == "\t":
        return "\\t"
    if code < 0x20 or 0x7F <= code <= 0x9F:
        return f"\\x{code:02x}"
    if (
        code in _BIDI
        or unicodedata.category(ch) in ("Zl", "Zp", "Cs")
        or 0xFDD0 <= code <= 0xFDEF
        or (code & 0xFFFE) == 0xFFFE
        or (strict and unicodedata.category(ch) in _STRICT_CATEGORIES)
    ):
        return f"\\u{code:04x}"
    return ch


def map_strings(value: Any, fn: Callable[[str], str]) -> Any:
    """``value`` with ``fn`` applied to every string inside it: dict values, list and tuple
    items (a tuple comes back as a list, as JSON holds it); anything else is returned as is.

    Why one walker: findings carry text in nested details, and a pass that rewrites it
    (secrets redacted, placeholders restored) must reach every level, tuples included.
    """
    if isinstance(value, str):
        return fn(value)
    if isinstance(value, dict):
        return {k: map_strings(v, fn) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [map_strings(v, fn) for v in value]
    return value
