"""Remediation that converges (issue 14), on real servers 13-18.

The cascade layout (tests/layouts/cascade) holds mistakes whose fixes create findings of
their own (a schema moved to its owner role needs that role's default privileges; a
group role whose only grant is revoked becomes unused). For each version and level:

1. scan it through the CLI as the pg_monitor auditor: the SQL script is verified on a twin
   by default; its header must say what was verified, with 0 new findings;
2. apply the script with psql as a superuser, scan again: at level all every finding
   with an automatic fix is gone and no new finding appears; at level safe no new
   finding appears either (a fix whose follow-up only a destructive fix clears is withheld);
3. the verified script keeps every guarantee: pglast parses it, no CASCADE, no secret,
   one transaction per database.

The demo layout's fix-and-rescan (tests/test_fix_rescan.py) runs the same verified
script, since verification is on by default.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from subprocess import CompletedProcess

import pytest
from conftest import VERSIONS, install_for
from fixrescan_support import (
    DemoCluster,
    Scan,
    apply_script,
    executable_statements,
    freeze_rules,
    scan,
)

from pgaudit_roles import demo
from pgaudit_roles.core.localpg import LocalCluster
from pgaudit_roles.demo.build import apply_layout, create_auditor, parse_layout, server_version_num

pytestmark = pytest.mark.pg

CASCADE = Path(__file__).resolve().parent / "layouts" / "cascade"


def start_cascade(major: int, work: Path) -> DemoCluster:
    cluster = LocalCluster(install_for(major), hba=demo.HBA_FILE.read_text(encoding="utf-8"))
    work.mkdir(parents=True, exist_ok=True)
    rules = freeze_rules(work)
    cluster.start()
    dc = DemoCluster(cluster, work, rules)
    try:
        steps = parse_layout(
            (CASCADE / "layout.sql").read_text(encoding="utf-8"), server_version_num(cluster)
        )
        apply_layout(cluster, steps, lambda _role: "unused-password-x1")
        create_auditor(cluster)
        shutil.copy(CASCADE / "pgaudit-roles.toml", dc.config)
    except BaseException:
        cluster.stop()
        raise
    return dc


@dataclass
class Run:
    dc: DemoCluster
    level: str
    before: Scan
    applied: CompletedProcess[str]
    after: Scan | None
    seconds: float


@pytest.fixture(scope="module", params=VERSIONS, ids=[f"pg{v}" for v in VERSIONS])
def major(request: pytest.FixtureRequest) -> int:
    install_for(request.param)
    return int(request.param)


def _run(major: int, level: str, tmp: pytest.TempPathFactory) -> Iterator[Run]:
    dc = start_cascade(major, tmp.mktemp(f"verify-pg{major}-{level}"))
    try:
        started = time.monotonic()
        before = scan(dc, f"{level}-before", level)
        seconds = time.monotonic() - started
        applied = apply_script(dc, before.script, f"{level}.sql")
        # the rescan's findings are read, not its script: no twin to verify that script
        after = scan(dc, f"{level}-after", level, verify=False) if applied.returncode == 0 else None
        yield Run(dc, level, before, applied, after, seconds)
    finally:
        dc.stop()


@pytest.fixture(scope="module")
def full(major: int, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    yield from _run(major, "all", tmp_path_factory)


@pytest.fixture(scope="module")
def safe(major: int, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    yield from _run(major, "safe", tmp_path_factory)


def _header(script: str) -> str:
    return "\n".join(ln for ln in script.splitlines()[:20] if ln.startswith("--"))


def _describe(f: dict) -> str:
    return f"{f['rule_id']} {f.get('database')} {f.get('object_identity')} {f.get('role')}"


def _after(run: Run) -> Scan:
    assert run.applied.returncode == 0, run.applied.stderr + "\n" + run.before.script
    assert "ERROR" not in run.applied.stderr, run.applied.stderr
    assert run.after is not None
    return run.after


def test_header_says_what_was_verified(full: Run, safe: Run) -> None:
    for run in (full, safe):
        head = _header(run.before.script)
        assert "-- verified:  yes, on a twin of the snapshot (PostgreSQL" in head, head
        assert "new findings: 0" in head, head
        assert "converged: yes" in head, head
        assert "findings fixed: " in head and "manual" in head


def test_follow_ups_are_folded_in_at_level_all(full: Run) -> None:
    head = _header(full.before.script)
    folded = int(head.split("follow-up fixes folded in: ")[1].split()[0])
    assert folded >= 1, head
    # a follow-up's statement is in the script though its finding was not in the scan
    scanned = {
        s for f in full.before.with_sql().values() for s in executable_statements(f["remediation"])
    }
    extra = [s for s in executable_statements(full.before.script) if s not in scanned]
    assert extra, "no statement beyond the scanned findings' fixes"


def test_level_all_fixes_every_fixable_finding_and_adds_none(full: Run) -> None:
    after = _after(full)
    old = full.before.by_fingerprint()
    still = [f for fp, f in after.by_fingerprint().items() if fp in full.before.with_sql()]
    assert not still, "findings with a fix are still reported:\n" + "\n".join(map(_describe, still))
    new = [f for fp, f in after.by_fingerprint().items() if fp not in old]
    assert not new, "new findings after the verified script:\n" + "\n".join(map(_describe, new))


def test_level_safe_adds_no_finding(safe: Run) -> None:
    after = _after(safe)
    old = safe.before.by_fingerprint()
    new = [f for fp, f in after.by_fingerprint().items() if fp not in old]
    assert not new, "new findings after the safe script:\n" + "\n".join(map(_describe, new))


def test_verified_script_keeps_the_guarantees(full: Run, safe: Run) -> None:
    from pglast import parse_sql

    for run in (full, safe):
        script = run.before.script
        statements = executable_statements(script)
        assert statements
        for stmt in statements:
            parse_sql(stmt)
            assert "CASCADE" not in stmt.upper(), stmt
        assert "PASSWORD '" not in script.upper()
        assert "unused-password-x1" not in script
        connects = [ln for ln in script.splitlines() if ln.startswith("\\connect")]
        assert script.count("BEGIN;") >= len(connects) - 1


def test_no_verify_says_unverified(full: Run) -> None:
    from fixrescan_support import _cli, _read_outputs

    out = full.dc.work / "no-verify"
    proc = _cli(
        full.dc,
        [
            "check",
            str(full.before.out_dir / "snapshot.json"),
            "--config",
            str(full.dc.config),
            "--format",
            "sql",
            "--output-dir",
            str(out),
            "--remediation-level",
            "all",
            "--no-verify",
            "--quiet",
        ],
    )
    script = _read_outputs(out, proc, want_json=False).script
    assert "-- verified:  no (--no-verify was given)" in script
    # the verified script has the scanned findings' statements plus the folded follow-ups
    assert set(executable_statements(script)) < set(executable_statements(full.before.script))


def test_records_verification_time(full: Run) -> None:
    """The scan with verification stays bounded (test-artifacts has the numbers)."""
    from conftest import ARTIFACTS

    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / f"verify-pg{full.dc.major}.txt").write_text(
        f"scan with verified script (level all): {full.seconds:.1f} s\n", encoding="utf-8"
    )
    assert full.seconds < 300
