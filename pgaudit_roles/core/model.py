"""The findings model: one shape that every reporter, baseline and waiver reads.

Rules (data files) produce rows; the engine turns each row into a ``Finding`` and each
rule into a ``RuleResult``; a ``ScanResult`` carries them with the snapshot's meta to the
reporters. Nothing here imports a heavy library.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

SEVERITIES: tuple[str, ...] = ("critical", "high", "medium", "low", "info")
SEVERITY_RANK: dict[str, int] = {s: i for i, s in enumerate(reversed(SEVERITIES))}
"""info=0 ... critical=4: higher is worse."""

STATUSES: tuple[str, ...] = ("pass", "fail", "incomplete", "skipped", "error")
"""``incomplete``: the rule found nothing where it looked, but a part of the cluster it
needs was not collected (``RuleResult.not_evaluated``), so it cannot pass."""
FIX_SAFETY: tuple[str, ...] = ("safe", "review", "manual")


def at_or_above(severity: str, threshold: str) -> bool:
    """True when ``severity`` gates at ``threshold`` (``none`` never gates)."""
    if threshold == "none":
        return False
    return SEVERITY_RANK[severity] >= SEVERITY_RANK[threshold]


@dataclass(frozen=True)
class Reference:
    """Where a rule comes from: the guide, a CIS item, PostgreSQL's documentation."""

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
    statement (pgaudit_roles/evaluate/statement_checks.py) instead of a ``query``; they never run on a
    snapshot."""
    covers: tuple[str, ...] = ()
    """Catalogue rules whose twin finding on the same statement this rule already reports."""
    draft: bool = False
    """Written by ``rules new`` and not finished: loaded and documented, never evaluated."""
    reported_by: str | None = None
    """Rules whose finding a command reports from what happened at run time, not from a
    snapshot (``fleet``: a target nobody could audit has no snapshot to query): no
    ``query`` and no ``check``; listed, documented, waivable and configurable like any
    rule, never evaluated by the engine."""

    @property
    def help_anchor(self) -> str:
        return self.id.lower()

    @property
    def on_snapshot(self) -> bool:
        """The engine evaluates it: a ``query`` rule (not lint's, not a command's own)."""
        return self.check is None and self.reported_by is None


def resolve_ids(rules: Iterable[Rule]) -> dict[str, str]:
    """Map every id and alias to the current rule id (aliases resolve to their rule).

    Here, with :class:`Rule`, not in ``evaluate.rules``: the configuration checks its rule
    ids with it, and a live scan reads its configuration before it forks the collection,
    without the rule loader's modules (``tests/test_pipeline_imports.py``)."""
    out: dict[str, str] = {}
    for r in rules:
        out[r.id] = r.id
        for a in r.aliases:
            out[a] = r.id
    return out


def fingerprint(
    rule_id: str,
    database: str | None,
    object_type: str | None,
    object_identity: str | None,
    role: str | None,
) -> str:
    """A stable identity for a finding: rule + where + what + who; never text or time.

    Fields are joined with a separator that cannot appear in PostgreSQL identifiers
    (NUL), so ("a", "b.c") and ("a.b", "c") cannot collide.
    """
    import hashlib  # loads OpenSSL (~3 ms): not at import, which every command pays

    parts = [rule_id, database or "", object_type or "", object_identity or "", role or ""]
    return hashlib.sha256("\x00".join(parts).encode("utf-8")).hexdigest()[:32]


_VOLATILE_PREFIXES = ("suggested_", "days_")
_VOLATILE_KEYS = frozenset({"oid", "expired_waiver"})


def evidence(details: dict[str, Any]) -> dict[str, Any]:
    """What a finding says about the catalog, without what changes on every run.

    OIDs differ in a restored copy and dates derived from the scan time move every night;
    neither is a change of who can do what, so neither may mark a finding "changed".
    """
    return {
        k: v
        for k, v in details.items()
        if k not in _VOLATILE_KEYS
        and not k.endswith("_oid")
        and not k.startswith(_VOLATILE_PREFIXES)
    }


def evidence_digest(details: dict[str, Any]) -> str:
    """A digest of :func:`evidence`: equal digests mean the finding says the same thing."""
    import hashlib  # see fingerprint
    import json

    text = json.dumps(evidence(details), sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def widening_evidence(details: dict[str, Any]) -> dict[str, list[str]]:
    """The list-valued evidence whose growth means more access: privilege lists and column
    lists (``table_privileges``, ``privileges``, ``columns``...). A baseline stores these so
    a later scan can tell "INSERT" from "INSERT, UPDATE, DELETE"."""
    out: dict[str, list[str]] = {}
    for k, v in evidence(details).items():
        if ("privilege" in k or k == "columns") and isinstance(v, list | tuple):
            out[k] = sorted(str(x) for x in v if x is not None)
    return out


def widened(old: dict[str, list[str]], new: dict[str, list[str]]) -> dict[str, list[list[str]]]:
    """key -> [old, new] for each widening list that gained an element."""
    out: dict[str, list[list[str]]] = {}
    for k, now in new.items():
        before = old.get(k) or []
        if set(now) - set(before):
            out[k] = [list(before), list(now)]
    return out


@dataclass
class Finding:
    """One thing a rule found: where, about what and whom, what to do, and its identity
    (:func:`fingerprint`) that waivers and baselines refer to."""

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
    baseline: str | None = None  # "new" | "unchanged" | "updated" | None when no baseline given
    previous: dict[str, Any] | None = None
    """The baseline's evidence when it widened since (``baseline == "updated"``): the
    reports show it beside the current evidence."""
    file: str | None = None  # lint: the migration file, line and column (1-based) it is about
    line: int | None = None
    column: int | None = None
    pre_existing: bool = False  # lint: already on the twin before the migrations ran

    def __post_init__(self) -> None:
        if not self.fingerprint:
            self.fingerprint = fingerprint(
                self.rule_id,
                self.database,
                self.object_type,
                self.object_identity or self.object_name,
                self.role,
            )

    @property
    def gating(self) -> bool:
        """Counts towards --fail-on: not waived and not accepted by a baseline (a baselined
        finding whose grant widened is "updated": the baseline no longer covers it)."""
        return self.suppressed is None and self.baseline != "unchanged" and not self.pre_existing

    @property
    def evidence_digest(self) -> str:
        return evidence_digest(self.details)


@dataclass
class RuleResult:
    """A rule's outcome in one evaluation, with its findings."""

    rule: Rule
    status: str  # pass | fail | skipped | error
    reason: str | None = None
    findings: list[Finding] = field(default_factory=list)
    severity: str | None = None  # effective severity after config overrides
    not_evaluated: list[dict[str, Any]] = field(default_factory=list)
    """Scopes the rule could not look at: {"database": name, "reason": why} for a database
    that was not collected, {"source": name, "reason": why} for a missing source."""

    @property
    def effective_severity(self) -> str:
        return self.severity or self.rule.severity


@dataclass
class RequirementResult:
    """One requirement of a compliance framework (go-live checklist, CIS)."""

    framework: str
    id: str
    title: str
    status: str  # pass | fail | incomplete | skipped | error | manual
    rules: tuple[str, ...] = ()
    note: str | None = None


@dataclass
class ScanResult:
    """Everything the reports are written from: the rules' results, the requirements,
    the gate, the baseline's resolved entries and the inventory."""

    meta: dict[str, Any]
    results: list[RuleResult]
    requirements: list[RequirementResult] = field(default_factory=list)
    fail_on: str = "high"
    resolved: list[dict[str, Any]] = field(default_factory=list)  # baseline entries now gone
    config_sources: dict[str, str] = field(default_factory=dict)
    outside_framework: dict[str, Any] | None = None
    """With ``--framework``: findings of the rules outside it, which do not gate but are
    never silent: ``{"framework", "by_severity", "total", "critical": [Finding...]}``."""
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
