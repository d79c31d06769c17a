"""Rule files: format validation and the sqlglot query checks (pure logic, no server)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pgaudit_roles.core.errors import RuleError
from pgaudit_roles.evaluate import rules as rules_mod
from pgaudit_roles.evaluate.rules import load_rule_file, load_rules, validate_query

GOOD = """\
id = "{id}"
title = "Roles named in the test have no superuser attribute"
severity = "high"
category = "roles"
object_type = "role"
rationale = "Because tests need a rule."
references = [{{ kind = "docs", text = "Role attributes", url = "https://www.postgresql.org/docs/current/role-attributes.html" }}]
requires = ["roles"]
query = \"\"\"
SELECT name AS role FROM roles WHERE superuser
\"\"\"
message = "Role {{{{ role }}}} is a superuser."
remediation = "ALTER ROLE {{{{ role|role }}}} NOSUPERUSER;"
fix_safety = "review"
"""


def write_rule(
    directory: Path, rid: str = "PGR-TEST-001", text: str | None = None, **replace: str
) -> Path:
    body = text if text is not None else GOOD.format(id=rid)
    for old, new in replace.items():
        assert old in body, old
        body = body.replace(old, new)
    path = directory / f"{rid}.toml"
    path.write_text(body, encoding="utf-8")
    return path


def test_good_rule_loads(tmp_path: Path) -> None:
    rule = load_rule_file(write_rule(tmp_path))
    assert rule.id == "PGR-TEST-001"
    assert rule.requires == ("roles",)
    assert rule.references[0].kind == "docs"
    assert rule.min_server_version == 130000
    assert rule.fix_safety == "review" and rule.destructive is False


def test_builtin_rules_load() -> None:
    loaded = load_rules()
    ids = [r.id for r in loaded]
    assert {"PGR-PRIV-001", "PGR-OWN-001", "PGR-ROLE-001", "PGR-ROLE-002"} <= set(ids)
    assert all(r.origin == "builtin" for r in loaded)


def test_builtin_rules_loaded_twice_are_equal_and_independent(tmp_path: Path) -> None:
    """A process parses each built-in file once; every load still gets rules of its own
    (changing one never shows in the next load), and a changed file is read anew."""
    first = load_rules()
    first[0].severity = "info" if first[0].severity != "info" else "low"
    second = load_rules()
    assert second[0] is not first[0] and second[0].severity != first[0].severity
    assert second[1:] == first[1:]
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir()
    src = next(p for p in sorted(rules_mod.resources.rules_dir().glob("*.toml")))
    copy = rules_dir / src.name
    copy.write_bytes(src.read_bytes())
    a = load_rule_file(copy, origin="builtin")
    copy.write_text(
        copy.read_text(encoding="utf-8").replace(f'title = "{a.title}"', 'title = "Changed"'),
        encoding="utf-8",
    )
    assert load_rule_file(copy, origin="builtin").title == "Changed" != a.title


@pytest.mark.parametrize(
    ("replace", "needle"),
    [
        ({'severity = "high"': 'severity = "urgent"'}, "severity 'urgent'"),
        ({'category = "roles"': 'category = "misc"'}, "category 'misc'"),
        ({'fix_safety = "review"': 'fix_safety = "yolo"'}, "fix_safety"),
        ({'object_type = "role"\n': ""}, "missing required key 'object_type'"),
        ({'fix_safety = "review"': 'fix_safety = "review"\nextra = 1'}, "unknown key 'extra'"),
        (
            {
                'title = "Roles named in the test have no superuser attribute"': 'title = "Ensure roles are fine"'
            },
            "not start with 'Ensure'",
        ),
        (
            {
                'title = "Roles named in the test have no superuser attribute"': 'title = "'
                + "x" * 151
                + '"'
            },
            "at most 150",
        ),
        ({'requires = ["roles"]': 'requires = ["nonsense"]'}, "unknown source 'nonsense'"),
        ({'kind = "docs"': 'kind = "blog"'}, "kind 'blog'"),
        (
            {
                'url = "https://www.postgresql.org/docs/current/role-attributes.html"': 'url = "javascript:alert(1)"'
            },
            "http(s) URL",
        ),
        (
            {
                'remediation = "ALTER ROLE {{ role|role }} NOSUPERUSER;"': 'remediation = "ALTER ROLE {{ role }} NOSUPERUSER;"'
            },
            "quoting filter",
        ),
        (
            {
                'message = "Role {{ role }} is a superuser."': 'message = "Role {{ role is a superuser."'
            },
            "message template",
        ),
        ({'remediation = "ALTER ROLE {{ role|role }} NOSUPERUSER;"\n': ""}, "needs 'remediation'"),
        ({'fix_safety = "review"': 'fix_safety = "manual"'}, "needs a 'manual'"),
        (
            {'fix_safety = "review"': 'fix_safety = "review"\nmin_server_version = "15"'},
            "min_server_version",
        ),
    ],
)
def test_bad_rule_is_refused_with_file_name(
    tmp_path: Path, replace: dict[str, str], needle: str
) -> None:
    path = write_rule(tmp_path, **replace)
    with pytest.raises(RuleError) as exc:
        load_rule_file(path)
    assert str(path) in str(exc.value)
    assert needle in str(exc.value)


def test_id_must_match_file_name(tmp_path: Path) -> None:
    path = tmp_path / "PGR-TEST-002.toml"
    path.write_text(GOOD.format(id="PGR-TEST-001"), encoding="utf-8")
    with pytest.raises(RuleError, match="file name must be the rule id"):
        load_rule_file(path)


def test_id_pattern(tmp_path: Path) -> None:
    path = tmp_path / "pgr-test-1.toml"
    path.write_text(GOOD.format(id="pgr-test-1"), encoding="utf-8")
    with pytest.raises(RuleError, match="does not match PGR-"):
        load_rule_file(path)


def test_invalid_toml_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "PGR-TEST-001.toml"
    path.write_text('id = "PGR-TEST-001"\ntitle = \n', encoding="utf-8")
    with pytest.raises(RuleError, match=r"PGR-TEST-001\.toml: invalid TOML.*line 2"):
        load_rule_file(path)


def test_user_rule_dir_is_loaded_and_marked(tmp_path: Path) -> None:
    write_rule(tmp_path)
    loaded = load_rules([tmp_path])
    user = [r for r in loaded if r.origin == "user"]
    assert [r.id for r in user] == ["PGR-TEST-001"]


def test_missing_rules_dir_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(RuleError, match="not a directory"):
        load_rules([tmp_path / "nope"])


def test_user_rule_cannot_reuse_a_builtin_id(tmp_path: Path) -> None:
    write_rule(tmp_path, "PGR-ROLE-001")
    with pytest.raises(RuleError, match="PGR-ROLE-001 is already used"):
        load_rules([tmp_path])


def test_alias_clash_is_an_error(tmp_path: Path) -> None:
    write_rule(
        tmp_path,
        "PGR-TEST-001",
        **{'fix_safety = "review"': 'fix_safety = "review"\naliases = ["PGR-OLD-001"]'},
    )
    other = tmp_path / "more"
    other.mkdir()
    write_rule(other, "PGR-OLD-001")
    with pytest.raises(RuleError, match="PGR-OLD-001 is already used"):
        load_rules([tmp_path, other])


def test_alias_resolves_to_current_id(tmp_path: Path) -> None:
    write_rule(
        tmp_path,
        "PGR-TEST-001",
        **{'fix_safety = "review"': 'fix_safety = "review"\naliases = ["PGR-OLD-001"]'},
    )
    loaded = load_rules([tmp_path])
    ids = rules_mod.resolve_ids(loaded)
    assert ids["PGR-OLD-001"] == "PGR-TEST-001"
    assert rules_mod.find_rule(loaded, "PGR-OLD-001").id == "PGR-TEST-001"  # type: ignore[union-attr]


# --- query validation --------------------------------------------------------------------


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT name AS role FROM roles WHERE superuser",
        "WITH su AS (SELECT name FROM roles WHERE superuser) SELECT * FROM su",
        "SELECT r.name FROM roles r JOIN role_closure c ON c.member = r.name",
        "SELECT name FROM roles UNION ALL SELECT name FROM databases",
        "SELECT r.name, u.x FROM roles r, unnest(r.config) AS u(x)",
        "SELECT list_filter([1, 2], lambda x: x > 1) FROM roles",
        "SELECT name FROM roles WHERE regexp_matches(name, '^app_')",
        "SELECT * FROM (VALUES (1)) t(x)",
        "SELECT 1;",
    ],
)
def test_allowed_queries(sql: str) -> None:
    validate_query(sql, "r.toml")


@pytest.mark.parametrize(
    ("sql", "needle"),
    [
        ("DELETE FROM roles", "must be a SELECT"),
        ("INSERT INTO roles SELECT * FROM roles", "must be a SELECT"),
        ("UPDATE roles SET name = 'x'", "must be a SELECT"),
        ("DROP TABLE roles", "must be a SELECT"),
        ("CREATE TABLE x AS SELECT 1", "must be a SELECT"),
        ("SELECT 1; SELECT 2", "exactly one statement, found 2"),
        ("SELECT * FROM nonexistent", "unknown table 'nonexistent'"),
        ("SELECT * FROM main.roles", "qualified table name"),
        ("SELECT * FROM pg_catalog.pg_authid", "qualified table name"),
        ("SELECT * FROM read_csv('/etc/passwd')", "table functions are not allowed"),
        ("SELECT * FROM read_parquet(['x.parquet'])", "table functions are not allowed"),
        ("SELECT * FROM '/etc/passwd'", "unknown table '/etc/passwd'"),
        ("SELECT * FROM glob('*')", "table functions"),
        ("SELECT * FROM query('SELECT 1')", "table functions"),
        ("SELECT read_text('/etc/passwd')", "function read_text()"),
        ("SELECT getenv('HOME')", "function getenv()"),
        ("SELECT current_setting('home_directory')", "function current_setting()"),
        ("SELECT json_execute_serialized_sql('x')", "function json_execute_serialized_sql()"),
        ("SELECT * FROM roles WHERE name IN (SELECT * FROM read_json('x'))", "table functions"),
        ("WITH x AS (SELECT * FROM secrets) SELECT * FROM x", "unknown table 'secrets'"),
        ("ATTACH 'x.db'", "must be a SELECT"),
        ("COPY roles TO '/tmp/x'", "must be a SELECT"),
        ("PRAGMA version", "must be a SELECT"),
        ("INSTALL httpfs", "must be a SELECT"),
        ("SELECT name INTO new_table FROM roles", "INTO is not allowed"),
        ("SELEC name FROM roles", "does not parse"),
        ("SELECT no_such_column AS role FROM roles", "does not bind against the audit schema"),
        ("SELECT name AS role FROM roles WHERE superuser + 'x'", "does not bind"),
        ("SELECT at FROM roles", "does not parse in DuckDB"),
        ("", "is empty"),
    ],
)
def test_refused_queries(sql: str, needle: str) -> None:
    with pytest.raises(RuleError) as exc:
        validate_query(sql, "rules/PGR-X-001.toml")
    assert "rules/PGR-X-001.toml" in str(exc.value)
    assert needle in str(exc.value)


def test_error_line_points_into_the_file(tmp_path: Path) -> None:
    path = write_rule(
        tmp_path,
        **{
            "SELECT name AS role FROM roles WHERE superuser": "SELECT name AS role\nFROM roles\nJOIN secrets s ON true"
        },
    )
    text = path.read_text()
    lineno = next(i for i, line in enumerate(text.splitlines(), 1) if "JOIN secrets" in line)
    with pytest.raises(RuleError) as exc:
        load_rule_file(path)
    assert f"{path}:{lineno}: query: unknown table 'secrets'" in str(exc.value)


def test_bind_error_line_points_into_the_file(tmp_path: Path) -> None:
    path = write_rule(
        tmp_path,
        **{
            "SELECT name AS role FROM roles WHERE superuser": "SELECT name AS role\nFROM roles\nWHERE supreuser"
        },
    )
    lineno = next(
        i for i, line in enumerate(path.read_text().splitlines(), 1) if "WHERE supreuser" in line
    )
    with pytest.raises(RuleError) as exc:
        load_rule_file(path)
    assert f"{path}:{lineno}: query: does not bind" in str(exc.value)
    assert "supreuser" in str(exc.value)


def test_audit_macros_are_available_to_rules() -> None:
    validate_query("SELECT pg_quote_ident(name) AS role FROM roles", "r.toml")


def test_source_names_are_the_snapshots() -> None:
    """The sources a rule may require are the snapshot's own list, defined once in the
    earlier stage (collect), not a copy kept in step by hand."""
    from pgaudit_roles.collect.snapshot import SOURCES

    assert rules_mod.SOURCE_NAMES is SOURCES


def test_audit_tables_come_from_the_audit_schema() -> None:
    from pgaudit_roles.audit import audit_schema

    assert rules_mod.audit_tables() == frozenset(audit_schema.AUDIT_TABLES)


# --- CLI: a bad user rule is one line and exit 2 -------------------------------------------


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pgaudit_roles.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("query", "needle"),
    [
        ("DELETE FROM roles", "must be a SELECT"),
        ("SELECT 1 AS role; SELECT 2 AS role", "exactly one statement"),
        ("SELECT name AS role FROM no_such_table", "unknown table 'no_such_table'"),
    ],
)
def test_cli_refuses_bad_user_rule(tmp_path: Path, query: str, needle: str) -> None:
    path = write_rule(tmp_path, **{"SELECT name AS role FROM roles WHERE superuser": query})
    proc = run_cli("rules", "list", "--rules-dir", str(tmp_path), cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    err = proc.stderr.strip()
    assert "\n" not in err and "Traceback" not in err
    assert str(path) in err and needle in err
    assert proc.stdout == ""


def test_cli_rules_list_and_show(tmp_path: Path) -> None:
    write_rule(tmp_path)
    proc = run_cli("rules", "list", "--rules-dir", str(tmp_path), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (
        "PGR-PRIV-001" in proc.stdout and "PGR-TEST-001" in proc.stdout and "[user]" in proc.stdout
    )
    proc = run_cli("rules", "list", "--format", "json", cwd=tmp_path)
    import json

    data = json.loads(proc.stdout)
    assert {d["id"] for d in data} >= {"PGR-ROLE-001", "PGR-ROLE-002"}
    assert all(d["references"] for d in data)
    proc = run_cli("rules", "show", "pgr-role-002", cwd=tmp_path)
    assert proc.returncode == 0
    assert proc.stdout.startswith("PGR-ROLE-002: No application role is or can become a superuser")
    assert "Manual procedure:" in proc.stdout
    proc = run_cli("rules", "show", "PGR-NOPE-999", cwd=tmp_path)
    assert proc.returncode == 2 and "unknown rule" in proc.stderr


def test_rules_module_import_is_light() -> None:
    code = textwrap.dedent("""
        import sys
        import pgaudit_roles.evaluate.rules, pgaudit_roles.evaluate.engine, pgaudit_roles.config
        import pgaudit_roles.evaluate.frameworks, pgaudit_roles.rule_docs
        import pgaudit_roles.commands.check, pgaudit_roles.commands.rules
        heavy = [m for m in ("sqlglot", "duckdb", "jinja2", "pglast", "psycopg") if m in sys.modules]
        print(",".join(heavy))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_user_rules_may_use_their_own_prefix(tmp_path: Path) -> None:
    path = tmp_path / "ACME-ROLE-001.toml"
    path.write_text(GOOD.format(id="ACME-ROLE-001"), encoding="utf-8")
    assert load_rule_file(path, origin="user").id == "ACME-ROLE-001"
    with pytest.raises(RuleError, match="does not match PGR-"):
        load_rule_file(path, origin="builtin")


def test_readme_custom_rule_example_loads() -> None:
    import re

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Writing a custom rule", 1)[1]
    body = re.search(r"```toml\n(.*?)```", section, re.S)
    assert body, "README has no custom rule example"
    rid = re.search(r'^id = "([^"]+)"', body.group(1), re.M)
    assert rid
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / f"{rid.group(1)}.toml"
        p.write_text(body.group(1), encoding="utf-8")
        rule = load_rule_file(p, origin="user")
    assert rule.id == rid.group(1)
