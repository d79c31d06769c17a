"""What a live scan has imported when it forks its collection.

Why it matters: the collection's child (``collect.forked``) starts when the scan has read
its configuration (``pipeline.start_collection``); whatever this process imported before
that delays both the child (its ``import psycopg`` and its queries) and the evaluation.
The evaluation's modules (DuckDB, the audit schema, the engine, the rules, the reporters)
are imported after the fork, while the child collects (``pipeline.EvaluationStart``).

Pure: a fresh interpreter imports the modules and reports ``sys.modules`` (no server).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

EVALUATION_MODULES = (
    "duckdb",
    "jinja2",
    "pglast",
    "pgaudit_roles.audit.audit_schema",
    "pgaudit_roles.evaluate.engine",
    "pgaudit_roles.evaluate.rules",
    "pgaudit_roles.evaluate.frameworks",
    "pgaudit_roles.twin.verify",
    "pgaudit_roles.reports.html_report",
)
"""Imported by the evaluation and the reports, not needed to start the collection."""


def _loaded_after(code: str) -> set[str]:
    script = code + "\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))\n"
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    return set(json.loads(done.stdout))


@pytest.mark.parametrize(
    "code",
    [
        # the Python API: run_scan / collect_snapshot / start_collection
        "from pgaudit_roles import pipeline",
        # the CLI's scan command and the body it shares with check, with the configuration
        "from pgaudit_roles.commands import scan, _shared\n"
        "from pgaudit_roles.config import load_config\n"
        "load_config(None, discover_file=False)",
    ],
    ids=["pipeline", "cli-scan"],
)
def test_the_collection_starts_before_the_evaluation_is_imported(code: str) -> None:
    loaded = _loaded_after(code)
    assert "pgaudit_roles.collect.collector" in loaded  # what the child runs is there
    assert "pgaudit_roles.collect.forked" in loaded
    assert sorted(m for m in EVALUATION_MODULES if m in loaded) == []


def test_the_evaluation_imports_them_where_it_needs_them() -> None:
    """The lazy imports are where they are used: the rules load, the evaluation start
    imports DuckDB and the reporters (a name missing from a moved import fails here)."""
    loaded = _loaded_after(
        "from pgaudit_roles import pipeline\n"
        "cfg = pipeline.Config()\n"
        "rules = pipeline.load_rules_for(cfg)\n"
        "start = pipeline.EvaluationStart(['json', 'html'], rules)\n"
        "start()\n"
        "assert start.con is not None\n"
        "start.close()\n"
    )
    assert {"duckdb", "pgaudit_roles.audit.audit_schema", "pgaudit_roles.evaluate.rules"} <= loaded
    assert "pgaudit_roles.reports.html_report" in loaded


def test_run_scan_runs_under_the_gc_settings_of_one_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``run_scan`` is one command's run, as the CLI's (``core.gcpolicy``): what existed
    is frozen and young collections are rare while it runs; both come back after."""
    import gc

    from pgaudit_roles import pipeline
    from pgaudit_roles.core import gcpolicy

    seen: list[tuple[tuple[int, int, int], int]] = []

    def scan(*_a: object, **_k: object) -> tuple[object, dict[str, object]]:
        seen.append((gc.get_threshold(), gc.get_freeze_count()))
        return "result", {}

    monkeypatch.setattr(pipeline, "_run_scan", scan)
    before = gc.get_threshold()
    frozen = gc.get_freeze_count()
    assert pipeline.run_scan("host=nowhere") == ("result", {})
    assert seen[0][0] == (gcpolicy.YOUNG, gcpolicy.OLDER, gcpolicy.OLDER)
    assert frozen or seen[0][1] > 0
    assert gc.get_threshold() == before and gc.get_freeze_count() == frozen
