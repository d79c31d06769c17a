"""Findings show a migration's ``${placeholder}`` as written, not the stand-in parsed.

Why: pglast cannot parse Flyway and Liquibase placeholders, so ``psql.lex`` replaces
``${app_user}`` with a stand-in of the same length (``__app_user_``) before parsing and
the twin runs the statement with it. Every name a check or a twin rule reports then is
the stand-in, often lowercased by the parser (``${APP_USER}`` is the unquoted identifier
``__app_user_``). A reader searches the migrations for what they wrote, so every text a
finding carries (message, names, details, fix) and the run's notes get the original
back. The fingerprint was computed from the parsed form before and does not change. The
fix SQL keeps the stand-in: it must still parse (the SQL report re-checks every statement
with pglast), and ``${x}`` does not.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..core.model import ScanResult
from ..core.text import map_strings


def _pattern(originals: Mapping[str, str]) -> re.Pattern[str] | None:
    if not originals:
        return None
    alternatives = sorted(originals, key=len, reverse=True)
    return re.compile("|".join(re.escape(s) for s in alternatives), re.IGNORECASE)


def restore_placeholders(result: ScanResult, originals: Mapping[str, str]) -> None:
    """Replace every stand-in (any letter case) by its original ``${...}`` text in
    ``result``'s findings (not their fix SQL) and lint notes."""
    rx = _pattern(originals)
    if rx is None:
        return
    by_folded = {k.casefold(): v for k, v in originals.items()}

    def back(value: Any) -> Any:
        return map_strings(
            value, lambda s: rx.sub(lambda m: by_folded.get(m.group(0).casefold(), m.group(0)), s)
        )

    for f in result.findings:
        f.message = back(f.message)
        f.role = back(f.role)
        f.object_name = back(f.object_name)
        f.object_identity = back(f.object_identity)
        f.schema = back(f.schema)
        f.details = back(f.details)
    lint = result.meta.get("lint")
    if isinstance(lint, dict) and isinstance(lint.get("notes"), list):
        lint["notes"] = back(lint["notes"])
