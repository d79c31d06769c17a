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
import json
import re
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from audit_builds import Kept
from cli_support import run_cli
from test_audit_schema import make, member, role
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
        pg.drop_roles(
            r[0] for r in pg.query("SELECT rolname FROM pg_roles WHERE rolname LIKE %s", (f"{P}%",))
        )


def _built(con: Any) -> frozenset[str]:
    return frozenset(
        name
        for (name,) in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main' AND NOT temporary "
            "UNION ALL SELECT view_name FROM duckdb_views() "
            "WHERE schema_name = 'main' AND NOT internal AND NOT temporary"
        ).fetchall()
    )


@pytest.fixture(scope="module")
def builds() -> Iterator[dict[Any, Any]]:
    """Audit schemas built for the module's snapshot, by the queries a command asked for
    (None: the whole schema): each is built once, and every run on it is the command's."""
    cache: dict[Any, Any] = {}
    yield cache
    for con in cache.values():
        con.close()


def _run(
    argv: list[str], capsys: Any, monkeypatch: Any, builds: dict[Any, Any], *, whole: bool
) -> tuple[int, str, str, list[frozenset[str]]]:
    """(exit code, stdout, stderr, the audit tables of each schema it read) of one command
    run in this process; with ``whole`` it reads the whole schema, as before partial
    builds, whatever it asked for."""
    real = query.audit_connection
    read: list[frozenset[str]] = []

    def cached(snap: Any, naming: Any, queries: list[str] | None = None) -> Any:
        key = None if whole or queries is None else tuple(queries)
        if key not in builds:
            builds[key] = real(snap, naming, None if key is None else list(key))
        read.append(_built(builds[key]))
        return Kept(builds[key])

    with monkeypatch.context() as m:
        m.setattr(query, "audit_connection", cached)
        code, out, err = run_cli(argv, capsys)
    return code, out, err, read


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
    ["query", "{snap}", "SELECT * FROM coverage ORDER BY ALL", "--format", "json"],
    ["query", "{snap}", "SELECT * FROM escalation_paths ORDER BY ALL", "--format", "csv"],
    ["query", "{snap}", VIEWS],
    ["query", "{snap}", "SELECT pg_get_viewdef(v) FROM range(30000) t(v)"],  # refused: FROM range
    ["query", "{snap}", "SELECT * FROM information_schema.tables"],
    ["query", "{snap}", "SELECT * FROM duckdb_tables()"],
    ["query", "{snap}", "SELECT * FROM no_such_table"],
    ["query", "{snap}", "SELECT role, 1 / (count(*) - count(*)) FROM privileges GROUP BY 1"],
]


@pytest.mark.pg
@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a[:1] + a[2:])[:60])
def test_a_command_on_its_partial_schema_says_what_the_whole_schema_says(
    pg: Any,
    snap_file: Path,
    builds: dict[Any, Any],
    args: list[str],
    capsys: Any,
    monkeypatch: Any,
) -> None:
    argv = [a.replace("{snap}", str(snap_file)) for a in args]
    want = _run(argv, capsys, monkeypatch, builds, whole=True)
    got = _run(argv, capsys, monkeypatch, builds, whole=False)
    assert got[:3] == want[:3]
    assert len(got[3]) == len(want[3]) <= 1  # none when the SQL was refused
    assert all(g <= w for g, w in zip(got[3], want[3], strict=True))


@pytest.mark.pg
def test_commands_build_only_what_they_read(
    pg: Any, snap_file: Path, builds: dict[Any, Any], capsys: Any, monkeypatch: Any
) -> None:
    """Counted: on the old behaviour every command built the whole schema."""
    every = frozenset(audit_schema.AUDIT_TABLES)
    snap = str(snap_file)
    cases = [
        (["who-can", snap, "SELECT", "ON", f"{P}_s.orders"], {"escalation_edges", "hba_rules"}),
        (["query", snap, "SELECT count(*) FROM roles"], {"privileges", "escalation_edges"}),
        (["query", snap, "SELECT * FROM coverage"], {"roles", "escalation_edges"}),
        (["paths", snap], {"default_privileges", "hba_rules", "settings"}),
        (["explain", snap, f"{P}_app"], {"default_privileges", "hba_rules"}),
    ]
    for argv, absent in cases:
        code, _out, err, read = _run(argv, capsys, monkeypatch, builds, whole=False)
        assert code == 0, err
        assert len(read) == 1 and not read[0] & absent, (argv, read[0] & absent)
    # SQL that looks into DuckDB's catalog sees the whole schema's, as before
    code, out, err, read = _run(["query", snap, VIEWS], capsys, monkeypatch, builds, whole=False)
    assert code == 0, err
    assert read == [every] and "column_privileges" in out


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


def test_diff_of_one_file_twice_evaluates_once_and_says_the_same(
    tmp_path: Path, capsys: Any, monkeypatch: Any
) -> None:
    """Pure logic (the inputs are files): one run of the comparison is enough."""
    snap = make(
        roles=[
            role(100, "root2", superuser=True, login=True),
            role(101, "Bad Name", login=True, createrole=True),
            role(102, "db_owner_shop"),
            role(103, "app_shop", login=True),
        ],
        memberships=[member(102, 103)],
    )
    path, copy = tmp_path / "snap.json", tmp_path / "copy.json.gz"  # other bytes: evaluated twice
    save(snap, path)
    save(snap, copy)
    calls: list[object] = []
    real = engine.evaluate

    def counting(*a: Any, **k: Any) -> Any:
        calls.append(a[0])
        return real(*a, **k)

    monkeypatch.setattr("pgaudit_roles.evaluate.engine.evaluate", counting)
    outs = []
    for other in (path, copy):
        calls.clear()
        code, out, err = run_cli(["diff", str(path), str(other), "--format", "json"], capsys)
        assert code == 0, err
        assert len(calls) == (1 if other == path else 2)
        outs.append(json.loads(out.replace(str(copy), str(path))))
    assert outs[0] == outs[1] and outs[0]["findings"]["unchanged"] > 0
