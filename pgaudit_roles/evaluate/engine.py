"""Evaluate rules over a snapshot: audit schema in DuckDB, sandbox, rows -> findings.

The order matters and is the point of this module:
1. the snapshot is loaded into the audit schema (``audit_schema.load``);
2. the DuckDB connection is locked down BEFORE any rule runs (``open_sandbox``): no file
   system or network access, no extension auto-loading, no Python replacement scans, then
   the configuration is locked so no rule can switch it back. Query validation in ``rules`` is the first
   line of defence; this is the second, for a rule that slipped past it;
3. each rule is *skipped* (disabled, server too old, a source it needs not collected:
   never passed when it could not look), *error* (query or remediation failed), *fail*
   (one finding per row) or *pass*.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import decimal
import functools
import itertools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ..audit import audit_schema
from ..audit.audit_schema import memory_limit, server_version_num
from ..audit.limits import QueryTimeout
from ..collect import coverage
from ..collect.snapshot import damaged_member
from ..core import cpus
from ..core.model import SEVERITIES, Finding, Rule, RuleResult, ScanResult
from . import frameworks, messages, remediation, rule_queries, template_cache
from .messages import render_message as render_message  # lint.run imports it from here

if TYPE_CHECKING:
    from ..collect.snapshot import Snapshot

FINDING_FIELDS: tuple[str, ...] = (
    "database",
    "object_type",
    "schema",
    "object_name",
    "object_identity",
    "role",
)
"""Query columns with these names fill the Finding fields; every column is in details."""


class Settings(Protocol):
    """What evaluation reads from the run's configuration (``pgaudit_roles.config.Config``
    provides it). A protocol, so that this stage never imports the configuration module,
    which sits above every stage (it validates report formats and rule ids)."""

    @property
    def naming(self) -> Any: ...
    @property
    def disabled(self) -> frozenset[str]: ...
    @property
    def severity(self) -> dict[str, str]: ...
    @property
    def fail_on(self) -> str: ...
    @property
    def framework(self) -> str | None: ...
    @property
    def sources(self) -> dict[str, str]: ...
    @property
    def inventory_needs(self) -> frozenset[str]: ...


@dataclass(frozen=True)
class DefaultSettings:
    """The settings when none are given: the same defaults as ``Config()`` (a test checks)."""

    naming: Any = None
    disabled: frozenset[str] = frozenset()
    severity: dict[str, str] = field(default_factory=dict)
    fail_on: str = "high"
    framework: str | None = None
    sources: dict[str, str] = field(default_factory=dict)
    inventory_needs: frozenset[str] = frozenset()


INVENTORY_TOP_OBJECTS = 25
INVENTORY_MAX_LOGIN_ROLES = 500
INVENTORY_MAX_ROUTES = 200


# --- evaluation ------------------------------------------------------------------------------


def evaluate(
    snapshot: Snapshot,
    rules: Sequence[Rule],
    config: Settings | None = None,
    *,
    inventory: bool = True,
    con: Any = None,
    keep_open: bool = False,
) -> ScanResult:
    """Run ``rules`` over ``snapshot`` with ``config`` applied; offline, no server needed.

    ``inventory=False``: no ``ScanResult.inventory`` (the roles, routes and privilege
    summary the HTML and SQL reports show), and the audit schema holds only the tables
    the rules read (``audit.build_plan``): for a caller that checks a few rules' results,
    such as a rule's test cases, that is most of the evaluation's cost.

    ``con``: an unused connection from ``audit_schema.new_connection`` to build in (a live
    scan opens it while collecting, ``pipeline.EvaluationStart``); the evaluation owns
    and closes it, unless ``keep_open``: then the caller does (a live scan closes it once
    the reports' forked child renders, ``reports.write_reports(meanwhile=)``: freeing
    DuckDB's memory costs ~10 ms on the bench's small preset, which the parent would
    otherwise spend before the reports start)."""

    cfg: Settings = config or DefaultSettings()
    keep_open = keep_open and con is not None  # a connection opened here is closed here
    fw = None
    wanted: set[str] | None = None
    selected = [r for r in rules if r.on_snapshot]  # not lint's statement rules, not fleet's
    if cfg.framework:
        fw = frameworks.load_framework(cfg.framework, rules)
        wanted = fw.rule_ids()
    # Every rule runs, also with --framework: the framework scopes the checklist and the
    # gate, but what lies outside it is counted and its critical findings listed.

    gaps = coverage.database_gaps(snapshot)
    # one query has nothing to run beside it: no second connection to set up for it
    pool = open_query_pool(
        snapshot,
        cfg,
        extra=len(selected) > 1,
        queries=None if inventory else [r.query for r in selected],
        con=con,
    )
    con = pool.con
    try:
        server_num = server_version_num(snapshot.meta)
        # the inventory's queries run on the pool beside the rules' (first: the longest job)
        by_acl = audit_schema.privileges_is_view(snapshot)
        jobs = [functools.partial(build_inventory, by_acl=by_acl)] if inventory else []
        evaluated, done = _evaluate_rules(pool, snapshot, selected, cfg, server_num, jobs)
        every = [_partial(res, gaps) for res in evaluated]
        facts: dict[str, Any] = {}
        if inventory:
            (facts,) = done
            if isinstance(facts, BaseException):  # as when it ran here: it propagates
                raise facts
            if "access_review" in cfg.inventory_needs:
                facts["access_review"] = access_review(con)
    finally:
        pool.close()
        if not keep_open:
            con.close()
    # coverage rules are about the scan itself: a framework never hides a blind spot
    results = (
        every
        if wanted is None
        else [r for r in every if r.rule.id in wanted or r.rule.category == "coverage"]
    )
    outside = None
    if wanted is not None and fw is not None:
        outside = outside_summary(
            fw.name, [r for r in every if r.rule.id not in wanted and r.rule.category != "coverage"]
        )

    if fw is None:
        fw = frameworks.default_checklist(rules)
    requirements = frameworks.evaluate(fw, results, server_num) if fw is not None else []
    meta = dict(snapshot.meta)
    meta["framework"] = cfg.framework
    meta["coverage"] = [r for r in coverage.rows(snapshot) if r["status"] != "collected"]
    return ScanResult(
        meta=meta,
        results=results,
        requirements=requirements,
        fail_on=cfg.fail_on,
        config_sources=dict(cfg.sources),
        inventory=facts,
        outside_framework=outside,
    )


def outside_summary(framework: str, results: Sequence[RuleResult]) -> dict[str, Any]:
    """Counts by severity of the findings outside ``framework`` and its critical ones."""
    findings = [f for r in results for f in r.findings]
    by_sev = dict.fromkeys(SEVERITIES, 0)
    for f in findings:
        by_sev[f.severity] += 1
    return {
        "framework": framework,
        "by_severity": by_sev,
        "total": len(findings),
        "critical": [f for f in findings if f.severity == "critical"],
    }


PER_DATABASE_SOURCE = "objects"
"""Rules that require this source read per-database catalogs: a database that was not
collected is a scope they did not look at."""


def _partial(res: RuleResult, gaps: Sequence[Mapping[str, Any]]) -> RuleResult:
    """A rule over per-database catalogs is not evaluated for a database that was not
    collected: it cannot pass (``incomplete``), and a failure says where it did not look."""
    if res.status == "skipped" and res.reason and res.reason.startswith(MISSING_SOURCE):
        return res
    if PER_DATABASE_SOURCE not in res.rule.requires or res.status not in ("pass", "fail"):
        return res
    if not gaps:
        return res
    res.not_evaluated = [{"database": g["database"], "reason": g["reason"]} for g in gaps]
    names = ", ".join(str(g["database"]) for g in gaps[:10])
    more = f" and {len(gaps) - 10} more" if len(gaps) > 10 else ""
    note = (
        f"not evaluated for {len(gaps)} database{'s' if len(gaps) != 1 else ''} that "
        f"{'were' if len(gaps) != 1 else 'was'} not collected: {names}{more}"
    )
    res.reason = f"{res.reason}; {note}" if res.reason else note
    if res.status == "pass":
        res.status = "incomplete"
    return res


MISSING_SOURCE = "required source not collected: "


def open_sandbox(snapshot: Snapshot, config: Settings | None = None) -> Any:
    """The audit schema for ``snapshot`` in a DuckDB connection that can no longer reach out.

    ``audit_schema.lock_down`` disables file system and network access, extension
    (auto)loading and Python replacement scans, then locks the configuration so that no
    statement can switch them back; it runs before the first rule.
    """
    return open_query_pool(snapshot, config, extra=False).con


def open_query_pool(
    snapshot: Snapshot,
    config: Settings | None = None,
    *,
    extra: bool = True,
    queries: Sequence[str] | None = None,
    con: Any = None,
) -> rule_queries.QueryPool:
    """:func:`open_sandbox`, with the second connection ``rule_queries`` runs rules on, or
    on a large snapshot the side connection its jobs run on (``prepare_side``; either also
    serves the load; opened before the lock, checked after it; none when ``extra`` is
    false). With
    ``queries``, the audit schema has only the tables they read (``audit_schema.load``).
    ``con``: an unused ``audit_schema.new_connection()`` to build in (:func:`evaluate`)."""
    con = con if con is not None else audit_schema.new_connection()
    more: list[Any] = []
    try:
        audit_schema.tune_for_size(con, snapshot)
        # opened before the load, the rules' second connection runs load steps too when
        # a core is free for it (core.cpus.spare_cpu)
        small = audit_schema.is_small(snapshot)
        more = rule_queries.prepare(con, small=small) if extra else []
        side = rule_queries.prepare_side(con, small=small) if extra and not more else []
        # the load's second connection: the rules' second one (a small snapshot) when a
        # core is free for it, or the side connection (a large one: made only then)
        helpers = more if more and cpus.spare_cpu() else side
        audit_schema.load(
            snapshot, getattr(config, "naming", None), con, queries=queries, helpers=helpers
        )
        audit_schema.lock_down(con)
        more = rule_queries.verified(con, more)
        side = rule_queries.verified(con, side)
    except BaseException as exc:
        rule_queries.close(more + side)
        con.close()
        damaged = damaged_member(snapshot, exc)
        if damaged is not None:
            raise damaged from None
        raise
    return rule_queries.QueryPool(con, more, side)


def _evaluate_rules(
    pool: rule_queries.QueryPool,
    snapshot: Snapshot,
    rules: Sequence[Rule],
    cfg: Settings,
    server_num: int | None,
    jobs: Sequence[rule_queries.Job] = (),
) -> tuple[list[RuleResult], list[Any]]:
    """Every rule's result, by rule id, and each of ``jobs``' outcome (its return value or
    exception): the jobs and the queries of the rules that run go to the pool at once (it
    returns them in order), findings are built as their rows arrive.

    Why jobs: ``build_inventory``'s queries (23 ms on the bench's small snapshot) ran on
    the main connection after the last rule, while the pool's second connection sat idle;
    as a job, first in the batch, they run on one connection while the other starts on the
    rules. The same queries over the same data, on a connection of the same database.

    The rule phase is a ``template_cache.session``: the templates its findings render come
    from one cache entry."""
    ordered = sorted(rules, key=lambda r: r.id)
    skipped = [_not_run(snapshot, r, cfg, server_num) for r in ordered]
    queries = [r.query for r, s in zip(ordered, skipped, strict=True) if s is None]
    out: list[RuleResult] = []
    # jobs run beside the queries (a large snapshot's side connection) come last: the
    # rules' findings are built while they run
    last = pool.jobs_beside
    batch: list[str | rule_queries.Job] = [*queries, *jobs] if last else [*jobs, *queries]
    with contextlib.closing(pool.run(batch)) as outcomes, template_cache.session():
        done = [] if last else [next(outcomes) for _ in jobs]
        for rule, skip in zip(ordered, skipped, strict=True):
            out.append(skip if skip is not None else _rule_result(rule, cfg, next(outcomes)))
        if last:
            done = [next(outcomes) for _ in jobs]
    return out, done


def _result_for(rule: Rule, cfg: Settings) -> Any:
    severity = cfg.severity.get(rule.id)

    def result(
        status: str, reason: str | None = None, findings: list[Finding] | None = None
    ) -> RuleResult:
        return RuleResult(
            rule=rule, status=status, reason=reason, findings=findings or [], severity=severity
        )

    return result


def _not_run(
    snapshot: Snapshot, rule: Rule, cfg: Settings, server_num: int | None
) -> RuleResult | None:
    """The result of a rule that does not run (disabled, draft, server too old, a source
    not collected), or None when its query is to run."""
    result = _result_for(rule, cfg)
    if rule.id in cfg.disabled:
        return result(
            "skipped", f"disabled by config ({cfg.sources.get('rules.disable', 'config')})"
        )
    if rule.draft:
        return result(
            "skipped", f"draft ({rule.path} says draft = true): not evaluated until it is finished"
        )
    if server_num is not None and server_num < rule.min_server_version:
        return result(
            "skipped",
            f"needs PostgreSQL {format_version(rule.min_server_version)} or "
            f"later (server is {format_version(server_num)})",
        )
    if server_num is None and rule.min_server_version > 130000:
        return result(
            "skipped",
            "server version unknown in the snapshot; rule needs "
            f"PostgreSQL {format_version(rule.min_server_version)} or later",
        )
    missing = [s for s in rule.requires if not snapshot.source_collected(s)]
    if missing:
        reasons = []
        scopes: list[dict[str, Any]] = []
        for s in missing:
            info = snapshot.meta.get("sources", {}).get(s) or {}
            why = info.get("reason") if isinstance(info, Mapping) else None
            reasons.append(f"{s} ({why or 'not in the snapshot'})")
            scopes.append({"source": s, "reason": why})
        res = result("skipped", MISSING_SOURCE + "; ".join(reasons))
        res.not_evaluated = scopes
        return res
    return None


def _rule_result(rule: Rule, cfg: Settings, outcome: rule_queries.Outcome) -> RuleResult:
    """The rule's result from its query's outcome: rows -> findings, or the error."""
    result = _result_for(rule, cfg)
    effective = cfg.severity.get(rule.id) or rule.severity
    if isinstance(outcome, QueryTimeout):
        return result("error", f"query {outcome}")
    if isinstance(outcome, BaseException):  # any DuckDB failure is this rule's error
        return result("error", f"query failed: {_one_line(str(outcome))}{_memory_hint(outcome)}")
    columns, rows = outcome

    findings: list[Finding] = []
    keys: list[tuple[str, str, str, str, str]] = []
    problems: list[str] = []
    if not rows:
        return result("pass", None, findings)
    try:  # compiled once for the rule: an error here is the first row's
        message_of = messages.renderer(rule.message)
    except Exception as exc:  # noqa: BLE001
        return result("error", f"message template failed: {_one_line(str(exc))}")
    fix_of = remediation.renderer(rule.remediation, rule.path) if rule.remediation else None
    rule_id, object_type, manual, destructive = (
        rule.id,
        rule.object_type,
        rule.manual,
        rule.destructive,
    )
    for row in _plain_rows(columns, rows):
        try:
            message = message_of(row)
        except Exception as exc:  # noqa: BLE001
            return result("error", f"message template failed: {_one_line(str(exc))}")
        fix: str | None = None
        if fix_of is not None:
            try:
                fix = fix_of(row).strip() or None
            except Exception as exc:  # noqa: BLE001 - RemediationError or a template bug
                problems.append(_one_line(str(exc)))
                fix = None
        get = row.get
        database = _text_or_none(get("database"))
        kind = _text_or_none(get("object_type")) or object_type
        object_name = _text_or_none(get("object_name"))
        identity = _text_or_none(get("object_identity"))
        role = _text_or_none(get("role"))
        findings.append(
            Finding(
                rule_id=rule_id,
                severity=effective,
                message=message,
                database=database,
                object_type=kind,
                schema=_text_or_none(get("schema")),
                object_name=object_name,
                object_identity=identity,
                role=role,
                remediation=fix,
                manual=manual if fix is None else None,
                destructive=destructive,
                details=row,
            )
        )
        keys.append(
            (database or "", kind or "", identity or object_name or "", role or "", message)
        )
    if len(findings) > 1:  # a stable sort of the findings by their keys, as sort(key=) is
        order = sorted(range(len(findings)), key=keys.__getitem__)
        findings = [findings[i] for i in order]
    if problems:
        return result(
            "error",
            f"remediation did not render for {len(problems)} finding(s): {problems[0]}",
            findings,
        )
    return result("fail" if findings else "pass", None, findings)


def _memory_hint(exc: BaseException) -> str:
    """What to do when a rule hit DuckDB's memory cap (a one-line error otherwise)."""
    if "out of memory" not in str(exc).lower():
        return ""

    return (
        f" (the audit schema is capped at {memory_limit()}: raise it with "
        "PGAUDIT_ROLES_MEMORY_LIMIT, e.g. 2GB)"
    )


def format_version(num: int) -> str:
    """130000 -> '13', 150004 -> '15.4'."""
    major, minor = divmod(num, 10000)
    return f"{major}" if minor == 0 else f"{major}.{minor}"


def _plain(value: Any) -> Any:
    """DuckDB values -> JSON-friendly Python values (details go into every report)."""
    if type(value) is list:  # DuckDB's lists, first: the branch the checks below reach
        return [v if type(v) in _AS_IS else _plain(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, _dt.datetime | _dt.date | _dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, Mapping):
        return {str(k): v if type(v) in _AS_IS else _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [v if type(v) in _AS_IS else _plain(v) for v in value]
    if isinstance(value, _dt.timedelta):
        return value.total_seconds()
    return str(value)  # uuid.UUID among others (no isinstance test: no import of uuid, ~2 ms)


_AS_IS: frozenset[type] = frozenset({type(None), bool, int, float, str})
"""Python types whose values :func:`_plain` returns unchanged: a row's values of exactly
these types skip the call (most of a finding's values; a subclass still goes through it)."""

_SCALAR_TYPES = frozenset(
    {"VARCHAR", "BOOLEAN", "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "DOUBLE", "FLOAT"}
)
"""DuckDB column types whose values come to Python as None, str, bool, int or float:
:func:`_plain` returns them unchanged (the inventory's rows skip the call; 24,000 calls for
the bench's small preset)."""


def _plain_keeps(duckdb_type: str) -> bool:
    """Whether :func:`_plain` returns every value of a column of this DuckDB type as it is
    (or a list equal to it): one of :data:`_SCALAR_TYPES`, or a list of one (``VARCHAR[]``:
    None or a list of None and str). A column of another type goes through it."""
    return duckdb_type in _SCALAR_TYPES or (
        duckdb_type.endswith("[]") and duckdb_type[:-2] in _SCALAR_TYPES
    )


def _text_or_none(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def _plain_rows(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> Iterator[dict[str, Any]]:
    """Each row as ``{column: _plain(value)}``, in order.

    Why not one comprehension per row: most columns hold only values that :func:`_plain`
    returns as they are (:data:`_AS_IS`); those are found once per column, and a row is
    ``dict(zip(...))`` with only the other columns' values converted (the same values,
    the same keys in the same order). Duplicate column names (the last value wins) take
    the comprehension."""
    if len(set(columns)) != len(columns):
        for raw in rows:
            yield {
                c: v if type(v) in _AS_IS else _plain(v) for c, v in zip(columns, raw, strict=True)
            }
        return
    convert = [  # (a row of another length fails below, in zip(strict=True), as before)
        (i, columns[i])
        for i, values in zip(range(len(columns)), zip(*rows, strict=False), strict=False)
        if not _AS_IS.issuperset(map(type, values))
    ]
    for raw in rows:
        row = dict(zip(columns, raw, strict=True))
        for i, column in convert:
            value = raw[i]
            if type(value) not in _AS_IS:
                row[column] = _plain(value)
        yield row


def _one_line(text: str) -> str:
    return " ".join(text.split())[:500]


# --- inventory for the human reports ----------------------------------------------------------


def _inventory_sql(name: str) -> str:
    """``sql/<name>.sql`` without its leading comment: a CTE of the inventory's counts."""
    lines = (Path(__file__).resolve().parent / "sql" / f"{name}.sql").read_text("utf-8")
    return "\n".join(line for line in lines.split("\n") if not line.startswith("--")).strip()


def _inventory_by_acl(con: Any) -> bool:
    """Whether the inventory's counts may come from the distinct ACLs
    (``sql/inventory_counts_by_acl.sql``): only where they are exactly the counts over
    privileges' rows (``sql/inventory_acl_check.sql``), and the tables exist (a partial
    build may lack them)."""
    try:
        return bool(con.execute(_inventory_sql("inventory_acl_check")).fetchone()[0])
    except Exception as exc:  # a partial audit schema: no object_acls
        if "does not exist" not in str(exc):
            raise
        return False


def build_inventory(con: Any, *, by_acl: bool = False) -> dict[str, Any]:
    """Roles, memberships, and for the login roles a report shows a privilege summary.

    Why per path and not per object: expanding every (role, object, privilege) is what the
    effective_privileges view does, and it grows with roles x objects (17.8 million rows
    on the benchmark's medium cluster, hundreds of millions at large). The summary is
    computed from stored grants instead: each grantee's object counts per (database,
    privilege) once, then joined to the roles a login role inherits from. So each entry of
    ``counts`` is {database, privilege, objects, via}: ``via`` is the role that holds the
    grants (the login role itself, a group role, or an owner role it inherits), and
    ``objects`` how many objects that grant covers; several paths can cover the same
    objects. Grants to PUBLIC are the same for everyone and are summarised once, in
    ``public_privileges``. ``top_objects`` lists what is granted to (or owned by) the login
    role itself. System objects are left out. Bounded: the first
    INVENTORY_MAX_LOGIN_ROLES login roles (superusers first, then by name: the order the
    HTML report lists them in) get a summary; ``truncated`` says how many did not.

    ``by_acl``: count the objects from the distinct ACLs where that is exact (a large
    snapshot, whose privileges is a view of them; on a small one the check and the larger
    plan cost more than the counting: 5-9 ms on the bench's small snapshot). The same
    counts either way.
    """
    inv: dict[str, Any] = {
        "roles": [],
        "memberships": [],
        "login_privileges": {},
        "public_privileges": [],
        "truncated": 0,
        "errors": [],
        "escalation_paths": [],
    }
    inv["roles"] = _records(con, "SELECT * FROM roles ORDER BY name", inv)
    # "Who can become superuser": routes to superuser-equivalent or OS access, worst first
    # (PUBLIC, then the shortest), one per start and target kind, bounded.
    inv["escalation_paths"] = _records(
        con,
        f"""
        SELECT from_role, from_kind, target_kind, target, hops, nodes, node_kinds, hop_kinds,
               hop_evidence, weakest_hop, weakest_fix
        FROM escalation_paths WHERE target_kind IN ('superuser', 'os')
        ORDER BY from_oid <> 0, target_kind DESC, hops, from_role
        LIMIT {INVENTORY_MAX_ROUTES}""",  # noqa: S608 - an int constant
        inv,
    )
    inv["memberships"] = _records(con, "SELECT * FROM memberships ORDER BY member, role", inv)

    logins = sorted(
        (r for r in inv["roles"] if r.get("login")),
        key=lambda r: (not r.get("superuser"), str(r.get("name"))),
    )
    inv["truncated"] = max(0, len(logins) - INVENTORY_MAX_LOGIN_ROLES)
    chosen = [str(r["name"]) for r in logins[:INVENTORY_MAX_LOGIN_ROLES]]
    summary: dict[str, dict[str, Any]] = {
        r["name"]: {"superuser": bool(r.get("superuser")), "counts": [], "top_objects": []}
        for r in logins[:INVENTORY_MAX_LOGIN_ROLES]
    }
    # Distinct objects are counted on OIDs, names joined afterwards: the same count over
    # the text columns takes twice as long on 18 million privileges (benchmark, large).
    inv["public_privileges"] = _records(
        con,
        """
        WITH per_object AS (
            SELECT DISTINCT database_oid, privilege, subid > 0 AS columns, object_class,
                   object_oid, subid
            FROM privileges
            WHERE grantee_oid = 0 AND NOT coalesce(is_system, false)
        ), counted AS (
            SELECT database_oid, privilege, columns, count(*) AS objects
            FROM per_object GROUP BY ALL
        )
        SELECT d.name AS database,
               c.privilege || CASE WHEN c.columns THEN ' (columns)' ELSE '' END AS privilege,
               c.objects
        FROM counted c LEFT JOIN databases d ON d.oid = c.database_oid
        ORDER BY database NULLS FIRST, privilege""",
        inv,
    )
    if not chosen:
        return inv
    grantee_counts = _inventory_sql(
        "inventory_counts_by_acl"
        if by_acl and _inventory_by_acl(con)
        else "inventory_counts_by_object"
    )
    counts_sql = f"""
        WITH chosen AS (SELECT unnest(?::VARCHAR[]) AS role),
        paths AS (  -- the roles whose grants the chosen login roles inherit
            SELECT DISTINCT c.role_oid FROM role_closure c
            JOIN chosen ch ON c.member = ch.role AND c.inherits
        ),
        {grantee_counts},
        g AS (  -- each grantee's objects per (database, privilege, class), computed once
            SELECT d.name AS database, r.name AS grantee,
                   c.privilege || CASE WHEN c.columns THEN ' (columns)' ELSE '' END AS privilege,
                   c.object_class, c.objects
            FROM grantee_counts c
            JOIN roles r ON r.oid = c.grantee_oid
            LEFT JOIN databases d ON d.oid = c.database_oid
        )
        SELECT c.member AS role, g.database, g.privilege, g.object_class, g.objects,
               g.grantee AS via
        FROM chosen ch
        JOIN role_closure c ON c.member = ch.role AND c.inherits
        JOIN g ON g.grantee = c.role AND (c.database IS NULL OR c.database = g.database)
        ORDER BY c.member, g.database NULLS FIRST, g.grantee <> c.member, g.grantee,
                 g.privilege, g.object_class"""  # noqa: S608 - a SQL file of ours
    counts = _records(con, counts_sql, inv, [chosen])
    for c in counts:
        entry = summary.get(c.pop("role"))
        if entry is not None:
            entry["counts"].append(c)
    top = _records(
        con,
        """
        SELECT p.grantee AS role, p.database, p.object_class, p.identity,
               list(p.privilege ORDER BY p.privilege) AS privileges,
               [CASE WHEN p.owned THEN 'owner' ELSE 'direct' END] AS via
        -- distinct rows first, then plain aggregates: the same lists and counts as
        -- list(DISTINCT ...) and count(DISTINCT ...) per group (NULL kept once, not
        -- counted), cheaper (large snapshots: ~50 ms of CPU)
        FROM (SELECT DISTINCT p.grantee, p.database, p.object_class, p.identity,
                     p.grantee = p.owner AS owned, p.privilege
              FROM privileges p
              -- a list, not a join: the filter reaches each branch of privileges when it
              -- is a view of the distinct ACLs (large snapshots: 0.8 -> 0.4 s)
              WHERE list_contains(?::VARCHAR[], p.grantee)
                AND NOT coalesce(p.is_system, false)) p
        GROUP BY p.grantee, p.database, p.object_class, p.identity, p.owned
        -- a total order (class and ownership last): groups that tie on the count, the
        -- database and the identity (a table's own row and its columns') are kept and
        -- listed the same way on every run
        QUALIFY row_number() OVER (PARTITION BY p.grantee
                                   ORDER BY count(p.privilege) DESC, p.database,
                                            p.identity, p.object_class, p.owned) <= ?
        ORDER BY role, p.database, p.identity, p.object_class, p.owned""",
        inv,
        [chosen, INVENTORY_TOP_OBJECTS],
    )
    for t in top:
        entry = summary.get(t.pop("role"))
        if entry is not None:
            entry["top_objects"].append(t)
    inv["login_privileges"] = summary
    return inv


def access_review(con: Any) -> dict[str, Any]:
    """Every privilege of every login role, one row per (login role, database, object,
    privilege, how it is held): ``sql/access_review.sql``, for the csv report. Computed only
    when that format is requested: it grows with login roles x objects."""
    sql = (Path(__file__).resolve().parent / "sql" / "access_review.sql").read_text(
        encoding="utf-8"
    )
    cur = con.execute(sql)
    return {
        "columns": [d[0] for d in cur.description],
        "rows": [[_plain(v) for v in row] for row in cur.fetchall()],
    }


def _records(
    con: Any, sql: str, inv: dict[str, Any], params: list[Any] | None = None
) -> list[dict[str, Any]]:
    """The rows of ``sql`` as ``{column: _plain(value)}``, in order (``inv["errors"]`` says
    why there are none when it fails).

    Why this shape: the inventory's largest lists are every role and every membership
    (20,000 and 22,850 rows at the bench's large preset). Each row is ``dict(zip(...))``
    run by ``map`` (no Python loop per row), and only a column whose DuckDB type can hold
    values :func:`_plain` changes is visited again, skipping its NULLs: of the roles only
    ``valid_until``, almost always NULL (~60 -> ~15 ms of CPU). The same keys in the same
    order, the same values (``tests/test_finding_paths.py`` compares it with the
    comprehension)."""
    try:
        cur = con.execute(sql, params) if params else con.execute(sql)
        cols = [d[0] for d in cur.description]
        rows = cur.fetchall()
        if len(set(cols)) != len(cols):
            return [{c: _plain(v) for c, v in zip(cols, row, strict=True)} for row in rows]
        out: list[dict[str, Any]] = list(map(dict, map(zip, itertools.repeat(cols), rows)))
        for i, (c, d) in enumerate(zip(cols, cur.description, strict=True)):
            if not _plain_keeps(str(d[1])):
                for rec, row in zip(out, rows, strict=True):
                    if row[i] is not None:
                        rec[c] = _plain(row[i])
        return out
    except Exception as exc:  # noqa: BLE001 - inventory is best effort; say what failed
        inv["errors"].append(_one_line(str(exc)))
        return []
