"""write_reports: every format to disk atomically, directory created, clear errors."""

from __future__ import annotations

import importlib.util
import json
import os

import pytest
from report_fixtures import SECRET, full_result

from pgaudit_roles.core.errors import UsageError
from pgaudit_roles.reports import FORMATS, parse_formats, render, write_reports

HAVE_SQL = importlib.util.find_spec("pgaudit_roles.reports.sql_script") is not None
NON_SQL = [f for f in FORMATS if f not in ("sql", "csv")]  # csv: rows the engine computes


def test_writes_each_format_into_new_directory(tmp_path):
    out = tmp_path / "a" / "b"
    paths = write_reports(full_result(), NON_SQL, out)
    assert set(paths) == set(NON_SQL)
    assert paths["json"] == out / "pgaudit-report.json"
    assert paths["junit"].name == "pgaudit-report.junit.xml"
    for p in paths.values():
        assert p.exists() and p.stat().st_size > 0
        assert SECRET not in p.read_text(encoding="utf-8")
    json.loads(paths["json"].read_text())
    assert str(paths["html"]) in paths["text"].read_text()  # the summary lists the reports
    assert not [n for n in os.listdir(out) if n.endswith(".tmp")]


def test_failure_leaves_no_partial_file(tmp_path, monkeypatch):
    from pgaudit_roles.reports import json_report

    def boom(result, fh, **_):
        fh.write('{"schema_version": "1.0", "half": ')
        raise RuntimeError("disk full, say")

    monkeypatch.setattr(json_report, "write", boom)
    with pytest.raises(RuntimeError):
        write_reports(full_result(), ["json"], tmp_path)
    assert os.listdir(tmp_path) == []


def test_previous_report_survives_a_failed_rewrite(tmp_path, monkeypatch):
    from pgaudit_roles.reports import json_report

    paths = write_reports(full_result(), ["json"], tmp_path)
    before = paths["json"].read_text()
    monkeypatch.setattr(
        json_report, "write", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("x"))
    )
    with pytest.raises(RuntimeError):
        write_reports(full_result(), ["json"], tmp_path)
    assert paths["json"].read_text() == before


def test_bad_inputs_are_usage_errors(tmp_path):
    with pytest.raises(UsageError, match="unknown report format 'pdf'"):
        parse_formats("json,pdf")
    with pytest.raises(UsageError, match="unknown report option"):
        write_reports(full_result(), ["json"], tmp_path, colour="yes")
    with pytest.raises(UsageError, match="granularity"):
        render(full_result(), "junit", junit_granularity="test")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(UsageError, match="cannot create report directory"):
        write_reports(full_result(), ["json"], blocker / "sub")
    assert parse_formats(" JSON, html,json ") == ["json", "html"]


@pytest.mark.skipif(not HAVE_SQL, reason="sql_script reporter (another module) not present yet")
def test_sql_format_uses_the_remediation_module(tmp_path):
    paths = write_reports(full_result(), ["sql"], tmp_path)
    assert "NOSUPERUSER" in paths["sql"].read_text()


@pytest.mark.skipif(HAVE_SQL, reason="sql_script present")
def test_sql_format_without_module_is_a_clear_error(tmp_path):
    with pytest.raises(UsageError, match="sql report format is not available"):
        write_reports(full_result(), ["sql"], tmp_path)


def test_render_machine_formats_to_string():
    for fmt in ("json", "sarif"):
        json.loads(render(full_result(), fmt))
    assert render(full_result(), "junit").startswith("<?xml")
