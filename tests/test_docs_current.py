"""Every generated document (README sections, docs/rules.md, docs/audit-schema.md) matches the
code, through the one entry point ``python -m pgaudit_roles.docgen --check``; --help stays light."""

from __future__ import annotations

import subprocess
import sys

from pgaudit_roles import docgen

HEAVY = ("psycopg", "duckdb", "sqlglot", "pglast", "jinja2")


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


def test_help_imports_no_heavy_module():
    code = (
        "import sys\n"
        "from pgaudit_roles.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout
