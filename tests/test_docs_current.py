"""Every generated document (README sections, docs/rules.md, docs/audit-schema.md) matches the
code, through the one entry point ``python -m pgaudit_roles.docgen --check``; --help and --version stay light,
and an offline ``check`` loads no database driver."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from test_bad_input import valid_doc

from pgaudit_roles import docgen

HEAVY = ("psycopg", "duckdb", "sqlglot", "pglast", "jinja2")
# the pipeline's stages (tests/test_import_graph.py): none is needed to print help or version
PIPELINE = (
    "pgaudit_roles.collect",
    "pgaudit_roles.audit",
    "pgaudit_roles.evaluate",
    "pgaudit_roles.reports",
    "pgaudit_roles.pipeline",
    "pgaudit_roles.config",
)


def test_generated_docs_are_current():
    # in a fresh interpreter, as a developer runs it: click caches each command's help
    # option, so rendering inside a session that already ran commands could differ
    res = subprocess.run(
        [sys.executable, "-m", "pgaudit_roles.docgen", "--check"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr or "run: python -m pgaudit_roles.docgen"


def test_readme_cli_reference_lists_every_command():
    from pgaudit_roles.cli import COMMANDS

    text = docgen.README.read_text(encoding="utf-8")
    for name in COMMANDS:
        assert f"### `pgaudit-roles {name}`" in text


def test_readme_gives_the_two_commands():
    text = docgen.README.read_text(encoding="utf-8")
    assert "pgaudit-roles demo" in text and "bash tests/run.sh" in text
    assert "exec bash tests/run.sh" in (docgen.README.parent / ".ci" / "run").read_text()


@pytest.mark.parametrize("args", [["--help"], ["--version"]])
def test_help_and_version_stay_light(args: list[str]) -> None:
    # the top-level --help/--version load click and the CLI's core only: no heavy
    # library, and no pipeline stage (the reports package alone cost ~14 ms of the ~45 ms)
    code = (
        "import sys\n"
        "from pgaudit_roles.cli import main\n"
        f"try:\n    main({args!r})\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        f"{HEAVY!r} or m.split('.')[:2] in {[p.split('.') for p in PIPELINE]!r}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    lines = out.stdout.strip().splitlines()
    assert "pgaudit-roles" in out.stdout and lines[-1] == "[]", out.stdout


def test_check_of_a_file_loads_no_driver(tmp_path: Path) -> None:
    # an offline check reads a file: psycopg (~85 ms to import) is for scan, collect and
    # the SQL script's twin (`--format sql`), never for evaluating a snapshot
    snap = tmp_path / "snap.json"
    snap.write_text(json.dumps(valid_doc()), encoding="utf-8")
    argv = ["check", str(snap), "--format", "json", "--output-dir", str(tmp_path), "-q"]
    code = (
        "import sys\n"
        "from pgaudit_roles.cli import main\n"
        f"try:\n    main({argv!r})\nexcept SystemExit as exc:\n    print(exc.code)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'psycopg'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-2:] == ["1", "[]"], out.stdout + out.stderr
    assert json.loads((tmp_path / "pgaudit-report.json").read_text())["findings"]


def test_verbose_still_turns_on_debug_logs() -> None:
    # logging is imported only for -v now (scan/check without it never log): -v must still
    # configure the root logger at DEBUG on stderr, and a run without it loads no logging
    code = (
        "import sys\n"
        "from pgaudit_roles.cli import main\n"
        "for args in (['check', '/nonexistent/snap.json'], ['check', '/nonexistent/snap.json', '-v']):\n"
        "    try:\n        main(args)\n    except SystemExit as exc:\n        print(exc.code)\n"
        "    if 'logging' in sys.modules:\n"
        "        root = sys.modules['logging'].getLogger()\n"
        "        print(root.level, [type(h).__name__ for h in root.handlers])\n"
        "    else:\n        print('no logging')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines() == ["2", "no logging", "2", "10 ['StreamHandler']"], out
