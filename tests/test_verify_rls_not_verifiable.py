"""The twin verification does not claim row-level security fixes it cannot see.

The twin rebuilds no row-level security (ENABLE/FORCE, policies): every RLS finding is
absent there whatever the script does. On a CRM layout the header counted them as fixed,
and enabling RLS on the twin's policy-less copy of a table reported PGR-RLS-006 as a new
finding ("converged: NO"). Pure logic: :func:`verify._judge` on synthetic results.
"""

from __future__ import annotations

from pgaudit_roles.core.model import Finding, Rule, RuleResult, ScanResult
from pgaudit_roles.twin import verify


def _rule(rule_id: str, requires: tuple[str, ...]) -> Rule:
    return Rule(
        id=rule_id,
        title="t",
        severity="high",
        category="c",
        rationale="r",
        query="SELECT 1",
        message="m",
        requires=requires,
    )


RULES = {
    "PGR-RLS-001": ("objects", "policies"),
    "PGR-RLS-006": ("objects", "policies"),
    "PGR-PRIV-005": ("objects",),
}


def _result(findings: list[Finding]) -> ScanResult:
    by_rule: dict[str, list[Finding]] = {r: [] for r in RULES}
    for f in findings:
        by_rule[f.rule_id].append(f)
    return ScanResult(
        meta={"target": {"host": "db1", "port": 5432, "dbname": "postgres"}},
        results=[
            RuleResult(_rule(r, RULES[r]), "fail" if fs else "pass", findings=fs)
            for r, fs in by_rule.items()
        ],
    )


def test_rls_findings_are_not_verifiable_on_the_twin() -> None:
    rls = Finding(
        "PGR-RLS-001",
        "high",
        "m",
        database="crm",
        object_name="files",
        object_identity="crm.files",
        role="db_owner_crm",
        remediation="ALTER TABLE crm.files ENABLE ROW LEVEL SECURITY;",
    )
    priv = Finding(
        "PGR-PRIV-005",
        "high",
        "m",
        database="shop",
        object_name="orders",
        object_identity="public.orders",
        remediation="REVOKE ALL ON TABLE public.orders FROM PUBLIC;",
    )
    before = _result([rls, priv])
    # on the twin: neither is left, and RLS-006 shows up for the policy-less copy
    appeared = Finding(
        "PGR-RLS-006",
        "info",
        "m",
        database="crm",
        object_name="files",
        object_identity="crm.files",
        role="db_owner_crm",
    )
    after = _result([appeared])
    v = verify.Verification(level="safe", verified=True)
    verify._judge(v, before, after, "safe")
    assert v.fixed == 1  # the PUBLIC revoke, which the twin did show
    assert v.left_twin_blind == 1
    assert v.new == [] and v.converged
    head = "\n".join(v.header_lines())
    assert "findings fixed: 1;" in head
    assert "1 row-level security (not verifiable: the twin has no policies)" in head
