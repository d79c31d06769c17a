"""PGR-FLEET-001, the rule the fleet reports itself, is a rule like the others (no server).

It has a rule file (``reported_by = "fleet"``, no query), so ``rules list``/``rules show``,
docs/rules.md, the configuration and the waiver tools know it; the engine never evaluates
it; and the finding of a target that was not audited takes its message, severity, manual
procedure, configuration and waivers from that file. Its fail and pass cases (fleet
inventories) run on PostgreSQL 13-18 in tests/rules/test_rule_cases.py.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cli_support import run_cli

from pgaudit_roles.collect.snapshot import Snapshot
from pgaudit_roles.config import load_config
from pgaudit_roles.core.errors import RuleError
from pgaudit_roles.evaluate.engine import evaluate
from pgaudit_roles.evaluate.rules import load_rule_file, load_rules
from pgaudit_roles.fleet.inventory import Target
from pgaudit_roles.fleet.outcome import FLEET_RULE_ID, not_audited_result

FUTURE = (dt.date.today() + dt.timedelta(days=90)).isoformat()
DOWN = Target(name='down "db" <b>', conninfo="host=127.0.0.1 port=1 dbname=postgres")


def test_fleet_rule_is_loaded_and_never_evaluated() -> None:
    rules = load_rules()
    [rule] = [r for r in rules if r.id == FLEET_RULE_ID]
    assert rule.reported_by == "fleet" and rule.query == "" and rule.check is None
    assert rule.category == "coverage" and rule.severity == "high" and rule.manual
    assert not rule.on_snapshot
    result = evaluate(Snapshot(meta={}, cluster={}, databases=[]), rules)
    assert FLEET_RULE_ID not in {r.rule.id for r in result.results}
    assert len(result.results) == sum(r.on_snapshot for r in rules)


def test_rules_list_and_show_know_it(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(["rules", "list"], capsys)
    assert code == 0
    [line] = [ln for ln in out.splitlines() if ln.startswith(FLEET_RULE_ID)]
    assert "high" in line and "coverage" in line
    code, out, _ = run_cli(["rules", "show", FLEET_RULE_ID.lower()], capsys)
    assert code == 0 and "Reported by: pgaudit-roles fleet" in out and "Query:" not in out


def test_waiver_and_config_for_it_are_not_unknown(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    waivers = tmp_path / "waivers.toml"
    waivers.write_text(
        f'[[waiver]]\nrule = "{FLEET_RULE_ID}"\nobject = "decommissioned"\n'
        f'reason = "cluster retired"\nowner = "dba"\nexpires = {FUTURE}\n'
    )
    code, out, err = run_cli(["waivers", "lint", str(waivers)], capsys)
    assert "unknown rule" not in out, out
    assert code == 0 and "0 problem(s)" in err
    cfg_file = tmp_path / "pgaudit-roles.toml"
    cfg_file.write_text(f'[rules]\nseverity = {{ "{FLEET_RULE_ID}" = "critical" }}\n')
    code, out, err = run_cli(["rules", "list", "--config", str(cfg_file)], capsys)
    assert code == 0, err
    assert f"{FLEET_RULE_ID}  critical" in out


def test_not_audited_target_finding_comes_from_the_rule_file(tmp_path: Path) -> None:
    rules = load_rules()
    cfg = load_config(None, discover_file=False)
    result = not_audited_result(DOWN, "unreachable", "connection refused", rules, cfg, "x")
    [fleet] = [r for r in result.results if r.rule.id == FLEET_RULE_ID]
    [f] = fleet.findings
    assert fleet.status == "fail" and f.severity == "high" and f.gating
    assert f.message == f"Target {DOWN.name} was not audited (unreachable): connection refused"
    assert f.object_type == "target" and f.manual == fleet.rule.manual
    # every other snapshot rule is skipped, the fleet rule is listed once
    assert [r.rule.id for r in result.results].count(FLEET_RULE_ID) == 1
    assert all(r.status == "skipped" for r in result.results if r is not fleet)

    # severity override and waiver from the configuration
    waivers = tmp_path / "w.toml"
    waivers.write_text(
        f"[[waiver]]\nrule = '{FLEET_RULE_ID}'\nobject = '{DOWN.name}'\n"
        f"reason = 'retired'\nowner = 'dba'\nexpires = {FUTURE}\n"
    )
    cfg = load_config(
        None,
        discover_file=False,
        overrides={"waivers": str(waivers), "rules.severity": {FLEET_RULE_ID: "medium"}},
    )
    cfg.resolve_rules(rules)
    result = not_audited_result(DOWN, "timeout", "after 5 s", rules, cfg, "x")
    [f] = result.findings
    assert f.severity == "medium" and f.suppressed and not f.gating
    assert "(timed out): after 5 s" in f.message

    # disabled: skipped, no finding (the fleet verdict still says the target was not audited)
    cfg = load_config(None, discover_file=False, overrides={"rules.disable": [FLEET_RULE_ID]})
    cfg.resolve_rules(rules)
    result = not_audited_result(DOWN, "error", "boom", rules, cfg, "x")
    [fleet] = [r for r in result.results if r.rule.id == FLEET_RULE_ID]
    assert fleet.status == "skipped" and "disabled" in (fleet.reason or "")
    assert not result.findings


def test_reported_by_is_for_builtin_rules_only(tmp_path: Path) -> None:
    text = (Path(__file__).resolve().parent.parent / "rules" / f"{FLEET_RULE_ID}.toml").read_text()
    user = tmp_path / "ACME-FLEET-001.toml"
    user.write_text(text.replace(FLEET_RULE_ID, "ACME-FLEET-001"))
    with pytest.raises(RuleError, match="'reported_by' is for built-in rules"):
        load_rule_file(user, origin="user")
    both = tmp_path / f"{FLEET_RULE_ID}.toml"
    both.write_text(text + 'query = "SELECT 1"\n')
    with pytest.raises(RuleError, match="exactly one of 'query'"):
        load_rule_file(both, origin="builtin", full_validation=True)
    bad = tmp_path / f"{FLEET_RULE_ID}.toml"
    bad.write_text(text.replace('reported_by = "fleet"', 'reported_by = "scan"'))
    with pytest.raises(RuleError, match="reported_by 'scan' is not one of fleet"):
        load_rule_file(bad, origin="builtin", full_validation=True)


def test_rule_doc_says_the_fleet_reports_it() -> None:
    """docs/rules.md (kept current by test_rule_meta) shows the fleet as the rule's source,
    its fleet-inventory examples, and no query."""
    doc = (Path(__file__).resolve().parent.parent / "docs" / "rules.md").read_text()
    start = doc.index('<a id="pgr-fleet-001"></a>')
    section = doc[start : doc.index("<a id=", start + 1)]
    assert "| Requires | (no snapshot: reported by `pgaudit-roles fleet`) |" in section
    assert "**Reported by** `pgaudit-roles fleet` itself" in section
    assert "Fleet inventory, run with `pgaudit-roles fleet`" in section
    assert "port=5433" in section and "<summary>Query</summary>" not in section
