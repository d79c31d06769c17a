"""What the fleet knows about each target after the run, and the fleet-wide verdict.

A target that could not be audited (down, refusing, timed out, crashed) gets a ScanResult
of its own all the same: one high finding of PGR-FLEET-001 saying why, and every rule
*skipped* with that reason. So every reporter, waiver and gate treats it exactly like a
coverage gap of a scanned cluster (it gates, it can be waived, it is never a pass), and
the combined reports need no special case to show it.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..collect.connect import parse_conninfo
from ..core import resources
from ..core.errors import EXIT_COLLECTION, EXIT_FINDINGS, EXIT_OK
from ..core.model import (
    SEVERITIES,
    SEVERITY_RANK,
    Finding,
    Rule,
    RuleResult,
    ScanResult,
    at_or_above,
)
from ..core.signals import EXIT_SIGINT, EXIT_SIGTERM
from ..evaluate import waivers as waivers_mod
from ..evaluate.messages import render_message
from ..evaluate.rules import find_rule, load_rule_file, resolve_ids
from ..reports.common import summarize

if TYPE_CHECKING:
    from ..config import Config
    from .inventory import Target

FLEET_RULE_ID = "PGR-FLEET-001"

STATUSES = ("audited", "unreachable", "timeout", "error", "interrupted", "not_run")
"""audited: collected and evaluated (its own findings say the rest); unreachable: the
collector could not connect or read any database; timeout: the per-target limit passed;
error: anything else stopped it (a bad per-target setting, a crash); interrupted: still
running when the run was stopped (Ctrl-C, SIGTERM); not_run: never started (stopped
before its turn)."""

NOT_AUDITED = ("unreachable", "timeout", "error")
"""Statuses that are findings (PGR-FLEET-001): the target was due and was not audited."""


def target_rule(rules: Sequence[Rule] = ()) -> Rule:
    """PGR-FLEET-001 as loaded from ``rules/`` (``reported_by = "fleet"``: no snapshot can
    hold its evidence, there is no snapshot of a cluster nobody reached, so the fleet
    reports it itself). From ``rules`` when they hold it, else read from the file."""
    found = find_rule(rules, FLEET_RULE_ID)
    if found is not None:
        return found
    return load_rule_file(resources.rules_dir() / f"{FLEET_RULE_ID}.toml", origin="builtin")


@dataclass
class TargetOutcome:
    """One target's run. ``result`` is None only for interrupted and not_run targets."""

    target: Target
    status: str
    reason: str | None = None
    result: ScanResult | None = None
    label: str = ""
    duration_s: float = 0.0
    reports: dict[str, str] = field(default_factory=dict)
    """format -> path relative to the fleet output directory."""
    snapshot: str | None = None
    peak_rss_kb: int | None = None

    @property
    def gating(self) -> list[Finding]:
        return self.result.gating_findings() if self.result is not None else []

    def counts(self) -> dict[str, int]:
        """Active (not waived, not baselined) findings by severity."""
        if self.result is None:
            return dict.fromkeys(SEVERITIES, 0)
        return self.result.counts_by_severity()

    def verdict(self) -> str:
        if self.result is None:
            return "not_run"

        return summarize(self.result).verdict


@dataclass
class FleetResult:
    inventory: str
    inventory_kind: str
    outcomes: list[TargetOutcome]
    fail_on: str
    started_at: dt.datetime
    finished_at: dt.datetime
    selection: list[str] = field(default_factory=list)
    shard: str | None = None
    parallel: int = 1
    jobs: int | None = None
    interrupted: str | None = None  # "SIGINT" | "SIGTERM" when the run was stopped
    environments: list[dict[str, Any]] = field(default_factory=list)
    environment_notes: list[str] = field(default_factory=list)
    total_in_inventory: int = 0

    @property
    def incomplete(self) -> bool:
        """Not every selected target was audited: never read as a clean fleet."""
        return self.interrupted is not None or any(o.status != "audited" for o in self.outcomes)

    def by_status(self) -> dict[str, int]:
        c = Counter(o.status for o in self.outcomes)
        return {s: c.get(s, 0) for s in STATUSES}

    def gating_total(self) -> int:
        return sum(len(o.gating) for o in self.outcomes)

    def severity_totals(self) -> dict[str, int]:
        out = dict.fromkeys(SEVERITIES, 0)
        for o in self.outcomes:
            for s, n in o.counts().items():
                out[s] += n
        return out

    def verdict(self) -> str:
        """fail: a gating finding on some target; incomplete: none, but a target was not
        audited, a target's own verdict is incomplete (a database it could not read), or
        the run was stopped; pass: every target audited and passed."""
        if self.gating_total():
            return "fail"
        if self.incomplete or any(o.verdict() != "pass" for o in self.outcomes):
            return "incomplete"
        return "pass"

    def exit_code(self) -> int:
        """The fleet gate (README "Fleet"): 130/143 when stopped; 3 when no target could
        be audited at all; 1 when any target has a finding at or above its --fail-on
        (a target not audited is such a finding, high, unless waived or gated out);
        else 0."""

        if self.interrupted == "SIGTERM":
            return EXIT_SIGTERM
        if self.interrupted is not None:
            return EXIT_SIGINT
        if self.outcomes and not any(o.status == "audited" for o in self.outcomes):
            return EXIT_COLLECTION
        return EXIT_FINDINGS if self.gating_total() else EXIT_OK

    def worst(self, limit: int = 25) -> list[tuple[TargetOutcome, Finding]]:
        """The most severe active findings across the fleet (severity, then how many
        targets share the rule, then target and message for a stable order)."""
        spread = Counter(rule for rule, targets in self.rule_spread().items() for _ in targets)
        rows = [
            (o, f)
            for o in self.outcomes
            if o.result is not None
            for f in o.result.findings
            if f.gating
        ]
        rows.sort(
            key=lambda x: (
                -SEVERITY_RANK[x[1].severity],
                -spread.get(x[1].rule_id, 0),
                x[0].target.name,
                x[1].rule_id,
                x[1].message,
            )
        )
        return rows[:limit]

    def rule_spread(self) -> dict[str, list[str]]:
        """rule id -> names of the targets where it has an active finding."""
        out: dict[str, list[str]] = {}
        for o in self.outcomes:
            if o.result is None:
                continue
            for r in o.result.results:
                if any(f.gating for f in r.findings):
                    out.setdefault(r.rule.id, []).append(o.target.name)
        return out

    def rule_rows(self) -> list[dict[str, Any]]:
        """Rules failing on at least one target, most widespread first."""
        info: dict[str, dict[str, Any]] = {}
        for o in self.outcomes:
            if o.result is None:
                continue
            for r in o.result.results:
                active = [f for f in r.findings if f.gating]
                if not active:
                    continue
                row = info.setdefault(
                    r.rule.id,
                    {
                        "rule_id": r.rule.id,
                        "title": r.rule.title,
                        "severity": r.effective_severity,
                        "category": r.rule.category,
                        "targets": [],
                        "findings": 0,
                    },
                )
                row["targets"].append(o.target.name)
                row["findings"] += len(active)

        return sorted(
            info.values(),
            key=lambda x: (-len(x["targets"]), -SEVERITY_RANK[x["severity"]], x["rule_id"]),
        )


def conninfo_target(conninfo: str) -> dict[str, Any]:
    """host, port, dbname, user (and service) of a conninfo, never the password."""
    try:
        params = parse_conninfo(conninfo)
    except Exception:
        return {}
    return {
        k: params.get(k) for k in ("host", "port", "dbname", "user", "service") if params.get(k)
    }


def not_audited_result(
    target: Target, status: str, reason: str, rules: Sequence[Rule], cfg: Config, label: str
) -> ScanResult:
    """The ScanResult of a target that was not audited (see the module docstring)."""
    rule = target_rule(rules)
    severity = cfg.severity.get(FLEET_RULE_ID, rule.severity)
    what = {"unreachable": "unreachable", "timeout": "timed out", "error": "audit failed"}[status]
    details = {"target": target.name, "status": status, "reason": reason, "where": label}
    finding = Finding(
        rule_id=FLEET_RULE_ID,
        severity=severity,
        message=render_message(rule.message, {**details, "what": what}),
        object_type=rule.object_type,
        object_name=target.name,
        object_identity=target.name,
        manual=rule.manual,
        details=details,
    )
    skipped = f"target not audited ({what}): {reason}"
    if FLEET_RULE_ID in cfg.disabled:
        disabled = f"disabled by config ({cfg.sources.get('rules.disable', 'config')})"
        results = [RuleResult(rule=rule, status="skipped", reason=disabled, severity=severity)]
    else:
        results = [RuleResult(rule=rule, status="fail", findings=[finding], severity=severity)]
    results += [
        RuleResult(rule=r, status="skipped", reason=skipped, severity=cfg.severity.get(r.id))
        for r in rules
        if r.reported_by is None
    ]
    meta: dict[str, Any] = {
        "target": conninfo_target(target.conninfo),
        "target_label": target.name,
        "target_name": target.name,
        "fleet_target": target.attributes(),
        "fleet_status": status,
        "collected_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "sources": {},
        "databases": [],
    }
    result = ScanResult(
        meta=meta, results=results, fail_on=cfg.fail_on, config_sources=dict(cfg.sources)
    )
    if cfg.waivers is not None and FLEET_RULE_ID not in cfg.disabled:
        ids = resolve_ids([*rules, rule])
        waivers_mod.apply([finding], waivers_mod.load(cfg.waivers), ids)
    return result


def at_fail_on(findings: Sequence[Finding], fail_on: str) -> list[Finding]:
    return [f for f in findings if f.gating and at_or_above(f.severity, fail_on)]
