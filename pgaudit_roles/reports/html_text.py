"""Text helpers for the HTML report: Markup built only from escaped pieces.

Why they exist: rule text is written with hard line breaks and Markdown-style backticks
(``pgaudit-roles bootstrap-sql``), and identifiers such as ``billing_prod.refund`` must wrap
at their separators, not mid-word. Each helper escapes every piece of text itself and
adds only fixed tags (``<p>``, ``<code>``, ``<wbr>``), so data never becomes markup; the
browser test feeds them hostile names.
"""

from __future__ import annotations

import functools
import re
import tomllib
from typing import Any

from markupsafe import Markup, escape

from ..core.resources import frameworks_dir
from .common import printable

_SEPARATORS = re.compile(r"([_./:,(\-]+)")
_LONG_RUN = 24  # a run this long with no separator gets break chances every 12 characters


def _wbr_run(text: str) -> str:
    if len(text) <= _LONG_RUN:
        return _esc(text)
    return "<wbr>".join(_esc(text[i : i + 12]) for i in range(0, len(text), 12))


def _esc(text: str) -> str:
    return str(escape(text))


def ident(text: Any) -> Markup:
    """An identifier or message with break opportunities after ``_ . / : , ( -``: long
    names wrap at sensible points ("billing_/prod"), never as "billin/g_prod"; paired
    `backticks` become ``<code>``."""
    return _ident(printable("" if text is None else text))


@functools.lru_cache(maxsize=8192)
def _ident(s: str) -> Markup:
    # Cached: a report shows the same role, schema and database names hundreds of times.
    # Built as plain text from escaped pieces and fixed tags, then marked safe once.
    parts = s.split("`")
    if len(parts) > 1 and len(parts) % 2 == 1:
        return Markup(
            "".join(
                _breakable(p) if i % 2 == 0 else "<code>" + _breakable(p) + "</code>"
                for i, p in enumerate(parts)
            )
        )
    return Markup(_breakable(s))


# A "word" of _breakable: a run with no separator and no space. Only words longer than
# _LONG_RUN get break chances inside them, counted in characters of the raw text. (An
# exact count: the search only asks whether one exists, and "{25,}" costs 2-3x more.)
_LONG_WORD = re.compile(rf"[^_./:,(\- ]{{{_LONG_RUN + 1}}}")


# Where a run of separators ends on something other than a hyphen: the break chance after
# the run (a hyphen gets its own "<wbr>", wherever it is in the run).
_RUN_END = re.compile(r"(?<=[_./:,(])(?![_./:,(\-])")


def _breakable(s: str) -> str:
    """``s`` escaped, with ``<wbr>`` after each run of separators and inside long words.

    Why two paths: most names have no word longer than _LONG_RUN, and then the text can
    be escaped in one call and the breaks added with a replace and one substitution of a
    fixed string (escaping adds no separator or space, so the runs are where they were; a
    hyphen ends a piece of its own, any other run gets one break at its end). Long words
    are cut at raw-character offsets, which escaping would shift: they take the piecewise
    path. tests/test_html_text.py checks both paths against the piecewise definition."""
    if _LONG_WORD.search(s) is None:
        return _RUN_END.sub("<wbr>", _esc(s).replace("-", "-<wbr>"))
    return _breakable_pieces(s)


def _breakable_pieces(s: str) -> str:
    """The definition: each separator run and each word escaped on its own."""
    out: list[str] = []
    for piece in _SEPARATORS.split(s):
        if not piece:
            continue
        if _SEPARATORS.fullmatch(piece):
            sep = _esc(piece).replace("-", "-<wbr>")
            out.append(sep if sep.endswith("<wbr>") else sep + "<wbr>")
        else:
            out.append(" ".join(_wbr_run(w) for w in piece.split(" ")))
    return "".join(out)


def inline(text: Any) -> Markup:
    """Text with `backticked` spans as ``<code>`` and hard line breaks reflowed."""
    return _inline("" if text is None else str(text))


@functools.lru_cache(maxsize=1024)
def _inline(text: str) -> Markup:
    # Cached: every row of a rule shows the rule's manual fix, a paragraph or more.
    s = printable(re.sub(r"\s*\n\s*", " ", text))
    parts = s.split("`")
    if len(parts) % 2 == 0:  # an unpaired backtick: show it as it is
        return escape(s)
    return Markup("").join(
        escape(p) if i % 2 == 0 else Markup("<code>") + escape(p) + Markup("</code>")
        for i, p in enumerate(parts)
    )


def paragraphs(text: Any) -> Markup:
    """Prose reflowed: blank lines separate paragraphs, single line breaks are spaces."""
    blocks = [b for b in re.split(r"\n\s*\n", "" if text is None else str(text)) if b.strip()]
    return Markup("").join(Markup("<p>") + inline(b.strip()) + Markup("</p>") for b in blocks)


_NOTE_SPLIT = re.compile(r"\s+(?=Also check by hand: )")


def note_parts(note: str | None, extra: str | None = None) -> list[str]:
    """A requirement's note as separate sentences: the rule verdict ("failed: ..."), the
    framework's own note, "Also check by hand: ..." (frameworks.evaluate joins them with
    spaces, which read as one run-on sentence)."""
    if not note:
        return []
    parts = _NOTE_SPLIT.split(note.strip())
    if extra and extra.strip():
        out: list[str] = []
        for p in parts:
            i = p.find(extra.strip())
            if i > 0:
                out += [p[:i].strip(), p[i:].strip()]
            else:
                out.append(p)
        parts = out
    return [p for p in parts if p]


def framework_info(name: str, meta: dict[str, Any]) -> dict[str, Any]:
    """Title and per-requirement notes of a framework by its name: a shipped one, or the
    file given to --framework. Falls back to the name when neither can be read."""
    from pathlib import Path

    candidates = [frameworks_dir() / f"{name}.toml"]
    chosen = meta.get("framework")
    if isinstance(chosen, str) and chosen.endswith(".toml"):
        candidates.insert(0, Path(chosen))
    for path in candidates:
        try:
            doc = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if doc.get("name") != name:
            continue
        notes = {
            str(r.get("id")): str(r["note"])
            for r in doc.get("requirement") or []
            if isinstance(r, dict) and isinstance(r.get("note"), str)
        }
        return {
            "title": str(doc.get("title") or name),
            "version": doc.get("version"),
            "notes": notes,
        }
    return {"title": name, "version": None, "notes": {}}
