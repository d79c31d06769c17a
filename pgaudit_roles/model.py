"""The findings model: one shape that every reporter, baseline and waiver reads.

Rules (data files) produce rows; the engine turns each row into a ``Finding`` and each
rule into a ``RuleResult``; a ``ScanResult`` carries them with the snapshot's meta to the
reporters. Nothing here imports a heavy library.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

SEVERITIES: tuple[str, ...] = ("critical", "high", "medium", "low", "info")
SEVERITY_RANK: dict[str, int] = {s: i for i, s in enumerate(reversed(SEVERITIES))}
"""info=0 ... critical=4: higher is worse."""

STATUSES: tuple[str, ...] = ("pass", "fail", "skipped", "error")
FIX_SAFETY: tuple[str, ...] = ("safe", "review", "manual")


def at_or_above(severity: str, threshold: str) -> bool:
    """True when ``severity`` gates at ``threshold`` (``none`` never gates)."""
    if threshold == "none":
        return False
    return SEVERITY_RANK[severity] >= SEVERITY_RANK[threshold]


@dataclass(frozen=True)
class Reference:
    kind: str  # guide | cis | docs | other
    text: str
    url: str | None = None


@dataclass
class Rule:
    """A rule as loaded from ``rules/<ID>.toml``; see docs for each field."""

    id: str
    title: str
    severity: str
    category: str
    rationale: str
    query: str
    message: str
    remediation: str | None = None
    manual: str | None = None
    fix_safety: str = "review"
    destructive: bool = False
    aliases: tuple[str, ...] = ()
    references: tuple[Reference, ...] = ()
    requires: tuple[str, ...] = ()
    min_server_version: int = 130000
    object_type: str = "role"
    tags: tuple[str, ...] = ()
    path: str = ""
    origin: str = "builtin"  # builtin | user
    check: str | None = None
    """Statement rules (``lint``): the name of a predicate over one parsed migration
    statement (pgaudit_roles/lint/checks.py) instead of a ``query``; they never run on a
    snapshot."""
    covers: tuple[str, ...] = ()
    """Catalogue rules whose twin finding on the same statement this rule already reports."""

    @property
    def help_anchor(self) -> str:
        return self.id.lower()


def fingerprint(rule_id: str, database: str | None, object_type: str | None,
                object_identity: str | None, role: str | None) -> str:
    """A stable identity for a finding: rule + where + what + who; never text or time.

    Fields are joined with a separator that cannot appear in PostgreSQL identifiers
    (NUL), so ("a", "b.c") and ("a.b", "c") cannot collide.
    """
    parts = [rule_id, database or "", object_type or "", object_identity or "", role or ""]
    return hashlib.sha256("\x00".join(parts).encode("utf-8")).hexdigest()[:32]


@dataclass
class Finding:
    rule_id: str
    severity: str
    message: str
    database: str | None = None
    object_type: str | None = None
    schema: str | None = None
    object_name: str | None = None
    object_identity: str | None = None  # display form, e.g. app."Orders" or f(integer)
    role: str | None = None
    remediation: str | None = None  # SQL, already rendered and parse-checked
    manual: str | None = None  # written procedure when there is no safe SQL
    destructive: bool = False
    details: dict[str, Any] = field(default_factory=dict)
    fingerprint: str = ""
    suppressed: dict[str, Any] | None = None  # {"kind": "waiver", "reason", "owner", "expires"}
    baseline: str | None = None  # "new" | "unchanged" | None when no baseline given
    file: str | None = None  # lint: the migration file, line and column (1-based) it is about
    line: int | None = None
    column: int | None = None
    pre_existing: bool = False  # lint: already on the twin before the migrations ran

    def __post_init__(self) -> None:
        if not self.fingerprint:
            self.fingerprint = fingerprint(self.rule_id, self.database, self.object_type,
                                           self.object_identity or self.object_name, self.role)

    @property
    def gating(self) -> bool:
        """Counts towards --fail-on: not waived and not accepted by a baseline."""
        return (self.suppressed is None and self.baseline != "unchanged"
                and not self.pre_existing)


@dataclass
class RuleResult:
    rule: Rule
    status: str  # pass | fail | skipped | error
    reason: str | None = None
    findings: list[Finding] = field(default_factory=list)
    severity: str | None = None  # effective severity after config overrides

    @property
    def effective_severity(self) -> str:
        return self.severity or self.rule.severity


@dataclass
class RequirementResult:
    """One requirement of a compliance framework (go-live checklist, CIS)."""

    framework: str
    id: str
    title: str
    status: str  # pass | fail | skipped | error | manual
    rules: tuple[str, ...] = ()
    note: str | None = None


@dataclass
class ScanResult:
    meta: dict[str, Any]
    results: list[RuleResult]
    requirements: list[RequirementResult] = field(default_factory=list)
    fail_on: str = "high"
    resolved: list[dict[str, Any]] = field(default_factory=list)  # baseline entries now gone
    config_sources: dict[str, str] = field(default_factory=dict)
    inventory: dict[str, Any] = field(default_factory=dict)
    """Facts for the human reports beyond findings: roles (attributes), memberships, and
    per login role a summary of effective privileges (filled by the engine from DuckDB)."""

    @property
    def findings(self) -> list[Finding]:
        return [f for r in self.results for f in r.findings]

    def gating_findings(self) -> list[Finding]:
        return [f for f in self.findings if f.gating and at_or_above(f.severity, self.fail_on)]

    def counts_by_severity(self) -> dict[str, int]:
        out = dict.fromkeys(SEVERITIES, 0)
        for f in self.findings:
            if f.gating:
                out[f.severity] += 1
        return out

    def counts_by_status(self) -> dict[str, int]:
        out = dict.fromkeys(STATUSES, 0)
        for r in self.results:
            out[r.status] += 1
        return out
