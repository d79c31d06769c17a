"""The one docs entry point (``python -m pgaudit_roles.docgen``) and the rule examples it
renders: pure logic on temporary copies of the checkout, no server."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from pgaudit_roles import docgen, rule_examples
from pgaudit_roles.rule_docs import render_example

ROOT = Path(__file__).resolve().parent.parent


def checkout_copy(tmp_path: Path) -> Path:
    """The parts of the checkout the docs are generated from, copied to ``tmp_path``."""
    root = tmp_path / "repo"
    root.mkdir()
    shutil.copy(ROOT / "README.md", root / "README.md")
    shutil.copytree(ROOT / "docs", root / "docs")
    shutil.copytree(ROOT / "rules", root / "rules")
    shutil.copytree(ROOT / "tests" / "rules" / "cases", root / "tests" / "rules" / "cases")
    shutil.copytree(ROOT / "tests" / "data" / "lint", root / "tests" / "data" / "lint")
    return root


def run_docgen(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pgaudit_roles.docgen", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def docgen_main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """``(exit code, stderr)`` of ``python -m pgaudit_roles.docgen ARGS`` run in this process
    (``__main__`` is ``sys.exit(main())``; the real entry point is run by the next test)."""
    capsys.readouterr()
    code = docgen.main(list(args))
    return code, capsys.readouterr().err


def test_check_names_each_stale_file_and_a_run_fixes_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = checkout_copy(tmp_path)
    assert docgen.stale(root) == []
    # one change per generated document: a case, the README's rule list, the schema doc
    cases = root / "tests" / "rules" / "cases" / "PGR-ROLE-003.toml"
    cases.write_text(
        cases.read_text(encoding="utf-8").replace(
            "CREATE ROLE app_{p} LOGIN CREATEROLE;", "CREATE ROLE app_{p} LOGIN  CREATEROLE;", 1
        ),
        encoding="utf-8",
    )
    readme = root / "README.md"
    readme.write_text(
        readme.read_text(encoding="utf-8").replace("| [PGR-ROLE-003]", "| [X]"), encoding="utf-8"
    )
    (root / "docs" / "audit-schema.md").write_text("old\n", encoding="utf-8")
    (root / "rules" / "validated.json").unlink()
    code, err = docgen_main(capsys, "--check", "--root", str(root))
    assert code == 1
    assert err.strip() == (
        "generated docs are stale: README.md, docs/rules.md, "
        "docs/audit-schema.md, rules/validated.json: run python -m "
        "pgaudit_roles.docgen"
    )
    code, err = docgen_main(capsys, "--root", str(root))
    assert code == 0, err
    assert "LOGIN  CREATEROLE" in (root / "docs" / "rules.md").read_text(encoding="utf-8")
    for same in ("docs/audit-schema.md", "rules/validated.json"):
        assert (root / same).read_text(encoding="utf-8") == (ROOT / same).read_text(
            encoding="utf-8"
        )
    assert docgen_main(capsys, "--check", "--root", str(root)) == (0, "")
    assert not list(root.rglob(".*.tmp")), "a temporary file was left behind"


def test_bad_arguments_and_a_readme_without_markers_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    res = run_docgen("--nope")  # the real entry point: its exit code and one line
    assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1
    assert "Traceback" not in res.stderr
    root = checkout_copy(tmp_path)
    (root / "README.md").write_text("# no markers\n", encoding="utf-8")
    code, err = docgen_main(capsys, "--check", "--root", str(root))  # raising would fail
    assert code == 2 and "Traceback" not in err
    assert err.strip().splitlines() == [
        "docgen: README.md has no <!-- cli:start --> ... <!-- cli:end --> section"
    ]


def test_case_examples_substitute_and_show_each_part(tmp_path: Path) -> None:
    case = {
        "name": "hostile <b>*x*</b>",
        "expect": "fail",
        "min_version": 16,
        "cluster_setup": 'CREATE ROLE "app_{p} ```x```" LOGIN;',
        "setup": "CREATE TABLE t(i int);",
        "hba": "host all app_{p} 0.0.0.0/0 trust\n",
        "settings": {"ssl": "on", "log_line_prefix": "it's"},
        "config": {"naming": {"breakglass": ["dba_{p}"], "app_schemas": {"{p}": ["a b"]}}},
        "match": {"role": "app_{p}", "database": "{db}", "details": {"login": True}},
    }
    ex = rule_examples.case_example(case, "tests/rules/cases/X.toml")
    labels = [b.label for b in ex.blocks]
    assert labels == [
        "Cluster-wide, as a superuser",
        "In the audited database (`demo_db`), as a superuser",
        "Server settings (postgresql.conf)",
        "pg_hba.conf",
        "Configuration (pgaudit-roles.toml)",
    ]
    text = "\n".join(render_example(ex))
    assert "{p}" not in text and "{db}" not in text
    assert "### Anti-pattern" in text and "(PostgreSQL 16 and later)" in text
    assert 'test case "hostile \\<b\\>\\*x\\*\\</b\\>"' in text  # no markup from a case name
    assert "log_line_prefix = 'it''s'" in text
    assert "Reported: role `app_demo`, database `demo_db`, login `true`." in text
    # a block holding backticks gets a longer fence
    assert '````sql\nCREATE ROLE "app_demo ```x```" LOGIN;\n````' in text
    toml = next(b.text for b in ex.blocks if b.lang == "toml")
    assert tomllib.loads(toml) == rule_examples.shown(case["config"])


@pytest.mark.parametrize(
    "value",
    [
        {"naming": {"kinds": {"{p}_dba": "admin"}, "breakglass": ["{p}_bg"]}},
        {"a": {"b": {"c": [1, True, 'x"y\\z\n']}}, "top": "v"},
        {"naming": {"app_schemas": {"Billing Data": ["é", "tab\there"]}}},
    ],
)
def test_toml_writer_reads_back(value: dict) -> None:
    assert tomllib.loads(rule_examples.toml_text(value)) == value


def test_code_span_survives_backticks() -> None:
    assert rule_examples.code("a`b") == "``a`b``"
    assert rule_examples.code("`x`") == "`` `x` ``"
    assert rule_examples.code("two\nlines") == "`two lines`"


def test_example_choice_prefers_every_version_and_something_to_show(tmp_path: Path) -> None:
    path = tmp_path / "PGR-TEST-001.toml"
    path.write_text(
        """
[[case]]
name = "only on 16"
expect = "fail"
min_version = 16
cluster_setup = "CREATE ROLE a_{p};"
[case.match]
role = "a_{p}"

[[case]]
name = "every version"
expect = "fail"
cluster_setup = "CREATE ROLE b_{p};"
[case.match]
role = "b_{p}"

[[case]]
name = "nothing to show"
expect = "pass"

[[case]]
name = "settings"
expect = "pass"
settings = { ssl = "on" }
""",
        encoding="utf-8",
    )
    got = rule_examples.case_file_examples(path, tmp_path)
    assert got["fail"].case == "every version" and got["pass"].case == "settings"


def test_lint_examples_show_the_marked_statement_with_its_context() -> None:
    examples = rule_examples.lint_examples(ROOT / "tests" / "data" / "lint", ROOT)
    fail = examples["PGR-LINT-010"]["fail"].blocks[0].text
    assert fail.endswith("SET ROLE app_lc;\nCREATE TABLE lc.cache (id int);")
    assert "--" not in fail  # the marker comments are not shown
    multi = examples["PGR-LINT-002"]["fail"].blocks[0].text
    assert multi == "CREATE ROLE lc_admin\n  WITH NOLOGIN\n  SUPERUSER;"
