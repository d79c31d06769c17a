"""``core.text.map_strings``: the one walker through a finding's nested text.

Lint redacts password literals and restores ``${placeholder}`` text with it: a string it
did not reach (inside a tuple, a dict in a list) would keep a secret or a stand-in.
"""

from __future__ import annotations

from pgaudit_roles.core.model import Finding, Rule, RuleResult, ScanResult
from pgaudit_roles.core.text import map_strings
from pgaudit_roles.lint.placeholders import restore_placeholders
from pgaudit_roles.lint.run import scrub_secrets


def test_every_nested_string_is_mapped_and_nothing_else():
    value = {"a": "x", "b": [("x", 1, None), {"c": ["xx"]}], "d": 2.5, "e": True}
    assert map_strings(value, str.upper) == {
        "a": "X",
        "b": [["X", 1, None], {"c": ["XX"]}],
        "d": 2.5,
        "e": True,
    }
    assert map_strings("s3cret", lambda s: s.replace("s3cret", "[redacted]")) == "[redacted]"


RULE = Rule(
    id="PGR-T-A",
    title="t",
    severity="high",
    category="privileges",
    rationale="r",
    query="SELECT 1",
    message="m",
)


def _result(details: dict) -> ScanResult:
    f = Finding(
        rule_id="PGR-T-A",
        severity="high",
        message="password 's3cret' for __app_user_",
        object_identity="__app_user_",
        details=details,
    )
    return ScanResult(meta={}, results=[RuleResult(rule=RULE, status="fail", findings=[f])])


def test_lint_redacts_a_secret_at_any_depth():
    res = _result({"statements": [("ALTER ROLE x PASSWORD 's3cret'", 3)], "n": {"m": ["s3cret"]}})
    scrub_secrets(res, ["s3cret"])
    (f,) = res.findings
    assert "s3cret" not in repr((f.message, f.details))
    assert f.details == {
        "statements": [["ALTER ROLE x PASSWORD '[redacted]'", 3]],
        "n": {"m": ["[redacted]"]},
    }


def test_lint_restores_placeholders_at_any_depth():
    res = _result({"roles": [("__APP_USER_",)]})
    restore_placeholders(res, {"__app_user_": "${app_user}"})
    (f,) = res.findings
    assert f.object_identity == "${app_user}"
    assert f.details == {"roles": [["${app_user}"]]}
