"""The small path's escalation edges (pgaudit_roles.audit.escalation_rows) against the SQL
statements they replace, on random catalogs with the values a server never sends but the
tables allow (NULL flags, owners and kinds, unknown OIDs, duplicate grants, names that need
quoting). Pure logic: DuckDB in memory, no server (tests/test_escalation.py compares both
paths on real servers 13-18)."""

from __future__ import annotations

import random
from typing import Any

import duckdb
import pytest

from pgaudit_roles.audit import audit_schema, escalation, escalation_rows
from pgaudit_roles.audit.rows import insert_rows

NAMES = [
    "alice",
    "select",
    'Odd"Name',
    "with space",
    "é",
    "UPPER",
    "pg_database_owner",
    "pg_execute_server_program",
    "pg_read_server_files",
    "rds_superuser",
    "$user",
]
SCHEMAS = ["public", 'Odd"Sch', "order", "app", "$user", "alice", "UPPER"]
SEARCH_PATHS = [
    None,
    None,
    "",
    "",
    '"$user", public',
    '$user, "Odd""Sch"',
    'app, "order", pg_temp',
    "Public, UPPER",
    '"UPPER", alice',
]


def _connection() -> Any:
    con = duckdb.connect(":memory:")
    con.execute(";\n".join(audit_schema.temp_macros()))
    con.execute("CREATE SCHEMA internal")
    for name in ("roles", "memberships", "functions", "schemas", "privileges", "databases"):
        con.execute(audit_schema.create_ddl(audit_schema.AUDIT_TABLES[name]))
    con.execute(audit_schema.create_ddl(audit_schema.AUDIT_TABLES["escalation_edges"]))
    con.execute(
        "CREATE TABLE internal.esc_effective (database_oid BIGINT, object_class VARCHAR, "
        "object_oid BIGINT, role_oid BIGINT, privilege VARCHAR, is_system BOOLEAN)"
    )
    return con


def _pick(rng: random.Random, values: list[Any], none: float = 0.0) -> Any:
    return None if rng.random() < none else rng.choice(values)


def _catalog(con: Any, rng: random.Random, v: int) -> None:
    """Random rows in the tables both paths read."""
    oids = list(range(10, 10 + rng.randint(5, len(NAMES))))
    roles = []
    for i, oid in enumerate(oids):
        name = NAMES[i]
        roles.append(
            [
                oid,
                name,
                _pick(rng, [True, False, False, False], 0.05),
                _pick(rng, [True, False, False], 0.05),
                True if name.startswith("pg_") else _pick(rng, [False], 0.1),
            ]
        )
    insert_rows(
        con,
        "roles",
        [
            ("oid", "BIGINT"),
            ("name", "VARCHAR"),
            ("superuser", "BOOLEAN"),
            ("createrole", "BOOLEAN"),
            ("predefined", "BOOLEAN"),
        ],
        roles,
    )
    some_oid = [*oids, 0, 999]
    name_of = {r[0]: r[1] for r in roles}
    memberships = []
    for _ in range(rng.randint(0, 12)):
        role, member = rng.choice(oids + [998]), rng.choice(oids)
        memberships.append(
            [
                name_of.get(role, "ghost"),
                None if rng.random() < 0.05 else role,
                name_of[member],
                member,
                *(_pick(rng, [True, False], 0.15) for _ in range(3)),
            ]
        )
    memberships += memberships[: rng.randint(0, 2)]  # the same pair from two grantors
    insert_rows(
        con,
        "memberships",
        [
            ("role", "VARCHAR"),
            ("role_oid", "BIGINT"),
            ("member", "VARCHAR"),
            ("member_oid", "BIGINT"),
            ("admin_option", "BOOLEAN"),
            ("inherit_option", "BOOLEAN"),
            ("set_option", "BOOLEAN"),
        ],
        memberships,
    )
    con.execute("CREATE OR REPLACE TABLE internal.esc_params AS SELECT ?::INTEGER AS v", [v])
    con.execute(
        "CREATE OR REPLACE TABLE internal.esc_reference "
        f"({escalation._coldefs(escalation.REFERENCE_COLUMNS)})"
    )
    insert_rows(
        con, "internal.esc_reference", escalation.REFERENCE_COLUMNS, escalation._reference_rows(v)
    )
    dbs = [1, 2]
    insert_rows(
        con,
        "databases",
        [("oid", "BIGINT"), ("name", "VARCHAR"), ("owner_oid", "BIGINT")],
        [[d, f"db{d}", _pick(rng, oids, 0.1)] for d in dbs],
    )
    schemas = []
    for d in [*dbs, 3]:  # database 3 has no databases row
        for j, name in enumerate(rng.sample(SCHEMAS, rng.randint(2, len(SCHEMAS)))):
            owner = _pick(rng, oids)
            schemas.append(
                [
                    d,
                    100 * d + j,
                    name,
                    "pg_database_owner" if rng.random() < 0.2 else name_of[owner],
                    owner,
                    _pick(rng, [False, False, False, True], 0.05),
                ]
            )
    insert_rows(
        con,
        "schemas",
        [
            ("database_oid", "BIGINT"),
            ("oid", "BIGINT"),
            ("name", "VARCHAR"),
            ("owner", "VARCHAR"),
            ("owner_oid", "BIGINT"),
            ("is_system", "BOOLEAN"),
        ],
        schemas,
    )
    functions = []
    for k in range(rng.randint(1, 8)):
        d = rng.choice([*dbs, *dbs, 3])
        owner = _pick(rng, oids, 0.1)
        here = [sc[2] for sc in schemas if sc[0] == d]
        schema = rng.choice(here) if rng.random() < 0.9 else "nowhere"
        functions.append(
            [
                f"db{d}",
                d,
                1000 + k % 4,  # the same OID in two databases now and then
                schema,
                rng.choice(["f", "select", "Mixed"]),
                f"{schema}.f{k}()",
                _pick(rng, ["", "x integer"], 0.1),
                name_of.get(owner) if owner is not None else None,
                owner,
                _pick(rng, ["function", "procedure"], 0.1),
                _pick(rng, [True, True, True, False], 0.05),
                rng.choice(SEARCH_PATHS),
                None if rng.random() < 0.9 else "ext",
                _pick(rng, [False, False, False, True], 0.05),
            ]
        )
    insert_rows(
        con,
        "functions",
        [
            ("database", "VARCHAR"),
            ("database_oid", "BIGINT"),
            ("oid", "BIGINT"),
            ("schema", "VARCHAR"),
            ("name", "VARCHAR"),
            ("identity", "VARCHAR"),
            ("identity_args", "VARCHAR"),
            ("owner", "VARCHAR"),
            ("owner_oid", "BIGINT"),
            ("kind", "VARCHAR"),
            ("security_definer", "BOOLEAN"),
            ("search_path", "VARCHAR"),
            ("extension", "VARCHAR"),
            ("is_system", "BOOLEAN"),
        ],
        functions,
    )
    objects = [("function", f[1], f[2], "EXECUTE") for f in functions]
    objects += [("schema", s[0], s[1], p) for s in schemas for p in ("USAGE", "CREATE")]
    privileges = []
    effective = []
    for cls, d, obj, priv in objects:
        for _ in range(rng.choice([1, 2, 3])):
            grantee = 0 if rng.random() < 0.3 else _pick(rng, some_oid, 0.03)
            privileges.append(
                [d, cls, obj, name_of.get(grantee) if grantee else None, grantee, priv]
            )
        for role in [*oids, None]:
            if rng.random() < 0.4:
                effective.append([d, cls, obj, role, priv, _pick(rng, [False, True], 0.05)])
    privileges += privileges[: rng.randint(0, 3)]  # grants held from two grantors
    insert_rows(
        con,
        "privileges",
        [
            ("database_oid", "BIGINT"),
            ("object_class", "VARCHAR"),
            ("object_oid", "BIGINT"),
            ("grantee", "VARCHAR"),
            ("grantee_oid", "BIGINT"),
            ("privilege", "VARCHAR"),
        ],
        privileges,
    )
    insert_rows(
        con,
        "internal.esc_effective",
        [
            ("database_oid", "BIGINT"),
            ("object_class", "VARCHAR"),
            ("object_oid", "BIGINT"),
            ("role_oid", "BIGINT"),
            ("privilege", "VARCHAR"),
            ("is_system", "BOOLEAN"),
        ],
        effective,
    )


def _edges_by_sql(con: Any, statement: str) -> list[str]:
    con.execute("DELETE FROM escalation_edges")
    con.execute(escalation._sql(statement))
    return sorted(repr(r) for r in con.execute("SELECT * FROM escalation_edges").fetchall())


def _edges_by_python(con: Any, rows: list[list[Any]]) -> list[str]:
    con.execute("DELETE FROM escalation_edges")
    insert_rows(con, "escalation_edges", escalation.EDGE_COLUMNS, rows)
    return sorted(repr(r) for r in con.execute("SELECT * FROM escalation_edges").fetchall())


@pytest.mark.parametrize("seed", range(16))
def test_python_edges_equal_the_sql_statements(seed: int) -> None:
    rng = random.Random(seed)
    v = rng.choice([130000, 150000, 160000, 180000, 999999])
    con = _connection()
    _catalog(con, rng, v)
    roles = escalation_rows.fetch(con, "roles")
    core = escalation_rows.core_edges(
        roles, escalation_rows.fetch(con, "memberships"), escalation._reference_rows(v), v
    )
    assert _edges_by_python(con, core) == _edges_by_sql(con, "escalation_edges.sql")
    definer = escalation_rows.definer_edges(con, roles)
    assert _edges_by_python(con, definer) == _edges_by_sql(con, "escalation_edges_definer.sql")


def test_random_catalogs_reach_every_branch() -> None:
    """The random catalogs above make edges of every kind both statements produce (else
    the comparison could pass on empty results)."""
    kinds: set[str] = set()
    for seed in range(16):
        rng = random.Random(seed)
        v = rng.choice([130000, 150000, 160000, 180000, 999999])
        con = _connection()
        _catalog(con, rng, v)
        roles = escalation_rows.fetch(con, "roles")
        rows = escalation_rows.core_edges(
            roles, escalation_rows.fetch(con, "memberships"), escalation._reference_rows(v), v
        )
        rows += escalation_rows.definer_edges(con, roles)
        kinds |= {r[10] for r in rows}
        kinds |= {f"{r[10]}:{r[17]}" for r in rows if r[10] == "security_definer"}
        kinds |= {"public_caller" for r in rows if r[10] == "security_definer" and r[4] == 0}
    assert kinds >= {
        "set_role",
        "inherit",
        "admin_option",
        "createrole",
        "superuser_attribute",
        "predefined_os",
        "predefined_superuser",
        "managed_admin",
        "superuser_os",
        "security_definer_call",
        "security_definer:function_search_path",
        "security_definer:revoke_schema_create",
        "public_caller",
    }


def test_edge_columns_are_the_tables() -> None:
    table = audit_schema.AUDIT_TABLES["escalation_edges"]
    assert escalation.EDGE_COLUMNS == [(c.name, c.type) for c in table.columns]


@pytest.mark.parametrize(
    "value", [None, "a", "select", "Select", 'a"b', "with space", "é", "_x1", "1x", ""]
)
def test_quoting_is_the_macros(value: str | None) -> None:
    con = duckdb.connect(":memory:")
    con.execute(";\n".join(audit_schema.temp_macros()))
    got = con.execute(
        "SELECT pg_quote_ident(?), pg_qualified(?, ?), pg_qualified(NULL, ?)",
        [value, value, "t", value],
    ).fetchone()
    assert got == (
        escalation_rows._qi(value),
        escalation_rows._qualified(value, "t"),
        escalation_rows._qualified(None, value),
    )
