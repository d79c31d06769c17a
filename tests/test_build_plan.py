"""Partial audit-schema builds (``audit.build_plan``, ``engine.evaluate(inventory=False)``).

The step list is checked against the loader's SQL (DuckDB's parser lists what each file
reads); on real servers 13-18, a layout with every kind of object the load handles
(SECURITY DEFINER routines, triggers, an event trigger, a parameter ACL on 15+, a user
mapping for PUBLIC, policies, default privileges, column grants, role settings): every
audit table built alone equals the full build's, nothing outside its plan exists, and
every built-in rule evaluated alone on a partial schema gives the result, findings and
messages of the full evaluation.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from test_audit_schema import make

from pgaudit_roles.audit import audit_schema, build_plan
from pgaudit_roles.audit.audit_schema import AUDIT_TABLES, temp_macros
from pgaudit_roles.audit.build_plan import STEPS, WRITER, plan, query_tables
from pgaudit_roles.core import cpus
from pgaudit_roles.evaluate import engine

SQL_DIR = Path(audit_schema.__file__).resolve().parent / "sql"

STEP_FILES: dict[str, list[str]] = {
    "memberships": ["load_memberships"],
    "roles": ["load_roles"],
    "databases": ["load_databases", "load_tablespaces"],
    "schemas_objects": ["load_schemas", "load_objects"],
    "acl_objects": ["acl_objects_rows"],
    "object_acls": ["load_acl_keys", "load_acl_keys_shared", "load_acl_texts", "load_object_acls"],
    "privileges": ["privileges_rows"],
    "default_privileges": ["load_default_privileges", "load_default_privileges_effective"],
    "functions_extensions": ["load_functions", "load_extensions"],
    "rls_code": [
        "load_rls_tables",
        "load_policies",
        "load_triggers",
        "load_event_triggers",
        "load_user_mappings",
    ],
    "settings": ["load_role_settings"],
    "column_privileges": ["view_column_privileges"],
    "escalation_inputs": [
        f"escalation_rows_{n}" for n in ("roles", "memberships", "sd", "schemas", "objects", "code")
    ],
    "escalation": [
        "escalation_edges",
        "escalation_parts",
        "escalation_privileges",
        "escalation_edges_definer",
        "escalation_edges_code",
        "escalation_edges_grants",
        *(
            f"escalation_rows_{n}"
            for n in (
                "roles",
                "memberships",
                "sd",
                "privileges",
                "schemas",
                "objects",
                "code",
                "table_grants",
                "grants",
            )
        ),
    ],
}
"""The SQL files each step runs (the macro file runs before every step)."""

_HEAD = re.compile(
    r"(?is)^\s*(INSERT INTO \S+( BY NAME| BY POSITION)?|CREATE (OR REPLACE )?(TEMP )?(TABLE|VIEW) \S+ AS)"
)


def _file_tables(con: Any, name: str) -> set[str]:
    """The tables a loader SQL file reads, as DuckDB's parser lists them (each of its
    statements'; a statement ends with ``;`` at the end of a line)."""
    lines = (SQL_DIR / f"{name}.sql").read_text(encoding="utf-8").split("\n")
    sql = "\n".join(line for line in lines if not line.lstrip().startswith("--"))
    out: set[str] = set()
    for statement in re.split(r";\s*\n", sql):
        out |= _statement_tables(con, statement)
    return out


def _statement_tables(con: Any, sql: str) -> set[str]:
    head = _HEAD.search(sql)
    body = sql[head.end() :] if head else sql
    body = re.sub(r"\$\w+", "NULL", body)  # named parameters: the parser needs values
    try:
        names = con.get_table_names(body, qualified=True)
    except duckdb.BinderException:  # a correlated unnest(): the names after FROM and JOIN
        names = re.findall(r"(?i)\b(?:FROM|JOIN)\s+([a-z_][a-z_.]*)\s", body)
        names = [n for n in names if n.lower() not in {"unnest", "select"}]
    return {n.split(" AS ")[0].replace('"', "") for n in names}


def test_every_table_has_one_step_and_steps_read_what_came_before() -> None:
    writes = [t for s in STEPS for t in s.writes]
    assert len(writes) == len(set(writes))
    audit = set(AUDIT_TABLES)
    assert audit <= set(WRITER), audit - set(WRITER)
    internal = {f"internal.{n}" for n in audit_schema._INTERNAL_TABLES}
    assert internal <= set(WRITER)
    seen: set[str] = set()
    for step in STEPS:
        seen |= set(step.writes)
        assert set(step.reads) <= seen, (step.name, set(step.reads) - seen)


def test_the_steps_declare_what_their_sql_reads() -> None:
    con = audit_schema.load(make())  # every table, so that the parser can bind the SQL
    try:
        mapped = {f for files in STEP_FILES.values() for f in files}
        on_disk = {p.stem for p in SQL_DIR.glob("*.sql")} - {"macro_pg_qualified"}
        assert on_disk == mapped, on_disk ^ mapped
        for step in STEPS:
            for name in STEP_FILES.get(step.name, []):
                read = _file_tables(con, name)
                assert read, name
                allowed = set(step.reads) | set(step.writes)
                for r in step.reads:  # the parser looks through a view into what it reads
                    if r in AUDIT_TABLES and AUDIT_TABLES[r].kind == "view":
                        allowed |= set(WRITER[r].reads)
                missing = read - allowed
                assert not missing, (step.name, name, missing)
    finally:
        con.close()


def test_plan_follows_what_each_step_reads() -> None:
    p = plan(["roles"])
    assert p is not None
    assert {"raw", "memberships", "role_closure", "roles"} <= p.steps
    assert "privileges" not in p.steps and "escalation" not in p.steps
    assert "internal.roles_raw" in p.tables and "internal.db_acl_raw" not in p.tables
    assert plan(["no_such_table"]) is None
    assert plan([]) == build_plan.Plan(frozenset(), frozenset())
    full = plan(["escalation_paths"])
    assert full is not None and "effective_privileges" in full.tables


def test_query_tables_by_duckdbs_parser() -> None:
    con = duckdb.connect()
    try:
        for stmt in temp_macros():
            con.execute(stmt)
        q = """WITH r AS (SELECT pg_quote_ident(name) AS n FROM roles)
               SELECT * FROM r JOIN main.privileges p ON p.grantee = r.n
               WHERE EXISTS (SELECT 1 FROM "role_closure")"""
        assert query_tables(con, [q]) == {"roles", "privileges", "role_closure"}
        assert query_tables(con, ["SELECT * FROM internal.roles_raw"]) is None
        assert query_tables(con, ["SELECT FROM WHERE"]) is None
    finally:
        con.close()


# --- real servers ------------------------------------------------------------------------

P = "bplan"


def layout_sql(major: int) -> tuple[str, str]:
    cluster = f"""
CREATE ROLE {P}_su SUPERUSER NOLOGIN;
CREATE ROLE {P}_team NOLOGIN;
CREATE ROLE {P}_app LOGIN;
GRANT {P}_team TO {P}_app;
CREATE ROLE {P}_dev LOGIN;
CREATE ROLE {P}_evt LOGIN;
CREATE ROLE {P}_ops LOGIN;
GRANT pg_execute_server_program TO {P}_ops;
CREATE ROLE {P}_cr LOGIN CREATEROLE;
CREATE ROLE "{P} q""uote" LOGIN;
ALTER ROLE {P}_app SET work_mem = '8MB';
"""
    if major >= 15:
        cluster += f"""
CREATE ROLE {P}_param LOGIN;
GRANT SET ON PARAMETER log_min_duration_statement TO {P}_param;
"""
    db = f"""
CREATE SCHEMA {P}_s AUTHORIZATION {P}_dev;
CREATE TABLE {P}_s.orders (id integer, tenant text);
GRANT SELECT (id) ON {P}_s.orders TO {P}_team;
GRANT SELECT, INSERT ON {P}_s.orders TO "{P} q""uote";
CREATE VIEW {P}_s.v AS SELECT id FROM {P}_s.orders;
CREATE SEQUENCE {P}_s.seq;
GRANT USAGE, CREATE ON SCHEMA {P}_s TO {P}_team;
CREATE FUNCTION public.{P}_sd(t text) RETURNS text SECURITY DEFINER LANGUAGE sql AS 'SELECT lower(t)';
ALTER FUNCTION public.{P}_sd(text) OWNER TO {P}_su;
GRANT EXECUTE ON FUNCTION public.{P}_sd(text) TO {P}_team;
CREATE FUNCTION {P}_s.touch() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';
ALTER FUNCTION {P}_s.touch() OWNER TO {P}_evt;
CREATE TRIGGER touch BEFORE INSERT ON {P}_s.orders FOR EACH ROW EXECUTE FUNCTION {P}_s.touch();
CREATE FUNCTION public.{P}_evf() RETURNS event_trigger LANGUAGE plpgsql AS 'BEGIN END';
ALTER FUNCTION public.{P}_evf() OWNER TO {P}_evt;
CREATE EVENT TRIGGER {P}_et ON ddl_command_end EXECUTE FUNCTION public.{P}_evf();
GRANT CREATE ON SCHEMA public, {P}_s TO {P}_evt;
CREATE FOREIGN DATA WRAPPER {P}_fdw;
CREATE SERVER {P}_srv FOREIGN DATA WRAPPER {P}_fdw;
CREATE USER MAPPING FOR PUBLIC SERVER {P}_srv OPTIONS (user 'remote');
GRANT USAGE ON FOREIGN SERVER {P}_srv TO PUBLIC;
ALTER TABLE {P}_s.orders ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_rows ON {P}_s.orders FOR ALL TO {P}_team USING (tenant = current_user);
ALTER DEFAULT PRIVILEGES FOR ROLE {P}_dev IN SCHEMA {P}_s GRANT SELECT ON TABLES TO {P}_team;
ALTER DEFAULT PRIVILEGES FOR ROLE {P}_dev REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;
"""
    return cluster, db


@pytest.fixture(scope="module")
def snap(pg: Any) -> Iterator[Any]:
    """The layout in a fresh database, collected as the superuser; dropped after."""
    from pgaudit_roles.collect.collector import collect

    db = pg.create_database(f"{P}_db")
    cluster, per_db = layout_sql(pg.major)
    try:
        pg.execute(cluster)
        pg.execute(
            per_db + f"ALTER ROLE {P}_app IN DATABASE {P}_db SET work_mem = '4MB';", dbname=db
        )
        yield collect(pg.conninfo(dbname=db), databases=[db])
    finally:
        pg.drop_database(db)
        pg.drop_roles(
            r[0] for r in pg.query("SELECT rolname FROM pg_roles WHERE rolname LIKE %s", (f"{P}%",))
        )


def _rows(con: Any, table: str) -> list[str]:
    return sorted(repr(r) for r in con.execute(f'SELECT * FROM "{table}"').fetchall())  # noqa: S608


def _tables(con: Any) -> set[str]:
    return {
        (name if schema == "main" else f"{schema}.{name}")
        for schema, name in con.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() WHERE NOT temporary "
            "UNION ALL SELECT schema_name, view_name FROM duckdb_views() "
            "WHERE NOT internal AND NOT temporary"
        ).fetchall()
    }


@pytest.mark.pg
def test_every_audit_table_alone_is_the_full_builds(snap: Any) -> None:
    full = audit_schema.load(snap)
    try:
        kinds = {r[0] for r in full.execute("SELECT kind FROM escalation_edges").fetchall()}
        # the layout exercises every conditional part of the load
        assert {"security_definer_call", "trigger_function", "event_trigger"} <= kinds
        assert "public_user_mapping" in kinds
        for t in (
            "policies",
            "triggers",
            "default_privileges",
            "role_settings",
            "column_privileges",
        ):
            assert _rows(full, t), t
        # Tables whose plans are equal get the same partial build alone or together (the
        # load runs exactly its plan's steps): one build per plan (17 instead of 32), each
        # table judged against its own plan.
        by_plan: dict[Any, list[str]] = {}
        for name in AUDIT_TABLES:
            p = plan([name])
            assert p is not None
            by_plan.setdefault(p, []).append(name)
        for p, names in by_plan.items():
            assert plan(names) == p, names
            queries = [f'SELECT * FROM "{name}"' for name in names]  # noqa: S608
            part = audit_schema.load(snap, queries=queries)
            try:
                built = _tables(part)
                for name in names:
                    assert _rows(part, name) == _rows(full, name), name
                    assert built <= p.tables | {"internal.esc_effective"}, (name, built - p.tables)
                    assert name in built
            finally:
                part.close()
    finally:
        full.close()


@pytest.mark.pg
def test_every_rule_alone_on_its_partial_schema_is_the_full_evaluation(
    snap: Any, builtin_rules: tuple
) -> None:
    rules = [r for r in builtin_rules if r.on_snapshot]
    full = {r.rule.id: r for r in engine.evaluate(snap, rules).results}
    assert any(r.status == "fail" for r in full.values())
    assert not [r.rule.id for r in full.values() if r.status == "error"]
    # Rules whose plans are equal get the same partial schema alone or together: one
    # evaluation per plan (about 30 instead of one per rule), each rule on exactly its own.
    con = duckdb.connect()
    for stmt in temp_macros():
        con.execute(stmt)
    by_plan: dict[Any, list[Any]] = {}
    for rule in rules:
        tables = query_tables(con, [rule.query])
        by_plan.setdefault(None if tables is None else plan(tables), []).append(rule)
    con.close()
    assert len([p for p in by_plan if p is not None]) > 10
    for group in by_plan.values():
        res = engine.evaluate(snap, group, inventory=False)
        assert res.inventory == {}
        for got in res.results:
            want = full[got.rule.id]
            assert (got.status, got.reason, got.not_evaluated) == (
                want.status,
                want.reason,
                want.not_evaluated,
            ), got.rule.id
            assert [f.__dict__ for f in got.findings] == [f.__dict__ for f in want.findings]


@pytest.mark.pg
def test_a_rule_cannot_read_a_table_that_was_not_built(snap: Any) -> None:
    con = audit_schema.load(snap, queries=["SELECT name FROM roles"])
    try:
        assert "roles" in _tables(con)
        with pytest.raises(duckdb.CatalogException, match="privileges"):
            con.execute("SELECT * FROM privileges")
    finally:
        con.close()


def _helper(con: Any, snap: Any) -> list[Any]:
    """The rule queries' second connection, as ``engine.open_query_pool`` opens it."""
    from pgaudit_roles.evaluate import rule_queries

    audit_schema.tune_for_size(con, snap)
    helpers = rule_queries.prepare(con, small=audit_schema.is_small(snap))
    if not helpers:
        pytest.skip("no second connection on a machine with one CPU")
    return helpers


@pytest.mark.pg
@pytest.mark.parametrize("order", ["reversed", "random-1", "random-2", "random-3"])
def test_the_load_on_two_connections_in_any_ready_order_is_the_sequential_build(
    snap: Any, order: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever order the ready tasks are taken in (the latest first, or at random), the
    schema is the one-after-the-other build's: a step reading a table its ``reads`` do not
    declare would see it empty or half-built in one of these orders."""
    import random

    from pgaudit_roles.audit import load_schedule

    def forced(deps: list[set[int]], costs: Any = None) -> list[int]:
        if order == "reversed":
            return list(range(len(deps)))
        return random.Random(order).sample(range(len(deps)), len(deps))

    full = audit_schema.load(snap)
    con = audit_schema.new_connection()
    try:
        helpers = _helper(con, snap)
        monkeypatch.setattr(load_schedule, "priorities", forced)
        audit_schema.load(snap, None, con, helpers=helpers)
        assert _tables(con) == _tables(full)
        for table in sorted(_tables(full)):
            name = ".".join(f'"{part}"' for part in table.split("."))
            query = f"SELECT * FROM {name}"  # noqa: S608 - names from duckdb_tables()
            got = sorted(repr(r) for r in con.execute(query).fetchall())
            assert got == sorted(repr(r) for r in full.execute(query).fetchall()), table
    finally:
        con.close()
        full.close()


@pytest.mark.pg
def test_an_evaluation_loads_on_its_rule_connection_too(
    snap: Any, builtin_rules: tuple, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pgaudit_roles.audit import load_schedule

    seen: list[int] = []
    real = load_schedule.run

    def spy(tasks: Any, helpers: Any, use: Any, main: Any) -> None:
        seen.append(len(helpers))
        real(tasks, helpers, use, main)

    monkeypatch.setattr(load_schedule, "run", spy)
    monkeypatch.setattr(cpus, "spare_cpu", lambda: True)
    rules = [r for r in builtin_rules if r.on_snapshot]
    two = engine.evaluate(snap, rules)
    assert seen == [1]
    engine.open_sandbox(snap).close()  # one connection: the load runs on it alone
    monkeypatch.setattr(cpus, "spare_cpu", lambda: False)
    one = engine.evaluate(snap, rules)  # no idle core: one connection too
    assert seen == [1, 0, 0]
    # the same evaluation either way: every rule's outcome and finding, and the inventory
    assert [(r.rule.id, r.status, r.reason) for r in two.results] == [
        (r.rule.id, r.status, r.reason) for r in one.results
    ]
    assert [f.__dict__ for f in two.findings] == [f.__dict__ for f in one.findings]
    assert two.findings and two.inventory == one.inventory


def test_a_full_build_leaves_out_exactly_the_raw_tables_no_step_reads() -> None:
    """``build_plan.UNREAD`` is the raw tables no step reads (a step that starts reading
    one fails this until it is built again); a full load creates none of them and the
    audit tables they were copied for are still filled."""
    read = {t for s in STEPS for t in s.reads}
    assert build_plan.UNREAD == {t for t in build_plan.RAW_TABLES if t not in read}
    assert build_plan.UNREAD  # internal.hba_rules_raw: hba_rules comes from Python
    rule = {
        "rule_number": 1,
        "file_name": "/etc/pg_hba.conf",
        "line_number": 1,
        "type": "host",
        "databases": ["all"],
        "users": ["all"],
        "address": "0.0.0.0",
        "netmask": "0.0.0.0",
        "auth_method": "trust",
        "options": None,
        "error": None,
    }
    con = audit_schema.load(make(extra={"hba_rules": [rule]}))
    have = {
        f"{s}.{t}"
        for s, t in con.execute(
            "SELECT table_schema, table_name FROM information_schema.tables"
        ).fetchall()
    }
    assert not {t for t in build_plan.UNREAD if t in have}
    assert "internal.roles_raw" in have
    assert con.execute("SELECT auth_method, is_all_addresses FROM hba_rules").fetchall() == [
        ("trust", True)
    ]


def test_a_skipped_statement_waits_for_the_raw_table_that_decides_it() -> None:
    """The loader skips a statement when its raw table got no row
    (``audit_schema._DRIVEN_BY``); the step running it must read that table, so that on
    two connections it starts only after the raw task that fills it has finished."""
    step_of = {f: s for s, files in STEP_FILES.items() for f in files}
    reads = {s.name: set(s.reads) for s in STEPS}
    for name, source in audit_schema._DRIVEN_BY.items():
        assert source in reads[step_of[name]], (name, source)
        assert source in build_plan.RAW_TABLES


def _scheduled(snap: Any, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The tasks the loader hands to ``load_schedule.run`` for ``snap`` (run in order)."""
    from pgaudit_roles.audit import load_schedule

    seen: list[Any] = []
    real = load_schedule.run

    def spy(tasks: Any, helpers: Any, use: Any, main: Any) -> None:
        seen.extend(tasks)
        real(tasks, helpers, use, main)

    monkeypatch.setattr(load_schedule, "run", spy)
    audit_schema.load(snap).close()
    return seen


def test_a_view_waits_for_its_tables_to_exist_and_its_readers_for_them_to_be_filled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On two connections a view is created as soon as the tables it reads exist (those
    the loader creates up front exist before any task), so ``effective_privileges`` no
    longer waits for ``privileges``; a task reading a view waits for every table the
    view's step reads, as if it read them itself."""
    tasks = _scheduled(make(), monkeypatch)
    by_name = {t.name: t for t in tasks}
    views = [
        s
        for s in STEPS
        if all(w in AUDIT_TABLES and AUDIT_TABLES[w].kind == "view" for w in s.writes)
    ]
    assert {s.name for s in views} == {"effective_privileges", "column_privileges"}
    assert by_name["effective_privileges"].reads == ("internal.inherit_closure",)
    assert by_name["column_privileges"].reads == ()
    for step in STEPS[1:]:  # the raw step is one task per table, reading nothing
        reads = set(by_name[step.name].reads)
        for view in views:
            if set(view.writes) & set(step.reads):
                assert set(view.reads) <= reads, (step.name, view.name)


def test_views_created_before_their_tables_are_filled_give_the_same_schema(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The views moved as early as their scheduled reads allow (each right after the
    last task writing one of them), run in that order: the same tables and views, with
    the same rows, as the load in step order."""
    from pgaudit_roles.audit import load_schedule

    snap = make(extra={"hba_rules": []})
    full = audit_schema.load(snap)
    real = load_schedule.run
    moved: list[list[str]] = []

    def early_views(tasks: Any, helpers: Any, use: Any, main: Any) -> None:
        order = [
            t for t in tasks if t.writes[0] not in ("effective_privileges", "column_privileges")
        ]
        for view in (t for t in tasks if t not in order):
            after = max(
                (i for i, t in enumerate(order) if set(t.writes) & set(view.reads)), default=-1
            )
            order.insert(after + 1, view)
        moved.append([t.name for t in order])
        real(order, helpers, use, main)

    monkeypatch.setattr(load_schedule, "run", early_views)
    con = audit_schema.load(snap)
    try:
        names = moved[0]
        assert names.index("effective_privileges") < names.index("privileges")
        assert names.index("column_privileges") < names.index("privileges")
        assert _tables(con) == _tables(full)
        for table in sorted(_tables(full)):
            name = ".".join(f'"{part}"' for part in table.split("."))
            query = f"SELECT * FROM {name}"  # noqa: S608 - names from duckdb_tables()
            got = sorted(repr(r) for r in con.execute(query).fetchall())
            assert got == sorted(repr(r) for r in full.execute(query).fetchall()), table
    finally:
        con.close()
        full.close()


@pytest.mark.parametrize("order", ["reversed", "random-1", "random-2"])
def test_on_two_connections_the_audit_tables_are_created_before_any_task_but_raw_ones(
    order: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On two connections the audit tables are created by the first task and the
    internal ones before it (``_Loader._audit_tables_task``): whatever order the ready
    tasks are taken in, no step runs before the tables it writes exist, and the schema
    is the one-after-the-other build's (no server: a made-up snapshot)."""
    import random

    from pgaudit_roles.audit import load_schedule
    from pgaudit_roles.evaluate import rule_queries

    def forced(deps: list[set[int]], costs: Any = None) -> list[int]:
        if order == "reversed":
            return list(range(len(deps)))
        return random.Random(order).sample(range(len(deps)), len(deps))

    snap = make()
    full = audit_schema.load(snap)
    con = audit_schema.new_connection()
    seen: list[Any] = []
    real = load_schedule.run

    def spy(tasks: Any, helpers: Any, use: Any, main: Any) -> None:
        seen.extend(tasks)
        real(tasks, helpers, use, main)

    try:
        audit_schema.tune_for_size(con, snap)
        helpers = rule_queries.prepare(con, small=audit_schema.is_small(snap))
        if not helpers:
            pytest.skip("no second connection on a machine with one CPU")
        monkeypatch.setattr(load_schedule, "priorities", forced)
        monkeypatch.setattr(load_schedule, "run", spy)
        audit_schema.load(snap, None, con, helpers=helpers)
        first = seen[0]
        assert first.name == "audit tables"
        assert all(first.writes[0] in t.reads for t in seen[1:] if not t.name.startswith("raw "))
        assert _tables(con) == _tables(full)
        for table in sorted(_tables(full)):
            assert _rows_of(con, table) == _rows_of(full, table), table
    finally:
        con.close()
        full.close()


def _rows_of(con: Any, table: str) -> list[str]:
    name = ".".join(f'"{part}"' for part in table.split("."))
    query = f"SELECT * FROM {name}"  # noqa: S608 - names from duckdb_tables()
    return sorted(repr(r) for r in con.execute(query).fetchall())
