"""Fix-and-rescan acceptance test (issue 5), on a real server of every version 13-18.

For each version, on a dedicated server per remediation level:

1. build the demo layout with its deliberate mistakes (pgaudit_roles/demo/layout.sql), scan
   it as the pg_monitor auditor with the demo config, write the remediation script;
2. apply the script with psql as a superuser, as its header tells users to;
3. scan again: every finding that had SQL is gone, no new finding appears (fingerprints),
   and applying the script a second time succeeds and changes nothing;
4. log in as the application's roles (real password logins over TCP) and check they can
   still do what the production role guide says: writer DML on the app tables, reader
   SELECT and no writes, deploy DDL through SET ROLE to the owner role, whose default
   privileges let the writer use the new table;
5. at level ``safe``: destructive statements are listed as omitted, never run, and the
   app still works after the safe script.

A failure here is a real bug in a rule's remediation (or a missing rule): the test is not
to be relaxed to make it pass. The rule catalogue grows; the test asserts properties of
whatever rules exist, never a fixed list of findings.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from subprocess import CompletedProcess
from typing import Any

import pytest
from conftest import ARTIFACTS, VERSIONS, install_for
from fixrescan_support import (
    APPS,
    DML,
    READERS,
    WRITES,
    Capabilities,
    DemoCluster,
    Scan,
    app_relations,
    apply_script,
    capabilities,
    catalog_state,
    deploy_ddl,
    destructive_by_parse_tree,
    executable_statements,
    group_privileges,
    login_roles,
    marked_destructive,
    omitted_statements,
    scan,
    start_demo,
    state_diff,
    writer_workload,
)

pytestmark = pytest.mark.pg


@dataclass
class FixRun:
    """Everything one level's fix-and-rescan produced, for the tests to judge."""

    dc: DemoCluster
    level: str
    logins: set[str]  # login roles before the fix (for the destructive check)
    readers_before: Capabilities
    writer_groups_before: dict[str, set[tuple[str, str, str]]]
    before: Scan
    applied: CompletedProcess[str]
    state1: dict[str, list[tuple]] = field(default_factory=dict)
    reapplied: CompletedProcess[str] | None = None
    state2: dict[str, list[tuple]] = field(default_factory=dict)
    after: Scan | None = None


def _reader_capabilities(dc: DemoCluster) -> Capabilities:
    caps: Capabilities = {}
    for reader, apps in READERS.items():
        for app in apps:
            caps.update(capabilities(dc, reader, app, DML))
    return caps


def _fix_and_rescan(dc: DemoCluster, level: str) -> FixRun:
    run = FixRun(
        dc=dc,
        level=level,
        logins=login_roles(dc),
        readers_before=_reader_capabilities(dc),
        writer_groups_before={app: group_privileges(dc, f"db_writer_{app}", app) for app in APPS},
        before=scan(dc, f"{level}-before", level),
        applied=CompletedProcess([], -1),
    )
    run.applied = apply_script(dc, run.before.script, f"{level}-remediation.sql")
    if run.applied.returncode != 0:
        return run
    run.state1 = catalog_state(dc)
    run.reapplied = apply_script(dc, run.before.script, f"{level}-remediation-again.sql")
    run.state2 = catalog_state(dc)
    run.after = scan(dc, f"{level}-after", level, verify=False)  # its script is not read
    return run


def _write_record(run: FixRun) -> None:
    """What happened, for humans: timings and the findings left for manual work."""
    ARTIFACTS.mkdir(exist_ok=True)
    lines = [f"fix-and-rescan, PostgreSQL {run.dc.cluster.install.version}, level {run.level}"]
    lines += [f"  {k}: {v:.1f} s" for k, v in run.dc.timings.items()]
    if run.after is not None:
        left = [f for f in run.after.findings if f["fingerprint"] in run.before.by_fingerprint()]
        lines.append(
            f"  findings before: {len(run.before.findings)} "
            f"({len(run.before.with_sql())} with SQL); after: {len(run.after.findings)}"
        )
        lines += [
            f"  left: {f['rule_id']} {f.get('object_identity')} "
            f"({'manual' if not f.get('remediation') else 'HAS SQL'})"
            for f in left
        ]
    path = ARTIFACTS / f"fixrescan-pg{run.dc.major}-{run.level}.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture(scope="module", params=VERSIONS, ids=[f"pg{v}" for v in VERSIONS])
def major(request: pytest.FixtureRequest) -> int:
    install_for(request.param)  # skip (or fail under PGAUDIT_REQUIRE_ALL_VERSIONS) when missing
    return int(request.param)


def _fixture(major: int, level: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FixRun]:
    started = time.monotonic()
    dc = start_demo(install_for(major), tmp_path_factory.mktemp(f"fixrescan-pg{major}-{level}"))
    try:
        run = _fix_and_rescan(dc, level)
        dc.timings["total"] = time.monotonic() - started
        _write_record(run)
        yield run
    finally:
        ARTIFACTS.mkdir(exist_ok=True)
        if dc.cluster.log_file.exists():
            (ARTIFACTS / f"fixrescan-pg{major}-{level}.log").write_bytes(
                dc.cluster.log_file.read_bytes()
            )
        dc.stop()


@pytest.fixture(scope="module")
def full(major: int, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FixRun]:
    """The demo fixed with ``--remediation-level all``."""
    yield from _fixture(major, "all", tmp_path_factory)


@pytest.fixture(scope="module")
def safe(major: int, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FixRun]:
    """The demo fixed with ``--remediation-level safe`` (a separate server)."""
    yield from _fixture(major, "safe", tmp_path_factory)


# --- shared judgements ---------------------------------------------------------------------


def _describe(f: dict[str, Any]) -> str:
    where = f.get("database") or "cluster"
    return (
        f"{f['rule_id']} [{where}] {f.get('object_type')} {f.get('object_identity')!r}"
        f"{' role ' + repr(f['role']) if f.get('role') else ''}: {f.get('message')}"
    )


def _require_applied(run: FixRun) -> Scan:
    assert run.applied.returncode == 0, (
        f"the {run.level}-level script failed under psql (exit {run.applied.returncode}):\n"
        f"{run.applied.stderr}\n--- script ---\n{run.before.script}"
    )
    assert "ERROR" not in run.applied.stderr, run.applied.stderr
    assert run.after is not None
    return run.after


def _assert_idempotent(run: FixRun) -> None:
    assert run.reapplied is not None
    assert run.reapplied.returncode == 0, (
        f"applying the {run.level}-level script a second time failed:\n{run.reapplied.stderr}"
    )
    assert "ERROR" not in run.reapplied.stderr, run.reapplied.stderr
    diff = state_diff(run.state1, run.state2)
    assert not diff, "the second application changed the catalog:\n" + "\n".join(diff)


def _assert_rules_healthy(run: FixRun, after: Scan) -> None:
    """A rule that errors or is skipped would make "the finding is gone" vacuous."""
    for name, sc in (("before", run.before), ("after", after)):
        broken = {r: s for r, s in sc.rule_status().items() if s == "error"}
        assert not broken, f"rules errored in the {name} scan: {broken}\n{sc.stderr}"
    before, now = run.before.rule_status(), after.rule_status()
    lost = {
        r: (before[r], now.get(r))
        for r in before
        if before[r] in ("fail", "pass") and now.get(r) not in ("fail", "pass")
    }
    assert not lost, f"rules evaluated before the fix but not after: {lost}"


def _assert_no_new_findings(run: FixRun, after: Scan) -> None:
    old = run.before.by_fingerprint()
    new = [f for fp, f in after.by_fingerprint().items() if fp not in old]
    assert not new, "the fix introduced new findings:\n" + "\n".join(
        _describe(f) + f"\n    fix was: {f.get('remediation')}" for f in new
    )


def _assert_app_works(run: FixRun) -> None:
    """The guide's contract, tried by logging in as each role after the fix."""
    dc = run.dc
    problems: list[str] = []
    for app in APPS:
        # writer: DML on every app table, and whatever its group could do before the fix
        # (app_billing was a superuser before, so its own "before" proves nothing)
        writer = f"app_{app}"
        caps = capabilities(dc, writer, app, (*DML, "EXECUTE", "USAGE"))
        db = APPS[app][0]
        expected = {
            (db, f"{r.schema}.{r.name}", p)
            for r in app_relations(dc, app)
            if r.kind == "r"
            for p in DML
        }
        expected |= run.writer_groups_before[app]
        for db, obj, p in sorted(expected):
            outcome = caps.get((db, obj, p, writer), "not probed (object gone?)")
            if outcome != "ok":
                problems.append(f"writer {writer} lost {p} on {obj} in {db}: {outcome}")
        problems += writer_workload(dc, app)
        # deploy: DDL through the owner role; the writer then uses the new table
        problems += deploy_ddl(dc, app, f"fixrescan_{run.level}_probe")
    # readers: SELECT they had stays; no write appears that they did not have
    after = _reader_capabilities(dc)
    for key, outcome in sorted(run.readers_before.items()):
        db, obj, p, role = key
        now = after.get(key, "not probed (object gone?)")
        if p == "SELECT" and outcome == "ok" and now != "ok":
            problems.append(f"reader {role!r} lost SELECT on {obj} in {db}: {now}")
        if p in WRITES and outcome != "ok" and now == "ok":
            problems.append(f"reader {role!r} gained {p} on {obj} in {db}")
    assert not problems, (
        f"after the {run.level}-level fix the app roles no longer do what "
        "the guide says:\n" + "\n".join(problems)
    )


# --- level all -----------------------------------------------------------------------------


def test_full_script_applies_and_is_idempotent(full: FixRun) -> None:
    before = full.before
    assert len(before.with_sql()) >= 5, "the demo's mistakes produced almost no SQL fixes"
    assert any(f.get("destructive") for f in before.with_sql().values()), (
        "no destructive fix in the demo: the safe/all distinction is not exercised"
    )
    assert "NOT EMITTED" not in before.script, (
        "remediation failed the safety checks (a rule bug):\n"
        + before.script[before.script.index("NOT EMITTED") :][:3000]
    )
    assert "-- level:     all" in before.script
    # verified on a twin by default (issue 14): the header says so, with no new finding
    assert "-- verified:  yes, on a twin of the snapshot" in before.script
    assert "new findings: 0" in before.script and "converged: yes" in before.script
    _require_applied(full)
    _assert_idempotent(full)


def test_full_fix_rescan_clears_every_sql_finding(full: FixRun) -> None:
    after = _require_applied(full)
    _assert_rules_healthy(full, after)
    still = [f for fp, f in after.by_fingerprint().items() if fp in full.before.with_sql()]
    assert not still, "findings whose SQL fix was applied are still reported:\n" + "\n".join(
        _describe(f) + f"\n    fix was: {f.get('remediation')}" for f in still
    )
    _assert_no_new_findings(full, after)
    # what is left is manual work, and each such finding says what to do
    for f in after.findings:
        assert not f.get("remediation"), _describe(f)
        assert f.get("manual"), f"finding without SQL and without a procedure: {_describe(f)}"


def test_app_roles_work_after_full_fix(full: FixRun) -> None:
    _require_applied(full)
    _assert_app_works(full)


def test_readers_are_read_only_after_full_fix(full: FixRun) -> None:
    """The guide's reader is read-only: after every fix, no reader login can write to an
    app table (the demo grants db_reader_billing INSERT on billing.invoices: a rule must
    report it and its fix must revoke it)."""
    _require_applied(full)
    caps = _reader_capabilities(full.dc)
    writes = sorted(
        f"{role!r} can {p} {obj} in {db}"
        for (db, obj, p, role), outcome in caps.items()
        if p in WRITES and outcome == "ok"
    )
    selects = [k for k, o in caps.items() if k[2] == "SELECT" and o == "ok"]
    assert selects, f"the readers cannot SELECT anything: {caps}"
    assert not writes, "readers can still write after the full fix:\n" + "\n".join(writes)


# --- level safe ----------------------------------------------------------------------------


def test_safe_script_omits_exactly_the_destructive_statements(safe: FixRun, full: FixRun) -> None:
    """The safe script against the level-all script of the same demo: the ``full``
    fixture's verified scan of its own server (the same layout, rules and configuration:
    the two scans find the same fingerprints, checked here), not a second verified
    check of this snapshot at level all."""
    script = safe.before.script
    assert "-- level:     safe" in script
    assert "-- verified:  yes, on a twin of the snapshot" in script
    assert "new findings: 0" in script
    assert "NOT EMITTED" not in script
    assert set(full.before.by_fingerprint()) == set(safe.before.by_fingerprint())
    assert "-- level:     all" in full.before.script
    assert "-- verified:  yes, on a twin of the snapshot" in full.before.script
    run_safe = executable_statements(script)
    run_all = executable_statements(full.before.script)
    omitted = [s.rstrip(";") for s in omitted_statements(script)]
    assert omitted, "no statement omitted at level safe, yet the demo has destructive fixes"
    # what safe leaves out is exactly what all emits under the DESTRUCTIVE mark
    assert Counter(omitted) == Counter(marked_destructive(full.before.script))
    assert Counter(run_all) == Counter(run_safe) + Counter(omitted)
    # judged independently from the parse tree: nothing destructive runs at level safe
    for stmt in run_safe:
        why = destructive_by_parse_tree(stmt, safe.logins)
        assert why is None, f"destructive statement emitted at level safe ({why}): {stmt}"
    # a fix its rule declares destructive is omitted whole
    for f in safe.before.with_sql().values():
        if f.get("destructive"):
            for stmt in executable_statements(f["remediation"]):
                assert stmt not in run_safe, f"{f['rule_id']} is destructive: {stmt}"
                assert stmt in omitted, f"{f['rule_id']}: {stmt} not listed as omitted"


def test_safe_script_applies_rescans_and_keeps_the_app(safe: FixRun) -> None:
    after = _require_applied(safe)
    _assert_idempotent(safe)
    _assert_rules_healthy(safe, after)
    emitted = set(executable_statements(safe.before.script))
    fully_fixed = {
        fp: f
        for fp, f in safe.before.with_sql().items()
        if set(executable_statements(f["remediation"])) <= emitted
    }
    assert fully_fixed, "the safe script fixed nothing completely"
    still = [f for fp, f in after.by_fingerprint().items() if fp in fully_fixed]
    assert not still, (
        "findings whose whole fix ran at level safe are still reported:\n"
        + "\n".join(_describe(f) for f in still)
    )
    _assert_no_new_findings(safe, after)
    _assert_app_works(safe)


def test_records_timing(full: FixRun, safe: FixRun) -> None:
    """Keeps the run time visible (test-artifacts/fixrescan-*.txt) and bounded."""
    for run in (full, safe):
        assert (ARTIFACTS / f"fixrescan-pg{run.dc.major}-{run.level}.txt").exists()
        assert run.dc.timings["total"] < 600, run.dc.timings
