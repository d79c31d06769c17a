"""Escalation routes: who can become superuser, reach the OS, an application's owner or any
role, and by which chain of hops.

Why a graph and not more one-hop rules: attackers chain hops (a membership, then ADMIN
OPTION, then a SECURITY DEFINER function with a hijackable search_path...). Each hop is an
edge of ``escalation_edges`` (built in DuckDB by ``sql/escalation_edges*.sql``; on small
snapshots in Python by :mod:`.escalation_rows`, the same rows without the statements'
planning) with its evidence, the SQL that takes it and the SQL that removes it. Routes are shortest paths
over those edges, found here by breadth-first search in Python (bounded by
:data:`MAX_HOPS`; one reverse search per target, so the cost is edges x targets, never
roles x edges).

A node is a role in one of two states, because PostgreSQL separates them:

- ``as``: the session *is* the role (login, SET ROLE): its attributes (SUPERUSER,
  CREATEROLE) apply and its SET-able memberships can be followed;
- ``privs``: the session only *has the privileges* of the role (INHERIT, or code that runs
  inside the role's privilege context): ownership checks and grants apply, attributes and
  SET ROLE do not (16+ SET ROLE follows SET TRUE grants from the session user only).

plus virtual targets: ``superuser`` (superuser-equivalent), ``os`` (commands or files as
the server's operating-system user) and ``remote`` (stored credentials of a foreign
server). Edges say from which state they can be taken (``as``, or ``any``) and which
state they lead to. Only edges with ``full_control`` (arbitrary actions as the target)
are followed; a SECURITY DEFINER function whose search_path cannot be hijacked is kept in
the table as a bounded edge (``security_definer_call``) but never extends a route.

Routes from login roles do not pass through PUBLIC: what PUBLIC reaches is reported once,
from PUBLIC, rather than once per login role.
"""

from __future__ import annotations

import collections
import contextlib
import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from ..core.sqlquote import sql_name
from . import escalation_rows
from .acl_defaults import MANAGED_SUPERUSER_ROLES
from .rows import insert_rows

SQL_DIR = Path(__file__).resolve().parent / "sql"
"""DuckDB SQL over the audit schema, run by this module (``escalation_edges*.sql``)."""

MAX_HOPS = 12
"""Longest route searched. Real routes are a handful of hops; the bound keeps the search
finite whatever the catalog holds."""

MANAGED_PROVIDERS: dict[str, str] = {
    "rds_superuser": "Amazon RDS / Aurora PostgreSQL",
    "cloudsqlsuperuser": "Google Cloud SQL for PostgreSQL",
    "alloydbsuperuser": "Google AlloyDB for PostgreSQL",
    "azure_pg_admin": "Azure Database for PostgreSQL",
    "neon_superuser": "Neon",
    "mdb_superuser": "Yandex Managed Service for PostgreSQL",
}
assert set(MANAGED_PROVIDERS) == set(MANAGED_SUPERUSER_ROLES)


@dataclass(frozen=True)
class DangerousRole:
    """A predefined or managed-service role, why holding it is dangerous, and the virtual
    target it leads to (None: a privileged role, but not superuser or OS access)."""

    name: str
    danger: str  # superuser | os | all_data | sessions | settings | other
    reason: str
    min_version: int = 130000
    targets: tuple[tuple[str, str], ...] = ()  # (virtual target, edge kind)


DANGEROUS_ROLES: tuple[DangerousRole, ...] = (
    DangerousRole(
        "pg_execute_server_program",
        "os",
        "COPY ... TO/FROM PROGRAM runs any shell command as the server's operating-system "
        "user, which owns the data directory: superuser-equivalent",
        targets=(("os", "predefined_os"), ("superuser", "predefined_superuser")),
    ),
    DangerousRole(
        "pg_write_server_files",
        "os",
        "COPY ... TO a file writes any file the server's operating-system user may write, "
        "the data directory and postgresql.auto.conf included: superuser-equivalent",
        targets=(("os", "predefined_os"), ("superuser", "predefined_superuser")),
    ),
    DangerousRole(
        "pg_read_server_files",
        "os",
        "COPY ... FROM a file and pg_read_file() read any file of the server's "
        "operating-system user: configuration, keys, other databases' files",
        targets=(("os", "predefined_os"),),
    ),
    DangerousRole(
        "pg_read_all_data",
        "all_data",
        "SELECT on every table, view and sequence and USAGE on every schema, whatever "
        "the ACLs say (row-level security still applies)",
        140000,
    ),
    DangerousRole(
        "pg_write_all_data",
        "all_data",
        "INSERT, UPDATE, DELETE on every table and USAGE on every schema, whatever the "
        "ACLs say (row-level security still applies)",
        140000,
    ),
    DangerousRole(
        "pg_signal_backend",
        "sessions",
        "cancels queries and terminates the sessions of other non-superuser roles",
    ),
    DangerousRole(
        "pg_read_all_stats", "sessions", "sees every session's query text, which can hold secrets"
    ),
    DangerousRole(
        "pg_monitor",
        "sessions",
        "includes pg_read_all_stats and pg_read_all_settings: every session's query "
        "text and every setting",
    ),
    DangerousRole(
        "pg_read_all_settings",
        "settings",
        "reads every setting, file locations and commands included",
    ),
    DangerousRole("pg_checkpoint", "other", "runs CHECKPOINT (I/O load on demand)", 150000),
    DangerousRole(
        "pg_create_subscription",
        "other",
        "creates subscriptions that connect out and apply changes as their owner",
        160000,
    ),
    DangerousRole(
        "pg_maintain",
        "other",
        "VACUUM, ANALYZE, CLUSTER, REINDEX, REFRESH MATERIALIZED VIEW and LOCK on every relation",
        170000,
    ),
    DangerousRole(
        "pg_use_reserved_connections",
        "other",
        "uses the connection slots reserved for administrators",
        160000,
    ),
    DangerousRole(
        "pg_signal_autovacuum_worker",
        "sessions",
        "cancels and terminates autovacuum workers",
        180000,
    ),
    *(
        DangerousRole(
            name,
            "superuser",
            f"the administrator role of {provider}: treated as superuser-equivalent",
            targets=(("superuser", "managed_admin"),),
        )
        for name, provider in MANAGED_PROVIDERS.items()
    ),
)


@dataclass(frozen=True)
class CodeParameter:
    """A setting whose SET or ALTER SYSTEM privilege (15+ parameter ACLs) amounts to running
    code or loading libraries as the server."""

    name: str
    privileges: tuple[str, ...]
    reason: str


_SHELL = "its value is a shell command the server runs as its operating-system user"
_LIB = "it loads shared libraries into server processes: arbitrary C code as the server"
CODE_PARAMETERS: tuple[CodeParameter, ...] = (
    CodeParameter("archive_command", ("ALTER SYSTEM",), _SHELL),
    CodeParameter("archive_library", ("ALTER SYSTEM",), _LIB),
    CodeParameter("restore_command", ("ALTER SYSTEM",), _SHELL),
    CodeParameter("archive_cleanup_command", ("ALTER SYSTEM",), _SHELL),
    CodeParameter("recovery_end_command", ("ALTER SYSTEM",), _SHELL),
    CodeParameter("ssl_passphrase_command", ("ALTER SYSTEM",), _SHELL),
    CodeParameter("shared_preload_libraries", ("ALTER SYSTEM",), _LIB),
    CodeParameter("session_preload_libraries", ("SET", "ALTER SYSTEM"), _LIB),
    CodeParameter("local_preload_libraries", ("ALTER SYSTEM",), _LIB),
    CodeParameter("jit_provider", ("ALTER SYSTEM",), _LIB),
    CodeParameter(
        "dynamic_library_path",
        ("SET", "ALTER SYSTEM"),
        "it decides where libraries are loaded from: a library of the caller's "
        "choosing runs as the server",
    ),
)


def dangerous_roles(server_version_num: int | None) -> list[DangerousRole]:
    v = server_version_num if server_version_num is not None else 10**9
    return [d for d in DANGEROUS_ROLES if d.min_version <= v]


def _reference_rows(server_version_num: int | None) -> list[list[Any]]:
    rows: list[list[Any]] = []
    for d in dangerous_roles(server_version_num):
        for target, kind in d.targets or ((None, None),):
            rows.append(["role", d.name, target, kind, d.danger, None, d.reason])
    for p in CODE_PARAMETERS:
        rows.append(
            [
                "parameter",
                p.name,
                "superuser",
                "parameter_acl",
                "superuser",
                list(p.privileges),
                p.reason,
            ]
        )
    return rows


# --- building the tables -----------------------------------------------------------------


PREFETCHED: tuple[str, ...] = ("roles", "memberships", "sd", "code", "schemas", "objects")
"""The small path's SELECTs (``sql/escalation_rows_<name>.sql``) that read nothing the
privileges step fills: :func:`prefetch` may run them before it."""


def insert_dangerous_roles(con: Any, server_version_num: int | None) -> None:
    """Fill dangerous_roles (the table exists)."""
    insert_rows(
        con,
        "dangerous_roles",
        DANGEROUS_ROLE_COLUMNS,
        [
            [d.name, d.danger, d.name in MANAGED_PROVIDERS, d.reason]
            for d in dangerous_roles(server_version_num)
        ],
    )


def prefetch(
    con: Any, server_version_num: int | None, code: bool = True
) -> dict[str, list[tuple[Any, ...]]]:
    """Fill dangerous_roles, and fetch the rows of :data:`PREFETCHED` the small path of
    :func:`build` reads, for ``build(prefetched=...)``.

    Why apart: these SELECTs read roles, memberships, functions, schemas and the
    inheritance closure, which are ready well before privileges, the other input; run
    as a load step of their own, they take about 10 ms off the load's last step on the
    bench's small preset (``audit_schema.STEP_COSTS``). The same SELECTs give the same
    rows whenever they run, once their tables are filled. The schemas and objects are
    fetched only when build's small path reads them (SECURITY DEFINER routines,
    triggers or event triggers), and nothing past roles and memberships when those
    alone rule the small path out (:func:`small_enough`). ``code``: False when the
    caller knows there is no trigger and no event trigger (their rows are then none)."""
    insert_dangerous_roles(con, server_version_num)
    v = server_version_num if server_version_num is not None else 999999
    fetch = escalation_rows.fetch
    out = {"roles": fetch(con, "roles"), "memberships": fetch(con, "memberships")}
    roles, members = out["roles"], out["memberships"]
    counts = {
        "privileges": 0,
        "memberships": len(members),
        "roles": len(roles),
        "createrole": sum(1 for r in roles if r[7] is True and r[6] is False),
    }
    if not small_enough(counts, v):
        return out
    out["sd"], out["code"] = fetch(con, "sd"), fetch(con, "code") if code else []
    if out["sd"] or out["code"]:
        out["schemas"], out["objects"] = fetch(con, "schemas"), fetch(con, "objects")
    return out


def build(
    con: Any,
    server_version_num: int | None,
    small: bool | None = None,
    json_dir: Callable[[], str] | None = None,
    prefetched: dict[str, list[tuple[Any, ...]]] | None = None,
) -> None:
    """Fill dangerous_roles, escalation_edges and escalation_paths (the tables exist).

    ``small``: compute the edges, and the effective privileges they read, in Python
    (:mod:`.escalation_rows`, from plain SELECTs) instead of by the ``escalation_*.sql``
    statements, whose planning is most of their cost on small data; None decides by size
    (:func:`small_enough`). Both give the same rows; tests force each. The internal tables
    (``internal.esc_*``) are the statements' intermediates: the small path creates none,
    and ``internal.esc_effective`` lasts only while the statements run (:func:`_sql_edges`).
    ``json_dir``: where many rows may go through a JSON file (``rows.insert_rows``).
    ``prefetched``: what :func:`prefetch` returned, which filled dangerous_roles already;
    the small path reads its rows instead of running those SELECTs again (the large path
    ignores them)."""
    v = server_version_num if server_version_num is not None else 999999
    if prefetched is None:
        insert_dangerous_roles(con, server_version_num)
    counts: dict[str, int] = collections.Counter()
    parts = con.execute(_sql("escalation_parts.sql"), {"cap": SMALL_ROWS + 1}).fetchall()
    for part, n in parts:
        counts[part] += n
    present = {part: counts[part] > 0 for part in EDGE_PARTS}
    if small is None:
        small = small_enough(counts, v)
    reference = _reference_rows(server_version_num)
    roles = None
    edge_rows = None  # every edge, when the small path made them
    if small:
        roles, edge_rows = _small_edges(con, present, reference, v, prefetched or {})
        insert_rows(con, "escalation_edges", EDGE_COLUMNS, edge_rows, json_dir)
    else:
        con.execute("CREATE OR REPLACE TABLE internal.esc_params AS SELECT ?::INTEGER AS v", [v])
        con.execute(
            f"CREATE OR REPLACE TABLE internal.esc_reference ({_coldefs(REFERENCE_COLUMNS)})"
        )
        insert_rows(con, "internal.esc_reference", REFERENCE_COLUMNS, reference)
        _sql_edges(con, present)
    graph = Graph.load(con, roles, edge_rows)
    insert_rows(
        con, "escalation_paths", PATH_COLUMNS, [p.row() for p in graph.standard_routes(con)]
    )


def _sql_edges(con: Any, present: dict[str, bool]) -> None:
    """The large path's edges: ``escalation_edges.sql``, then each present part's statement
    (:data:`EDGE_PARTS`), after ``escalation_privileges.sql`` when a reader of
    ``internal.esc_effective`` (the SECURITY DEFINER and code parts) runs.

    Why in one transaction that drops ``internal.esc_effective`` before its commit: the
    table is these statements' intermediate (2.7 million rows on the bench's large preset,
    read by nothing after them), and committed, a large snapshot's compressed database
    compressed it at the next automatic checkpoint (0.4 s of CPU there); dropped before
    the commit, it is never written to the database. Same statements, same order, same
    rows."""
    effective = present["definer"] or present["code"]
    if not effective:
        con.execute(_sql("escalation_edges.sql"))
        if present["grants"]:
            con.execute(_sql("escalation_edges_grants.sql"))
        return
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(_sql("escalation_privileges.sql"))
        con.execute(_sql("escalation_edges.sql"))
        for part in ("definer", "code"):
            if present[part]:
                con.execute(_sql(f"escalation_edges_{part}.sql"))
        con.execute("DROP TABLE internal.esc_effective")
        con.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(Exception):  # the error raised is the one that matters
            con.execute("ROLLBACK")
        raise
    if present["grants"]:
        con.execute(_sql("escalation_edges_grants.sql"))


def _small_edges(
    con: Any,
    present: dict[str, bool],
    reference: list[list[Any]],
    v: int,
    prefetched: dict[str, list[tuple[Any, ...]]],
) -> tuple[list[tuple[Any, ...]], list[list[Any]]]:
    """The small path: the roles' rows and every edge (the rows of each
    ``escalation_edges*.sql`` statement whose part is present), from plain SELECTs (or
    their rows in ``prefetched``)."""

    def fetch(name: str) -> list[tuple[Any, ...]]:
        rows = prefetched.get(name)
        return rows if rows is not None else escalation_rows.fetch(con, name)

    roles = fetch("roles")
    rows = escalation_rows.core_edges(roles, fetch("memberships"), reference, v)
    if present["definer"] or present["code"]:  # the readers of the effective privileges
        code = fetch("code") if present["code"] else []
        sd, grants, schemas = fetch("sd"), fetch("privileges"), fetch("schemas")
        owners = escalation_rows.code_owners(code)
        effective = escalation_rows.effective_rows(
            con, roles, sd, grants, schemas, owners, fetch("objects")
        )
        rows += escalation_rows.definer_edges(sd, grants, effective, schemas, roles)
        if code:
            table_grants = fetch("table_grants")
            rows += escalation_rows.code_edges(code, table_grants, effective, schemas, roles)
    if present["grants"]:
        rows += escalation_rows.grants_edges(fetch("grants"), roles, reference)
    return roles, rows


SMALL_ROWS = 100_000
"""Up to this many privilege, membership and role rows, :func:`build` may take the small
path (:mod:`.escalation_rows`). Why a bound: below it the SQL statements' cost is their
planning (about 60-150 ms), above it the work is per row, which DuckDB does in bulk and
Python a row at a time (the bench's small preset has 42,000, medium more than the bound)."""

SMALL_EDGES = 3_000
"""... and up to this many edges expected from memberships (three per grant at most) and
CREATEROLE (before 16: one per CREATEROLE role and other role). Why: the small path's
edges cost about 14 microseconds each (most of it passing them to DuckDB), the
memberships' statement 21 ms plus 2 per thousand edges, the others 20-100 ms more when
their rows exist: a few thousand edges is where the two paths cost alike (measured with
1,000 memberships: 2,191 edges, 33 ms in Python, 25 ms for that statement alone); a
cluster of 10,000 roles with one CREATEROLE role on 15 makes 10,000 edges."""


def small_enough(counts: dict[str, int], v: int) -> bool:
    """Whether the small path is the cheaper one, from ``sql/escalation_parts.sql``'s counts
    and the server version ``v``."""
    rows = counts["privileges"] + counts["memberships"] + counts["roles"]
    edges = 3 * counts["memberships"]
    if v < 160000:
        edges += counts["createrole"] * counts["roles"]
    return rows <= SMALL_ROWS and edges <= SMALL_EDGES


EDGE_PARTS: tuple[str, ...] = ("definer", "code", "grants")
"""The edge statements after ``escalation_edges.sql`` (memberships, attributes, dangerous
roles), ``sql/escalation_edges_<part>.sql``: SECURITY DEFINER routines, trigger and event
trigger functions, parameter ACLs and user mappings for PUBLIC. Each runs only when
``sql/escalation_parts.sql`` finds the rows its branches start from: every branch joins
them, so without them it adds no edge. Why apart: planning is most of these statements'
cost (about 40 ms for the SECURITY DEFINER part, 10-20 ms for the others, at any size),
and most clusters have no triggers, event triggers, parameter ACLs or PUBLIC user
mappings, many no SECURITY DEFINER routine."""


@functools.cache
def _sql(name: str) -> str:
    return (SQL_DIR / name).read_text(encoding="utf-8")


def _coldefs(columns: list[tuple[str, str]]) -> str:
    return ", ".join(f"{n} {t}" for n, t in columns)


REFERENCE_COLUMNS: list[tuple[str, str]] = [
    ("category", "VARCHAR"),
    ("name", "VARCHAR"),
    ("target", "VARCHAR"),
    ("edge_kind", "VARCHAR"),
    ("danger", "VARCHAR"),
    ("privileges", "VARCHAR[]"),
    ("reason", "VARCHAR"),
]
"""internal.esc_reference: the dangerous roles and code-execution parameters, as rows."""

DANGEROUS_ROLE_COLUMNS: list[tuple[str, str]] = [
    ("role", "VARCHAR"),
    ("danger", "VARCHAR"),
    ("managed", "BOOLEAN"),
    ("reason", "VARCHAR"),
]


EDGE_COLUMNS: list[tuple[str, str]] = [
    ("database", "VARCHAR"),
    ("database_oid", "BIGINT"),
    ("from_kind", "VARCHAR"),
    ("from_role", "VARCHAR"),
    ("from_oid", "BIGINT"),
    ("from_mode", "VARCHAR"),
    ("to_kind", "VARCHAR"),
    ("to_node", "VARCHAR"),
    ("to_oid", "BIGINT"),
    ("to_mode", "VARCHAR"),
    ("kind", "VARCHAR"),
    ("full_control", "BOOLEAN"),
    ("object_identity", "VARCHAR"),
    ("evidence", "VARCHAR"),
    ("action", "VARCHAR"),
    ("fix", "VARCHAR"),
    ("fix_rank", "INTEGER"),
]
"""escalation_edges' columns, in the table's order (the fix parts appended below): the
small path inserts its rows (:mod:`.escalation_rows`) in this order."""


PATH_COLUMNS: list[tuple[str, str]] = [
    ("from_role", "VARCHAR"),
    ("from_oid", "BIGINT"),
    ("from_kind", "VARCHAR"),
    ("target_kind", "VARCHAR"),
    ("target", "VARCHAR"),
    ("target_app", "VARCHAR"),
    ("hops", "INTEGER"),
    ("nodes", "VARCHAR[]"),
    ("node_kinds", "VARCHAR[]"),
    ("hop_kinds", "VARCHAR[]"),
    ("hop_databases", "VARCHAR[]"),
    ("hop_objects", "VARCHAR[]"),
    ("hop_evidence", "VARCHAR[]"),
    ("hop_actions", "VARCHAR[]"),
    ("hop_fixes", "VARCHAR[]"),
    ("weakest_hop", "INTEGER"),
    ("weakest_fix", "VARCHAR"),
    ("route", "VARCHAR"),
    ("weakest_database", "VARCHAR"),
]
FIX_PARTS: tuple[str, ...] = (
    "fix_kind",
    "fix_role",
    "fix_member",
    "fix_public",
    "fix_schema",
    "fix_name",
    "fix_args",
    "fix_object_kind",
    "fix_privilege",
)
PATH_COLUMNS += [(f"weakest_{n}", "BOOLEAN" if n == "fix_public" else "VARCHAR") for n in FIX_PARTS]
EDGE_COLUMNS += [(n, "BOOLEAN" if n == "fix_public" else "VARCHAR") for n in FIX_PARTS]


# --- the graph ----------------------------------------------------------------------------

State = tuple[
    Any, ...
]  # ("r", oid, "as"|"privs") | ("superuser",) | ("os",) | ("remote", db_oid, server)

VIRTUAL_LABELS = {"superuser": "superuser-equivalent", "os": "OS access"}


class Edge(NamedTuple):
    """One edge of the graph, from one state. A named tuple rather than a frozen dataclass:
    :meth:`Graph.load` makes one per edge row and source state (61,579 on the bench's large
    preset), and a tuple is built in a fraction of the time a frozen dataclass's
    ``__init__`` takes to set each field."""

    src: State
    dst: State
    kind: str
    database: str | None
    object_identity: str | None
    evidence: str
    action: str | None
    fix: str | None
    fix_rank: int
    to_label: str
    fix_parts: tuple[Any, ...] = ()


@dataclass
class Route:
    start: State
    start_label: str
    from_kind: str
    target_kind: str
    target: str
    target_app: str | None
    edges: list[Edge] = field(default_factory=list)

    @property
    def nodes(self) -> list[str]:
        return [self.start_label] + [e.to_label for e in self.edges]

    @property
    def node_kinds(self) -> list[str]:
        return [_node_kind(self.start)] + [_node_kind(e.dst) for e in self.edges]

    def weakest(self) -> tuple[int | None, str | None]:
        """The hop whose removal breaks the route most cheaply (lowest fix_rank, earliest)."""
        best: tuple[int, int] | None = None
        for i, e in enumerate(self.edges):
            if e.fix and (best is None or e.fix_rank < best[0]):
                best = (e.fix_rank, i)
        if best is None:
            return None, None
        return best[1] + 1, self.edges[best[1]].fix

    def text(self) -> str:
        parts = [sql_name(self.start_label) if self.start_label != "PUBLIC" else "PUBLIC"]
        for e in self.edges:
            label = e.to_label if e.dst[0] != "r" else sql_name(e.to_label)
            parts.append(f"-[{e.kind}]-> {label}")
        return " ".join(parts)

    def row(self) -> list[Any]:
        hop, fix = self.weakest()
        return [
            self.start_label,
            self.start[1] if self.start[0] == "r" else None,
            self.from_kind,
            self.target_kind,
            self.target,
            self.target_app,
            len(self.edges),
            self.nodes,
            self.node_kinds,
            [e.kind for e in self.edges],
            [e.database for e in self.edges],
            [e.object_identity for e in self.edges],
            [e.evidence for e in self.edges],
            [e.action for e in self.edges],
            [e.fix for e in self.edges],
            hop,
            fix,
            self.text(),
            *self._weakest_parts(hop),
        ]

    def _weakest_parts(self, hop: int | None) -> list[Any]:
        if hop is None:
            return [None] * (1 + len(FIX_PARTS))
        e = self.edges[hop - 1]
        return [e.database, *(e.fix_parts or (None,) * len(FIX_PARTS))]


def _full_control_ordered(rows: list[list[Any]]) -> list[tuple[Any, ...]]:
    """Graph.load's query over rows in hand: the full-control edges' columns it selects,
    in its order (NULLs last, as DuckDB sorts them; strings by code point, which is the
    UTF-8 byte order DuckDB compares)."""

    def last(value: Any) -> tuple[int, Any]:
        return (1, 0) if value is None else (0, value)

    def key(r: list[Any]) -> tuple[Any, ...]:
        rank = {"set_role": 0, "inherit": 1}.get(r[10], 2)
        return (rank, last(r[10]), last(r[4]), last(r[7]), last(r[0]), last(r[12]))

    return [
        (r[0], r[1], r[2], r[4], r[5], r[6], r[7], r[8], r[9], r[10], *r[12:])
        for r in sorted((r for r in rows if r[11] is True), key=key)
    ]


def _node_kind(s: State) -> str:
    if s[0] == "r":
        return "public" if s[1] == 0 else "role"
    return str(s[0])


class Graph:
    """The full-control edges, indexed for reverse search, plus the role table.

    Parallel edges are kept in a fixed order (SET ROLE, then INHERIT, then the rest): a
    route uses the first, so a member that also holds ADMIN OPTION is shown with the
    membership, whose fix (REVOKE role FROM member) removes the ADMIN OPTION as well."""

    def __init__(self, edges: list[Edge], roles: dict[int, dict[str, Any]]) -> None:
        self.edges = edges
        self.roles = roles
        self.by_dst: dict[State, list[Edge]] = collections.defaultdict(list)
        for e in edges:
            self.by_dst[e.dst].append(e)

    @classmethod
    def load(
        cls,
        con: Any,
        role_rows: list[tuple[Any, ...]] | None = None,
        edge_rows: list[list[Any]] | None = None,
    ) -> Graph:
        """The graph of escalation_edges; ``role_rows``: the roles table's rows as
        ``sql/escalation_rows_roles.sql`` selects them, when already fetched;
        ``edge_rows``: every row of escalation_edges (:data:`EDGE_COLUMNS` order), when
        the small path made them all (selected and ordered here as the query does)."""
        if role_rows is None:
            role_rows = escalation_rows.fetch(con, "roles")
        roles = {
            int(r[0]): {
                "name": r[1],
                "kind": r[2],
                "app": r[3],
                "login": r[4],
                "superuser_equivalent": r[5],
                "superuser": r[6],
            }
            for r in role_rows
        }
        edges: list[Edge] = []
        if edge_rows is None:
            selected = con.execute(f"""
                SELECT database, database_oid, from_kind, from_oid, from_mode, to_kind, to_node,
                       to_oid, to_mode, kind, object_identity, evidence, action, fix, fix_rank,
                       {", ".join(FIX_PARTS)}
                FROM escalation_edges WHERE full_control
                ORDER BY CASE kind WHEN 'set_role' THEN 0 WHEN 'inherit' THEN 1 ELSE 2 END, kind,
                         from_oid, to_node, database, object_identity""").fetchall()  # noqa: S608
        else:
            selected = _full_control_ordered(edge_rows)
        append = edges.append
        for row in selected:
            db, db_oid, from_kind, from_oid, from_mode, to_kind, to_node, to_oid, to_mode = row[:9]
            kind, obj, evidence, action, fix, rank = row[9:15]
            dst: State
            if to_kind == "role":
                dst = ("r", int(to_oid), to_mode)
                label = str(to_node)
            elif to_kind == "remote":
                dst = ("remote", db_oid, to_node)
                label = f"remote login via server {to_node} (database {db})"
            else:
                dst = (to_kind,)
                label = VIRTUAL_LABELS.get(to_kind, to_kind)
            srcs: tuple[State, ...]
            if from_kind == "role":
                oid = int(from_oid)
                if oid == 0:
                    srcs = (("r", oid, "privs"),)
                elif from_mode == "as":
                    srcs = (("r", oid, "as"),)
                else:
                    srcs = (("r", oid, "as"), ("r", oid, "privs"))
            else:
                srcs = ((from_kind,),)
            rank = int(rank if rank is not None else 10)
            parts = tuple(row[15:])
            for src in srcs:
                if src != dst:
                    append(Edge(src, dst, kind, db, obj, evidence, action, fix, rank, label, parts))
        return cls(edges, roles)

    def reverse_search(
        self, targets: Iterable[State], avoid_public: bool
    ) -> dict[State, Edge | None]:
        """For every state that reaches one of ``targets``: the first edge of a shortest
        route (None for the targets themselves)."""
        nxt: dict[State, Edge | None] = {t: None for t in targets}
        frontier = list(nxt)
        for _depth in range(MAX_HOPS):
            new: list[State] = []
            for node in frontier:
                for e in self.by_dst.get(node, ()):
                    if e.src in nxt or (avoid_public and e.src == ("r", 0, "privs")):
                        continue
                    nxt[e.src] = e
                    new.append(e.src)
            if not new:
                break
            frontier = new
        return nxt

    def route(self, start: State, nxt: dict[State, Edge | None]) -> list[Edge] | None:
        if start not in nxt or nxt[start] is None:
            return None
        out: list[Edge] = []
        node = start
        while (e := nxt.get(node)) is not None and len(out) <= MAX_HOPS:
            out.append(e)
            node = e.dst
        return out

    def starts(self, from_role: str | None = None) -> list[tuple[State, str, str]]:
        """Login roles that are not already superuser-equivalent, and PUBLIC."""
        out: list[tuple[State, str, str]] = []
        for oid, r in sorted(self.roles.items(), key=lambda kv: kv[1]["name"]):
            if from_role is not None and r["name"] != from_role:
                continue
            if from_role is None and (not r["login"] or r["superuser_equivalent"]):
                continue
            out.append((("r", oid, "as"), r["name"], r["kind"] or "other"))
        if from_role in (None, "PUBLIC"):
            out.append((("r", 0, "privs"), "PUBLIC", "PUBLIC"))
        return out

    def targets(self, to: str) -> list[tuple[str, str, str | None, list[State]]]:
        """(target_kind, target label, app, states) for ``to``: superuser, os, owner,
        predefined, remote, or a role name."""
        if to in ("superuser", "os"):
            return [(to, VIRTUAL_LABELS[to], None, [(to,)])]
        if to == "owner":
            return [
                ("owner", r["name"], r["app"], [("r", oid, "as"), ("r", oid, "privs")])
                for oid, r in sorted(self.roles.items(), key=lambda kv: kv[1]["name"])
                if r["kind"] == "owner"
            ]
        if to == "predefined":
            names = {d.name for d in DANGEROUS_ROLES if d.danger != "superuser"}
            return [
                ("predefined", r["name"], None, [("r", oid, "as"), ("r", oid, "privs")])
                for oid, r in sorted(self.roles.items(), key=lambda kv: kv[1]["name"])
                if r["name"] in names
            ]
        if to == "remote":
            nodes = sorted({e.dst for e in self.edges if e.dst[0] == "remote"}, key=str)
            return [
                ("remote", next(e.to_label for e in self.edges if e.dst == n), None, [n])
                for n in nodes
            ]
        for oid, r in self.roles.items():
            if r["name"] == to:
                return [("role", to, r["app"], [("r", oid, "as"), ("r", oid, "privs")])]
        return []

    def routes(
        self,
        to: str,
        from_role: str | None = None,
        starts: list[tuple[State, str, str]] | None = None,
    ) -> list[Route]:
        """The shortest route from each start (:meth:`starts`, or ``starts`` when the
        caller has them) to each target of ``to``, in the starts' order per target.

        Why from the searches' results and not from every start: a cluster of 20,000
        login roles and 70 owner roles made 1.4 million (start, target) pairs, most
        reaching nothing (1.1 s of the bench's large preset); each search's reached
        states are few, so the starts among them are looked up and sorted instead."""
        out: list[Route] = []
        if starts is None:
            starts = self.starts(from_role)
        index = {start: i for i, (start, _name, _kind) in enumerate(starts)}
        # PUBLIC's routes may pass through PUBLIC; every other start's may not
        modes = sorted({start[1] != 0 for start in index}, reverse=True)
        for tkind, label, app, states in self.targets(to):
            excluded = set(states)
            owners = {s[1] for s in states} if tkind == "owner" else set()
            hits: list[tuple[int, dict[State, Edge | None]]] = []
            for avoid in modes:
                nxt = self.reverse_search(states, avoid_public=avoid)
                for state, first in nxt.items():
                    i = index.get(state)
                    if i is None or first is None or (state[1] != 0) != avoid:
                        continue
                    if state in excluded or state[1] in owners:
                        continue
                    hits.append((i, nxt))
            for i, nxt in sorted(hits, key=lambda hit: hit[0]):
                start, name, kind = starts[i]
                edges = self.route(start, nxt)
                if edges:
                    out.append(Route(start, name, kind, tkind, label, app, edges))
        return out

    def standard_routes(self, con: Any) -> list[Route]:
        """What escalation_paths stores: every login role and PUBLIC to superuser, OS,
        each owner role, each dangerous predefined role and each remote login."""
        del con
        out: list[Route] = []
        starts = self.starts()
        for to in ("superuser", "os", "owner", "predefined", "remote"):
            out += self.routes(to, starts=starts)
        return out
