"""SARIF 2.1.0: valid against the OASIS schema and shaped for GitHub code scanning."""

from __future__ import annotations

import json

import jsonschema
import pytest
from report_fixtures import IMG, SECRET, empty_result, full_result, many_result

from pgaudit_roles.reports import render, sarif_report


@pytest.fixture(scope="module")
def validator(shared_schemas):
    schema = json.loads((shared_schemas / "sarif-schema-2.1.0.json").read_text())
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema)


@pytest.mark.parametrize(
    "make", [full_result, empty_result, lambda: many_result(300)], ids=["full", "empty", "many"]
)
@pytest.mark.parametrize("include", [False, True], ids=["default", "with-suppressed"])
def test_valid_against_official_schema(validator, make, include):
    doc = json.loads(render(make(), "sarif", sarif_include_suppressed=include))
    errors = list(validator.iter_errors(doc))
    assert not errors, errors[0].message


def test_validator_catches_a_broken_log(validator):
    doc = json.loads(render(full_result(), "sarif"))
    doc["runs"][0]["results"][0]["level"] = "fatal"
    assert list(validator.iter_errors(doc))


def test_github_requirements():
    doc = json.loads(render(full_result(), "sarif", sarif_anchor="config/pgaudit.toml"))
    assert doc["version"] == "2.1.0"
    run = doc["runs"][0]
    assert run["automationDetails"]["id"] == "pgaudit-roles/db.example.internal:5432/"
    rules = run["tool"]["driver"]["rules"]
    for r in rules:
        assert r["shortDescription"]["text"] and r["fullDescription"]["text"]
        assert r["help"]["text"] and r["help"]["markdown"]
        assert isinstance(r["properties"]["security-severity"], str)
        assert "security" in r["properties"]["tags"]
        assert r["helpUri"].startswith("https://")
    by_id = {r["id"]: r for r in rules}
    assert by_id["PGR-ROLE-001"]["properties"]["security-severity"] == "9.5"
    assert by_id["PGR-PRIV-002"]["properties"]["security-severity"] == "8.0"
    assert (
        by_id["PGR-LOGIN-007"]["properties"]["security-severity"] == "5.5"
    )  # overridden to medium
    assert "ALTER ROLE" in by_id["PGR-ROLE-001"]["help"]["markdown"]
    assert "```sql" in by_id["PGR-ROLE-001"]["help"]["markdown"]
    levels = {res["ruleId"]: res["level"] for res in run["results"]}
    assert levels["PGR-ROLE-001"] == "error" and levels["PGR-PRIV-002"] == "error"
    assert levels["PGR-LOGIN-007"] == "warning"
    for res in run["results"]:
        assert rules[res["ruleIndex"]]["id"] == res["ruleId"]
        loc = res["locations"][0]
        assert loc["physicalLocation"]["artifactLocation"]["uri"] == "config/pgaudit.toml"
        assert loc["physicalLocation"]["region"]["startLine"] == 1
        assert loc["logicalLocations"][0]["fullyQualifiedName"]
        assert len(res["partialFingerprints"]["primaryLocationLineHash"]) == 32
    fps = [res["partialFingerprints"]["primaryLocationLineHash"] for res in run["results"]]
    assert len(fps) == len(set(fps))


def test_waived_kept_with_suppression_by_default_and_dropped_on_request():
    result = full_result()
    waived = next(f for f in result.findings if f.suppressed)
    kept = json.loads(render(result, "sarif"))["runs"][0]["results"]
    (entry,) = [
        r for r in kept if r["partialFingerprints"]["primaryLocationLineHash"] == waived.fingerprint
    ]
    assert entry["suppressions"][0]["kind"] == "external"
    assert entry["suppressions"][0]["justification"].startswith(waived.suppressed["reason"])
    assert "2099-12-31" in entry["suppressions"][0]["justification"]
    assert entry["level"] == "note"
    dropped = json.loads(render(result, "sarif", sarif_include_suppressed=False))["runs"][0][
        "results"
    ]
    assert waived.fingerprint not in {
        r["partialFingerprints"]["primaryLocationLineHash"] for r in dropped
    }
    assert len(kept) == len(dropped) + 1


def test_baseline_state_marked():
    results = json.loads(render(full_result(), "sarif"))["runs"][0]["results"]
    states = {r["baselineState"] for r in results}
    assert states == {"new", "unchanged"}
    # accepted by the baseline: reported, but never as an error that reads as a new alert
    assert {r["level"] for r in results if r["baselineState"] == "unchanged"} == {"note"}


def test_logical_location_names_object():
    results = json.loads(render(full_result(), "sarif"))["runs"][0]["results"]
    names = {r["locations"][0]["logicalLocations"][0]["fullyQualifiedName"] for r in results}
    assert "app/public" in names
    assert f"role/{IMG}" in names


def test_skipped_and_error_rules_are_notified():
    run = json.loads(render(full_result(), "sarif"))["runs"][0]
    inv = run["invocations"][0]
    assert inv["executionSuccessful"] is False
    ids = {n["descriptor"]["id"] for n in inv["toolConfigurationNotifications"]}
    assert ids == {"PGR-HBA-004", "PGR-OWN-005"}


def test_no_secret_and_markdown_escaped():
    assert SECRET not in render(full_result(), "sarif")
    result = full_result()
    rr = result.results[0]
    rr.rule.title = "Title <img src=x onerror=alert(1)> [link](javascript:alert(1))"
    rr.rule.rationale = "Because *this* <b>matters</b>"
    doc = json.loads(render(result, "sarif"))
    md = doc["runs"][0]["tool"]["driver"]["rules"][0]["help"]["markdown"]
    prose = md.split("```")[0]  # the text before the fenced SQL example
    assert "<img" not in prose.replace("\\<img", "") and "\\<img" in prose
    assert "](javascript" not in prose
    assert "\\*this\\*" in prose


def test_fence_cannot_be_closed_by_content():
    code = "SELECT '```';\n```\n"
    fenced = sarif_report._fence(code, "sql")
    assert fenced.startswith("````sql\n") and fenced.endswith("\n````")


def _md_loop(text: str) -> str:
    """sarif_report._md as the character loop it was (its spec)."""
    return "".join("\\" + ch if ch in "\\`*_{}[]()#!|<>&~" else ch for ch in text)


def _longest_backticks_loop(code: str) -> int:
    longest = run = 0
    for ch in code:
        run = run + 1 if ch == "`" else 0
        longest = max(longest, run)
    return longest


def _unsafe_url_loop(url: str) -> bool:
    return any(ord(c) < 0x21 or c in "\"'<>`\\" for c in url)


def _texts() -> list[str]:
    import random

    rng = random.Random(5)
    alphabet = [chr(c) for c in range(0x80)] + ["é", "日", "\u202e", "\u2028", "\x85", "\ud800"]
    out = ["", "`", "``` ````", "a`b``c```d", "https://x.example/a b", "http://h/\x1fx"]
    out += ["".join(chr(c) for c in range(0x80))]
    for _ in range(2000):
        out.append("".join(rng.choice(alphabet) for _ in range(rng.choice([1, 3, 10, 40]))))
    return out


def test_markdown_escape_fence_and_url_check_match_their_character_loops():
    from pgaudit_roles.reports import common, sarif_report

    for text in _texts():
        assert sarif_report._md(text) == _md_loop(text), repr(text)
        ticks = "`" * max(3, _longest_backticks_loop(text) + 1)
        assert sarif_report._fence(text, "sql") == f"{ticks}sql\n{text}\n{ticks}", repr(text)
        assert bool(common._URL_UNSAFE.search(text)) == _unsafe_url_loop(text), repr(text)
        url = "https://example.com/" + text.strip()
        if _unsafe_url_loop(url):
            assert common.safe_url(url) is None, repr(text)


def _odd_findings_result():
    """full_result plus findings of every shape ``_result_text`` writes or hands to the
    dict: lint locations, evidence, odd characters, missing and mistyped fields."""
    import dataclasses
    import datetime as dt

    result = full_result()
    rr = result.results[0]
    base = rr.findings[0]
    odd = [
        dict(file="migrations/001 a.sql", line=3, column=7),
        dict(file="m/002.sql", line=None),
        dict(file="m/003.sql", line=4, column=None),
        dict(previous={"privileges": ["SELECT"], "when": dt.date(2026, 1, 2)}),
        dict(baseline="updated", previous={"x": 1}),
        dict(baseline="new"),
        dict(baseline="unchanged"),
        dict(baseline="other"),
        dict(database=None, object_type=None, role=None, object_identity=None),
        dict(database="", object_type="", role=""),
        dict(message='  \u202e\u2028 \x85 é 日 \ud83d\ude00 \x7f \x00 \n\t"\\  '),
        dict(message="   ", remediation=None, manual="do\u2029 this\r\n"),
        dict(remediation="", manual=""),
        dict(object_identity='a."b\nc"', role="r\u200bx", database="d\x1bb"),
        dict(destructive=True),
        dict(destructive=1),
        dict(destructive=0),
        dict(database=7),
        dict(role=3.5),
        dict(remediation=b"bytes"),
        dict(object_type="column"),
        dict(object_type="materialized_view"),
        dict(suppressed={"reason": "ok", "expires": "2099-01-01"}),
    ]
    for i, over in enumerate(odd):
        rr.findings.append(dataclasses.replace(base, fingerprint=f"{i:032x}", **over))
    return result


@pytest.mark.parametrize(
    "make",
    [full_result, empty_result, lambda: many_result(2_345), _odd_findings_result],
    ids=["full", "empty", "many", "odd"],
)
@pytest.mark.parametrize("include", [False, True], ids=["default", "with-suppressed"])
@pytest.mark.parametrize("anchor", [None, 'conf/"x"\u202e.toml'], ids=["default", "odd-anchor"])
def test_streamed_text_is_the_logs_json(make, include, anchor):
    """write/render stream the log in pieces, most results written without their dicts:
    the same text as encoding build()'s dict whole, as the report always was."""
    from pgaudit_roles.reports.common import json_text

    result = make()
    opts = {"sarif_include_suppressed": include}
    if anchor is not None:
        opts["sarif_anchor"] = anchor
    whole = json_text(
        json.dumps(sarif_report.build(result, **opts), ensure_ascii=False, default=str)
    )
    assert render(result, "sarif", **opts) == whole + "\n"
    assert sarif_report.render(result, **opts) == whole + "\n"
    if make is _odd_findings_result:
        plain = [
            f
            for f, _ in sarif_report._kept(result, True)
            if f.file is None and f.suppressed is None and not f.previous
        ]
        assert len(plain) > 20  # the fast path is exercised, not only the fallback
