"""The effect layer: apply the migrations to a twin, evaluate the catalogue, attribute.

How it stays fast: the twin is collected and evaluated once before the migrations (what
is found then is *pre-existing* and never gates), then once after each file that holds a
statement able to change roles or privileges (a file of INSERTs or indexes costs no
evaluation). A finding that appears after file F was introduced by F. Within F it is
attributed to the statement that names the finding's object and role (see ``attribute``:
the first best on a tie; the file's first statement that changes privileges when none
names them). That is exact per file and almost always exact per statement, at one
collection per file instead of one per statement. Large sets are cut into at most
``max_checkpoints`` groups of consecutive files (``--checkpoints``, default 12): the
attribution is then exact per group and by names within it, and the cost stays bounded. Only findings still present after the last file are reported: a grant a later
migration revokes is not a problem of the migration set.

A statement the twin refuses is reported by the caller as a PGR-LINT-015 finding at its
line with the server's primary message (unless it holds a placeholder, ``${x}`` or an unset
psql variable, whose real value the twin cannot know: a note then). After a failure the run stops when
``ON_ERROR_STOP`` is on (the default for migration tools' layouts, as they stop too);
psql files without it go on, as psql does.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..collect.collector import collect
from ..collect.snapshot import load
from ..core.errors import CollectionError
from ..core.localpg import LocalCluster
from ..core.model import Finding, Rule, RuleResult
from ..core.sqlquote import quote_ident
from ..demo import choose_install
from ..evaluate.engine import evaluate
from ..twin import build_twin
from .plpgsql import embedded
from .source import Statement, walk
from .twin_state import TWIN_DEFAULT_NOTE, about_untouched_database, database_states

log = logging.getLogger(__name__)

INERT = frozenset(
    {
        "SelectStmt",
        "InsertStmt",
        "UpdateStmt",
        "DeleteStmt",
        "MergeStmt",
        "IndexStmt",
        "CopyStmt",
        "VacuumStmt",
        "ExplainStmt",
        "CommentStmt",
        "ClusterStmt",
        "CheckPointStmt",
        "NotifyStmt",
        "ListenStmt",
        "UnlistenStmt",
        "DiscardStmt",
        "LockStmt",
        "PrepareStmt",
        "ExecuteStmt",
        "DeallocateStmt",
        "TransactionStmt",
        "ReindexStmt",
        "RefreshMatViewStmt",
        "TruncateStmt",
        "AlterSeqStmt",
        "CreateStatsStmt",
    }
)
"""Statements that cannot change a rule's result: no evaluation after a file of these only."""


UNTRUSTED_LANGUAGES = frozenset(
    {"c", "internal", "plpythonu", "plpython2u", "plpython3u", "plperlu", "pltclu", "plsh", "plv8u"}
)


def outside_reason(st: Statement) -> str | None:
    """Why a statement is not applied to the twin: it would reach outside the server (run a
    program, read or write the twin host's files, load code) rather than change roles or
    privileges. The twin runs migrations as a superuser on this machine, so these are not
    run there; everything else is, as CI runs migrations on a throwaway database anyway."""
    from pglast import ast

    node = st.node
    if isinstance(node, ast.CopyStmt) and (node.is_program or node.filename):
        return "COPY to or from a server program or file"
    if isinstance(node, ast.LoadStmt):
        return "LOAD of a shared library"
    if isinstance(node, ast.AlterSystemStmt):
        return "ALTER SYSTEM changes the twin's server configuration"
    if isinstance(node, ast.CreateFunctionStmt | ast.DoStmt):
        opts = node.options if isinstance(node, ast.CreateFunctionStmt) else node.args
        for o in opts or ():
            if (
                o.defname == "language"
                and getattr(o.arg, "sval", "").lower() in UNTRUSTED_LANGUAGES
            ):
                return f"code in the untrusted language {o.arg.sval}"
    if isinstance(node, ast.CreatePLangStmt):
        return "CREATE LANGUAGE"
    return None


DEFAULT_CHECKPOINTS = 12
"""Evaluations after the migrations at most (plus one before): files are grouped evenly
into this many consecutive groups, so a set of 500 files costs 13 evaluations, not 501."""


def checkpoint_groups(
    statements: Sequence[Statement], max_checkpoints: int
) -> list[list[Statement]]:
    """Consecutive statements cut at file boundaries into at most ``max_checkpoints`` groups
    of about as many files each (one file per group when there are few enough files)."""
    files: list[list[Statement]] = []
    for st in statements:
        if files and files[-1][0].file == st.file:
            files[-1].append(st)
        else:
            files.append([st])
    n = max(1, max_checkpoints)
    if len(files) <= n:
        return files
    groups: list[list[Statement]] = []
    for k in range(n):
        lo, hi = len(files) * k // n, len(files) * (k + 1) // n
        groups.append([st for f in files[lo:hi] for st in f])
    return [g for g in groups if g]


@dataclass
class Failure:
    statement: Statement
    message: str
    sqlstate: str | None = None


@dataclass
class Attributed:
    finding: Finding
    rule: Rule
    statement: Statement | None  # None: pre-existing


@dataclass
class TwinOutcome:
    attributed: list[Attributed] = field(default_factory=list)
    results: list[RuleResult] = field(default_factory=list)  # final evaluation, per rule
    failures: list[Failure] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    applied: int = 0
    evaluations: int = 0
    not_applied: list[str] = field(default_factory=list)  # "file:line: why" (outside_reason)


class Twin:
    """Where the migrations run: our own empty cluster, or the twin of a snapshot."""

    def __init__(
        self,
        conninfo: Callable[..., str],
        collect: Callable[[], Any],
        stop: Callable[[], None],
        label: str,
    ) -> None:
        self.conninfo = conninfo
        self.collect = collect
        self.stop = stop
        self.label = label


def empty_twin(install: Any = None, cluster: Any = None) -> Twin:
    """An empty throwaway cluster (``cluster`` when the caller owns one, e.g. a test)."""

    own = cluster is None
    if own:
        inst = install or choose_install(None)
        try:
            cluster = LocalCluster(inst).start()
        except RuntimeError as exc:
            raise CollectionError(
                f"lint: cannot start the twin cluster: {' '.join(str(exc).split())[:300]}"
            ) from None

    def conninfo(dbname: str = "postgres", user: str = "postgres") -> str:
        return str(cluster.conninfo(user=user, dbname=dbname))

    def do_collect() -> Any:
        return collect(conninfo(), jobs=1)

    def stop() -> None:
        if own:
            cluster.stop()

    return Twin(conninfo, do_collect, stop, f"empty PostgreSQL {cluster.install.major} twin")


def snapshot_twin(
    snapshot_path: Any, install: Any = None, progress: Callable[[str], None] | None = None
) -> Twin:
    """The twin of a production snapshot (``pgaudit_roles.twin``): the migrations then run
    against production's real roles, objects and grants."""
    t = build_twin(load(snapshot_path), install=install, progress=progress)

    def conninfo(dbname: str = "postgres", user: str | None = None) -> str:
        return str(t.conninfo(dbname=dbname, user=user) if user else t.conninfo(dbname=dbname))

    return Twin(conninfo, t.collect, t.stop, f"twin of {snapshot_path}")


def run_twin(
    statements: Sequence[Statement],
    rules: Sequence[Rule],
    cfg: Any,
    twin: Twin,
    *,
    default_db: str = "postgres",
    on_error_stop: bool = True,
    create_db: bool = True,
    max_checkpoints: int = DEFAULT_CHECKPOINTS,
    progress: Callable[[str], None] | None = None,
) -> TwinOutcome:
    """Apply ``statements`` in order on ``twin``; see the module docstring."""
    import psycopg

    say = progress or (lambda _m: None)
    catalogue = [r for r in rules if r.check is None]
    out = TwinOutcome()
    dbs: list[dict[str, tuple[Any, ...]]] = []  # database states: before, then the latest

    def evaluate_now() -> Any:
        out.evaluations += 1
        snap = twin.collect()
        out.meta.setdefault("server_version", snap.meta.get("server_version"))
        dbs[1:] = [database_states(snap)]
        return evaluate(snap, catalogue, cfg, inventory=False)

    say(f"twin: {twin.label}, evaluating the catalogue before the migrations")
    if create_db and default_db != "postgres":
        with psycopg.connect(twin.conninfo(), autocommit=True) as admin:
            exists = admin.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (default_db,)
            ).fetchone()
            if not exists:
                admin.execute(f"CREATE DATABASE {quote_ident(default_db)}".encode())
    before = evaluate_now()
    base = {f.fingerprint for f in before.findings}
    seen: dict[str, tuple[Finding, Rule, Statement | None]] = {}
    conns: dict[tuple[str, str], Any] = {}
    groups = checkpoint_groups(statements, max_checkpoints)
    stopped = False
    try:
        for group in groups:
            changed = False
            for st in group:
                stop_here = st.on_error_stop if st.on_error_stop is not None else on_error_stop
                if st.twin_skip:  # another branch of its psql \if block (conditionals.py)
                    out.not_applied.append(
                        f"{st.file}:{st.line}: not applied on the twin: it is in "
                        f"{st.conditional or 'a psql branch'}, and the twin applies an "
                        "earlier branch of that if-block"
                    )
                    continue
                why = outside_reason(st)
                if why is not None:
                    out.not_applied.append(f"{st.file}:{st.line}: not applied on the twin: {why}")
                    continue
                if st.kind == "CopyStmt":  # FROM stdin / TO stdout: data, not privileges
                    out.not_applied.append(f"{st.file}:{st.line}: COPY data not loaded on the twin")
                    continue
                key = (st.database or default_db, st.user or "")
                try:
                    conn = conns.get(key)
                    if conn is None or conn.closed:
                        info = (
                            twin.conninfo(dbname=key[0], user=key[1])
                            if key[1]
                            else twin.conninfo(dbname=key[0])
                        )
                        conn = psycopg.connect(info, autocommit=True)
                        conns[key] = conn
                    cur = conn.execute(st.text.encode("utf-8"))
                    if st.gexec:  # psql runs every value of the result as a statement
                        for row in cur.fetchall() if cur.description else ():
                            for value in row:
                                if value is not None:
                                    conn.execute(str(value).encode("utf-8"))
                    out.applied += 1
                    changed = changed or st.kind not in INERT
                except psycopg.Error as exc:
                    _recover(conns.get(key))
                    if st.placeholders:  # ${x} / psql -v values the twin cannot know
                        out.not_applied.append(
                            f"{st.file}:{st.line}: failed on the twin with placeholders "
                            f"({', '.join(sorted(st.placeholders))}) in place of values set "
                            "outside the migrations; not reported"
                        )
                        continue
                    out.failures.append(_failure(st, exc))
                    if stop_here:
                        stopped = True
                        break
            for conn in conns.values():
                _commit_open(conn)
            if changed:
                say(f"twin: evaluating after {group[-1].file}")
                now = evaluate_now()
                current = {f.fingerprint: (f, r.rule) for r in now.results for f in r.findings}
                for fp, (f, rule) in current.items():
                    if fp not in base and fp not in seen:
                        seen[fp] = (f, rule, attribute(f, group, rule.category))
                out.results = now.results
            if stopped:
                break
    finally:
        for conn in conns.values():
            conn.close()
    if not out.results:
        out.results = before.results
    out.meta["stopped_after_error"] = stopped
    final = {f.fingerprint: (f, r.rule) for r in out.results for f in r.findings}
    for fp, (f, rule) in final.items():
        if fp not in base and create_db and about_untouched_database(f, dbs[0], dbs[-1]):
            f.details = {**f.details, "twin_default": TWIN_DEFAULT_NOTE}  # twin_state.py
            base.add(fp)
        if fp in base:
            f.pre_existing = True
            out.attributed.append(Attributed(f, rule, None))
        elif fp in seen:
            out.attributed.append(Attributed(f, rule, seen[fp][2]))
        else:  # cannot happen when every changing file was evaluated; keep it visible
            out.attributed.append(Attributed(f, rule, statements[0] if statements else None))
    return out


def _failure(st: Statement, exc: Any) -> Failure:
    diag = getattr(exc, "diag", None)
    primary = getattr(diag, "message_primary", None) if diag is not None else None
    text = primary or (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return Failure(st, " ".join(text.split()), getattr(diag, "sqlstate", None))


def _recover(conn: Any) -> None:
    """Leave a failed transaction block, as psql would after the error."""
    from psycopg.pq import TransactionStatus

    if conn is None or conn.closed:
        return
    if conn.info.transaction_status == TransactionStatus.INERROR:
        conn.execute(b"ROLLBACK")


def _commit_open(conn: Any) -> None:
    """A file that leaves a transaction open is committed at its end (as tools do per file)."""
    from psycopg.pq import TransactionStatus

    if conn.closed:
        return
    status = conn.info.transaction_status
    if status == TransactionStatus.INTRANS:
        conn.execute(b"COMMIT")
    elif status == TransactionStatus.INERROR:
        conn.execute(b"ROLLBACK")


def statement_names(st: Statement) -> set[str]:
    """Identifiers a statement mentions (role, object, schema names); never a password."""
    from pglast import ast

    names: set[str] = set()
    for inner in embedded(st):  # what a DO block runs
        names |= statement_names(inner)
    for node in walk(st.node):
        if isinstance(node, ast.DefElem) and node.defname == "password":
            continue
        if isinstance(node, ast.String) or isinstance(node, ast.A_Const):
            continue  # literal values, and String nodes handled through their parents below
        for attr in node.__slots__:
            value = getattr(node, attr, None)
            if isinstance(value, str):
                names.add(value)
            elif isinstance(value, tuple):
                names.update(v.sval for v in value if isinstance(v, ast.String) and v.sval)
    return names


CATEGORY_KINDS: dict[str, tuple[str, ...]] = {
    "roles": ("CreateRoleStmt", "AlterRoleStmt", "GrantRoleStmt", "AlterRoleSetStmt"),
    "ownership": (
        "Create",
        "ViewStmt",
        "DefineStmt",
        "AlterOwnerStmt",
        "AlterTableStmt",  # ALTER TABLE/VIEW/SEQUENCE ... OWNER TO
        "CompositeTypeStmt",
    ),
    "privileges": ("GrantStmt", "GrantRoleStmt"),
    "default-privileges": ("AlterDefaultPrivilegesStmt",),
    "settings": ("AlterRoleSetStmt", "AlterDatabaseSetStmt", "AlterSystemStmt"),
}
"""Statement kinds (by name prefix) that typically cause a finding of each rule category."""


def attribute(f: Finding, group: Sequence[Statement], category: str = "") -> Statement:
    """The statement of ``group`` that most likely introduced ``f`` (module docstring):
    names matched (object 3, role 2, schema and database 1), plus 2 when the statement is
    of a kind that causes findings of the rule's category. When no statement names the
    finding, a DO block or ``\\gexec`` (SQL built at run time) is the likely cause."""
    wanted: list[tuple[str | None, int]] = [
        (f.role, 2),
        (f.object_name, 3),
        (f.schema, 1),
        (f.database, 1),
    ]
    if f.object_identity:
        wanted.append((f.object_identity.split(".")[-1].split("(")[0].strip('"'), 1))
    best: Statement | None = None
    best_score = 0
    for st in group:
        if st.kind in INERT:
            continue
        names = statement_names(st)
        score = sum(w for name, w in wanted if name and name in names)
        if score and st.kind.startswith(CATEGORY_KINDS.get(category, ("-",))):
            score += 2
        if score > best_score:
            best, best_score = st, score
    if best is not None:
        return best
    for st in group:  # named nowhere: most likely SQL built at run time (EXECUTE format)
        if st.kind == "DoStmt" or st.gexec:
            return st
    for st in group:
        if st.kind not in INERT:
            return st
    return group[0]
