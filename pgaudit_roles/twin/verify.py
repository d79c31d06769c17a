"""Remediation proven on a twin before a user runs it, with follow-up fixes folded in.

Why: a fix can create a finding of its own. Moving a schema to its owner role leaves the
schema without that role's default privileges; stripping SUPERUSER can put a role outside
the naming policy; revoking a role's last grant can leave it unused. A script that fixes
ten findings and creates three loses the DBA's trust. So the script is applied to a twin
of the scanned snapshot (:mod:`pgaudit_roles.twin`), the twin is collected and evaluated
with the same rules and configuration, and findings that appear only because of earlier
fixes are added to the script (their statements fall into the script's phases like any
other) until nothing new appears, for at most ``max_rounds`` rounds. When follow-ups were
folded in, the completed script is applied once more, whole and in script order, to a
fresh twin: what the header reports is that run.

A statement the twin refuses is not emitted: its finding is listed with the server's
error. The header says what was verified (fixed, left, new, the twin's version) or why
the script is unverified.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..core.sqlquote import quote_ident
from ..pipeline import evaluate_snapshot
from ..reports.sql_script import execution_plan
from . import TwinError, build_twin

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from ..collect.snapshot import Snapshot
    from ..config import Config
    from ..core.localpg import PgInstall
    from ..core.model import Finding, Rule, ScanResult
    from . import Twin

MAX_ROUNDS = 4

TWIN_BLIND_SOURCES = frozenset({"policies"})
"""Sources the twin does not rebuild: row-level security (ENABLE/FORCE and the policies,
whose expressions need the tables' real columns and functions). A finding of a rule that
reads them is absent from the twin whatever the script does, so it is neither *fixed* nor
*new* there: it is counted as not verifiable (seen on a layout where enabling row-level
security on the twin's policy-less copy of a table made PGR-RLS-006 appear, and every
RLS finding counted as fixed)."""


@dataclass
class Verification:
    """What the twin proved about the script (read by the SQL reporter's header)."""

    level: str
    verified: bool = False
    unverified_reason: str | None = None
    twin_version: str | None = None
    rounds: int = 0
    converged: bool = False
    problems: list[str] = field(default_factory=list)
    followups: list[Finding] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # fingerprint -> server error
    withheld: dict[str, str] = field(default_factory=dict)  # fingerprint -> why (level safe)
    fixed: int = 0
    left_manual: int = 0
    left_destructive: int = 0
    left_unverifiable: int = 0  # fixed by ALTER SYSTEM: server settings are carried over
    left_twin_blind: int = 0  # row-level security: the twin has none (TWIN_BLIND_SOURCES)
    left_other: list[Finding] = field(default_factory=list)
    new: list[Finding] = field(default_factory=list)
    seconds: float = 0.0

    def script_findings(
        self, result: ScanResult
    ) -> tuple[list[Finding], list[tuple[Finding, str]]]:
        """Findings the script is written from (the scan's plus the follow-ups), and the
        ones left out because a statement failed on the twin, with the error."""
        every = [*result.findings, *self.followups]
        out = {**self.failed, **self.withheld}
        keep = [f for f in every if f.fingerprint not in out]
        failed = [(f, out[f.fingerprint]) for f in every if f.fingerprint in out]
        return keep, failed

    def header_lines(self) -> list[str]:
        if not self.verified:
            return [f"verified:  no ({self.unverified_reason or 'not run'})"]
        left = (
            self.left_manual
            + self.left_destructive
            + self.left_unverifiable
            + self.left_twin_blind
            + len(self.left_other)
        )
        out = [
            f"verified:  yes, on a twin of the snapshot (PostgreSQL {self.twin_version}, "
            f"{self.seconds:.1f} s): applied, re-collected, re-evaluated",
            f"           findings fixed: {self.fixed}; left: {left} ({self.left_manual} "
            f"manual, {self.left_destructive} destructive at level {self.level}, "
            f"{self.left_unverifiable} server settings (ALTER SYSTEM: not verifiable, the "
            f"twin carries the source's settings), {self.left_twin_blind} row-level security "
            f"(not verifiable: the twin has no policies), {len(self.left_other)} other); "
            f"new findings: {len(self.new)}",
            f"           follow-up fixes folded in: {len(self.followups)} "
            f"(rounds: {self.rounds}); fixes that failed on the twin: {len(self.failed)}; "
            f"withheld at this level: {len(self.withheld)}",
        ]
        if self.converged:
            out.append("           converged: yes (applying this script leaves no new finding)")
        else:
            out.append("           converged: NO - " + "; ".join(self.problems[:5]))
        for f in self.new[:10]:
            out.append(
                f"           new: [{f.rule_id}] {f.object_identity or f.object_name or ''}"
                f"{' role ' + f.role if f.role else ''}"
            )
        for f in self.left_other[:10]:
            out.append(
                f"           left (its fix did not clear it): [{f.rule_id}] "
                f"{f.object_identity or f.object_name or ''}"
            )
        return out


def unverified(level: str, reason: str) -> Verification:
    return Verification(level=level, unverified_reason=reason)


def _apply(
    twin: Twin, result: ScanResult, findings: list[Finding], level: str, failed: dict[str, str]
) -> None:
    """Run the script's statements for ``findings`` on the twin, section by section, as
    psql would. A finding whose statement fails is recorded and dropped, and the script
    is run again without it: sections that committed are re-run, which changes nothing
    (GRANT, REVOKE, OWNER TO and default privileges are idempotent)."""
    import psycopg

    for _attempt in range(len(findings) + 1):
        live = [f for f in findings if f.fingerprint not in failed]
        failure = False
        for sec in execution_plan(result, live, level):
            if not sec.statements:
                continue
            with psycopg.connect(twin.conninfo(sec.database), autocommit=True) as conn:
                if not sec.transaction:
                    for f, stmt, _d in sec.statements:
                        try:
                            conn.execute(stmt.encode("utf-8"))
                        except psycopg.Error as exc:
                            failed[f.fingerprint] = _first_line(exc)
                    continue
                try:
                    with conn.transaction():
                        for f, stmt, _d in sec.statements:
                            try:
                                conn.execute(stmt.encode("utf-8"))
                            except psycopg.Error as exc:
                                failed[f.fingerprint] = _first_line(exc)
                                raise
                except psycopg.Error:
                    failure = True
                    break
        if not failure:
            return


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _active(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.suppressed is None]


def verify_remediation(
    snap: Snapshot,
    rules: Sequence[Rule],
    cfg: Config,
    result: ScanResult,
    level: str,
    *,
    install: PgInstall | None = None,
    max_rounds: int = MAX_ROUNDS,
    progress: Callable[[str], None] | None = None,
) -> Verification:
    """Verify (and complete) the remediation script of ``result`` on twins of ``snap``.

    At level ``safe`` a fix whose effect only a destructive fix can clean up (revoking a
    group role's last grant leaves it unused, and DROP ROLE is destructive) is withheld:
    the safe script must not leave a new finding behind. It is listed with the reason,
    and emitted at level ``all``, where the follow-up DROP is emitted too.

    A script with no statement to apply still gets its twin (the CLI skips verification
    only when no finding has a fix, ``commands._shared``): the answer is the twin's
    re-evaluation, which the scan cannot stand in for. What the twin reproduces decides
    the counts, its own findings become follow-ups or new findings, its version is
    reported, and a twin that cannot be built makes the script unverified. Measured: the
    demo's PostgreSQL 18 snapshot with every fix removed gives, on twins of 13, 14 and 15,
    follow-ups folded in (and on 14 and 15 two new findings, not converged); on 16-18 none.
    """
    say = progress or (lambda _m: None)
    started = time.monotonic()
    v = Verification(level=level)
    folded: dict[str, Finding] = {}
    after: ScanResult | None = None
    fresh_needed = False
    for _attempt in range(3):
        try:
            twin = build_twin(snap, install=install)
        except TwinError as exc:
            return unverified(level, f"no twin: {exc}")
        with twin:
            v.twin_version = twin.server_version
            after, folded = _rounds(twin, snap, rules, cfg, result, level, v, max_rounds, say)
        causes = _causes_to_withhold(result, folded, after, level, v) if level != "all" else {}
        if not causes:
            break
        v.withheld.update(causes)
        fresh_needed = False
    else:
        fresh_needed = True
    v.followups = list(folded.values())
    if folded or fresh_needed:  # the completed script, whole and in script order, on a fresh twin
        say("verifying the completed script on a fresh twin")
        try:
            fresh = build_twin(snap, install=install)
        except TwinError as exc:
            return unverified(level, f"no twin: {exc}")
        with fresh:
            findings, _failed = v.script_findings(result)
            _apply(fresh, result, [f for f in _active(findings) if f.remediation], level, v.failed)
            after = _evaluate(fresh, rules, cfg)
    assert after is not None
    _judge(v, result, after, level)
    v.verified = True
    v.seconds = time.monotonic() - started
    return v


def _twin_blind(result: ScanResult) -> set[str]:
    """Ids of the rules whose findings the twin cannot reproduce (TWIN_BLIND_SOURCES)."""
    return {rr.rule.id for rr in result.results if TWIN_BLIND_SOURCES & set(rr.rule.requires)}


def _evaluate(twin: Twin, rules: Sequence[Rule], cfg: Config) -> ScanResult:
    return evaluate_snapshot(twin.collect(), rules, cfg, inventory=False)


def _rounds(
    twin: Twin,
    snap: Snapshot,
    rules: Sequence[Rule],
    cfg: Config,
    result: ScanResult,
    level: str,
    v: Verification,
    max_rounds: int,
    say: Callable[[str], None],
) -> tuple[ScanResult, dict[str, Finding]]:
    base = {f.fingerprint for f in result.findings}
    blind = _twin_blind(result)
    folded: dict[str, Finding] = {}
    batch = [
        f for f in _active(result.findings) if f.remediation and f.fingerprint not in v.withheld
    ]
    after: ScanResult | None = None
    for rnd in range(1, max_rounds + 1):
        v.rounds = rnd
        say(f"verifying the remediation on a twin (round {rnd})")
        _apply(twin, result, batch, level, v.failed)
        after = _evaluate(twin, rules, cfg)
        new = [
            f
            for f in _active(after.findings)
            if f.fingerprint not in base and f.fingerprint not in folded and f.rule_id not in blind
        ]
        fixable = [f for f in new if f.remediation and f.fingerprint not in v.failed]
        if not fixable:
            break
        for f in fixable:
            folded[f.fingerprint] = f
        batch = fixable
    else:
        v.problems.append(f"still finding follow-ups after {max_rounds} rounds")
    assert after is not None
    return after, folded


def _causes_to_withhold(
    result: ScanResult, folded: dict[str, Finding], after: ScanResult, level: str, v: Verification
) -> dict[str, str]:
    """Fixes to withhold at a non-destructive level: those naming the role of a follow-up
    finding that only a destructive fix clears (found on the twin after the fixes)."""
    now = {f.fingerprint for f in _active(after.findings)}
    stuck = [f for fp, f in folded.items() if fp in now and _left_out(f, result, level)]
    applied = [
        f for f in _active(result.findings) if f.remediation and f.fingerprint not in v.withheld
    ]
    out: dict[str, str] = {}
    for f in stuck:
        if not f.role:
            continue
        ident = quote_ident(f.role)
        for g in applied:
            if (
                g.fingerprint not in out
                and ident in (g.remediation or "")
                and not _left_out(g, result, level)
            ):
                out[g.fingerprint] = (
                    f"withheld at level {level}: applying it leaves "
                    f"[{f.rule_id}] for role {f.role}, which only a "
                    "destructive fix clears (--remediation-level all)"
                )
    return out


def _judge(v: Verification, result: ScanResult, after: ScanResult, level: str) -> None:
    blind = _twin_blind(result)
    now = {f.fingerprint: f for f in _active(after.findings) if f.rule_id not in blind}
    folded = {f.fingerprint: f for f in v.followups}
    for f in _active(result.findings):
        if f.rule_id in blind:
            if f.remediation and f.fingerprint not in v.failed and f.fingerprint not in v.withheld:
                v.left_twin_blind += 1
            elif not f.remediation:
                v.left_manual += 1
            continue
        if f.fingerprint not in now:
            if f.remediation:
                v.fixed += 1
            continue
        if f.fingerprint in v.failed or f.fingerprint in v.withheld:
            continue
        if not f.remediation:
            v.left_manual += 1
        elif _server_settings_only(f, result):
            v.left_unverifiable += 1
        elif _left_out(f, result, level):
            v.left_destructive += 1
        else:
            v.left_other.append(f)
    base = {f.fingerprint for f in result.findings}
    for fp, f in now.items():
        if fp in base:
            continue
        if fp in folded and _left_out(folded[fp], result, level):
            v.left_destructive += 1
            v.problems.append(
                f"[{f.rule_id}] appears after the fixes and only a destructive "
                "fix clears it (--remediation-level all)"
            )
        v.new.append(f)
    if v.new:
        v.problems.append(f"{len(v.new)} finding(s) appear after the fixes")
    if v.left_other:
        v.problems.append(f"{len(v.left_other)} finding(s) with a fix are still reported")
    if v.failed:
        v.problems.append(f"{len(v.failed)} fix(es) failed on the twin (listed, not emitted)")
    v.converged = (
        not v.new
        and not v.left_other
        and not v.failed
        and not any("max_rounds" in p or "rounds" in p for p in v.problems)
    )


def _left_out(f: Finding, result: ScanResult, level: str) -> bool:
    """Whether the script leaves (part of) ``f``'s fix out at ``level`` (destructive)."""
    if level == "all" or not f.remediation:
        return False

    every = {s for sec in execution_plan(result, [f], "all") for _f, s, _d in sec.statements}
    run = {s for sec in execution_plan(result, [f], level) for _f, s, _d in sec.statements}
    return every != run


def _server_settings_only(f: Finding, result: ScanResult) -> bool:
    """A fix made only of ALTER SYSTEM: the twin's settings are the source's (carried)."""
    secs = [sec for sec in execution_plan(result, [f], "all") if sec.statements]
    return bool(secs) and all(not sec.transaction for sec in secs)
