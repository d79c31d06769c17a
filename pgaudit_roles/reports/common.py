"""Facts every reporter shares: the summary, the gate verdict, safe text, safe links.

Each reporter formats the same numbers, so they are computed once here; otherwise the
HTML banner and the JSON summary could disagree about what gated. The text helpers exist
because names in a PostgreSQL catalog are attacker-influenced: a role name may hold a
newline (forging a line in a terminal or a log), an escape sequence, or markup.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from ..core.model import (
    SEVERITIES,
    SEVERITY_RANK,
    STATUSES,
    Finding,
    RuleResult,
    ScanResult,
    at_or_above,
)
from ..core.text import printable

TOOL_NAME = "pgaudit-roles"

_JSON_UNSAFE = re.compile(r"[^\x00-\x7e]")


def json_text(dumped: str) -> str:
    """JSON text (from ``json.dumps(..., ensure_ascii=False)``) with every non-printable
    non-ASCII character (DEL, C1 controls, bidi overrides, U+2028/2029, format and
    unassigned characters) written as a ``\\uXXXX`` escape.

    The document means exactly the same, non-ASCII letters stay readable, and nothing in
    it can reorder or break a terminal line (json.dumps already escapes C0 controls, and a
    raw newline in its output is always structural).
    """

    if dumped.isascii() and "\x7f" not in dumped:  # nothing to escape: skip the scan
        return dumped

    def esc(m: re.Match[str]) -> str:
        ch = m.group(0)
        if ch.isprintable():
            return ch
        code = ord(ch)
        if code <= 0xFFFF:
            return f"\\u{code:04x}"
        code -= 0x10000
        return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"

    return _JSON_UNSAFE.sub(esc, dumped)


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(text: str) -> str:
    """A text cell for CSV that a spreadsheet shows and never evaluates: control and bidi
    characters escaped (``printable``), and a leading ``=``, ``+``, ``-``, ``@`` (or tab,
    CR) prefixed with ``'``, OWASP's advice against formula injection."""
    text = printable(text)
    return "'" + text if text.startswith(_FORMULA_START) else text


_URL_UNSAFE = re.compile(r"[\x00-\x20\"'<>`\\]")
"""Controls, space, quotes, angle brackets, backtick, backslash: never in a link we keep."""


def safe_url(url: object) -> str | None:
    """The URL if it is an absolute http(s) link with a host, else None (no javascript:)."""
    if not isinstance(url, str):
        return None
    url = url.strip()
    if _URL_UNSAFE.search(url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return url


_SECRET_KEY = re.compile(r"pass(word)?|secret|token|sslkey|sslpassword|credential", re.I)
_SECRET_IN_TEXT = [
    (re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.I), r"\1********"),
    (re.compile(r"(://[^/:@\s]*:)[^@/\s]*@"), r"\1********@"),
]


def scrub(value: Any) -> Any:
    """A copy of ``value`` without secrets: keys that name one are dropped, conninfo
    strings have their password replaced. Reports are shared widely; passwords never are."""
    if isinstance(value, dict):
        return {str(k): scrub(v) for k, v in value.items() if not _SECRET_KEY.search(str(k))}
    if isinstance(value, list | tuple):
        return [scrub(v) for v in value]
    if isinstance(value, str):
        for pattern, repl in _SECRET_IN_TEXT:
            value = pattern.sub(repl, value)
        return value
    return value


def target_of(meta: dict[str, Any]) -> dict[str, Any]:
    """host, port, dbname, user of the audited server (never a password)."""
    t = meta.get("target") or {}
    if not isinstance(t, dict):
        t = {}
    port = t.get("port")
    try:
        port = int(port) if port not in (None, "") else None
    except (TypeError, ValueError):
        port = None
    return {
        "host": _str_or_none(t.get("host")),
        "port": port,
        "dbname": _str_or_none(t.get("dbname")),
        "user": _str_or_none(t.get("user") or meta.get("connected_user")),
    }


def target_label(meta: dict[str, Any]) -> str:
    t = target_of(meta)
    host = t["host"] or "localhost"
    where = f"{host}:{t['port']}" if t["port"] else host
    return f"{where}/{t['dbname']}" if t["dbname"] else where


def not_collected(meta: dict[str, Any]) -> list[dict[str, str | None]]:
    """Sources the collector could not read, then every database it did not read, each
    with its reason (rules needing them were not evaluated there, never passed).
    Databases outside an explicit --database selection are not listed."""
    out: list[dict[str, str | None]] = []
    sources = meta.get("sources") or {}
    if isinstance(sources, dict):
        for name in sorted(sources):
            src = sources[name]
            if isinstance(src, dict) and not src.get("collected"):
                out.append(
                    {
                        "source": str(name),
                        "database": None,
                        "reason": _str_or_none(src.get("reason")),
                    }
                )
    coverage = meta.get("coverage") or []
    for row in coverage if isinstance(coverage, list) else []:
        if (
            isinstance(row, dict)
            and row.get("source") == "database"
            and row.get("status") in ("not_collected", "not_connectable")
        ):
            out.append(
                {
                    "source": "database",
                    "database": _str_or_none(row.get("database")),
                    "reason": _str_or_none(row.get("reason")),
                }
            )
    return out


def not_collected_label(m: dict[str, str | None]) -> str:
    """``database "x"`` or the source name, for the "Not collected" lists."""
    if m.get("database") is not None:
        return f"database {m['database']}"
    return str(m.get("source"))


def _str_or_none(v: Any) -> str | None:
    return None if v is None else str(v)


def object_label(f: Finding) -> str:
    """The object a finding is about, in display form (not quoted for SQL)."""
    if f.object_identity:
        return f.object_identity
    if f.schema and f.object_name:
        return f"{f.schema}.{f.object_name}"
    if f.object_name:
        return f.object_name
    if f.role:
        return f.role
    return f.database or "(cluster)"


def where_label(f: Finding) -> str:
    """``<database>/<object>`` or ``cluster/<type>:<object>`` for cluster-wide objects."""
    obj = object_label(f)
    if f.database:
        return f"{f.database}/{obj}"
    return f"cluster/{f.object_type or 'object'}:{obj}"


@dataclass
class Summary:
    """Every number a report shows about a scan, computed once."""

    fail_on: str
    total: int = 0
    by_severity: dict[str, int] = field(default_factory=dict)  # active: not waived/baselined
    by_severity_all: dict[str, int] = field(default_factory=dict)
    by_status: dict[str, int] = field(default_factory=dict)
    gating: int = 0
    gating_by_severity: dict[str, int] = field(default_factory=dict)
    waived: int = 0
    expired_waivers: int = 0
    baseline_used: bool = False
    new: int = 0
    unchanged: int = 0
    updated: int = 0  # baselined, but the grant widened since: gates again
    resolved: int = 0
    requirements: dict[str, int] = field(default_factory=dict)
    outside: dict[str, Any] | None = None  # --framework: findings outside it (not gated)

    coverage_gaps: int = 0  # active coverage findings (PGR-COV-*) of medium or above

    @property
    def verdict(self) -> str:
        """fail (gating findings), incomplete (none gate, but part of the cluster was not
        read: never PASS) or pass."""
        if self.gating:
            return "fail"
        return "incomplete" if self.coverage_gaps else "pass"

    def verdict_detail(self) -> str:
        """The verdict's explanation, without the PASS/FAIL word."""
        if self.fail_on == "none":
            head = "gate disabled (--fail-on none)"
        elif self.gating:
            parts = ", ".join(f"{n} {s}" for s, n in self.gating_by_severity.items() if n)
            noun = "finding" if self.gating == 1 else "findings"
            head = f"{self.gating} {noun} at or above {self.fail_on} ({parts})"
        else:
            head = f"no findings at or above {self.fail_on}"
        if self.coverage_gaps:
            head += (
                f"; {self.coverage_gaps} coverage gap{'s' if self.coverage_gaps != 1 else ''}"
                " (part of the cluster was not read: see Not collected)"
            )
        errors = self.by_status.get("error", 0)
        if errors:
            head += f"; {errors} rule{'s' if errors != 1 else ''} could not be evaluated"
        return head

    def verdict_line(self) -> str:
        """One sentence for a banner or the last terminal line, e.g. ``FAIL: 3 findings ...``."""
        return f"{self.verdict.upper()}: {self.verdict_detail()}"

    def to_json(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "verdict_text": self.verdict_line(),
            "fail_on": self.fail_on,
            "total_findings": self.total,
            "by_severity": self.by_severity,
            "by_severity_all": self.by_severity_all,
            "by_rule_status": self.by_status,
            "gating": self.gating,
            "gating_by_severity": self.gating_by_severity,
            "waived": self.waived,
            "expired_waivers": self.expired_waivers,
            "baseline": (
                {
                    "new": self.new,
                    "unchanged": self.unchanged,
                    "updated": self.updated,
                    "resolved": self.resolved,
                }
                if self.baseline_used
                else None
            ),
            "requirements": self.requirements,
            "outside_framework": outside_json(self.outside),
        }


def summarize(result: ScanResult) -> Summary:
    """Count findings and rule statuses in one pass over the results."""
    s = Summary(fail_on=result.fail_on)
    s.by_severity = dict.fromkeys(SEVERITIES, 0)
    s.by_severity_all = dict.fromkeys(SEVERITIES, 0)
    s.gating_by_severity = dict.fromkeys(SEVERITIES, 0)
    s.by_status = dict.fromkeys(STATUSES, 0)
    for r in result.results:
        s.by_status[r.status] = s.by_status.get(r.status, 0) + 1
        if r.rule.category == "coverage":  # a low gap (password types) leaves PASS alone
            s.coverage_gaps += sum(
                1 for f in r.findings if f.gating and at_or_above(f.severity, "medium")
            )
        for f in r.findings:
            s.total += 1
            s.by_severity_all[f.severity] += 1
            if f.suppressed is not None:
                s.waived += 1
            if f.details.get("expired_waiver") and f.suppressed is None:
                s.expired_waivers += 1
            if f.baseline is not None:
                s.baseline_used = True
                if f.baseline == "new":
                    s.new += 1
                elif f.baseline == "unchanged":
                    s.unchanged += 1
                elif f.baseline == "updated":
                    s.updated += 1
            if f.gating:
                s.by_severity[f.severity] += 1
                if at_or_above(f.severity, result.fail_on):
                    s.gating += 1
                    s.gating_by_severity[f.severity] += 1
    if result.resolved:
        s.baseline_used = True
        s.resolved = len(result.resolved)
    s.requirements = dict(Counter(req.status for req in result.requirements))
    s.outside = result.outside_framework
    return s


def outside_json(outside: dict[str, Any] | None) -> dict[str, Any] | None:
    """The findings outside ``--framework`` for machine formats (critical ones listed)."""
    if not outside:
        return None
    return {
        "framework": outside["framework"],
        "total": outside["total"],
        "by_severity": outside["by_severity"],
        "critical": [
            {
                "fingerprint": f.fingerprint,
                "rule_id": f.rule_id,
                "database": f.database,
                "object": object_label(f),
                "role": f.role,
                "message": f.message,
                "waived": f.suppressed is not None,
            }
            for f in outside["critical"]
        ],
    }


def outside_lines(outside: dict[str, Any] | None) -> list[str]:
    """Plain lines (callers escape): the counts and each critical finding outside it."""
    if not outside:
        return []
    counts = ", ".join(f"{n} {sev}" for sev, n in outside["by_severity"].items() if n) or "none"
    out = [f"Outside framework {outside['framework']} (not gated): {counts}"]
    out += [f"CRITICAL {f.rule_id}  {where_label(f)}: {f.message}" for f in outside["critical"]]
    return out


def top_findings(result: ScanResult, n: int) -> list[Finding]:
    """The ``n`` worst active findings (not waived, not baselined): highest severity first,
    then by rule, database, object and role, so the list is stable between runs."""
    active = [f for f in result.findings if f.gating]
    active.sort(
        key=lambda f: (
            -SEVERITY_RANK[f.severity],
            f.rule_id,
            f.database or "",
            object_label(f),
            f.role or "",
        )
    )
    return active[:n]


def rule_counts(r: RuleResult, fail_on: str) -> dict[str, int]:
    """Per rule: findings, active (not waived or baselined), gating, waived, baselined."""
    out = {"findings": 0, "active": 0, "gating": 0, "waived": 0, "baselined": 0}
    for f in r.findings:
        out["findings"] += 1
        if f.suppressed is not None:
            out["waived"] += 1
        elif f.baseline == "unchanged":
            out["baselined"] += 1
        else:
            out["active"] += 1
            if at_or_above(f.severity, fail_on):
                out["gating"] += 1
    return out


def references(r: RuleResult) -> list[dict[str, Any]]:
    """The rule's references with only http(s) links kept."""
    return [
        {"kind": ref.kind, "text": ref.text, "url": safe_url(ref.url)} for ref in r.rule.references
    ]


def help_uri(r: RuleResult) -> str | None:
    """The first docs link, else the first link of any kind."""
    refs = references(r)
    for kind in ("docs", None):
        for ref in refs:
            if ref["url"] and (kind is None or ref["kind"] == kind):
                return ref["url"]
    return None
