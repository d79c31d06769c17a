"""Configuration discovery, validation and provenance (pure logic, no server)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pgaudit_roles.config import CLI_SOURCE, config_from_mapping, discover, load_config
from pgaudit_roles.core.errors import ConfigError

FULL = """\
fail_on = "medium"
formats = ["json", "sarif"]
output_dir = "out"
waivers = "waivers.toml"
baseline = "baseline.json"
framework = "golive"
rules_dirs = ["my-rules"]

[naming]
breakglass = ["dba_breakglass"]

[rules]
disable = ["PGR-PRIV-001"]
severity = { "PGR-ROLE-001" = "critical" }

[collect]
statement_timeout = "30s"
lock_timeout = 1000
connect_timeout = 10
databases = ["app"]
all_databases = false
hba_file = "hba.conf"
"""


def test_discovery_walks_up_from_cwd(tmp_path: Path) -> None:
    (tmp_path / ".pgaudit-roles.toml").write_text('fail_on = "low"\n')
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    cfg = load_config(cwd=deep)
    assert cfg.fail_on == "low"
    assert cfg.sources["fail_on"] == str(tmp_path / ".pgaudit-roles.toml")
    assert cfg.path == tmp_path / ".pgaudit-roles.toml"


def test_pyproject_table_is_used_when_no_dotfile(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\n\n[tool.pgaudit-roles]\nfail_on = "critical"\n'
    )
    cfg = load_config(cwd=tmp_path)
    assert cfg.fail_on == "critical"
    assert cfg.sources["fail_on"] == str(tmp_path / "pyproject.toml")


def test_dotfile_wins_over_pyproject(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.pgaudit-roles]\nfail_on = "critical"\n')
    sub = tmp_path / "sub"
    sub.mkdir()
    (tmp_path / ".pgaudit-roles.toml").write_text('fail_on = "info"\n')
    assert load_config(cwd=sub).fail_on == "info"


def test_pyproject_without_table_is_ignored(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    cfg = load_config(cwd=tmp_path)
    assert cfg.path is None and cfg.fail_on == "high"
    assert discover(tmp_path) is None


def test_explicit_config_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "missing.toml")


def test_full_config_paths_are_relative_to_the_file(tmp_path: Path) -> None:
    cfg_file = tmp_path / "conf" / "audit.toml"
    cfg_file.parent.mkdir()
    cfg_file.write_text(FULL)
    cfg = load_config(cfg_file, cwd=tmp_path)
    base = cfg_file.parent
    assert cfg.fail_on == "medium"
    assert cfg.formats == ("json", "sarif")
    assert cfg.output_dir == base / "out"
    assert cfg.waivers == base / "waivers.toml"
    assert cfg.baseline == base / "baseline.json"
    assert cfg.rules_dirs == (base / "my-rules",)
    assert cfg.collect["hba_file"] == base / "hba.conf"
    assert cfg.collect["lock_timeout"] == 1000
    assert cfg.disabled == frozenset({"PGR-PRIV-001"})
    assert cfg.severity == {"PGR-ROLE-001": "critical"}
    assert cfg.framework == "golive"
    assert cfg.naming_raw == {"breakglass": ["dba_breakglass"]}
    for key in ("fail_on", "formats", "rules.disable", "rules.severity", "collect.hba_file"):
        assert cfg.sources[key] == str(cfg_file)
    shown = cfg.show()
    assert f'fail_on = "medium"  ({cfg_file})' in shown
    assert "collect.idle_in_transaction_session_timeout = null  (default)" in shown


def test_cli_overrides_file_and_says_so(tmp_path: Path) -> None:
    (tmp_path / ".pgaudit-roles.toml").write_text('fail_on = "low"\nrules_dirs = ["a"]\n')
    cfg = load_config(
        cwd=tmp_path, overrides={"fail_on": "none", "framework": None, "rules_dirs": ["b"]}
    )
    assert cfg.fail_on == "none" and cfg.sources["fail_on"] == CLI_SOURCE
    assert cfg.framework is None and "framework" not in cfg.sources
    assert cfg.rules_dirs == (tmp_path / "a", tmp_path / "b")
    assert cfg.sources["rules_dirs"] == f"{tmp_path / '.pgaudit-roles.toml'} + {CLI_SOURCE}"


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("bogus = 1\n", "unknown key 'bogus'"),
        ('fail_on = "urgent"\n', "fail_on: 'urgent' is not one of"),
        ("fail_on = 3\n", "fail_on: 3 is not one of"),
        ('formats = ["pdf"]\n', "unknown format 'pdf'"),
        ("formats = []\n", "formats: must be a non-empty list"),
        ("[rules]\ndisabled = []\n", "unknown key 'rules.disabled'"),
        ('[rules]\ndisable = "PGR-ROLE-001"\n', "rules.disable: must be a list"),
        ('[rules.severity]\n"PGR-ROLE-001" = "urgent"\n', "rules.severity.PGR-ROLE-001"),
        ("[collect]\nstatement_timeout = true\n", "collect.statement_timeout: has the wrong type"),
        ('[collect]\nall_databases = "yes"\n', "collect.all_databases: has the wrong type"),
        ("[collect]\nport = 5432\n", "unknown key 'collect.port'"),
        ("[collect]\ndatabases = [1]\n", "collect.databases"),
        ("naming = 3\n", "naming: must be a table"),
        ('output_dir = ""\n', "output_dir: must be a path"),
        ("rules_dirs = [1]\n", "rules_dirs: must be a list"),
        ("this is not toml\n", "invalid TOML"),
    ],
)
def test_bad_config_names_key_and_file(tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / ".pgaudit-roles.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as exc:
        load_config(cwd=tmp_path)
    assert str(path) in str(exc.value)
    assert needle in str(exc.value)


def test_bad_naming_is_a_config_error(tmp_path: Path) -> None:
    pytest.importorskip("pgaudit_roles.audit.naming")
    path = tmp_path / ".pgaudit-roles.toml"
    path.write_text('[naming]\nowner = "db_owner_.+"\n')  # no (?P<app>...) group
    with pytest.raises(ConfigError, match="naming"):
        load_config(cwd=tmp_path)


def test_naming_policy_is_built(tmp_path: Path) -> None:
    naming = pytest.importorskip("pgaudit_roles.audit.naming")
    cfg = config_from_mapping({"naming": {"breakglass": ["dba"]}})
    assert isinstance(cfg.naming, naming.NamingPolicy)
    assert cfg.naming.breakglass == ["dba"]
    assert isinstance(config_from_mapping({}).naming, naming.NamingPolicy)


def test_rule_ids_in_overrides_are_checked(builtin_rules: tuple) -> None:
    rules = list(builtin_rules)
    cfg = config_from_mapping({"rules": {"disable": ["PGR-NOPE-001"]}}, origin="x.toml")
    with pytest.raises(ConfigError, match=r"x.toml: rules.disable: unknown rule id 'PGR-NOPE-001'"):
        cfg.resolve_rules(rules)
    cfg = config_from_mapping({"rules": {"severity": {"PGR-NOPE-002": "low"}}}, origin="x.toml")
    with pytest.raises(ConfigError, match="rules.severity: unknown rule id 'PGR-NOPE-002'"):
        cfg.resolve_rules(rules)
    cfg = config_from_mapping(
        {"rules": {"disable": ["PGR-ROLE-001"], "severity": {"PGR-ROLE-002": "low"}}}
    )
    cfg.resolve_rules(rules)
    assert cfg.disabled == {"PGR-ROLE-001"} and cfg.severity == {"PGR-ROLE-002": "low"}


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pgaudit_roles.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


def test_check_show_config_cli(tmp_path: Path) -> None:
    (tmp_path / ".pgaudit-roles.toml").write_text(
        'fail_on = "low"\n[rules]\ndisable = ["PGR-ROLE-001"]\n'
    )
    proc = run_cli("check", "--show-config", "--framework", "cis", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert f'fail_on = "low"  ({tmp_path / ".pgaudit-roles.toml"})' in proc.stdout
    assert 'framework = "cis"  (command line)' in proc.stdout
    assert 'rules.disable = ["PGR-ROLE-001"]' in proc.stdout
    # the naming policy in force, not "null": the guide's names, break-glass included
    naming = next(line for line in proc.stdout.splitlines() if line.startswith("naming = "))
    assert "null" not in naming and '"breakglass": ["breakglass_admin"]' in naming
    assert '"auditor": ["pgaudit_auditor"]' in naming and "db_owner_" in naming
    assert naming.endswith("(default)"), naming


def test_naming_defaults_are_the_readme_names() -> None:
    """README: "the guide's names are the defaults": a NOLOGIN breakglass_admin superuser
    is the allowed break-glass role without any configuration; a configured list replaces
    the default one."""
    from pgaudit_roles.audit.naming import NamingPolicy

    policy = NamingPolicy.default()
    assert policy.classify("breakglass_admin", login=False, superuser=True, predefined=False) == (
        "breakglass",
        None,
    )
    assert policy.classify("pgaudit_auditor", login=True, superuser=False, predefined=False) == (
        "auditor",
        None,
    )
    custom = NamingPolicy.from_mapping({"breakglass": ["dba_vault"]})
    assert custom.classify("breakglass_admin", login=False, superuser=True, predefined=False) == (
        "admin",
        None,
    )


@pytest.mark.parametrize(
    ("text", "args", "needle"),
    [
        ('fail_on = "urgent"\n', [], "fail_on"),
        ('[rules]\ndisable = ["PGR-NOPE-001"]\n', [], "unknown rule id 'PGR-NOPE-001'"),
        ("", ["--framework", "nope"], "unknown framework 'nope'"),
    ],
)
def test_check_bad_config_exits_2(tmp_path: Path, text: str, args: list[str], needle: str) -> None:
    (tmp_path / ".pgaudit-roles.toml").write_text(text)
    proc = run_cli("check", "--show-config", *args, cwd=tmp_path)
    assert proc.returncode == 2
    err = proc.stderr.strip()
    assert needle in err and "\n" not in err and "Traceback" not in err


def test_engine_defaults_are_the_config_defaults() -> None:
    # the engine reads its settings through a protocol (it never imports this module), with
    # its own defaults for a call without a config: they must be Config()'s
    from pgaudit_roles.config import Config
    from pgaudit_roles.evaluate.engine import DefaultSettings, Settings

    members = [n for n in vars(Settings) if not n.startswith("_")]
    assert len(members) >= 6
    for name in members:
        assert getattr(DefaultSettings(), name) == getattr(Config(), name), name
