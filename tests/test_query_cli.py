"""The query, explain and who-can commands: sandbox, formats, hostile names, grammar, DSNs."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cli_support import run_cli as run
from test_audit_schema import SCHEMA, acl, make, member, obj, role

from pgaudit_roles.collect.snapshot import save
from pgaudit_roles.commands.query import open_audit, sql_name
from pgaudit_roles.commands.who_can import parse_name, parse_question
from pgaudit_roles.core.errors import UsageError

HOSTILE = 'we"ird\nname <script>'


@pytest.fixture
def snap_file(tmp_path: Path) -> Path:
    s = make(
        roles=[
            role(100, "db_owner_shop"),
            role(101, "db_writer_shop"),
            role(102, "app_shop", login=True),
            role(103, HOSTILE, login=True),
            role(104, "deploy_shop", login=True),
            role(105, "root", superuser=True, login=True),
            role(106, "analyst", login=True),
        ],
        memberships=[member(101, 102), member(100, 104), member(101, 103)],
        shared_acl=[
            {
                "object_class": "parameter",
                "object_oid": 9000,
                "object_name": "pgaudit.log",
                "grantor_oid": 10,
                "grantee_oid": 102,
                "privilege": "SET",
                "grantable": False,
            }
        ],
        db={
            "schemas": [dict(SCHEMA, name="App Data"), dict(SCHEMA, oid=2201, name="other")],
            "objects": [
                obj(20000, "relation", "table", "Orders", acl_state="explicit"),
                obj(20001, "relation", "table", "Orders", schema_oid=2201),
                obj(
                    20002,
                    "function",
                    "function",
                    "f",
                    identity_args="x integer",
                    acl_state="explicit",
                ),
                obj(20003, "function", "function", "f", identity_args="", schema_oid=2201),
            ],
            "columns": [{"table_oid": 20000, "attnum": 3, "name": "Status"}],
            "acl": [acl("relation", 20000, 100, p) for p in ("SELECT", "INSERT", "UPDATE")]
            + [
                acl("relation", 20000, 101, "SELECT"),
                acl("relation", 20000, 101, "INSERT"),
                acl("column", 20000, 0, "UPDATE", subid=3),
                acl("column", 20000, 103, "SELECT", subid=3),
                acl("column", 20000, 106, "SELECT", subid=3),
                acl("function", 20002, 100, "EXECUTE"),
            ],
        },
    )
    path = tmp_path / "snap.json"
    save(s, path)
    return path


# --- query -----------------------------------------------------------------------------------


def test_query_formats_carry_hostile_names(snap_file: Path, capsys: Any) -> None:
    sql = "SELECT name, login, member_of FROM roles WHERE name LIKE 'we%' OR name = 'app_shop' ORDER BY name"
    code, out, err = run(["query", str(snap_file), sql, "--format", "json"], capsys)
    assert code == 0, err
    data = json.loads(out)
    assert data == [
        {"name": "app_shop", "login": True, "member_of": ["db_writer_shop"]},
        {"name": HOSTILE, "login": True, "member_of": ["db_writer_shop"]},
    ]
    code, out, err = run(["query", str(snap_file), sql, "--format", "csv"], capsys)
    assert code == 0, err
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["name", "login", "member_of"]
    # CSV is for spreadsheets: control characters escaped (issue 12), JSON stays exact
    assert rows[2] == [HOSTILE.replace("\n", "\\n"), "true", '["db_writer_shop"]']
    code, out, err = run(["query", str(snap_file), sql], capsys)
    assert code == 0, err
    lines = out.rstrip("\n").split("\n")
    assert len(lines) == 2 + 2 + 1, "one line per row: a newline in a value must not split it"
    assert 'we"ird\\nname <script>' in out
    assert lines[-1] == "(2 rows)"


@pytest.mark.parametrize(
    "sql,problem",
    [
        ("DELETE FROM roles", "SELECT"),
        ("SELECT 1; SELECT 2", "exactly one statement"),
        ("SELECT * FROM read_csv('/etc/passwd')", "not allowed"),
        ("SELECT * FROM internal.roles_raw", "qualified"),
        ("SELECT * FROM duckdb_settings()", "not allowed"),
        ("COPY roles TO '/tmp/x.csv'", ""),
        ("ATTACH '/tmp/x.db'", ""),
        ("SELECT * FROM no_such_table", "unknown table"),
        ("SELEC 1", "parse"),
    ],
)
def test_query_refuses_anything_but_one_select(
    snap_file: Path, capsys: Any, sql: str, problem: str
) -> None:
    code, out, err = run(["query", str(snap_file), sql], capsys)
    assert code == 2 and out == ""
    assert err.startswith("pgaudit-roles: error:") and err.count("\n") == 1, err
    assert problem in err


def test_query_runtime_error_and_bad_target(snap_file: Path, tmp_path: Path, capsys: Any) -> None:
    code, _out, err = run(["query", str(snap_file), "SELECT no_such_column FROM roles"], capsys)
    assert code == 2 and err.count("\n") == 1 and "no_such_column" in err
    code, _out, err = run(["query", str(tmp_path / "missing.json"), "SELECT 1"], capsys)
    assert code == 2 and "no such snapshot file" in err
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    code, _out, err = run(["query", str(bad), "SELECT 1"], capsys)
    assert code == 2 and "snapshot" in err


def test_the_connection_is_locked_down_before_user_sql(snap_file: Path) -> None:
    import duckdb

    con, _snap = open_audit(str(snap_file), None)
    assert con.execute("SELECT current_setting('enable_external_access')").fetchone()[0] is False
    with pytest.raises(duckdb.Error):
        con.execute("SELECT * FROM read_text('/etc/hostname')").fetchall()
    with pytest.raises(duckdb.Error):
        con.execute("SET enable_external_access = true")


# --- display ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "plain",
        "Mixed Case",
        'q"uote',
        HOSTILE,
        "tab\there",
        "bidi\u202eevil",
        "back\\slash\n",
        "select",
        "\u2028x",
    ],
)
def test_sql_name_is_one_line_and_reads_back_as_the_same_name(name: str) -> None:
    from pglast import parse_sql

    shown = sql_name(name)
    assert shown.isprintable(), shown
    stmt = parse_sql(f"CREATE ROLE {shown}")[0].stmt
    assert stmt.role == name


# --- explain ---------------------------------------------------------------------------------


def test_explain_shows_chains_ownership_and_privileges(snap_file: Path, capsys: Any) -> None:
    code, out, err = run(["explain", "deploy_shop", str(snap_file)], capsys)
    assert code == 0, err
    assert "Role deploy_shop (kind deploy, app shop)" in out
    assert "db_owner_shop  [INHERIT, SET]" in out
    assert "has the owner's privileges of 6 object(s) owned by db_owner_shop" in out
    assert "chain: deploy_shop -> db_owner_shop" in out
    assert 'TABLE "App Data"."Orders"' in out
    assert "SELECT, INSERT, UPDATE: as owner db_owner_shop" in out
    assert "[deploy_shop -> db_owner_shop]" in out

    code, out, err = run(["explain", HOSTILE, str(snap_file)], capsys)
    assert code == 0, err
    assert sql_name(HOSTILE) in out and "\nname <script>" not in out
    assert 'SELECT ("Status"): granted directly' in out
    assert "SELECT, INSERT: via db_writer_shop" in out

    code, out, _err = run(["explain", "root", str(snap_file)], capsys)
    assert "SUPERUSER: every privilege on every object" in out

    code, out, _err = run(["explain", "app_shop", str(snap_file), "--format", "json"], capsys)
    data = json.loads(out)
    assert data["role"]["kind"] == "app"
    assert {p["privilege"] for p in data["privileges"] if p["object_name"] == "Orders"} == {
        "SELECT",
        "INSERT",
        "UPDATE",
    }


def test_explain_unknown_role_suggests(snap_file: Path, capsys: Any) -> None:
    code, _out, err = run(["explain", "APP_SHOP", str(snap_file)], capsys)
    assert code == 2 and "did you mean app_shop" in err


# --- who-can ---------------------------------------------------------------------------------


def test_parse_name_and_question() -> None:
    assert parse_name('"App Data"."Orders"') == (["App Data", "Orders"], None)
    assert parse_name("App.Orders") == (["app", "orders"], None)
    assert parse_name('a."b""c"') == (["a", 'b"c'], None)
    assert parse_name("app.f(x integer)") == (["app", "f"], "x integer")
    with pytest.raises(UsageError):
        parse_name('"open')
    with pytest.raises(UsageError):
        parse_name("a..b")
    q, target = parse_question(("alter", "system", "on", "parameter", "work_mem", "s.json"))
    assert (q.privilege, q.type_word, q.parts, target) == (
        "ALTER SYSTEM",
        "PARAMETER",
        ["work_mem"],
        "s.json",
    )
    q, _t = parse_question(("temp", "ON", "FOREIGN", "DATA", "WRAPPER", "w", "s"))
    assert (q.privilege, q.type_word) == ("TEMPORARY", "FOREIGN DATA WRAPPER")
    q, target = parse_question(("SELECT", "app.t", "s"))  # ON is optional (also target last)
    assert (q.privilege, q.parts, target) == ("SELECT", ["app", "t"], "s")
    for bad in (("ON", "t", "s"), ("SELECT", "ON", "s"), ("SELECT", "ON", "a", "b", "s")):
        with pytest.raises(UsageError):
            parse_question(bad)


def test_who_can_lists_roles_paths_and_column_only_holders(snap_file: Path, capsys: Any) -> None:
    code, out, err = run(
        ["who-can", "SELECT", "ON", "TABLE", '"App Data"."Orders"', str(snap_file)], capsys
    )
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == (
        'SELECT on TABLE "App Data"."Orders" in database appdb (owner db_owner_shop):'
    )
    body = "\n".join(lines[1:])
    assert "app_shop" in body and "via db_writer_shop  [app_shop -> db_writer_shop]" in body
    assert "deploy_shop" in body and "owner (db_owner_shop)" in body
    assert "root" in body and "superuser" in body
    assert "on some columns only:" in body
    assert 'analyst                        SELECT ("Status")' in body
    assert f'{sql_name(HOSTILE)}  SELECT ("Status")' not in body  # has the whole table

    code, out, err = run(
        [
            "who-can",
            "UPDATE",
            "ON",
            "COLUMN",
            '"App Data"."Orders"."Status"',
            str(snap_file),
            "--format",
            "json",
        ],
        capsys,
    )
    assert code == 0, err
    res = json.loads(out)[0]
    via = {(h["role"], h["via"]) for h in res["holders"]}
    assert ("app_shop", "public") in via and ("db_owner_shop", "owner") in via


def test_who_can_functions_all_and_errors(snap_file: Path, capsys: Any) -> None:
    code, _out, err = run(["who-can", "EXECUTE", "ON", "f", str(snap_file)], capsys)
    assert code == 2 and "ambiguous" in err and "FUNCTION" in err
    code, out, err = run(
        ["who-can", "EXECUTE", "ON", "FUNCTION", '"App Data".f(integer)', str(snap_file)], capsys
    )
    assert code == 0, err
    assert 'EXECUTE on FUNCTION "App Data".f(x integer)' in out
    assert "app_shop" not in out  # no PUBLIC EXECUTE on the explicit ACL
    code, out, err = run(
        ["who-can", "EXECUTE", "ON", "FUNCTION", "other.f()", str(snap_file)], capsys
    )
    assert code == 0 and "granted to PUBLIC" in out, err
    code, out, err = run(["who-can", "ALL", "ON", "SCHEMA", "other", str(snap_file)], capsys)
    assert code == 0 and out.startswith("USAGE, CREATE on SCHEMA other"), err
    code, _out, err = run(
        ["who-can", "EXECUTE", "ON", "TABLE", "other.orders", str(snap_file)], capsys
    )
    assert code == 2 and "no table named other.orders" in err  # unquoted names fold
    code, _out, err = run(
        ["who-can", "EXECUTE", "ON", "TABLE", 'other."Orders"', str(snap_file)], capsys
    )
    assert code == 2 and "not a privilege of table" in err
    code, _out, err = run(["who-can", "SELECT", "ON", "nosuch", str(snap_file)], capsys)
    assert code == 2 and "no object named nosuch" in err
    code, _out, err = run(
        ["who-can", "SELECT", "ON", 'other."Orders"', str(snap_file), "--database", "elsewhere"],
        capsys,
    )
    assert code == 2 and "elsewhere" in err
    code, out, err = run(["who-can", "CONNECT", "ON", "DATABASE", "appdb", str(snap_file)], capsys)
    assert code == 0 and "granted to PUBLIC" in out, err
    code, out, err = run(
        ["who-can", "SET", "ON", "PARAMETER", "pgaudit.log", str(snap_file)], capsys
    )
    assert code == 0, err
    assert out.splitlines()[0] == "SET on PARAMETER pgaudit.log:"
    assert "app_shop" in out and "granted directly" in out and "analyst" not in out


def test_help_is_fast_and_lists_the_commands() -> None:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "pgaudit_roles.cli", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0
    for name in ("query", "explain", "who-can"):
        assert name in proc.stdout
    heavy = re.compile(r"\|\s+(duckdb|sqlglot|psycopg|pglast|jinja2)$", re.MULTILINE)
    assert "| click" in proc.stderr  # the import log is really there
    assert not heavy.findall(proc.stderr)
    for cmd in ("query", "explain", "who-can"):
        proc = subprocess.run(
            [sys.executable, "-X", "importtime", "-m", "pgaudit_roles.cli", cmd, "--help"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 0 and "SNAPSHOT_OR_DSN" in proc.stdout
        assert not heavy.findall(proc.stderr), cmd


# --- against real servers ----------------------------------------------------------------------


@pytest.mark.pg
def test_commands_on_a_live_dsn_agree_with_the_server(pg: Any, fresh_db: str, capsys: Any) -> None:
    from pgaudit_roles.core.sqlquote import quote_ident as q

    p = pg.unique("qc")
    names = {k: f"{p}_{k}" for k in ("own", "grp", "app", "ni")}
    hostile = f'{p} "x"\nname'
    Q = {k: q(v) for k, v in names.items()}
    pg.execute(f"""CREATE ROLE {Q["own"]}; CREATE ROLE {Q["grp"]};
                   CREATE ROLE {Q["app"]} LOGIN IN ROLE {Q["grp"]};
                   CREATE ROLE {Q["ni"]} LOGIN NOINHERIT IN ROLE {Q["grp"]};
                   CREATE ROLE {q(hostile)} LOGIN IN ROLE {Q["grp"]}""")
    try:
        pg.execute(
            f"""CREATE SCHEMA app AUTHORIZATION {Q["own"]};
                       CREATE TABLE app."Orders" (id int, status text);
                       ALTER TABLE app."Orders" OWNER TO {Q["own"]};
                       GRANT USAGE ON SCHEMA app TO {Q["grp"]};
                       GRANT SELECT, INSERT ON app."Orders" TO {Q["grp"]};
                       GRANT UPDATE (status) ON app."Orders" TO {Q["ni"]}""",
            dbname=fresh_db,
        )
        dsn = pg.conninfo(dbname=fresh_db)
        code, out, err = run(
            [
                "query",
                dsn,
                f"SELECT count(*) AS n FROM roles WHERE name = '{names['app']}'",
                "--format",
                "json",
            ],
            capsys,
        )
        assert code == 0, err
        assert json.loads(out) == [{"n": 1}]

        code, out, err = run(
            [
                "who-can",
                "SELECT",
                "ON",
                'app."Orders"',
                dsn,
                "--format",
                "json",
                "--database",
                fresh_db,
            ],
            capsys,
        )
        assert code == 0, err
        ours = {h["role"] for h in json.loads(out)[0]["holders"]}
        theirs = {
            r
            for (r,) in pg.query(
                """SELECT rolname FROM pg_roles
               WHERE has_table_privilege(oid, 'app."Orders"', 'SELECT')
                 AND NOT (oid < 16384 AND rolname LIKE 'pg\\_%')""",
                dbname=fresh_db,
            )
        }
        assert ours == theirs
        assert {names["app"], hostile, names["own"], "postgres"} <= ours
        assert names["ni"] not in ours

        code, out, err = run(["explain", names["ni"], dsn], capsys)
        assert code == 0, err
        assert f"{sql_name(names['grp'])}  [SET]" in out  # NOINHERIT: no INHERIT option
        assert "UPDATE (status): granted directly" in out
        assert 'TABLE app."Orders"' in out and "SELECT, INSERT" not in out
    finally:
        pg.execute(f"DROP OWNED BY {', '.join(Q.values())}, {q(hostile)}", dbname=fresh_db)
        pg.execute(f"DROP ROLE {', '.join(Q.values())}, {q(hostile)}")


def test_unreachable_dsn_exits_3(capsys: Any) -> None:
    from pgaudit_roles.core.localpg import free_port

    dsn = f"host=127.0.0.1 port={free_port()} user=nobody dbname=x connect_timeout=2"
    code, _out, err = run(["query", dsn, "SELECT 1"], capsys)
    assert code == 3 and err.count("\n") == 1, err
