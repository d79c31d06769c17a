"""query, who-can, explain and paths build only the audit tables their SQL reads; diff of
one file twice evaluates it once.

Why these tests: a partial build (``audit.build_plan``) cannot give a wrong answer by
reading an empty table (a table that was not built does not exist), but a command whose
list of tables missed one would fail, and SQL that looks into DuckDB's own catalog would
see fewer tables. So: every command's output on a real layout (PostgreSQL 13-18, the
layout of tests/test_build_plan.py) is compared with the whole schema's, the tables it
built are counted, the lists are checked against the SQL in the commands' source, and the
catalog-reading functions against the installed DuckDB.
"""

from __future__ import annotations

import ast
import inspect
import re
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from cli_support import run_cli
from test_build_plan import layout_sql

from pgaudit_roles.audit import audit_schema, build_plan, can, escalation
from pgaudit_roles.collect.snapshot import save
from pgaudit_roles.commands import explain, paths, query, who_can
from pgaudit_roles.evaluate import engine

P = "pcmd"  # the layout of tests/test_build_plan.py under its own role names


@pytest.fixture(scope="module")
def snap_file(pg: Any, tmp_path_factory: Any) -> Iterator[Path]:
    from pgaudit_roles.collect.collector import collect

    db = pg.create_database(f"{P}_db")
    cluster, per_db = (s.replace("bplan", P) for s in layout_sql(pg.major))
    try:
        pg.execute(cluster)
        pg.execute(per_db, dbname=db)
        path = tmp_path_factory.mktemp(P) / "snap.json"
        save(collect(pg.conninfo(dbname=db), databases=[db]), path)
        yield path
    finally:
        pg.drop_database(db)
        names = [
            r[0] for r in pg.query("SELECT rolname FROM pg_roles WHERE rolname LIKE %s", (f"{P}%",))
        ]
        idents = ", ".join('"' + n.replace('"', '""') + '"' for n in sorted(names))
        if idents:
            pg.execute(f"DROP OWNED BY {idents}; DROP ROLE {idents};")


def _built(con: Any) -> set[str]:
    return {
        name
        for (name,) in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main' AND NOT temporary "
            "UNION ALL SELECT view_name FROM duckdb_views() "
            "WHERE schema_name = 'main' AND NOT internal AND NOT temporary"
        ).fetchall()
    }


def _runs(args: list[str], capsys: Any, monkeypatch: Any, *, whole: bool) -> tuple[Any, ...]:
    """(exit code, stdout, stderr, the audit tables each load built) of one command; with
    ``whole`` every load builds the whole schema, as before partial builds."""
    built: list[set[str]] = []
    real = audit_schema.load

    def spy(*a: Any, **k: Any) -> Any:
        if whole:
            k["queries"] = None
        con = real(*a, **k)
        if a[0].databases:  # not the query validator's empty schema (built once)
            built.append(_built(con))
        return con

    with monkeypatch.context() as m:
        m.setattr(audit_schema, "load", spy)
        code, out, err = run_cli(args, capsys)
    return code, out, err, built


VIEWS = "SELECT string_agg(pg_get_viewdef(v), ' ') FROM (SELECT unnest(range(100000)) AS v)"
"""The definitions of the audit schema's views, found by their oids: the answer depends on
which tables the build created, so such SQL is given the whole schema."""

COMMANDS = [
    ["who-can", "{snap}", "SELECT", "ON", f"{P}_s.orders"],
    ["who-can", "{snap}", "ALL", "ON", f"{P}_s.orders", "--format", "json"],
    ["who-can", "{snap}", "ALL", "ON", "SCHEMA", f"{P}_s"],
    ["who-can", "{snap}", "SELECT", "COLUMN", f"{P}_s.orders.id"],
    ["who-can", "{snap}", "EXECUTE", "ON", "FUNCTION", f"public.{P}_sd(text)"],
    ["who-can", "{snap}", "USAGE", "ON", "FOREIGN", "SERVER", f"{P}_srv"],
    ["who-can", "{snap}", "CONNECT", "ON", "DATABASE", f"{P}_db"],
    ["who-can", "{snap}", "ALL", "ON", "PARAMETER", "log_min_duration_statement"],
    ["who-can", "{snap}", "SELECT", "ON", "no_such_table"],
    ["explain", "{snap}", f"{P}_app"],
    ["explain", "{snap}", f"{P}_su", "--all", "--format", "json"],
    ["explain", "{snap}", f'{P} q"uote', "--format", "json"],
    ["explain", "{snap}", f"{P}_team", "--all"],
    ["explain", "{snap}", "PCMD_APP"],
    ["paths", "{snap}"],
    ["paths", "{snap}", "--from", "PUBLIC", "--format", "json"],
    ["paths", "{snap}", "--from", f"{P}_app", "--to", "superuser"],
    ["query", "{snap}", "SELECT name, kind, app FROM roles ORDER BY name"],
    ["query", "{snap}", "SELECT * FROM escalation_paths ORDER BY ALL", "--format", "json"],
    ["query", "{snap}", "SELECT pg_get_viewdef(v) FROM range(3000) t(v)"],  # refused: FROM range
    ["query", "{snap}", VIEWS],
    ["query", "{snap}", "SELECT * FROM information_schema.tables"],
    ["query", "{snap}", "SELECT * FROM duckdb_tables()"],
    ["query", "{snap}", "SELECT * FROM no_such_table"],
    ["query", "{snap}", "SELECT role, 1 / (count(*) - count(*)) FROM privileges GROUP BY 1"],
]


@pytest.mark.pg
@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a[:1] + a[2:])[:60])
def test_a_command_on_its_partial_schema_says_what_the_whole_schema_says(
    pg: Any, snap_file: Path, args: list[str], capsys: Any, monkeypatch: Any
) -> None:
    argv = [a.replace("{snap}", str(snap_file)) for a in args]
    want = _runs(argv, capsys, monkeypatch, whole=True)
    got = _runs(argv, capsys, monkeypatch, whole=False)
    assert got[:3] == want[:3]
    assert len(got[3]) <= 1 and len(want[3]) <= 1
    if got[3]:
        assert got[3][0] <= want[3][0]


@pytest.mark.pg
def test_every_audit_table_read_by_query_is_the_whole_schemas(
    pg: Any, snap_file: Path, capsys: Any, monkeypatch: Any
) -> None:
    for name in audit_schema.AUDIT_TABLES:
        argv = ["query", str(snap_file), f'SELECT * FROM "{name}" ORDER BY ALL', "--format", "csv"]
        want = _runs(argv, capsys, monkeypatch, whole=True)
        got = _runs(argv, capsys, monkeypatch, whole=False)
        assert got[0] == 0, (name, got[2])
        assert got[:3] == want[:3], name
        assert name in got[3][0] and got[3][0] < want[3][0], name


@pytest.mark.pg
def test_commands_build_only_what_they_read(
    pg: Any, snap_file: Path, capsys: Any, monkeypatch: Any
) -> None:
    """Counted: on the old behaviour every command built the whole schema."""
    every = set(audit_schema.AUDIT_TABLES)
    snap = str(snap_file)
    cases = [
        (["who-can", snap, "SELECT", "ON", f"{P}_s.orders"], {"escalation_edges", "hba_rules"}),
        (["query", snap, "SELECT count(*) FROM roles"], {"privileges", "escalation_edges"}),
        (["query", snap, "SELECT * FROM coverage"], {"roles", "escalation_edges"}),
        (["paths", snap], {"default_privileges", "hba_rules", "settings"}),
        (["explain", snap, f"{P}_app"], {"default_privileges", "hba_rules"}),
    ]
    for argv, absent in cases:
        code, _out, err, built = _runs(argv, capsys, monkeypatch, whole=False)
        assert code == 0, err
        assert len(built) == 1 and not built[0] & absent, (argv, built[0] & absent)
    # SQL that looks into DuckDB's catalog sees the whole schema's, as before
    code, out, err, built = _runs(["query", snap, VIEWS], capsys, monkeypatch, whole=False)
    assert code == 0, err
    assert built == [every] and "column_privileges" in out


def test_reads_only_tables_refuses_what_looks_into_duckdbs_catalog() -> None:
    con = duckdb.connect()
    try:
        ok = ["SELECT * FROM roles", "WITH r AS (SELECT 1) SELECT * FROM r, coverage"]
        for q in ok:
            assert build_plan.reads_only_tables(con, q), q
        refused = [
            "SELECT pg_get_viewdef(1)",
            'SELECT pg_catalog."PG_GET_VIEWDEF" /* x */ (1)',
            "SELECT (SELECT format_type(23, 0))",
            "SELECT * FROM range(3)",
            "SELECT * FROM roles WHERE EXISTS (SELECT 1 FROM duckdb_tables())",
            "SELECT duckdb_secret_value(1)",
            "SELECT pragma_version()",
            "SELECT FROM WHERE",
        ]
        for q in refused:
            assert not build_plan.reads_only_tables(con, q), q
    finally:
        con.close()


def test_catalog_functions_are_every_catalog_reading_macro_of_this_duckdb() -> None:
    """A DuckDB upgrade that adds a scalar macro reading the catalog fails here."""
    con = duckdb.connect()
    try:
        macros = con.execute(
            "SELECT DISTINCT function_name FROM duckdb_functions() "
            "WHERE function_type = 'macro' AND macro_definition ILIKE '%SELECT%'"
        ).fetchall()
    finally:
        con.close()
    names = {n for (n,) in macros if not n.startswith(("duckdb_", "pragma_"))}
    assert names and names <= build_plan.CATALOG_FUNCTIONS, names - build_plan.CATALOG_FUNCTIONS


_FROM = re.compile(r"(?<!DISTINCT )\b(?:FROM|JOIN)\s+([a-z_][a-z0-9_]*)\b(?![.(]|\s*\()")


def _sql_tables(source: str, lines: range | None = None) -> set[str]:
    """Tables named after FROM/JOIN in the SQL string literals of ``source`` (f-strings'
    literal parts included), in ``lines`` only when given."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.JoinedStr):
            parts = [v.value if isinstance(v, ast.Constant) else " x " for v in node.values]
            text = "".join(str(p) for p in parts)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
        else:
            continue
        if lines is not None and node.lineno not in lines:
            continue
        if "SELECT" in text:
            out |= set(_FROM.findall(text))
    return out - {"unnest"}


def test_each_commands_tables_cover_its_sql() -> None:
    """The lists the commands give the load, against the SQL they run (their modules,
    ``audit.can``'s part for them and ``escalation.Graph.load``)."""
    can_src = inspect.getsource(can)
    split = can_src[: can_src.index("# --- explain")].count("\n") + 1
    who_part = _sql_tables(can_src, range(split))
    explain_part = _sql_tables(can_src, range(split, can_src.count("\n") + 2))
    load = textwrap.dedent(inspect.getsource(escalation.Graph.load))
    routes = _sql_tables(load)
    sql_dir = Path(escalation.__file__).resolve().parent / "sql"
    for name in re.findall(r"escalation_rows\.fetch\(con, \"(\w+)\"\)", load):
        routes |= _sql_tables(repr((sql_dir / f"escalation_rows_{name}.sql").read_text()))
    assert routes == set(paths.TABLES)
    assert _sql_tables(inspect.getsource(paths)) <= set(paths.TABLES)
    assert who_part <= set(can.WHO_CAN_TABLES)
    assert explain_part <= set(can.EXPLAIN_TABLES)
    assert _sql_tables(inspect.getsource(who_can)) | who_part <= set(who_can.TABLES)
    assert _sql_tables(inspect.getsource(explain)) | routes | explain_part <= set(explain.TABLES)
    for tables in (paths.TABLES, who_can.TABLES, explain.TABLES):
        assert build_plan.plan(tables) is not None
    assert query.reading(["roles"]) == ["SELECT * FROM roles"]


# --- diff of one file twice --------------------------------------------------------------


@pytest.mark.pg
def test_diff_of_one_file_twice_evaluates_once_and_says_the_same(
    pg: Any, snap_file: Path, tmp_path: Path, capsys: Any, monkeypatch: Any
) -> None:
    from pgaudit_roles.collect.snapshot import load

    copy = tmp_path / "copy.json.gz"  # the same snapshot in other bytes: evaluated twice
    save(load(snap_file), copy)
    calls: list[object] = []
    real = engine.evaluate

    def counting(*a: Any, **k: Any) -> Any:
        calls.append(a[0])
        return real(*a, **k)

    monkeypatch.setattr("pgaudit_roles.pipeline.evaluate", counting)
    outs = {}
    for fmt in ("text", "json"):
        for other in (snap_file, copy):
            calls.clear()
            code, out, err = run_cli(["diff", str(snap_file), str(other), "--format", fmt], capsys)
            assert code == 0, err
            assert len(calls) == (1 if other == snap_file else 2)
            outs[fmt, other == snap_file] = out.replace(str(copy), str(snap_file))
        assert outs[fmt, True] == outs[fmt, False]
    assert "unchanged" in outs["text", True]
