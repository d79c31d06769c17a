"""The two lint-only formats: compiler-style text and GitHub workflow annotations.

Text is ``file:line:col: severity RULE message``, one finding per line, as compilers write
so editors and ``grep`` jump to it. GitHub annotations are workflow commands
(``::error file=...,line=...,col=...,title=...::message``) that show on the pull request's
diff without any upload. Both print every name through ``printable`` (one line, control
and bidi characters visible) and never a password: the run scrubbed them already.
"""

from __future__ import annotations

from typing import IO

from ..core.model import Finding, ScanResult, at_or_above
from ..reports.common import printable

GITHUB_LEVEL = {
    "critical": "error",
    "high": "error",
    "medium": "warning",
    "low": "notice",
    "info": "notice",
}


def _ordered(result: ScanResult) -> list[Finding]:
    return sorted(
        result.findings,
        key=lambda f: (f.file is None, f.file or "", f.line or 0, f.column or 0, f.rule_id),
    )


def write_text(result: ScanResult, fh: IO[str], *, verbose: bool = False) -> None:
    """One line per located finding, then pre-existing ones (with -v) and a summary."""
    located = [f for f in _ordered(result) if f.file is not None]
    pre = [f for f in _ordered(result) if f.pre_existing]
    for f in located:
        mark = "" if f.gating else (" (waived)" if f.suppressed else " (baseline)")
        fh.write(
            f"{printable(f.file)}:{f.line}:{f.column}: {f.severity} {f.rule_id} "
            f"{printable(f.message)}{mark}\n"
        )
    if verbose:
        for f in pre:
            fh.write(
                f"(pre-existing on the twin) {f.severity} {f.rule_id} {printable(f.message)}\n"
            )
    for r in result.results:
        if r.status == "error":
            fh.write(f"pgaudit-roles: {r.rule.id} could not run: {printable(r.reason or '')}\n")
    lint = result.meta.get("lint") or {}
    gating = [f for f in located if f.gating and at_or_above(f.severity, result.fail_on)]
    twin = lint.get("twin") or {}
    fh.write(
        f"pgaudit-roles lint: {lint.get('statements', 0)} statements in "
        f"{len(lint.get('order') or [])} files; {len(located)} findings, {len(gating)} at "
        f"or above {result.fail_on}"
        + (
            f"; {len(pre)} pre-existing on the twin (not gating)"
            if twin.get("run")
            else "; effect layer not run"
        )
        + "\n"
    )


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def write_github(result: ScanResult, fh: IO[str]) -> None:
    """A workflow command per located finding that gates (waived/baselined ones stay quiet)."""
    for f in _ordered(result):
        if f.file is None or not f.gating:
            continue
        level = GITHUB_LEVEL[f.severity]
        # a control or bidi character in a path is written as a visible escape: the
        # annotation then does not attach to that file, but the log cannot be spoofed
        props = (
            f"file={_escape_property(printable(f.file))},line={f.line},col={f.column},"
            f"title={_escape_property(f'{f.rule_id} ({f.severity})')}"
        )
        fh.write(f"::{level} {props}::{_escape_data(printable(f.message))}\n")
