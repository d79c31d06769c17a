"""lint's effect layer on real servers 13-18: one twin cluster per version for this module.

The module starts its own empty cluster per version (the twin must start empty, so the
shared ``pg`` server is not used) and lints the case set and the guide's clean layout on
it once; the tests assert on those two results.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from conftest import VERSIONS, install_for  # noqa: E402
from lint_support import CASES, CLEAN, PASSWORDS, ROOT, located, markers  # noqa: E402

from pgaudit_roles.config import Config  # noqa: E402
from pgaudit_roles.core.model import at_or_above  # noqa: E402
from pgaudit_roles.evaluate.rules import load_rules  # noqa: E402
from pgaudit_roles.lint.run import LintOptions, lint  # noqa: E402

RULES = load_rules()


@pytest.fixture(scope="module", params=VERSIONS, ids=[f"pg{v}" for v in VERSIONS])
def twin_runs(request: pytest.FixtureRequest) -> Iterator[dict[str, object]]:
    from pgaudit_roles.core.localpg import LocalCluster

    cluster = LocalCluster(install_for(request.param)).start()
    try:
        runs = {
            "clean": lint(
                LintOptions(paths=[CLEAN], database="shopdb", cluster=cluster, root=ROOT),
                RULES,
                Config(),
            ),
            "cases": lint(LintOptions(paths=[CASES], cluster=cluster, root=ROOT), RULES, Config()),
        }
        yield runs
    finally:
        cluster.stop()


def test_statement_findings_are_the_same_with_the_twin(twin_runs) -> None:
    assert located(twin_runs["cases"], "statement") == markers("expect")


def test_twin_findings_at_their_statements(twin_runs) -> None:
    result = twin_runs["cases"]
    assert markers("twin") <= located(result)
    failed = [f for f in result.findings if f.rule_id == "PGR-LINT-015"]
    assert [(f.file, f.line) for f in failed] == [("tests/data/lint/cases/07_errors.sql", 2)]
    assert "no_such_table" in failed[0].message or "does not exist" in failed[0].message
    assert result.meta["lint"]["twin"]["applied"] == result.meta["lint"]["statements"] - 1


def test_one_report_per_statement_across_layers(twin_runs) -> None:
    result = twin_runs["cases"]
    by_rule = {r.id: r for r in RULES}
    stmt = {
        (f.file, f.line): f.rule_id
        for f in result.findings
        if f.details.get("layer") == "statement"
    }
    covered_at: dict[tuple[str, int], set[str]] = {}
    for f in result.findings:
        if f.details.get("layer") == "statement":
            covered_at.setdefault((f.file, f.line), set()).update(by_rule[f.rule_id].covers)
    dupes = [
        f
        for f in result.findings
        if f.details.get("layer") == "twin"
        and f.file
        and f.rule_id in covered_at.get((f.file, f.line), set())
    ]
    assert stmt and not dupes
    # the superuser and server-files grants are the statement layer's, not repeated by the twin
    assert not [
        f
        for f in result.findings
        if f.rule_id in ("PGR-ROLE-001", "PGR-ROLE-013") and f.role in ("lc_admin", "db_writer_lc")
    ]


def test_pre_existing_findings_do_not_gate(twin_runs) -> None:
    result = twin_runs["cases"]
    pre = [f for f in result.findings if f.pre_existing]
    assert pre and all(not f.gating and f.file is None for f in pre)
    assert any(f.rule_id == "PGR-HBA-002" for f in pre)  # the twin's own local trust line


def test_clean_guide_layout_has_nothing_at_medium_or_above(twin_runs) -> None:
    result = twin_runs["clean"]
    assert result.meta["lint"]["twin"]["evaluations"] == 4
    bad = [
        (f.rule_id, f.file, f.line, f.message)
        for f in result.findings
        if f.gating and at_or_above(f.severity, "medium")
    ]
    assert bad == []
    assert not result.gating_findings()


def test_password_never_reaches_twin_outputs(twin_runs, tmp_path: Path) -> None:
    from pgaudit_roles.lint.outputs import write_github, write_text
    from pgaudit_roles.reports import render

    result = twin_runs["cases"]
    import io

    buf = io.StringIO()
    write_text(result, buf, verbose=True)
    write_github(result, buf)
    text = buf.getvalue() + "".join(render(result, fmt) for fmt in ("json", "sarif", "junit"))
    sarif = json.loads(render(result, "sarif"))
    uris = [
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        for r in sarif["runs"][0]["results"]
    ]
    assert uris and all(u.startswith("tests/data/lint/") for u in uris)  # no pre-existing
    assert "PGR-LINT-001" in text
    for pw in PASSWORDS:
        assert pw not in text
