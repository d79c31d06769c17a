"""Shared helpers of the lint tests: the marker comments of tests/data/lint/cases."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data" / "lint"
CASES = DATA / "cases"
CLEAN = DATA / "clean"
PASSWORDS = ("Sup3r-Secret-Lint-Pw", "an0ther-Literal-Pw")
_MARK = re.compile(r"--\s*(expect|pass|twin):\s*((?:PGR-[A-Z]+-\d{3}\s*)+)")


def markers(kind: str) -> set[tuple[str, int, str]]:
    """{(file relative to the repo, line, rule)} for every ``-- kind: RULE ...`` marker."""
    out: set[tuple[str, int, str]] = set()
    for path in sorted(DATA.rglob("*.sql")):
        rel = path.relative_to(ROOT).as_posix()
        for no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for m in _MARK.finditer(line):
                if m.group(1) == kind:
                    out.update((rel, no, rule) for rule in m.group(2).split())
    return out


def located(result, layer: str | None = None) -> set[tuple[str, int, str]]:
    return {
        (f.file, f.line, f.rule_id)
        for f in result.findings
        if f.file is not None and (layer is None or f.details.get("layer") == layer)
    }
