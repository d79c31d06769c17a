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


def test_every_report_is_on_disk_before_the_first_rename(tmp_path, monkeypatch):
    """write_reports syncs each file on a thread while the next one renders (not in
    atomic_writer): each temporary file's data must still reach fsync, and every fsync
    must be done before any report is renamed into place."""
    import stat as stat_mod
    import threading

    events: list[tuple[str, str]] = []
    lock = threading.Lock()
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        real_fsync(fd)
        st = os.fstat(fd)
        with lock:
            events.append(("fsync", f"{st.st_ino}" if stat_mod.S_ISREG(st.st_mode) else "?"))

    def replace(src, dst):
        with lock:
            events.append(("replace", f"{os.stat(src).st_ino}"))
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    paths = write_reports(full_result(), NON_SQL, tmp_path)
    synced = [i for e, i in events if e == "fsync"]
    renamed = [i for e, i in events if e == "replace"]
    assert len(renamed) == len(paths) and sorted(synced) == sorted(renamed)
    first_rename = next(n for n, (e, _) in enumerate(events) if e == "replace")
    assert all(e == "fsync" for e, _ in events[:first_rename])
    assert len(events[:first_rename]) == len(paths)


def test_a_failed_sync_keeps_the_old_reports(tmp_path, monkeypatch):
    import errno

    old = write_reports(full_result(), ["json", "html"], tmp_path)
    before = {k: p.read_bytes() for k, p in old.items()}
    calls = []

    def fsync(fd):
        calls.append(fd)
        if len(calls) == 2:
            raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "fsync", fsync)
    result = full_result()
    result.fail_on = "low"  # a different report, so a rename would show
    with pytest.raises(UsageError, match="Input/output error"):
        write_reports(result, ["json", "html"], tmp_path)
    assert {k: p.read_bytes() for k, p in old.items()} == before
    assert not [n for n in os.listdir(tmp_path) if n.endswith(".tmp")]
