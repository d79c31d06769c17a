"""``core.text.printable`` rewrites one character at a time through a regex substitution
that skips printable ASCII; here it is held to the character loop it replaced, over every
code point in both modes, so no report's bytes can change with it. Pure logic: no server."""

from __future__ import annotations

import unicodedata

import pytest

from pgaudit_roles.core.text import _BIDI, _STRICT_CATEGORIES, printable


def _reference(text: object, *, strict: bool = False) -> str:
    """The character loop printable() was before the substitution (kept as its spec)."""
    s = str(text)
    if s.isprintable() and "\\" not in s:
        return s
    out: list[str] = []
    for ch in s:
        code = ord(ch)
        if ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif code < 0x20 or 0x7F <= code <= 0x9F:
            out.append(f"\\x{code:02x}")
        elif (
            code in _BIDI
            or unicodedata.category(ch) in ("Zl", "Zp", "Cs")
            or 0xFDD0 <= code <= 0xFDEF
            or (code & 0xFFFE) == 0xFFFE
            or (strict and unicodedata.category(ch) in _STRICT_CATEGORIES)
        ):
            out.append(f"\\u{code:04x}")
        else:
            out.append(ch)
    return "".join(out)


@pytest.mark.parametrize("strict", [False, True])
def test_every_code_point_maps_as_the_character_loop_did(strict: bool) -> None:
    # every code point of the planes with assigned characters that are not ideographs
    # (basic, supplementary, tags), and the first and last 256 of every other plane
    # (private use, noncharacters), each slice after a newline so that the "already
    # printable" exit is never taken
    ranges = [range(p * 0x10000, (p + 1) * 0x10000) for p in (0, 1, 14)]
    for plane in (2, 3, *range(4, 14), 15, 16):
        base = plane * 0x10000
        ranges += [range(base, base + 256), range(base + 0xFF00, base + 0x10000)]
    for r in ranges:
        text = "\n" + "".join(map(chr, r))
        assert printable(text, strict=strict) == _reference(text, strict=strict), hex(r[0])


@pytest.mark.parametrize(
    "text",
    [
        "plain name",
        "a\\b",
        "a\\nb",
        "new\nline FAIL: forged",
        "esc\x1b[31mred",
        "ünïcødé_rôle_日本",
        "bidi\u202eevil\u2066x",
        "sep\u2028line\u2029",
        "\ud800lone surrogate",
        "nonchar \ufdd0 \ufffe \U0001ffff",
        "private \ue000 format \u00ad",
        "1. Set x\n\n2. Then `y` \\ done.\r\n",
        42,
        None,
    ],
)
def test_strings_map_as_the_character_loop_did(text: object) -> None:
    for strict in (False, True):
        assert printable(text, strict=strict) == _reference(text, strict=strict)
