"""Rule validation is paid once: built-in rules through the checked-in manifest, user rules
through the cache in the user's cache directory (pure logic, no server).

What must hold: every built-in rule validates in full and the manifest lists exactly the
files as they are; a built-in file that differs from the manifest is validated at load; a
user rule is validated the first time and again whenever its bytes change; a broken user
rule fails with the same message whatever the cache holds; a cache that cannot be written
changes nothing but speed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from cli_support import cli_process
from test_rules_loader import GOOD, write_rule

from pgaudit_roles.core import resources, usercache
from pgaudit_roles.core.errors import RuleError
from pgaudit_roles.evaluate import rule_manifest, validated_rules
from pgaudit_roles.evaluate import rules as rules_mod
from pgaudit_roles.evaluate.rules import load_rule_file, load_rules


@pytest.fixture
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """XDG_CACHE_HOME in a temporary directory (platformdirs reads it at each call)."""
    home = tmp_path / "xdg-cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    return home


@pytest.fixture
def validations(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The ``where`` of every query validation that runs (the expensive part)."""
    seen: list[str] = []
    real = rules_mod.validate_query

    def counting(sql: str, where: str, **kw: object) -> None:
        seen.append(where)
        real(sql, where, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(rules_mod, "validate_query", counting)
    return seen


def _fresh_manifest_cache() -> None:
    validated_rules._manifest.cache_clear()


# --- built-in rules --------------------------------------------------------------------------


def test_every_builtin_rule_validates_and_the_manifest_is_current() -> None:
    # render_manifest validates every built-in rule in full (sqlglot, DuckDB binding,
    # templates) before listing it; the checked-in file must be exactly that
    fresh = rule_manifest.render_manifest()
    current = validated_rules.manifest_path().read_text(encoding="utf-8")
    assert fresh == current, (
        "rules/validated.json is stale: run python -m pgaudit_roles.evaluate.rule_manifest"
    )
    listed = set(__import__("json").loads(current)["rules"])
    assert listed == {p.name for p in resources.rules_dir().glob("*.toml")}


def test_full_validation_of_builtin_rules_runs_every_query_check(validations: list[str]) -> None:
    loaded = load_rules(full_validation=True)
    queried = [r for r in loaded if r.on_snapshot]
    assert len(validations) == len(queried) > 50


def test_manifest_check_command_fails_when_stale(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # in this process (the command is ``sys.exit(main())``): a copy of the rules stands in
    # for the built-in directory, as ``resources.rules_dir`` names it
    rules = _builtin_copy(tmp_path, monkeypatch)
    target = rules / "PGR-ROLE-001.toml"
    target.write_text(target.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    assert rule_manifest.main(["--check"]) == 1
    assert "validated.json is stale" in capsys.readouterr().err
    assert rule_manifest.main([]) == 0, capsys.readouterr().err
    assert rule_manifest.main(["--check"]) == 0, capsys.readouterr().err
    assert capsys.readouterr().err == ""


def test_builtin_rules_listed_in_the_manifest_skip_validation(validations: list[str]) -> None:
    loaded = load_rules()
    assert len(loaded) > 50
    assert validations == []


def _builtin_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    rules = tmp_path / "rules"
    shutil.copytree(resources.rules_dir(), rules)
    monkeypatch.setattr(resources, "rules_dir", lambda: rules)
    _fresh_manifest_cache()
    return rules


def test_a_tampered_builtin_rule_is_validated_at_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, validations: list[str]
) -> None:
    rules = _builtin_copy(tmp_path, monkeypatch)
    target = rules / "PGR-ROLE-001.toml"
    text = target.read_text(encoding="utf-8")
    # a harmless edit: validated (hash mismatch), and it loads
    target.write_text(text + "\n# edited locally\n", encoding="utf-8")
    load_rules()
    assert validations == [str(target)]
    # a breaking edit: the same clear load error as for any rule
    validations.clear()
    broken = text.replace("FROM roles", "FROM pg_shadow", 1)
    assert broken != text
    target.write_text(broken, encoding="utf-8")
    with pytest.raises(
        RuleError, match=r"PGR-ROLE-001\.toml:\d+: query: unknown table 'pg_shadow'"
    ):
        load_rules()
    _fresh_manifest_cache()


def test_a_manifest_of_another_version_validates_everything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, validations: list[str]
) -> None:
    _builtin_copy(tmp_path, monkeypatch)
    monkeypatch.setattr(validated_rules, "__version__", "0.0.0-other")
    _fresh_manifest_cache()
    loaded = load_rules()
    assert len(validations) == len([r for r in loaded if r.on_snapshot])
    _fresh_manifest_cache()


def test_a_missing_or_corrupt_manifest_validates_everything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, validations: list[str]
) -> None:
    rules = _builtin_copy(tmp_path, monkeypatch)
    (rules / validated_rules.MANIFEST_NAME).write_text("{not json", encoding="utf-8")
    _fresh_manifest_cache()
    loaded = load_rules()
    assert len(validations) == len([r for r in loaded if r.on_snapshot])
    _fresh_manifest_cache()


def test_user_dir_manifest_is_not_trusted(
    tmp_path: Path, cache_home: Path, validations: list[str]
) -> None:
    # a user directory cannot vouch for its own rules by shipping a manifest
    path = write_rule(tmp_path, "ACME-ROLE-001", text=GOOD.format(id="ACME-ROLE-001"))
    doc = {
        "format": validated_rules.MANIFEST_FORMAT,
        "version": validated_rules.__version__,
        "rules": {path.name: validated_rules.digest(path.read_bytes())},
    }
    (tmp_path / validated_rules.MANIFEST_NAME).write_text(__import__("json").dumps(doc))
    load_rules([tmp_path], builtin=False)
    assert validations == [str(path)]


# --- user rules ------------------------------------------------------------------------------


def test_user_rule_validation_is_cached_and_redone_when_edited(
    tmp_path: Path, cache_home: Path, validations: list[str]
) -> None:
    rules_dir = tmp_path / "mine"
    rules_dir.mkdir()
    path = write_rule(rules_dir, "ACME-ROLE-001", text=GOOD.format(id="ACME-ROLE-001"))
    first = load_rules([rules_dir], builtin=False)
    assert validations == [str(path)]
    entries = list((cache_home / "pgaudit-roles" / validated_rules.CACHE_SUBDIR).iterdir())
    assert len(entries) == 1
    second = load_rules([rules_dir], builtin=False)
    assert validations == [str(path)]  # not validated again
    assert first == second
    # edited: validated again, and the edit is what loads
    path.write_text(
        path.read_text(encoding="utf-8").replace("WHERE superuser", "WHERE superuser AND login"),
        encoding="utf-8",
    )
    third = load_rules([rules_dir], builtin=False)
    assert validations == [str(path), str(path)]
    assert "AND login" in third[0].query


def test_broken_user_rule_fails_the_same_way_cached_or_not(
    tmp_path: Path, cache_home: Path, validations: list[str]
) -> None:
    rules_dir = tmp_path / "mine"
    rules_dir.mkdir()
    good = GOOD.format(id="ACME-ROLE-001")
    broken = good.replace("FROM roles WHERE superuser", "FROM roles WHERE no_such_column")
    path = rules_dir / "ACME-ROLE-001.toml"

    path.write_text(broken, encoding="utf-8")
    with pytest.raises(RuleError) as cold:
        load_rules([rules_dir], builtin=False)
    assert "does not bind" in str(cold.value) and "no_such_column" in str(cold.value)
    cache = cache_home / "pgaudit-roles" / validated_rules.CACHE_SUBDIR
    assert not cache.exists() or not any(cache.iterdir()), "a failure must never be cached"

    path.write_text(good, encoding="utf-8")  # the good version is cached now
    load_rules([rules_dir], builtin=False)
    assert any(cache.iterdir())

    path.write_text(broken, encoding="utf-8")
    with pytest.raises(RuleError) as warm:
        load_rules([rules_dir], builtin=False)
    with pytest.raises(RuleError) as again:
        load_rules([rules_dir], builtin=False)
    assert str(cold.value) == str(warm.value) == str(again.value)


def test_cli_broken_user_rule_same_error_twice(tmp_path: Path) -> None:
    rules_dir = tmp_path / "mine"
    rules_dir.mkdir()
    (rules_dir / "ACME-ROLE-001.toml").write_text(
        GOOD.format(id="ACME-ROLE-001").replace(
            "FROM roles WHERE superuser", "FROM roles WHERE no_such_column"
        ),
        encoding="utf-8",
    )
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    args = ["rules", "list", "--rules-dir", str(rules_dir)]
    # the first through the real entry point, the second in this process: the cache (in
    # XDG_CACHE_HOME, on disk) is what the two runs share
    runs = [
        subprocess.run(
            [sys.executable, "-m", "pgaudit_roles.cli", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        ),
        cli_process(args, env=env),
    ]
    assert [r.returncode for r in runs] == [2, 2]
    assert runs[0].stderr == runs[1].stderr
    assert runs[0].stderr.startswith("pgaudit-roles: error: ")
    assert "ACME-ROLE-001.toml" in runs[0].stderr and "no_such_column" in runs[0].stderr
    assert len(runs[0].stderr.strip().splitlines()) == 1


def test_unwritable_cache_is_not_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, validations: list[str]
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache directory would be", encoding="utf-8")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    path = write_rule(tmp_path, "ACME-ROLE-001", text=GOOD.format(id="ACME-ROLE-001"))
    for _ in range(2):
        assert load_rule_file(path, origin="user").id == "ACME-ROLE-001"
    assert validations == [str(path), str(path)]  # validated every time, no error


def test_cache_key_depends_on_version_and_code(monkeypatch: pytest.MonkeyPatch) -> None:
    d = validated_rules.digest(b"rule")
    key = validated_rules._cache_key(d)
    assert key != validated_rules._cache_key(validated_rules.digest(b"rule2"))
    monkeypatch.setattr(usercache, "__version__", "9.9.9")
    assert validated_rules._cache_key(d) != key
    monkeypatch.undo()
    monkeypatch.setattr(usercache, "code_fingerprint", lambda: "other code")
    assert validated_rules._cache_key(d) != key


def test_loading_rules_imports_no_sqlglot_duckdb_or_jinja(tmp_path: Path) -> None:
    # the fast path of every command: built-in rules from the manifest, a cached user rule
    rules_dir = tmp_path / "mine"
    rules_dir.mkdir()
    write_rule(rules_dir, "ACME-ROLE-001", text=GOOD.format(id="ACME-ROLE-001"))
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    code = textwrap.dedent(f"""
        import sys
        from pgaudit_roles.evaluate.rules import load_rules
        load_rules([{str(rules_dir)!r}])
        print(",".join(m for m in ("sqlglot", "duckdb", "jinja2", "pglast") if m in sys.modules))
    """)
    first = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=120,
    )
    assert "sqlglot" in first.stdout  # the user rule was validated once
    second = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=120,
    )
    assert second.stdout.strip() == ""


# --- compiled templates ------------------------------------------------------------------------


def _template_entries(cache_home: Path) -> list[Path]:
    d = cache_home / "pgaudit-roles" / "templates"
    return sorted(d.iterdir()) if d.exists() else []


def test_message_template_is_compiled_once_and_renders_the_same(
    cache_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pgaudit_roles.evaluate import messages, template_cache

    env = messages.template_env()
    source = "Role {{ role }}{% if n > 1 %} and {{ n - 1 }} more{% endif %}: <{{ x }}>"
    row = {"role": 'a"b', "n": 3, "x": None}
    expected = env.from_string(source).render(**row)
    compiled: list[object] = []
    real = env.compile

    def counting(src: object, *a: object, **kw: object) -> object:
        compiled.append(src)
        return real(src, *a, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(env, "compile", counting)
    first = template_cache.cached(env, "message", source)
    assert len(compiled) == 1 and len(_template_entries(cache_home)) == 1
    second = template_cache.cached(env, "message", source)  # as the next run would
    assert len(compiled) == 1
    assert first.render(**row) == second.render(**row) == expected
    # the same text compiled by another environment is another entry
    template_cache.cached(env, "remediation", source)
    assert len(compiled) == 2 and len(_template_entries(cache_home)) == 2


def test_damaged_template_entry_is_a_miss(cache_home: Path) -> None:
    from pgaudit_roles.evaluate import messages, template_cache

    env = messages.template_env()
    source = "Schema {{ schema }}"
    template_cache.cached(env, "message", source)
    (entry,) = _template_entries(cache_home)
    for junk in (b"", b"\x00garbage", __import__("marshal").dumps(42)):
        entry.write_bytes(junk)
        assert template_cache.load(env, "message", source) is None
        assert template_cache.cached(env, "message", source).render(schema="s") == "Schema s"


def test_unsafe_remediation_template_is_refused_the_same_way_every_run(cache_home: Path) -> None:
    from pgaudit_roles.core.errors import RuleError
    from pgaudit_roles.evaluate import remediation

    unsafe = "ALTER ROLE {{ role }} NOSUPERUSER;"
    messages = []
    for _ in range(2):
        remediation._analyse.cache_clear()  # each loop is a new run
        with pytest.raises(RuleError) as exc:
            remediation.validate_template(unsafe, "r.toml")
        messages.append(str(exc.value))
    assert messages[0] == messages[1] and "without a quoting filter" in messages[0]
    assert _template_entries(cache_home) == []  # never stored
    safe = "ALTER ROLE {{ role|role }} NOSUPERUSER;"
    outputs = []
    for _ in range(2):
        remediation._analyse.cache_clear()
        outputs.append(remediation.render(safe, {"role": 'x"; DROP'}, "r.toml"))
    assert outputs[0] == outputs[1] == 'ALTER ROLE "x""; DROP" NOSUPERUSER;'
    assert len(_template_entries(cache_home)) == 1
    remediation._analyse.cache_clear()


def test_html_report_templates_are_cached_and_render_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from report_fixtures import full_result

    from pgaudit_roles.reports import html_report

    result = full_result()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    cold = html_report.render(result)
    entries = list((tmp_path / "cache" / "pgaudit-roles").glob("jinja-html-*/*"))
    assert entries, "compiled templates were not stored"
    warm = html_report.render(result)
    blocker = tmp_path / "file"
    blocker.write_text("not a directory", encoding="utf-8")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    unwritable = html_report.render(result)

    def stable(html: str) -> str:  # the report's own timestamp may differ between renders
        import re

        return re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[^<\"]*", "T", html)

    assert stable(cold) == stable(warm) == stable(unwritable)
    for entry in entries:  # a damaged entry is recompiled, not an error
        entry.write_bytes(b"junk")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert stable(html_report.render(result)) == stable(cold)


# --- parsed TOML ------------------------------------------------------------------------------


@pytest.fixture
def toml_parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The texts tomllib parses (what the parsed-TOML cache saves)."""
    seen: list[str] = []
    import tomllib  # the rules loader imports it where it parses

    real = tomllib.loads

    def counting(text: str) -> dict:
        seen.append(text)
        return real(text)

    monkeypatch.setattr(tomllib, "loads", counting)
    return seen


def test_a_rule_file_is_parsed_once_for_its_bytes(
    cache_home: Path, tmp_path: Path, toml_parses: list[str]
) -> None:
    path = write_rule(tmp_path, "PGR-USR-001")
    first = load_rule_file(path)
    assert len(toml_parses) == 1
    entries = list((cache_home / "pgaudit-roles" / rules_mod.TOML_CACHE).iterdir())
    assert len(entries) == 1
    again = load_rule_file(path)  # another run: the cache, not tomllib
    assert len(toml_parses) == 1 and again == first
    entries[0].write_bytes(b"\x00 not json")  # damaged: parsed again, same rule
    assert load_rule_file(path) == first and len(toml_parses) == 2
    path.write_text(GOOD.format(id="PGR-USR-001").replace("high", "low"), encoding="utf-8")
    changed = load_rule_file(path)  # other bytes: other key, parsed
    assert changed.severity == "low" and len(toml_parses) == 3


def test_a_file_that_does_not_parse_fails_every_time(
    cache_home: Path, tmp_path: Path, toml_parses: list[str]
) -> None:
    path = write_rule(tmp_path, "PGR-USR-001", GOOD.format(id="PGR-USR-001") + "\nbroken = [\n")
    for _ in range(2):
        with pytest.raises(RuleError, match="invalid TOML"):
            load_rule_file(path)
    assert len(toml_parses) == 2
    assert not (cache_home / "pgaudit-roles" / rules_mod.TOML_CACHE).exists()


def test_the_builtin_rules_from_the_cache_are_the_parsed_ones(
    cache_home: Path, toml_parses: list[str]
) -> None:
    rules_mod._LOADED.clear()
    parsed = load_rules()
    assert len(toml_parses) == len(parsed)
    rules_mod._LOADED.clear()  # a new process
    cached = load_rules()
    assert len(toml_parses) == len(parsed)  # nothing parsed again
    assert cached == parsed
