"""``--format prometheus``: the node_exporter textfile, parsed back with prometheus_client.

Every value is checked against the ScanResult it came from; hostile target names (quotes,
backslashes, newlines, markup, bidi) stay one valid label each; many targets share one
family header (the format allows each family once).
"""

from __future__ import annotations

import datetime as dt

import pytest
from prometheus_client.parser import text_string_to_metric_families
from report_fixtures import HOSTILE, clone, empty_result, full_result

from pgaudit_roles.reports import write_reports
from pgaudit_roles.reports.common import printable
from pgaudit_roles.reports.prometheus_report import Entry, label_value, render_metrics


def parse(text: str) -> dict[str, list]:
    return {f.name: f.samples for f in text_string_to_metric_families(text)}


def test_values_match_the_result(tmp_path):
    res = full_result()
    res.meta["target_name"] = "db1"
    res.meta["collected_at"] = "2026-01-02T03:04:05+00:00"
    res.meta["run_seconds"] = 12.5
    path = write_reports(res, ["prometheus"], tmp_path)["prometheus"]
    assert path.name == "pgaudit-report.prom"
    assert [p.name for p in tmp_path.iterdir()] == ["pgaudit-report.prom"]  # no temp left
    fams = parse(path.read_text())

    want: dict[tuple[str, str], int] = {}
    for r in res.results:
        if r.status in ("pass", "fail", "incomplete"):
            want.setdefault((r.rule.id, r.effective_severity), 0)
        for f in r.findings:
            if f.suppressed is None:
                want[(f.rule_id, f.severity)] = want.get((f.rule_id, f.severity), 0) + 1
    got = {(s.labels["rule"], s.labels["severity"]): s.value for s in fams["pgaudit_findings"]}
    assert got == want and any(v > 0 for v in got.values())
    assert all(s.labels["target"] == "db1" for s in fams["pgaudit_findings"])

    gating = {s.labels["severity"]: s.value for s in fams["pgaudit_gating_findings"]}
    assert gating == {k: float(v) for k, v in res.counts_by_severity().items()}
    rules = {s.labels["status"]: s.value for s in fams["pgaudit_rules"]}
    assert rules == {k: float(v) for k, v in res.counts_by_status().items()}
    (gate,) = fams["pgaudit_gate_failing"]
    assert (
        gate.value == (1.0 if res.gating_findings() else 0.0) and gate.labels["fail_on"] == "high"
    )
    assert gate.value == 1.0
    (ts,) = fams["pgaudit_last_successful_scan_timestamp_seconds"]
    assert ts.value == dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC).timestamp()
    (dur,) = fams["pgaudit_scan_duration_seconds"]
    assert dur.value == 12.5
    (gaps,) = fams["pgaudit_coverage_gaps"]
    assert gaps.value == sum(
        1 for c in res.meta.get("coverage") or [] if c.get("status") == "not_collected"
    )


def test_no_findings_gate_passes():
    res = empty_result()
    res.meta["target_name"] = "empty"
    fams = parse(render_metrics([Entry("empty", res, 0.25)]))
    assert all(s.value == 0 for s in fams["pgaudit_gating_findings"])
    assert fams["pgaudit_gate_failing"][0].value == 0
    assert fams["pgaudit_scan_duration_seconds"][0].value == 0.25


@pytest.mark.parametrize("name", [*HOSTILE, 'back\\slash"', "a\\nb", "\ud800lone"])
def test_hostile_target_names_stay_valid_labels(name):
    res = full_result()
    text = render_metrics([Entry(name, res, 1.0), Entry("plain", clone(res), 2.0)])
    fams = parse(text)
    targets = {s.labels["target"] for s in fams["pgaudit_coverage_gaps"]}
    shown = printable(name).encode("utf-8", "replace").decode()
    assert targets == {shown, "plain"}
    # one family header each, one sample per line
    assert text.count("# TYPE pgaudit_findings gauge") == 1
    assert all(line.startswith(("#", "pgaudit_")) for line in text.splitlines())
    durations = {s.labels["target"]: s.value for s in fams["pgaudit_scan_duration_seconds"]}
    assert durations == {shown: 1.0, "plain": 2.0}


def test_label_value_escapes():
    assert label_value('a"b') == 'a\\"b'
    # printable shows a backslash doubled (so "x\\ny" and "x<newline>y" differ); the
    # format doubles it again
    assert label_value("a\\c") == "a" + "\\" * 4 + "c"
    assert "\n" not in label_value("x\ny") and label_value("x\ny") == "x\\\\ny"
