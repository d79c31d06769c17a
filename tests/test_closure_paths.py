"""The role closure's two paths agree: Python for small graphs, set-based SQL for large ones.

``effective.build_role_closure`` computes a small membership graph's closure in Python
(``closure_small``) and a large one in DuckDB. Both must give the same ``role_closure`` and
``internal.inherit_closure`` rows (column types too) on every graph: here random graphs
with cycles, several grant rows per pair, NULL options, memberships of unknown roles,
pg_database_owner with members and memberships of its own, databases whose owner is
missing, and role and database names with quotes, newlines, unicode and the characters
the Python path would use as separators; under the 13-15 rules (rolinherit, SET on any
chain) and the 16+ ones (per-grant INHERIT and SET). Pure: DuckDB only, no server (the
oracle test tests/test_effective_privileges.py checks the rules against PostgreSQL).
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import duckdb
import pytest

from pgaudit_roles.audit import closure_small, effective
from pgaudit_roles.audit.audit_schema import AUDIT_TABLES, create_ddl

VERSIONS = [130000, 140000, 150000, 160000, 170000, None]

NAME_POOL = [
    "a",
    "ab",
    "a b",
    "B",
    "_x",
    "app_owner",
    'we"ird',
    "it's",
    "new\nline",
    "É",
    "é",
    "z",
    "😀",
    "ü",
    "\u202eevil",
    "<script>",
    "tab\there",
    "sep\x01one",
    "sep\x02two",
    "x\x03",
    "Zeta",
    "zz",
    "a\x1fb",
]


def _con() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("CREATE SCHEMA internal")
    con.execute(
        "CREATE TABLE internal.roles_raw (oid BIGINT, name VARCHAR, inherit BOOLEAN, "
        "predefined BOOLEAN)"
    )
    con.execute("CREATE TABLE internal.databases_raw (oid BIGINT, name VARCHAR, owner_oid BIGINT)")
    con.execute(
        "CREATE TABLE memberships (member_oid BIGINT, role_oid BIGINT, inherit_option BOOLEAN, "
        "set_option BOOLEAN)"
    )
    con.execute(create_ddl(AUDIT_TABLES["role_closure"]))
    return con


def _random_graph(rng: random.Random) -> dict[str, list[tuple[Any, ...]]]:
    n = rng.randint(1, 30)
    names = rng.sample(NAME_POOL, min(len(NAME_POOL), n))
    names += [f"r{i}_{rng.choice(NAME_POOL)}" for i in range(n - len(names))]
    oids = rng.sample(range(10, 5_000_000_000), len(names))
    tri = [True, False, None]
    roles = [
        (o, nm, rng.choice([True, True, False, None]), rng.random() < 0.1)
        for o, nm in zip(oids, names, strict=True)
    ]
    if rng.random() < 0.75:
        pdo = rng.randint(1, 9)
        roles.append((pdo, closure_small.PDO, True, True))
        oids.append(pdo)
    edges: list[tuple[Any, ...]] = []
    for _ in range(rng.randint(0, 3 * len(oids))):
        m, r = rng.choice(oids), rng.choice(oids)
        for _grant in range(rng.choice([1, 1, 1, 2, 3])):  # several grantors: options OR
            edges.append((m, r, rng.choice(tri), rng.choice(tri)))
    if rng.random() < 0.3:
        edges.append((99_999_999_999, rng.choice(oids), True, True))  # unknown member
        edges.append((rng.choice(oids), 99_999_999_998, True, True))  # unknown role
    dbs = []
    for i in range(rng.randint(0, 4)):
        owner = rng.choice([*oids, *oids, 12_345_678_901, None])
        dbs.append(
            (20_000 + i, rng.choice(["app", "db 'x'", "Ωmega", "d\nb", f"db{i}"]) + str(i), owner)
        )
    return {"roles": roles, "memberships": edges, "databases": dbs}


def _fill(con: duckdb.DuckDBPyConnection, graph: dict[str, list[tuple[Any, ...]]]) -> None:
    for table in ("internal.roles_raw", "internal.databases_raw", "memberships", "role_closure"):
        con.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed names
    con.execute("DROP TABLE IF EXISTS internal.inherit_closure")
    for table, rows in (
        ("internal.roles_raw", graph["roles"]),
        ("internal.databases_raw", graph["databases"]),
        ("memberships", graph["memberships"]),
    ):
        if rows:  # one statement, column lists unnested (executemany is a statement a row)
            cols = ", ".join(f"unnest(${i + 1})" for i in range(len(rows[0])))
            con.execute(
                f"INSERT INTO {table} SELECT {cols}", [list(c) for c in zip(*rows, strict=True)]
            )  # noqa: S608


def _build(
    con: duckdb.DuckDBPyConnection,
    graph: dict[str, list[tuple[Any, ...]]],
    version: int | None,
    small: bool,
) -> tuple[str, Counter[str], Counter[str], list[Any]]:
    _fill(con, graph)
    path = effective.build_role_closure(con, version, small=small)
    closure = Counter(map(repr, con.execute("SELECT * FROM role_closure").fetchall()))
    inherit = Counter(map(repr, con.execute("SELECT * FROM internal.inherit_closure").fetchall()))
    types = con.execute("DESCRIBE internal.inherit_closure").fetchall()
    return path, closure, inherit, types


@pytest.mark.parametrize("version", VERSIONS, ids=lambda v: f"v{v}")
def test_python_and_sql_paths_agree_on_random_graphs(version: int | None) -> None:
    con = _con()
    rng = random.Random(f"closure-{version}")
    seen = Counter[str]()
    for case in range(10):
        graph = _random_graph(rng)
        sql = _build(con, graph, version, small=False)
        py = _build(con, graph, version, small=True)
        assert sql[0] == "sql"
        assert py[0] == "python", f"case {case}: the small graph took the SQL path"
        assert py[1] == sql[1], f"case {case}: role_closure differs"
        assert py[2] == sql[2], f"case {case}: internal.inherit_closure differs"
        assert py[3] == sql[3], f"case {case}: internal.inherit_closure's types differ"
        # what the graphs exercised (so the comparison is not vacuous)
        rows = con.execute(
            "SELECT database_oid, depth, inherits, can_set FROM role_closure"
        ).fetchall()
        seen["rows"] += len(rows)
        seen["per_database"] += sum(1 for r in rows if r[0] is not None)
        seen["deep"] += sum(1 for r in rows if r[1] >= 3)
        seen["no_inherit"] += sum(1 for r in rows if not r[2])
        seen["no_set"] += sum(1 for r in rows if not r[3])
    assert seen["rows"] > 200 and seen["deep"] > 0 and seen["no_inherit"] > 0
    if version is None or version >= 160000:
        assert seen["no_set"] > 0
    assert seen["per_database"] > 0


def test_python_rows_match_the_table() -> None:
    """``closure_small.compute``'s rows are what its SQL decodes from the text into
    ``role_closure`` (the encoding loses nothing, separators in names included)."""
    con = _con()
    rng = random.Random("closure-rows")
    for _case in range(8):
        graph = _random_graph(rng)
        _fill(con, graph)
        assert effective.build_role_closure(con, 160000) == "python"
        closure = closure_small.compute(
            graph["roles"],
            graph["memberships"],
            [(n, o, w) for o, n, w in graph["databases"]],
            True,
            10**6,
        )
        assert closure is not None
        table = Counter(map(repr, con.execute("SELECT * FROM role_closure").fetchall()))
        assert Counter(map(repr, closure.role_closure())) == table


@pytest.mark.parametrize(
    "why", ["duplicate role names", "too many pairs", "no free separator", "repeated role oid"]
)
def test_graphs_the_python_path_leaves_to_sql(why: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Inputs outside the Python path's assumptions take the SQL path, with the same result
    as forcing it."""
    rng = random.Random(why)
    graph = _random_graph(rng)
    while len(graph["roles"]) < 3 or not graph["memberships"]:
        graph = _random_graph(rng)
    roles = graph["roles"]
    if why == "duplicate role names":
        roles[1] = (roles[1][0], roles[0][1], *roles[1][2:])
    elif why == "repeated role oid":
        roles.append((roles[0][0], "another", True, False))
    elif why == "no free separator":
        roles[0] = (roles[0][0], "".join(closure_small.SEPARATORS), *roles[0][2:])
    else:
        graph["memberships"].append((roles[0][0], roles[1][0], True, True))
        monkeypatch.setattr(effective, "SMALL_CLOSURE_PAIRS", 0)
    con = _con()
    forced = _build(con, graph, 160000, small=False)
    chosen = _build(con, graph, 160000, small=True)
    assert chosen[0] == "sql"
    assert chosen[1:] == forced[1:]


def test_large_graphs_take_the_sql_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(effective, "SMALL_CLOSURE_ROLES", 3)
    con = _con()
    graph = {
        "roles": [(i, f"r{i}", True, False) for i in range(1, 5)],
        "memberships": [(1, 2, True, True)],
        "databases": [],
    }
    assert _build(con, graph, 160000, small=True)[0] == "sql"
    monkeypatch.setattr(effective, "SMALL_CLOSURE_ROLES", 4)
    assert _build(con, graph, 160000, small=True)[0] == "python"
    monkeypatch.setattr(effective, "SMALL_CLOSURE_MEMBERSHIPS", 0)
    assert _build(con, graph, 160000, small=True)[0] == "sql"
