"""JSON report: schema-valid for every shape, secrets never written, streamed, exact names."""

from __future__ import annotations

import io
import json

import jsonschema
import pytest
from report_fixtures import HOSTILE, IMG, SECRET, empty_result, full_result, many_result

from pgaudit_roles.core.resources import schemas_dir
from pgaudit_roles.reports import json_report, render


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads((schemas_dir() / "report.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


@pytest.mark.parametrize(
    "make",
    [
        full_result,
        empty_result,
        lambda: many_result(500),
        lambda: full_result(baseline=False, fail_on="none"),
    ],
    ids=["full", "empty", "many", "no-baseline"],
)
def test_report_validates_against_shipped_schema(validator, make):
    doc = json.loads(render(make(), "json"))
    errors = sorted(validator.iter_errors(doc), key=str)
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:5])


def test_schema_rejects_a_broken_report(validator):
    doc = json.loads(render(full_result(), "json"))
    doc["findings"][0]["severity"] = "catastrophic"
    del doc["summary"]["gating"]
    assert len(list(validator.iter_errors(doc))) == 2


def test_summary_counts_and_markers():
    doc = json.loads(render(full_result(), "json"))
    s = doc["summary"]
    assert s["verdict"] == "fail"
    assert s["gating"] == 7 and s["gating_by_severity"]["critical"] == 3
    assert s["waived"] == 1 and s["expired_waivers"] == 1
    assert s["baseline"] == {"new": 12, "unchanged": 3, "updated": 0, "resolved": 1}
    assert s["by_rule_status"] == {"pass": 1, "fail": 4, "incomplete": 0, "skipped": 1, "error": 1}
    assert s["requirements"]["manual"] == 1
    waived = [f for f in doc["findings"] if f["suppressed"]]
    assert len(waived) == 1 and waived[0]["suppressed"]["expires"] == "2099-12-31"
    assert waived[0]["gating"] is False
    assert sum(f["baseline"] == "unchanged" for f in doc["findings"]) == 3
    rules = {r["id"]: r for r in doc["rules"]}
    assert (
        rules["PGR-HBA-004"]["status"] == "skipped" and "pg_hba" in rules["PGR-HBA-004"]["reason"]
    )
    assert rules["PGR-LOGIN-007"]["severity"] == "medium"
    assert rules["PGR-LOGIN-007"]["default_severity"] == "low"
    assert [x["source"] for x in doc["scan"]["not_collected"]] == ["hba_rules", "password_types"]


def test_empty_result_passes():
    doc = json.loads(render(empty_result(), "json"))
    assert doc["findings"] == [] and doc["summary"]["verdict"] == "pass"
    assert doc["summary"]["baseline"] is None


def test_no_password_anywhere():
    text = render(full_result(), "json")
    assert SECRET not in text
    doc = json.loads(text)
    assert "password" not in doc["scan"]["target"]
    assert "password" not in doc["scan"]["meta"]["target"]


def test_hostile_names_round_trip_exactly():
    doc = json.loads(render(full_result(), "json"))
    roles = {f["role"] for f in doc["findings"]}
    assert {IMG, "new\nline FAIL: forged", "esc\x1b[31mred", "bidi\u202eevil"} <= roles
    assert all(isinstance(h, str) for h in HOSTILE)


def test_unsafe_reference_links_are_dropped():
    doc = json.loads(render(full_result(), "json"))
    urls = [ref["url"] for r in doc["rules"] for ref in r["references"]]
    assert "javascript:alert(1)" not in urls
    assert "https://www.postgresql.org/docs/current/ddl-priv.html" in urls


class CountingWriter(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0
        self.largest = 0

    def write(self, s: str) -> int:
        self.calls += 1
        self.largest = max(self.largest, len(s))
        return super().write(s)


def test_large_report_is_streamed_not_built_in_one_string():
    result = many_result(20_000)
    fh = CountingWriter()
    json_report.write(result, fh)
    assert fh.calls > 20_000 // json_report._BATCH
    assert fh.largest < 100_000  # the head (rules, summary) and a few findings at a time
    doc = json.loads(fh.getvalue())
    assert len(doc["findings"]) == 20_000


def test_json_text_ascii_shortcut_changes_nothing():
    """json_text returns ASCII text without DEL as it is (no regex scan); every other
    text still goes through the escape, DEL included."""
    from pgaudit_roles.reports import common

    def full(s: str) -> str:  # the escape without the shortcut
        out = []
        for ch in s:
            if ord(ch) <= 0x7E or ch.isprintable():
                out.append(ch)
            elif ord(ch) <= 0xFFFF:
                out.append(f"\\u{ord(ch):04x}")
            else:
                c = ord(ch) - 0x10000
                out.append(f"\\u{0xD800 + (c >> 10):04x}\\u{0xDC00 + (c & 0x3FF):04x}")
        return "".join(out)

    for s in ["", '{"a": "b"}', "x\x7fy", "ascii \\n", "é\u202e\U0001f600\x85", "\x7f"]:
        assert common.json_text(s) == full(s), repr(s)
    assert common.json_text("x\x7fy") == "x\\u007fy"


def test_the_shared_encoder_writes_what_json_dumps_writes():
    import datetime as dt
    import decimal

    from pgaudit_roles.reports import json_report
    from pgaudit_roles.reports.common import json_text

    values = [
        {"a": [1, 2.5, None, True], "é": "ü\u202e", "d": dt.date(2026, 1, 2)},
        {"n": decimal.Decimal("1.10"), "t": dt.datetime(2026, 1, 2, 3, 4, 5), "s": {"x"}},
        [],
        "text",
    ]
    for v in values:
        expected = json_text(json.dumps(v, ensure_ascii=False, default=str, sort_keys=False))
        assert json_report._dumps(v) == expected


def _odd_findings() -> list:
    """Findings of every shape _finding_text writes itself or hands to the dict."""
    import dataclasses
    import datetime as dt
    import decimal

    from report_fixtures import full_result

    base = full_result().findings[0]
    odd = [
        {},
        {"file": "m/001 a.sql", "line": 3, "column": 7},
        {"pre_existing": True},
        {"previous": {"privileges": ["SELECT"], "when": dt.date(2026, 1, 2)}},
        {"baseline": "unchanged", "suppressed": {"reason": "r\u202e", "expires": "2099-01-01"}},
        {"details": {"n": decimal.Decimal("1.50"), "t": dt.datetime(2026, 1, 1), 3: [1.5, None]}},
        {"details": {}, "suppressed": {}, "previous": {}},
        {"database": None, "object_type": None, "schema": None, "role": None},
        {"object_name": None, "object_identity": None, "remediation": None, "manual": None},
        {"message": '\u202e\u2028 \x85 é 日 \ud83d\ude00 \x7f \x00 \n\t"\\'},
        {"role": 'r"\x1b[31m', "database": "d\u200bb", "manual": "a\u2029b"},
        {"destructive": True},
        {"destructive": 1},
        {"database": 7},
        {"role": 3.5},
        {"remediation": b"bytes"},
        {"baseline": "new"},
        {"baseline": 5},
        {"details": "not a dict"},
    ]
    return [dataclasses.replace(base, fingerprint=f"{i:032x}", **o) for i, o in enumerate(odd)]


def test_finding_text_is_the_encoded_dict():
    """_finding_text writes most findings without their dict: the encoder's text of
    finding_json, whatever the shape or types."""
    from report_fixtures import full_result, many_result

    from pgaudit_roles.reports import json_report

    findings = _odd_findings() + full_result().findings + many_result(50).findings
    for f in findings:
        assert json_report._finding_text(f) == json_report._ENCODER.encode(
            json_report.finding_json(f)
        ), f


def test_streamed_findings_are_the_per_finding_text():
    """iter_json joins the findings in chunks: the same text as one escaped dict each."""
    from report_fixtures import full_result, many_result

    from pgaudit_roles.reports import json_report

    for result in (full_result(), many_result(2_345)):
        # (details that are not a dict: the summary reads them; _finding_text's test has them)
        result.results[0].findings += [f for f in _odd_findings() if isinstance(f.details, dict)]
        text = json_report.render(result)
        head = next(json_report.iter_json(result, indent=True))
        each = [
            json_report._dumps(json_report.finding_json(f))
            for r in result.results
            for f in r.findings
        ]
        assert text == head + ",\n".join(each) + "\n]}\n"
        assert any(x["baseline"] == 5 for x in json.loads(text)["findings"])
