"""Which steps of the audit-schema load a set of queries needs (a partial build).

Why: building the whole audit schema costs 0.3-0.4 s of DuckDB planning even for a
snapshot of a few objects, and an evaluation of one or a few rules without the
inventory (rule cases, a fleet's per-target check) reads a handful of its tables. The
loader's steps are listed here in their order, each with the tables it creates
(``writes``) and the tables its statements read (``reads``); :func:`plan` takes the steps
that write what the queries read, then, transitively, what those steps read.

Why it cannot give a wrong answer: a partial build *creates* only the tables its steps
write (``audit_schema._Loader``): a table that was not built does not exist, so a rule or
a step that reads one fails with DuckDB's "table does not exist", never reads an empty
table. ``tests/test_build_plan.py`` checks the list against the SQL files (DuckDB's own
parser lists the tables each reads), builds every audit table alone and compares it with
the full build's, and evaluates every built-in rule alone against the full evaluation.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..collect.snapshot import CLUSTER_TABLES, DATABASE_TABLES


@dataclass(frozen=True)
class Step:
    name: str
    writes: tuple[str, ...]
    reads: tuple[str, ...] = ()


RAW_TABLES: tuple[str, ...] = (
    *(f"internal.{t}_raw" for t in CLUSTER_TABLES),
    *(f"internal.db_{t}_raw" for t in DATABASE_TABLES),
    "internal.db_acl_packed_raw",
    "internal.db_status",
)
"""The snapshot's tables as the loader's first step inserts them (each only if needed)."""

UNREAD: frozenset[str] = frozenset({"internal.hba_rules_raw"})
"""Tables of :data:`RAW_TABLES` no step reads, which a full build leaves out too: the hba
step analyses the snapshot's own rows in Python and inserts ``hba_rules`` itself, so
copying them into ``internal`` cost 2 ms per load for nothing. (``internal`` is not part
of the audit schema's contract.)"""

_ROLES = "internal.roles_raw"
_STATUS = "internal.db_status"

STEPS: tuple[Step, ...] = (
    Step("raw", RAW_TABLES),
    Step(
        "reference",
        (
            "privilege_types",
            "predefined_privileges",
            "internal.builtin_default_privs",
            "internal.objtypes",
        ),
    ),
    Step("memberships", ("memberships",), ("internal.memberships_raw", _ROLES)),
    Step(
        "role_closure",
        ("role_closure", "internal.inherit_closure"),
        ("memberships", _ROLES, "internal.databases_raw"),
    ),
    Step("roles", ("internal.role_kinds", "roles"), (_ROLES, "role_closure", "memberships")),
    Step(
        "databases",
        ("databases", "tablespaces"),
        ("internal.databases_raw", _STATUS, _ROLES, "internal.tablespaces_raw"),
    ),
    Step(
        "schemas_objects",
        ("internal.app_schemas", "schemas", "objects"),
        ("internal.db_schemas_raw", _STATUS, "roles", "internal.db_objects_raw", _ROLES),
    ),
    Step(
        "acl_objects",
        ("acl_objects",),
        ("databases", "internal.shared_acl_raw", "objects", "schemas", "tablespaces"),
    ),
    Step(
        "object_acls",
        ("object_acls", "acl_items", "internal.acl_keys", "internal.acl_texts", "internal.acl_ids"),
        (
            "internal.db_acl_raw",
            "internal.db_acl_packed_raw",
            "internal.shared_acl_raw",
            "internal.db_columns_raw",
            _ROLES,
        ),
    ),
    Step(
        "privileges",
        ("privileges",),
        (
            "object_acls",
            "acl_objects",
            "acl_items",
            "privilege_types",
        ),
    ),
    Step(
        "default_privileges",
        ("default_privileges", "default_privileges_effective"),
        (
            "internal.db_default_acls_raw",
            "internal.db_schemas_raw",
            _STATUS,
            "internal.objtypes",
            _ROLES,
            "internal.builtin_default_privs",
        ),
    ),
    Step(
        "functions_extensions",
        ("functions", "extensions"),
        (
            "objects",
            "internal.db_functions_raw",
            "internal.db_extensions_raw",
            "internal.db_schemas_raw",
            _STATUS,
            _ROLES,
        ),
    ),
    Step(
        "rls_code",
        ("rls_tables", "policies", "triggers", "event_triggers", "user_mappings"),
        (
            "internal.db_policies_raw",
            "internal.db_rls_tables_raw",
            "objects",
            "roles",
            _ROLES,
            "internal.db_triggers_raw",
            "internal.db_event_triggers_raw",
            _STATUS,
            "internal.db_user_mappings_raw",
        ),
    ),
    Step(
        "settings",
        ("settings", "activity", "role_settings"),
        (
            "internal.settings_raw",
            "internal.activity_raw",
            "internal.databases_raw",
            "internal.db_role_settings_raw",
            _ROLES,
        ),
    ),
    Step("hba", ("hba_rules",)),  # from the snapshot's rows, analysed in Python
    Step("meta", ("sources", "coverage", "scan_meta")),  # from the snapshot's meta
    Step("column_privileges", ("column_privileges",), ("privileges",)),
    Step(
        "effective_privileges",
        ("effective_privileges",),
        (
            "roles",
            "privileges",
            "internal.inherit_closure",
            "acl_objects",
            "predefined_privileges",
            "privilege_types",
        ),
    ),
    Step(
        "escalation_inputs",
        ("dangerous_roles",),
        (
            "roles",
            "memberships",
            "databases",
            "schemas",
            "functions",
            "triggers",
            "event_triggers",
            "acl_objects",
            "internal.inherit_closure",
            "privilege_types",
            "predefined_privileges",
        ),
    ),
    Step(
        "escalation",
        (
            "escalation_edges",
            "escalation_paths",
            "internal.esc_params",
            "internal.esc_reference",
            "internal.esc_effective",
        ),
        (
            "roles",
            "memberships",
            "databases",
            "schemas",
            "functions",
            "privileges",
            "triggers",
            "event_triggers",
            "user_mappings",
            "effective_privileges",
            "dangerous_roles",  # after escalation_inputs, whose rows it takes
        ),
    ),
)
"""The loader's steps in the order it runs them (``audit_schema._Loader.run``)."""

WRITER: dict[str, Step] = {t: s for s in STEPS for t in s.writes}


@dataclass(frozen=True)
class Plan:
    """What a partial build runs: these steps, creating these tables (raw tables among
    them: the raw step inserts only those)."""

    steps: frozenset[str]
    tables: frozenset[str]


def plan(tables: Iterable[str]) -> Plan | None:
    """The steps and tables needed to read ``tables`` (audit tables and views, unqualified,
    or ``internal.*``); None when one of them is not a table any step writes (then the
    caller builds everything: a name this list does not know is never guessed at)."""
    wanted: set[str] = set()
    todo = [str(t) for t in tables]
    while todo:
        name = todo.pop()
        if name in wanted:
            continue
        if name not in WRITER:
            return None
        wanted.add(name)
        step = WRITER[name]
        if step.name != "raw":  # the raw step's tables are independent of each other
            todo.extend(step.writes)
        todo.extend(step.reads)
    steps = frozenset(WRITER[t].name for t in wanted)
    return Plan(steps, frozenset(wanted))


def query_tables(con: object, queries: Iterable[str]) -> set[str] | None:
    """The tables ``queries`` read, by DuckDB's parser on ``con`` (which must know the
    audit schema's macros); None when one cannot be listed or names another schema."""
    out: set[str] = set()
    for q in queries:
        if q not in _TABLES_OF:
            _TABLES_OF[q] = _tables_of(con, q)
        names = _TABLES_OF[q]
        if names is None:
            return None
        out |= names
    return out


_TABLES_OF: dict[str, frozenset[str] | None] = {}
"""Each query's tables, parsed once per process: the answer depends on the query's text
alone (the macros it may call are the loader's fixed set), and parsing costs about 20 ms
for a whole rule set, which a process evaluating many times (the twin's rounds, lint,
the test suite) paid every time."""


def _tables_of(con: object, query: str) -> frozenset[str] | None:
    try:
        names = con.get_table_names(query, qualified=True)  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - unlisted: the caller builds everything
        return None
    out: set[str] = set()
    for n in names:
        name = n.split(" AS ")[0].strip()
        parts = [p.strip('"') for p in name.split(".")]
        if len(parts) == 2 and parts[0] == "main":
            parts = parts[1:]
        if len(parts) != 1:
            return None
        out.add(parts[0])
    return frozenset(out)


CATALOG_FUNCTIONS = frozenset(
    {"format_type", "get_block_size", "pg_get_constraintdef", "pg_get_viewdef"}
)
"""DuckDB's scalar macros that read its own catalog (``duckdb_views()``, ...): their
answer can depend on which tables a build created (a view's oid), so a query calling one
is never given a partial build. ``tests/test_build_plan.py`` lists every such macro of the
installed DuckDB against this set."""


def reads_only_tables(con: object, query: str) -> bool:
    """Whether ``query`` reads nothing but the tables DuckDB's parser lists for it: no
    table function and no function that looks into DuckDB's catalog, which a partial build
    changes (:data:`CATALOG_FUNCTIONS`, ``duckdb_*``, ``pragma_*``). Unsure is False.

    Why: ``query_tables`` lists table names only; ``SELECT pg_get_viewdef(3)`` names none,
    and on a partial build would see a different catalog than on the whole schema. Rule
    queries never need this (the rule validator and ``tests/test_build_plan.py`` vet them);
    the ``query`` command's SQL is the user's."""
    import json

    try:
        tree = json.loads(
            con.execute("SELECT json_serialize_sql(?)", [query]).fetchone()[0]  # type: ignore[attr-defined]
        )
    except Exception:  # noqa: BLE001 - cannot tell: build everything
        return False
    if not isinstance(tree, dict) or tree.get("error") is not False:
        return False
    todo: list[object] = [tree]
    while todo:
        node = todo.pop()
        if isinstance(node, list):
            todo.extend(node)
            continue
        if not isinstance(node, dict):
            continue
        if node.get("type") == "TABLE_FUNCTION":
            return False
        if node.get("class") == "FUNCTION":
            name = str(node.get("function_name") or "").lower()
            if name in CATALOG_FUNCTIONS or name.startswith(("duckdb_", "pragma_")):
                return False
        todo.extend(node.values())
    return True
