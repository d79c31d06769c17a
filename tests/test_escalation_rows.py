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
from pgaudit_roles.audit.effective import EFFECTIVE_PRIVILEGES_SQL
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
    "pg_read_all_data",
    "pg_write_all_data",
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

GRANT_COLUMNS: list[tuple[str, str]] = [
    ("database_oid", "BIGINT"),
    ("object_class", "VARCHAR"),
    ("object_oid", "BIGINT"),
    ("grantee", "VARCHAR"),
    ("grantee_oid", "BIGINT"),
    ("privilege", "VARCHAR"),
]
"""The privileges columns the edge statements read; the catalogs for the
effective-privileges view insert four more after them."""


def _connection() -> Any:
    con = duckdb.connect(":memory:")
    con.execute(";\n".join(audit_schema.temp_macros()))
    con.execute("CREATE SCHEMA internal")
    for name in (
        "roles",
        "memberships",
        "functions",
        "schemas",
        "privileges",
        "databases",
        "triggers",
        "event_triggers",
        "acl_objects",
        "predefined_privileges",
        "privilege_types",
        "user_mappings",
    ):
        con.execute(audit_schema.create_ddl(audit_schema.AUDIT_TABLES[name]))
    con.execute(
        "CREATE TABLE internal.inherit_closure (database_oid BIGINT, member_oid BIGINT, "
        "role_oid BIGINT, inherit_depth INTEGER, inherit_path VARCHAR[])"
    )
    con.execute(EFFECTIVE_PRIVILEGES_SQL)
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
                True
                if name.startswith("pg_") and rng.random() < 0.8
                else _pick(rng, [False, False, True], 0.2),
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
    privileges: list[list[Any]] = []
    effective = []
    for cls, d, obj, priv in objects:
        for _ in range(rng.choice([1, 2, 3])):
            grantee = (
                0
                if rng.random() < (0.5 if cls == "schema" else 0.3)
                else _pick(rng, some_oid, 0.03)
            )
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
        GRANT_COLUMNS,
        privileges,
    )
    _effective_inputs(con, rng, roles, schemas, functions, privileges, dbs)
    insert_rows(
        con,
        "internal.esc_effective",
        escalation_rows.ESC_EFFECTIVE_COLUMNS,
        effective,
    )


def _effective_inputs(
    con: Any,
    rng: random.Random,
    roles: list[list[Any]],
    schemas: list[list[Any]],
    functions: list[list[Any]],
    privileges: list[list[Any]],
    dbs: list[int],
) -> None:
    """What the effective_privileges view reads besides the rows above: acl_objects, the
    privilege types and predefined roles' privileges, the inheritance closure, triggers."""
    objects = [[s[0], "schema", s[1], "schema", s[5]] for s in schemas]
    objects += [[f[1], "function", f[2], f[9], f[13]] for f in functions]
    insert_rows(
        con,
        "acl_objects",
        [
            ("database_oid", "BIGINT"),
            ("object_class", "VARCHAR"),
            ("object_oid", "BIGINT"),
            ("kind", "VARCHAR"),
            ("is_system", "BOOLEAN"),
        ],
        objects,
    )
    types = [
        ["schema", None, "USAGE"],
        ["schema", None, "CREATE"],
        ["function", None, "EXECUTE"],
        ["function", "procedure", "ALTER"],
        ["relation", "table", "SELECT"],
    ]
    insert_rows(
        con,
        "privilege_types",
        [("object_class", "VARCHAR"), ("kind", "VARCHAR"), ("privilege", "VARCHAR")],
        types,
    )
    predefined = [
        ["pg_read_all_data", "schema", None, "USAGE"],
        ["pg_write_all_data", "schema", None, "USAGE"],
        ["pg_write_all_data", "function", "procedure", "EXECUTE"],
    ]
    insert_rows(
        con,
        "predefined_privileges",
        [
            ("role", "VARCHAR"),
            ("object_class", "VARCHAR"),
            ("kind", "VARCHAR"),
            ("privilege", "VARCHAR"),
        ],
        predefined,
    )
    oids = [r[0] for r in roles]
    closure = [[None, o, o, 0, None] for o in oids]
    for _ in range(rng.randint(0, 2 * len(oids))):
        closure.append([_pick(rng, dbs, 0.7), rng.choice(oids), rng.choice(oids), 1, None])
    insert_rows(
        con,
        "internal.inherit_closure",
        [
            ("database_oid", "BIGINT"),
            ("member_oid", "BIGINT"),
            ("role_oid", "BIGINT"),
            ("inherit_depth", "INTEGER"),
            ("inherit_path", "VARCHAR[]"),
        ],
        closure,
    )
    _code_and_grants(con, rng, roles, functions, privileges, dbs)
    for p in privileges:  # the view reads the owner and grant option too; parameters a name
        name = p.pop() if len(p) == 7 else None
        p.extend([_pick(rng, oids, 0.1), rng.random() < 0.5, _pick(rng, [False, True]), name])
    con.execute("DELETE FROM privileges")
    insert_rows(
        con,
        "privileges",
        [
            *GRANT_COLUMNS,
            ("owner_oid", "BIGINT"),
            ("grantable", "BOOLEAN"),
            ("is_system", "BOOLEAN"),
            ("object_name", "VARCHAR"),
        ],
        privileges,
    )


def _code_and_grants(
    con: Any,
    rng: random.Random,
    roles: list[list[Any]],
    functions: list[list[Any]],
    privileges: list[list[Any]],
    dbs: list[int],
) -> None:
    """Triggers, event triggers, grants on their tables, parameter privileges and user
    mappings (what escalation_edges_code.sql and escalation_edges_grants.sql read)."""
    oids = [r[0] for r in roles]
    name_of = {r[0]: r[1] for r in roles}
    fn_oids = [f[2] for f in functions] + [5000]  # 5000: no such function
    events = [["INSERT"], ["INSERT", "UPDATE"], ["INSERT", "UPDATE"], [], None, ["DELETE", None]]
    triggers = []
    for k in range(rng.randint(1, 5)):
        fo, to = _pick(rng, oids, 0.05), _pick(rng, oids, 0.05)
        db, fn = _function_in(rng, functions, dbs, fn_oids)
        triggers.append(
            [
                f"db{k % 2 + 1}",
                db,
                3000 + k,
                rng.choice(["touch", "Odd Trg"]),
                4000 + k % 2,
                f"t{k}",
                name_of.get(to) if to is not None else None,
                to,
                fn,
                f"f{k}()",
                name_of.get(fo) if fo is not None else None,
                fo,
                _pick(rng, [False, False, True], 0.1),
                rng.choice(events),
                _pick(rng, ["O", "O", "A", "D"], 0.05),
            ]
        )
    insert_rows(
        con,
        "triggers",
        [
            ("database", "VARCHAR"),
            ("database_oid", "BIGINT"),
            ("oid", "BIGINT"),
            ("name", "VARCHAR"),
            ("table_oid", "BIGINT"),
            ("table_identity", "VARCHAR"),
            ("table_owner", "VARCHAR"),
            ("table_owner_oid", "BIGINT"),
            ("function_oid", "BIGINT"),
            ("function_identity", "VARCHAR"),
            ("function_owner", "VARCHAR"),
            ("function_owner_oid", "BIGINT"),
            ("function_security_definer", "BOOLEAN"),
            ("events", "VARCHAR[]"),
            ("enabled", "VARCHAR"),
        ],
        triggers,
    )
    event_triggers = []
    for k in range(rng.randint(0, 3)):
        fo = _pick(rng, oids, 0.05)
        db, fn = _function_in(rng, functions, dbs, fn_oids)
        event_triggers.append(
            [
                f"db{k % 2 + 1}",
                db,
                3500 + k,
                rng.choice(["et", "Odd Et"]),
                _pick(rng, ["ddl_command_end", "sql_drop"], 0.05),
                _pick(rng, [name_of[o] for o in oids], 0.05),
                fn,
                f"ef{k}()",
                name_of.get(fo) if fo is not None else None,
                fo,
                _pick(rng, [False, False, True], 0.1),
                _pick(rng, ["O", "O", "D"], 0.05),
            ]
        )
    insert_rows(
        con,
        "event_triggers",
        [
            ("database", "VARCHAR"),
            ("database_oid", "BIGINT"),
            ("oid", "BIGINT"),
            ("name", "VARCHAR"),
            ("event", "VARCHAR"),
            ("owner", "VARCHAR"),
            ("function_oid", "BIGINT"),
            ("function_identity", "VARCHAR"),
            ("function_owner", "VARCHAR"),
            ("function_owner_oid", "BIGINT"),
            ("function_security_definer", "BOOLEAN"),
            ("enabled", "VARCHAR"),
        ],
        event_triggers,
    )
    # grants on the tables, parameter privileges, USAGE on foreign servers
    for t in triggers:
        for _ in range(rng.choice([0, 1, 2, 3])):
            grantee = _pick(rng, [*oids, 0], 0.05)
            privileges.append(
                [
                    t[1],
                    "relation",
                    t[4],
                    name_of.get(grantee) if grantee else None,
                    grantee,
                    _pick(rng, ["INSERT", "UPDATE", "SELECT", "DELETE"], 0.05),
                ]
            )
    parameter_names = ["archive_command", "session_preload_libraries", "work_mem"]
    for _ in range(rng.choice([0, 0, 1, 2, 3])):
        grantee = _pick(rng, [*oids, 0], 0.05)
        name = rng.choice(parameter_names)
        privileges.append(
            [
                None,
                "parameter",
                None,
                "PUBLIC" if grantee == 0 else name_of.get(grantee) if grantee else None,
                grantee,
                _pick(rng, ["SET", "ALTER SYSTEM"], 0.05),
                name,
            ]
        )
    mappings = []
    for k in range(rng.randint(0, 3)):
        server = 6000 + k % 2
        mappings.append(
            [
                f"db{k % 2 + 1}",
                rng.choice(dbs),
                6100 + k,
                rng.choice(["srv", "Odd Srv"]),
                server,
                0 if rng.random() < 0.7 else _pick(rng, oids, 0.1),
                rng.choice([None, [], ["user", "password"], [None]]),
            ]
        )
        for _ in range(rng.choice([1, 2])):
            grantee = _pick(rng, [*oids, 0], 0.05)
            privileges.append(
                [
                    mappings[-1][1],
                    "server",
                    server,
                    "PUBLIC" if grantee == 0 else name_of.get(grantee) if grantee else None,
                    grantee,
                    _pick(rng, ["USAGE", "USAGE", "CREATE"], 0.05),
                ]
            )
    insert_rows(
        con,
        "user_mappings",
        [
            ("database", "VARCHAR"),
            ("database_oid", "BIGINT"),
            ("oid", "BIGINT"),
            ("server", "VARCHAR"),
            ("server_oid", "BIGINT"),
            ("user_oid", "BIGINT"),
            ("option_names", "VARCHAR[]"),
        ],
        mappings,
    )


def _function_in(
    rng: random.Random, functions: list[list[Any]], dbs: list[int], fn_oids: list[int]
) -> tuple[int, int]:
    """(database, function OID) of a trigger: mostly one of the functions, in its
    database; now and then anything."""
    if functions and rng.random() < 0.8:
        f = rng.choice(functions)
        return f[1], f[2]
    return rng.choice([*dbs, 3]), rng.choice(fn_oids)


def _effective_by_python(con: Any) -> set[tuple[Any, ...]]:
    roles = escalation_rows.fetch(con, "roles")
    rows = escalation_rows.effective_rows(
        con,
        roles,
        escalation_rows.fetch(con, "sd"),
        escalation_rows.fetch(con, "privileges"),
        escalation_rows.fetch(con, "schemas"),
        escalation_rows.code_owners(escalation_rows.fetch(con, "code")),
    )
    assert len(rows) == len(set(rows))
    return set(rows)


def _definer_by_python(con: Any) -> list[list[Any]]:
    """escalation_edges_definer.sql's rows by Python, over internal.esc_effective's rows."""
    return escalation_rows.definer_edges(
        escalation_rows.fetch(con, "sd"),
        escalation_rows.fetch(con, "privileges"),
        con.execute("SELECT * FROM internal.esc_effective").fetchall(),
        escalation_rows.fetch(con, "schemas"),
        escalation_rows.fetch(con, "roles"),
    )


def _edges_by_sql(con: Any, statement: str) -> list[str]:
    con.execute("DELETE FROM escalation_edges")
    con.execute(escalation._sql(statement))
    return sorted(repr(r) for r in con.execute("SELECT * FROM escalation_edges").fetchall())


def _edges_by_python(con: Any, rows: list[list[Any]]) -> list[str]:
    con.execute("DELETE FROM escalation_edges")
    insert_rows(con, "escalation_edges", escalation.EDGE_COLUMNS, rows)
    return sorted(repr(r) for r in con.execute("SELECT * FROM escalation_edges").fetchall())


SEEDS = 16


def test_python_edges_equal_the_sql_statements() -> None:
    """On each random catalog, the Python rows equal the statements' (one test over every
    seed, so that the last check can ask that the catalogs reached every branch: else
    the comparison could pass on empty results)."""
    kinds: set[str] = set()
    for seed in range(SEEDS):
        rng = random.Random(seed)
        v = rng.choice([130000, 150000, 160000, 180000, 999999])
        con = _connection()
        _catalog(con, rng, v)
        roles = escalation_rows.fetch(con, "roles")
        core = escalation_rows.core_edges(
            roles, escalation_rows.fetch(con, "memberships"), escalation._reference_rows(v), v
        )
        assert _edges_by_python(con, core) == _edges_by_sql(con, "escalation_edges.sql"), seed
        definer = _definer_by_python(con)
        by_sql = _edges_by_sql(con, "escalation_edges_definer.sql")
        assert _edges_by_python(con, definer) == by_sql, seed
        effective_rows = con.execute("SELECT * FROM internal.esc_effective").fetchall()
        code = escalation_rows.code_edges(
            escalation_rows.fetch(con, "code"),
            escalation_rows.fetch(con, "table_grants"),
            effective_rows,
            escalation_rows.fetch(con, "schemas"),
            roles,
        )
        assert _edges_by_python(con, code) == _edges_by_sql(con, "escalation_edges_code.sql"), seed
        grants = escalation_rows.grants_edges(
            escalation_rows.fetch(con, "grants"), roles, escalation._reference_rows(v)
        )
        by_sql = _edges_by_sql(con, "escalation_edges_grants.sql")
        assert _edges_by_python(con, grants) == by_sql, seed
        # the effective privileges the edges read: escalation_privileges.sql's, each once
        effective = _effective_by_python(con)
        con.execute(escalation._sql("escalation_privileges.sql"))
        by_sql_effective = set(con.execute("SELECT * FROM internal.esc_effective").fetchall())
        assert effective == by_sql_effective, seed
        rows = core + definer + code + grants
        kinds |= {r[10] for r in rows}
        kinds |= {f"{r[10]}:{r[9]}" for r in rows if r[10] == "trigger_function"}
        kinds |= {f"effective:{e[1]}" for e in effective}
        kinds |= {f"{r[10]}:{r[17]}" for r in rows if r[10] == "security_definer"}
        kinds |= {"public_caller" for r in rows if r[10] == "security_definer" and r[4] == 0}
        con.close()
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
        "effective:schema",
        "effective:function",
        "trigger_function:as",
        "trigger_function:privs",
        "event_trigger",
        "parameter_acl",
        "public_user_mapping",
    }


def test_small_path_is_chosen_by_rows_and_expected_edges() -> None:
    counts = {"privileges": 40_000, "memberships": 200, "roles": 200, "createrole": 2}
    assert escalation.small_enough(counts, 150000)
    assert not escalation.small_enough({**counts, "privileges": 200_000}, 160000)
    assert not escalation.small_enough({**counts, "memberships": 2_000}, 160000)
    many = {**counts, "roles": 10_000, "createrole": 1}
    assert not escalation.small_enough(many, 150000)  # 10,000 CREATEROLE edges before 16
    assert escalation.small_enough(many, 160000)  # none from 16


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
