"""Waivers and baselines: pure logic on findings, no server needed."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from pgaudit_roles.core.errors import ConfigError
from pgaudit_roles.core.model import Finding
from pgaudit_roles.evaluate import baseline, waivers

RULES = {"PGR-OWN-001": "PGR-OWN-001", "PGR-OLD-001": "PGR-OWN-001", "PGR-ROLE-001": "PGR-ROLE-001"}
TODAY = dt.date(2026, 11, 26)


def finding(rule="PGR-OWN-001", db="api_prod", schema="api", name="sessions", role="app_api"):
    return Finding(
        rule_id=rule,
        severity="high",
        message="m",
        database=db,
        schema=schema,
        object_name=name,
        object_identity=f"{schema}.{name}" if schema else name,
        role=role,
    )


def write(tmp_path, text):
    p = tmp_path / "waivers.toml"
    p.write_text(text, encoding="utf-8")
    return p


def test_exact_match_does_not_waive_longer_names(tmp_path):
    p = write(tmp_path, '[[waiver]]\nrule="PGR-OWN-001"\nrole="ci_logs"\nreason="r"\nowner="o"\n')
    ws = waivers.load(p)
    a, b = finding(role="ci_logs"), finding(role="ci_logs_replica")
    waivers.apply([a, b], ws, RULES, TODAY)
    assert a.suppressed and a.suppressed["reason"] == "r"
    assert b.suppressed is None and b.gating


def test_pattern_must_match_whole_name(tmp_path):
    p = write(
        tmp_path,
        '[[waiver]]\nrule="PGR-OWN-001"\nrole="^ci_logs$"\nreason="r"\nticket="T-1"\n'
        '[[waiver]]\nrule="PGR-OWN-001"\nobject="^api\\\\.tmp_.*"\nreason="r"\nticket="T-2"\n',
    )
    ws = waivers.load(p)
    fs = [
        finding(role="ci_logs"),
        finding(role="ci_logs_replica"),
        finding(name="tmp_x", role="z"),
        finding(schema="apix", name="tmp_x", role="z"),
    ]
    waivers.apply(fs, ws, RULES, TODAY)
    assert [f.suppressed is not None for f in fs] == [True, False, True, False]


def test_alias_and_expiry(tmp_path):
    p = write(
        tmp_path, '[[waiver]]\nrule="PGR-OLD-001"\nreason="r"\nowner="o"\nexpires=2026-01-01\n'
    )
    ws = waivers.load(p)
    f = finding()
    waivers.apply([f], ws, RULES, TODAY)
    assert f.suppressed is None and f.gating
    assert f.details["expired_waiver"]["expires"] == "2026-01-01"
    assert "expired on 2026-01-01" in " ".join(
        waivers.lint(ws, RULES, checked_findings=True, today=TODAY)
    )


def test_lint_reports_unknown_and_unused(tmp_path):
    p = write(
        tmp_path,
        '[[waiver]]\nrule="PGR-NOPE-999"\nreason="r"\nowner="o"\n'
        '[[waiver]]\nrule="PGR-ROLE-001"\nreason="r"\nowner="o"\n',
    )
    ws = waivers.load(p)
    waivers.apply([finding()], ws, RULES, TODAY)
    problems = waivers.lint(ws, RULES, checked_findings=True, today=TODAY)
    assert any("unknown rule id 'PGR-NOPE-999'" in x for x in problems)
    assert any("#2" in x and "matched no finding" in x for x in problems)


@pytest.mark.parametrize(
    "body, message",
    [
        ('[[waiver]]\nrule="PGR-OWN-001"\nowner="o"\n', "'reason' is required"),
        ('[[waiver]]\nrule="PGR-OWN-001"\nreason="r"\n', "'owner' or 'ticket' is required"),
        (
            '[[waiver]]\nrule="PGR-OWN-001"\nreason="r"\nowner="o"\nrole="^(unclosed"\n',
            "not a valid regular expression",
        ),
        ('[[waiver]]\nrule="PGR-OWN-001"\nreason="r"\nowner="o"\ncolour="red"\n', "unknown key"),
        ("[[waiver]\n", "not a valid TOML"),
    ],
)
def test_bad_waiver_files_are_config_errors(tmp_path, body, message):
    with pytest.raises(ConfigError, match=message):
        waivers.load(write(tmp_path, body))


def test_baseline_roundtrip_new_unchanged_resolved(tmp_path):
    old = [finding(role="a"), finding(role="b")]
    path = tmp_path / "baseline.json"
    assert baseline.create(old, path) == 2
    doc = json.loads(path.read_text())
    assert [e["role"] for e in doc["findings"]] == ["a", "b"]
    accepted = baseline.load(path)
    now = [finding(role="b"), finding(role="c")]
    resolved = baseline.apply(now, accepted)
    assert [f.baseline for f in now] == ["unchanged", "new"]
    assert [e["role"] for e in resolved] == ["a"]
    assert not now[0].gating and now[1].gating


def test_fingerprint_ignores_message_and_severity():
    a = finding()
    b = Finding(
        rule_id="PGR-OWN-001",
        severity="low",
        message="other text",
        database="api_prod",
        schema="api",
        object_name="sessions",
        object_identity="api.sessions",
        role="app_api",
    )
    assert a.fingerprint == b.fingerprint
    assert finding(db="x").fingerprint != a.fingerprint


def test_bad_baseline_is_config_error(tmp_path):
    p = tmp_path / "b.json"
    p.write_text('{"format": "something-else"}')
    with pytest.raises(ConfigError, match="not a pgaudit-roles baseline"):
        baseline.load(p)
    with pytest.raises(ConfigError, match="not found"):
        baseline.load(tmp_path / "missing.json")


def test_baseline_entries_sharing_a_fingerprint_accept_the_union(tmp_path):
    """A rule may report one object and role once per grantor: both rows share a
    fingerprint. Whatever order the rows come in, a finding is "updated" only when it holds
    more than the baselined rows together."""
    import json as _json

    from pgaudit_roles.core.model import Finding
    from pgaudit_roles.evaluate import baseline as bl

    def finding(privs: list[str], grantor: str) -> Finding:
        return Finding(
            "PGR-PRIV-001",
            "high",
            "m",
            database="db",
            object_type="table",
            object_identity="s.t",
            role="PUBLIC",
            details={"privileges": privs, "grantor": grantor},
        )

    a, b = finding(["INSERT"], "alice"), finding(["SELECT"], "bob")
    assert a.fingerprint == b.fingerprint
    path = tmp_path / "baseline.json"
    path.write_text(
        _json.dumps(
            {
                "format": bl.FORMAT,
                "version": bl.VERSION,
                "findings": [
                    {
                        "fingerprint": f.fingerprint,
                        "rule_id": f.rule_id,
                        "evidence": f.evidence_digest,
                        "widening": {"privileges": f.details["privileges"]},
                    }
                    for f in (a, b)
                ],
            }
        )
    )
    accepted = bl.load(path)
    same = [finding(["SELECT"], "bob"), finding(["INSERT"], "alice")]
    bl.apply(same, accepted)
    assert [f.baseline for f in same] == ["unchanged", "unchanged"]
    grown = [finding(["INSERT", "TRUNCATE"], "alice")]
    bl.apply(grown, accepted)
    assert grown[0].baseline == "updated"
    # a baseline written by `baseline create` keeps both rows' lists too
    made = tmp_path / "made.json"
    bl.create([a, b], made)
    again = [finding(["INSERT"], "alice"), finding(["SELECT"], "bob")]
    bl.apply(again, bl.load(made))
    assert [f.baseline for f in again] == ["unchanged", "unchanged"]
