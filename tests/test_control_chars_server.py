"""Names with LF, CR, ESC, U+202E, U+2028, NUL-like escapes and spreadsheet formulas, read
from a real server (13-18), through every command and output.

Nothing of them may reach a terminal raw (stdout and stderr of collect, scan, check, query,
explain, who-can, diff, rules, waivers), the HTML report (its copyable SQL blocks too), the
diff HTML, or CSV; CSV cells starting with ``= + - @`` are neutralised; JSON keeps the
exact names (escaped, valid, round-trip). The server's own error text carrying U+202E is
escaped on stderr. The layout is built once per version for the module.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cli_support import cli_process
from psycopg import sql as psql

pytestmark = pytest.mark.pg

RAW = ("\n", "\r", "\x1b", "\u202e", "\u2028", "\x7f", "\x9b")
ROLES = {
    "lf": "evil\nCOMMIT; -- ok",
    "cr": "cr\rhidden",
    "esc": "esc\x1b[31mred\x1b[0m",
    "rtl": "rtl\u202eexe.sql",
    "ls": "ls\u2028sep",
    "csi": "csi\x9bX",
    "formula": '=HYPERLINK("http://x")',
    "plus": "+SUM(A1)",
    "minus": "-2+3",
    "at": "@cmd",
    "nul_like": "nul\\0\\x00\\u0000",
}
SCHEMA = "sch\u202e\nma"
TABLE = "tab\x1b]0;title\x07le"


def run_cli(
    *args: str, ok: tuple[int, ...] = (0, 1), process: bool = False
) -> subprocess.CompletedProcess[str]:
    """``pgaudit-roles ARGS`` with no PG* variables: in this process (tests/cli_support.py:
    what a command writes to stdout and stderr, captured as a pipe would; a subprocess per
    run paid the interpreter start and the heavy imports again), or with ``process`` as a
    real process (the server's own error text on stderr)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    argv = [sys.executable, "-m", "pgaudit_roles.cli", *args]
    if process:
        res = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300)
    else:
        res = cli_process(list(args), env=env)
        res.args = argv  # the messages below name args[3:6]
    assert "Traceback" not in res.stderr, res.stderr
    assert res.returncode in ok, (args, res.returncode, res.stderr)
    return res


def assert_no_raw(text: str, where: str) -> None:
    for ch in RAW:
        if ch == "\n":
            for name in (*ROLES.values(), SCHEMA):
                if "\n" in name:
                    assert name not in text, f"{where}: raw newline name {name!r}"
            continue
        assert ch not in text, f"{where}: raw {ch!r}"


@pytest.fixture(scope="module")
def hostile(pg: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A database with the hostile names, and a snapshot before and after a change."""
    import psycopg

    db = pg.unique("ctl")
    pg.create_database(db)
    with psycopg.connect(pg.conninfo(dbname=db), autocommit=True) as conn:
        for name in ROLES.values():
            conn.execute(psql.SQL("CREATE ROLE {} LOGIN").format(psql.Identifier(name)))
        conn.execute(
            psql.SQL("CREATE SCHEMA {} AUTHORIZATION {}").format(
                psql.Identifier(SCHEMA), psql.Identifier(ROLES["lf"])
            )
        )
        conn.execute(
            psql.SQL("GRANT CREATE ON SCHEMA {} TO PUBLIC").format(psql.Identifier(SCHEMA))
        )
        conn.execute(
            psql.SQL("CREATE TABLE {}.{} (c int)").format(
                psql.Identifier(SCHEMA), psql.Identifier(TABLE)
            )
        )
        for name in ROLES.values():
            conn.execute(
                psql.SQL("GRANT ALL ON {}.{} TO {}").format(
                    psql.Identifier(SCHEMA), psql.Identifier(TABLE), psql.Identifier(name)
                )
            )
    d = tmp_path_factory.mktemp("ctl")
    before = d / "before.json"
    run_cli("collect", pg.conninfo(), "-d", db, "-o", str(before), ok=(0,))
    with psycopg.connect(pg.conninfo(dbname=db), autocommit=True) as conn:
        conn.execute(
            psql.SQL("REVOKE ALL ON {}.{} FROM {}").format(
                psql.Identifier(SCHEMA), psql.Identifier(TABLE), psql.Identifier(ROLES["rtl"])
            )
        )
        conn.execute(psql.SQL("ALTER ROLE {} SUPERUSER").format(psql.Identifier(ROLES["esc"])))
    after = d / "after.json"
    run_cli("collect", pg.conninfo(), "-d", db, "-o", str(after), ok=(0,))
    yield {"before": before, "after": after, "dir": d, "db": db}  # type: ignore[misc]
    with psycopg.connect(pg.conninfo(), autocommit=True) as conn:
        pg.drop_database(db)
        for name in ROLES.values():
            conn.execute(psql.SQL("DROP ROLE IF EXISTS {}").format(psql.Identifier(name)))


def test_snapshot_keeps_names_exactly(hostile: dict[str, Any]) -> None:
    snap = json.loads(hostile["after"].read_text(encoding="utf-8"))
    t = snap["cluster"]["roles"]
    names = {r[t["columns"].index("name")] for r in t["rows"]}
    assert set(ROLES.values()) <= names


@pytest.fixture(scope="module")
def checked(hostile: dict[str, Any]) -> tuple[subprocess.CompletedProcess[str], Path]:
    """The after-snapshot checked once into every report format (its SQL script verified on
    a twin: the verification's lines are part of the script), with what the check printed:
    the text report on stdout, as ``check --format text`` prints it, then the list of
    reports written. Read by the report test and the terminal test, which each ran a check
    of this snapshot before."""
    out = hostile["dir"] / "r"
    res = run_cli(
        "check",
        str(hostile["after"]),
        "--format",
        "json,html,junit,sarif,sql,text",
        "--output-dir",
        str(out),
        "--remediation-level",
        "all",
    )
    return res, out


def test_reports_escape_every_control(
    checked: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    res, out = checked
    assert_no_raw(res.stdout + res.stderr, "check stdout/stderr")
    html = (out / "pgaudit-report.html").read_text(encoding="utf-8")
    assert_no_raw(html, "HTML report")
    assert "U&amp;&#34;" in html or 'U&amp;"' in html or "U&amp;&quot;" in html  # escaped idents
    for name in ("pgaudit-report.json", "pgaudit-report.sarif"):
        text = next(
            out.glob(name.replace(".sarif", "*.sarif*")) if "sarif" in name else iter([out / name])
        ).read_text(encoding="utf-8")
        assert_no_raw(text, name)
    report = json.loads((out / "pgaudit-report.json").read_text(encoding="utf-8"))
    roles_in_report = {f.get("role") for f in report["findings"]}
    assert ROLES["lf"] in roles_in_report or any(
        ROLES["lf"] in json.dumps(f, ensure_ascii=False) for f in report["findings"]
    )
    sql = (out / "pgaudit-report.sql").read_text(encoding="utf-8")
    assert "\u202e" not in sql and "\x1b" not in sql


def test_terminal_commands(
    hostile: dict[str, Any], checked: tuple[subprocess.CompletedProcess[str], Path]
) -> None:
    snap = str(hostile["after"])
    assert "Findings: " in checked[0].stdout  # the text report reached stdout
    outputs = [
        checked[0],  # check: the text report on stdout (the module's one check)
        run_cli("query", snap, "SELECT name, config FROM roles"),
        run_cli("query", snap, "SELECT name FROM roles", "--format", "json"),
        run_cli("explain", ROLES["lf"], snap),
        run_cli("explain", ROLES["rtl"], snap, "--format", "json"),
        run_cli("who-can", "SELECT", "ON", "TABLE", f'"{SCHEMA}"."{TABLE}"', snap),
        run_cli("diff", str(hostile["before"]), snap),
        run_cli("diff", str(hostile["before"]), snap, "--format", "json"),
        run_cli("explain", "no\u202esuch\x1brole", snap, ok=(2,)),
    ]
    for res in outputs:
        assert_no_raw(res.stdout + res.stderr, " ".join(res.args[3:6]))
    rows = json.loads(outputs[2].stdout)
    assert set(ROLES.values()) <= {r["name"] for r in rows}  # JSON: exact after parsing


def test_csv_is_inert(hostile: dict[str, Any]) -> None:
    res = run_cli(
        "query", str(hostile["after"]), "SELECT name FROM roles ORDER BY name", "--format", "csv"
    )
    assert_no_raw(res.stdout, "csv")
    cells = [r[0] for r in csv.reader(io.StringIO(res.stdout))][1:]
    for cell in cells:
        assert not cell.startswith(("=", "+", "-", "@")), cell
    for name in ("formula", "plus", "minus", "at"):
        assert "'" + ROLES[name] in cells


def test_diff_html(hostile: dict[str, Any], tmp_path: Path) -> None:
    out = tmp_path / "diff.html"
    run_cli(
        "diff", str(hostile["before"]), str(hostile["after"]), "--format", "html", "-o", str(out)
    )
    html = out.read_text(encoding="utf-8")
    assert_no_raw(html, "diff HTML")
    assert "rtl\\u202eexe.sql" in html  # the name is there, escaped


def test_server_error_text_is_escaped(pg: Any) -> None:
    res = run_cli(
        "collect",
        pg.conninfo(dbname="no\u202esuch\x1b[2Jdb"),
        "-o",
        "/dev/null",
        ok=(3,),
        process=True,
    )
    assert_no_raw(res.stderr, "stderr")
    assert len(res.stderr.strip().splitlines()) == 1
    assert "\\u202e" in res.stderr
