"""The HTML report: one self-contained file a manager can read in a go-live meeting.

Safety: rendered only through Jinja2 with autoescape on for every template and
StrictUndefined; data never passes ``|safe``. The two exceptions are our own static assets
(CSS and JS, read from the templates directory, not from data) and the membership graph,
which graph_svg serialises with ElementTree (escaping every text and attribute). Data for
client-side filtering goes into ``<script type="application/json">`` through ``tojson``.
Links are allowlisted to http(s). A Content-Security-Policy meta allows only the inline
script and style whose hashes we compute here: no network, no other script.

Scale: the first ``html_rows_per_rule`` findings of each rule are rendered as rows; up to
``html_max_embedded`` more are embedded as JSON and paginated client-side ("Show more");
anything beyond is summarised (counts by database and role) and left to the JSON report.
"""

from __future__ import annotations

import base64
import hashlib
from collections import Counter
from pathlib import Path
from typing import IO, Any

from .. import __version__
from ..core.model import (
    SEVERITIES,
    SEVERITY_RANK,
    Finding,
    RequirementResult,
    RuleResult,
    ScanResult,
)
from ..core.resources import templates_dir
from ..evaluate.template_cache import bytecode_cache
from . import graph_svg, html_text
from .common import (
    TOOL_NAME,
    not_collected,
    object_label,
    printable,
    references,
    rule_counts,
    summarize,
    target_label,
    where_label,
)
from .html_view import (
    Assets,
    FindingRow,
    FrameworkInfo,
    GraphInfo,
    LoginCard,
    Membership,
    Page,
    PageData,
    PrivilegeTable,
    ResolvedLine,
    Route,
    Routes,
    RouteStep,
    RuleLine,
    RuleSection,
    TopRisk,
    WaiverNote,
)
from .registry import ReportContext
from .sql_script import one_line
from .text_report import widened_lines

DEFAULTS: dict[str, int] = {
    "html_rows_per_rule": 50,
    "html_max_embedded": 20000,
    "html_max_listed": 500,
    "graph_max_nodes": 300,
    "html_top_risks": 10,
}
_ATTRS = ("superuser", "createrole", "createdb", "replication", "bypassrls", "inherit", "login")
_STATE_ORDER = {"active": 0, "baselined": 1, "waived": 2}


def _state(f: Finding) -> str:
    if f.suppressed is not None:
        return "waived"
    if f.baseline == "unchanged":
        return "baselined"
    return "active"


class _RowKeys:
    """Element ids for finding rows, unique in the page: a row's key is its fingerprint,
    and ``<fingerprint>-2``, ``-3``... for later rows sharing it (two findings of one rule
    on the same object and role). Rows are keyed in page order (rendered rows, then those
    embedded for "Show more"), so the first keeps the plain ``#f-<fingerprint>`` link and
    the keys are the same on every render of the same result. Fingerprints are hex: no
    suffixed key can equal another finding's fingerprint."""

    def __init__(self) -> None:
        self._seen: Counter[str] = Counter()
        self.rendered: dict[int, str] = {}  # id(finding) -> key of a rendered row (top risks)

    def key(self, f: Finding) -> str:
        n = self._seen[f.fingerprint]
        self._seen[f.fingerprint] += 1
        return f.fingerprint if n == 0 else f"{f.fingerprint}-{n + 1}"

    def rendered_key(self, f: Finding) -> str:
        k = self.rendered[id(f)] = self.key(f)
        return k


class _Facets:
    """Index numbers for databases and roles: filters compare numbers, not raw names."""

    def __init__(self) -> None:
        self.dbs: dict[str, int] = {}
        self.roles: dict[str, int] = {}

    def db(self, name: str | None) -> int:
        return self.dbs.setdefault(name if name is not None else "", len(self.dbs))

    def role(self, name: str | None) -> int:
        if name is None:
            return -1
        return self.roles.setdefault(name, len(self.roles))


def _finding_view(f: Finding, facets: _Facets, key: str | None = None) -> FindingRow:
    """``key``: the row's element id suffix (_RowKeys); the fingerprint for lists whose
    lines carry no id."""
    obj = object_label(f)
    state = _state(f)
    search = printable(
        " ".join(
            x
            for x in (
                f.rule_id,
                f.severity,
                f.database,
                f.object_type,
                obj,
                f.role,
                f.message,
                state,
            )
            if x
        )
    ).lower()
    return FindingRow(
        key=f.fingerprint if key is None else key,
        rule_id=f.rule_id,
        severity=f.severity,
        rank=SEVERITY_RANK[f.severity],
        database=f.database,
        db_i=facets.db(f.database),
        role=f.role,
        role_i=facets.role(f.role),
        object_type=f.object_type or "object",
        object=obj,
        message=f.message,
        remediation=_sql_one_line(f.remediation),
        manual=f.manual,
        destructive=f.destructive,
        state=state,
        baseline=f.baseline,
        waiver=WaiverNote.of(f.suppressed),
        expired_waiver=WaiverNote.of(f.details.get("expired_waiver")),
        widened=tuple(widened_lines(f)),
        search=search,
    )


def _sql_one_line(sql: str | None) -> str | None:
    """The copyable SQL with each name or string holding a control or bidi character in
    its ``U&"..."`` form (proved equivalent by pglast): one statement never shows on two
    lines, and no U+202E reorders what a reviewer reads."""
    if sql is None:
        return None

    return one_line(sql)


def _compact(v: FindingRow) -> list[Any]:
    """A finding for the embedded JSON (client-side pages): positional to keep it small.
    Display fields are already ``printable`` (as the templates' ``pr`` filter makes them);
    report.js puts them in the page with textContent only."""

    def pr(x: Any) -> Any:
        return None if x is None else printable(x)

    return [
        v.key,  # report.js: the row's id is "f-" + key, as finding_row makes it
        v.severity,
        v.rank,
        pr(v.database),
        v.db_i,
        pr(v.role),
        v.role_i,
        pr(v.object_type),
        pr(v.object),
        pr(v.message),
        v.remediation,
        None if v.manual is None else printable(" ".join(v.manual.split())),
        v.destructive,
        v.state,
        v.search,
    ]


def _top(counter: Counter[str], n: int = 8) -> tuple[tuple[str, int], ...]:
    return tuple(sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:n])


def _rule_view(
    r: RuleResult,
    fail_on: str,
    facets: _Facets,
    opts: dict[str, int],
    budget: list[int],
    extra: dict[str, list[list[Any]]],
    keys: _RowKeys,
) -> RuleSection:
    ordered = sorted(
        r.findings,
        key=lambda f: (
            _STATE_ORDER[_state(f)],
            -SEVERITY_RANK[f.severity],
            f.database or "",
            object_label(f),
            f.role or "",
        ),
    )
    n_rows = opts["html_rows_per_rule"]
    rows = tuple(_finding_view(f, facets, keys.rendered_key(f)) for f in ordered[:n_rows])
    rest = ordered[n_rows:]
    take = min(len(rest), max(0, budget[0]))
    budget[0] -= take
    if take:
        extra[r.rule.id] = [_compact(_finding_view(f, facets, keys.key(f))) for f in rest[:take]]
    left = rest[take:]
    for f in left:  # still index them so every database and role can be filtered on
        facets.db(f.database)
        facets.role(f.role)
    return RuleSection(
        id=r.rule.id,
        anchor="rule-" + r.rule.help_anchor,
        title=r.rule.title,
        severity=r.effective_severity,
        rank=SEVERITY_RANK[r.effective_severity],
        category=r.rule.category,
        rationale=r.rule.rationale,
        status=r.status,
        reason=r.reason,
        fix_safety=r.rule.fix_safety,
        references=tuple(references(r)),
        counts=rule_counts(r, fail_on),
        rows=rows,
        embedded=take,
        has_sql=any(f.remediation for f in r.findings),
        not_embedded=len(left),
        left_by_db=_top(Counter(f.database or "(cluster)" for f in left)),
        left_by_role=_top(Counter(f.role for f in left if f.role)),
    )


def _login_roles(
    result: ScanResult, limit: int, facets: _Facets
) -> tuple[tuple[LoginCard, ...], int]:
    inv = result.inventory or {}
    roles = [
        r for r in inv.get("roles") or [] if isinstance(r, dict) and isinstance(r.get("name"), str)
    ]
    by_oid = {r.get("oid"): r["name"] for r in roles if r.get("oid") is not None}
    member_of: dict[str, list[Membership]] = {}
    for m in inv.get("memberships") or []:
        if not isinstance(m, dict):
            continue
        group = m.get("role") if "role" in m else by_oid.get(m.get("role_oid"))
        member = m.get("member") if "member" in m else by_oid.get(m.get("member_oid"))
        if isinstance(group, str) and isinstance(member, str):
            opts = tuple(
                o.upper() for o in ("admin", "inherit", "set") if m.get(f"{o}_option", o != "admin")
            )
            member_of.setdefault(member, []).append(Membership(group, opts))
    # the engine fills "login_privileges" ({role: {counts: [...], top_objects: [...]}});
    # "role_privileges" (any nested dict/list) is accepted too
    privs = inv.get("login_privileges") or inv.get("role_privileges") or {}
    per_role = Counter(f.role for f in result.findings if f.role and f.gating)
    login = sorted(
        (r for r in roles if r.get("login")), key=lambda r: (not r.get("superuser"), r["name"])
    )
    out = []
    for r in login[:limit]:
        attrs = [a.upper() for a in _ATTRS if r.get(a) and a not in ("login", "inherit")]
        if r.get("inherit") is False:
            attrs.append("NOINHERIT")
        extra = []
        if r.get("connection_limit") not in (None, -1):
            extra.append(("connection limit", str(r["connection_limit"])))
        if r.get("valid_until"):
            extra.append(("valid until", str(r["valid_until"])))
        if r.get("password_type"):
            extra.append(("password", str(r["password_type"])))
        if r.get("config"):
            extra.append(("settings", ", ".join(map(str, r["config"]))))
        table = _privilege_table(privs.get(r["name"]))
        out.append(
            LoginCard(
                name=r["name"],
                role_i=facets.role(r["name"]),
                attrs=tuple(attrs),
                extra=tuple(extra),
                priv_table=table,
                member_of=tuple(sorted(member_of.get(r["name"], []), key=lambda x: x.group)),
                # the generic view is shown only without a table: not built for nothing
                privileges=_plain(privs.get(r["name"])) if table is None else None,
                findings=per_role.get(r["name"], 0),
            )
        )
    return tuple(out), max(0, len(login) - limit)


def _routes(result: ScanResult, limit: int) -> Routes | None:
    """Escalation routes to superuser-equivalent or OS access, worst first, each as a
    chain of (node, node kind, hop kind, evidence) for the "Who can become superuser"
    section; None when the result has no route inventory (an older engine)."""
    inv = result.inventory or {}
    if "escalation_paths" not in inv:
        return None
    rows = [r for r in inv.get("escalation_paths") or [] if isinstance(r, dict)]
    out = []
    for r in rows[:limit]:
        nodes = list(r.get("nodes") or [])
        kinds = list(r.get("node_kinds") or [])
        hops = list(r.get("hop_kinds") or [])
        why = list(r.get("hop_evidence") or [])
        chain = tuple(
            RouteStep(
                node=n,
                kind=kinds[i] if i < len(kinds) else "role",
                hop=hops[i - 1] if 0 < i <= len(hops) else None,
                why=why[i - 1] if 0 < i <= len(why) else None,
                weakest=i == r.get("weakest_hop"),
            )
            for i, n in enumerate(nodes)
        )
        out.append(
            Route(
                from_kind=r.get("from_kind"),
                hops=r.get("hops"),
                chain=chain,
                fix=r.get("weakest_fix"),
            )
        )
    return Routes(routes=tuple(out), left=max(0, len(rows) - limit))


def _first_fix(f: Finding) -> tuple[str | None, str | None, int]:
    """A finding's one-line fix: its first SQL statement (and how many follow), else the
    first sentence of its manual steps."""
    sql = _sql_one_line(f.remediation)
    if sql:
        lines = [ln for ln in sql.split("\n") if ln.strip() and not ln.lstrip().startswith("--")]
        if lines:
            return lines[0], None, len(lines) - 1
    if f.manual:
        text = " ".join(f.manual.split())
        cut = text.find(". ")
        text = text if cut < 0 else text[: cut + 1]
        return None, text if len(text) <= 220 else text[:219] + "\u2026", 0
    return None, None, 0


def _top_risks(result: ScanResult, limit: int, rendered: dict[int, str]) -> tuple[TopRisk, ...]:
    """The worst active findings across rules, for the block the page opens with: highest
    severity first, escalation routes first within a severity, at most two per rule
    unless fewer than ``limit`` rules have findings; info findings never. ``rendered``:
    id(finding) -> its row's key, for the findings rendered as rows."""
    rules = {r.rule.id: r for r in result.results}
    active = [f for f in result.findings if _state(f) == "active" and f.severity != "info"]
    active.sort(
        key=lambda f: (
            -SEVERITY_RANK[f.severity],
            not f.rule_id.startswith("PGR-PATH"),
            f.rule_id,
            where_label(f),
            f.role or "",
        )
    )
    picked: list[Finding] = []
    per_rule: Counter[str] = Counter()
    for f in active:
        if len(picked) >= limit:
            break
        if per_rule[f.rule_id] < 2:
            picked.append(f)
            per_rule[f.rule_id] += 1
    for f in active:
        if len(picked) >= limit:
            break
        if f not in picked:
            picked.append(f)
    out = []
    for f in picked:
        r = rules.get(f.rule_id)
        route = f.details.get("route") if isinstance(f.details.get("route"), str) else None
        sql, manual, more = _first_fix(f)
        key = rendered.get(id(f))
        anchor = (
            ("f-" + key)
            if key is not None
            else ("rule-" + r.rule.help_anchor if r is not None else "findings")
        )
        out.append(
            TopRisk(
                severity=f.severity,
                rule_id=f.rule_id,
                title=r.rule.title if r is not None else f.rule_id,
                anchor=anchor,
                route=route,
                where=where_label(f),
                role=f.role,
                message=f.message,
                sql=sql,
                sql_more=more,
                manual=manual,
            )
        )
    return tuple(out)


def _route_chains(result: ScanResult) -> list[list[str]]:
    inv = result.inventory or {}
    return [
        [str(n) for n in (r.get("nodes") or [])]
        for r in inv.get("escalation_paths") or []
        if isinstance(r, dict)
    ]


def _privilege_table(value: Any) -> PrivilegeTable | None:
    """The engine's summary shape as rows for a compact table, else None (generic view)."""
    if not isinstance(value, dict) or not isinstance(value.get("counts"), list):
        return None
    counts = [c for c in value["counts"] if isinstance(c, dict)]
    top = [t for t in value.get("top_objects") or [] if isinstance(t, dict)]

    def join(v: Any) -> str:
        return ", ".join(map(str, v)) if isinstance(v, list) else ("" if v is None else str(v))

    # one line per database: "SELECT on 188 tables, CREATE on 1 schema (via db_writer)";
    # the same privilege on two kinds of object is two entries, each naming its kind
    per_db: dict[str, dict[tuple[str, str], int]] = {}
    via_of: dict[tuple[str, str, str], set[str]] = {}
    for c in counts:
        db = str(c.get("database") or "(cluster)")
        key = (str(c.get("privilege") or ""), str(c.get("object_class") or ""))
        try:
            n = int(c.get("objects") or 0)
        except (TypeError, ValueError):
            n = 0
        per_db.setdefault(db, {})[key] = per_db.get(db, {}).get(key, 0) + n
        if c.get("via"):
            via_of.setdefault((db, *key), set()).add(str(c["via"]))
    lines: dict[str, list[str]] = {}
    for db, entries in per_db.items():
        # privileges held on the same objects the same way share a line:
        # "DELETE, INSERT, UPDATE on 5 tables (via db_writer)"
        grouped: dict[tuple[str, int, tuple[str, ...]], list[str]] = {}
        for (priv, cls), n in entries.items():
            if cls == "relation" and priv == "USAGE":
                cls = "sequence"  # USAGE on a relation exists only for sequences
            via = tuple(
                sorted(via_of.get((db, priv, cls if cls != "sequence" else "relation"), ()))
            )
            grouped.setdefault((cls, n, via), []).append(priv)
        for (cls, n, via), privs in grouped.items():
            lines.setdefault(db, []).append(
                f"{', '.join(privs)} on {_objects(n, cls)}"
                + (f" (via {', '.join(via)})" if via else "")
            )
    return PrivilegeTable(
        counts=tuple((db, tuple(ls)) for db, ls in sorted(lines.items())),
        top=tuple(
            (
                str(t.get("database") or "(cluster)"),
                str(t.get("object_class") or ""),
                str(t.get("identity") or ""),
                join(t.get("privileges")),
                join(t.get("via")),
            )
            for t in top
        ),
    )


_CLASS_PLURAL = {
    "relation": "tables",
    "table": "tables",
    "schema": "schemas",
    "database": "databases",
    "function": "functions",
    "sequence": "sequences",
    "type": "types",
    "language": "languages",
    "large_object": "large objects",
    "fdw": "foreign-data wrappers",
    "server": "foreign servers",
    "tablespace": "tablespaces",
    "parameter": "parameters",
    "column": "columns",
}


def _objects(n: int, object_class: str) -> str:
    """``1 schema``, ``12 tables`` (relations are tables, views and sequences alike)."""
    plural = _CLASS_PLURAL.get(object_class, (object_class or "object") + "s")
    if n == 1:
        singular = {
            "tables": "table",
            "large objects": "large object",
            "foreign-data wrappers": "foreign-data wrapper",
            "foreign servers": "foreign server",
        }.get(plural, plural[:-1])
        return f"1 {singular}"
    return f"{n:,} {plural}"


def _plain(value: Any, depth: int = 0) -> Any:
    """Inventory privilege summaries as nested dict/list/str for the template (bounded)."""
    if value is None:
        return None
    if depth > 3:
        return str(value)
    if isinstance(value, dict):
        return {str(k): _plain(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        items = list(value)
        return [_plain(v, depth + 1) for v in items]
    return str(value) if not isinstance(value, bool | int | float) else value


def context(result: ScanResult, **options: Any) -> Page:
    """Everything the templates show, as typed data (names still raw: templates escape).
    The one place the page is built: each value below is a field of html_view.Page."""
    opts = {k: int(options.get(k, v)) for k, v in DEFAULTS.items()}
    s = summarize(result)
    meta = result.meta
    facets = _Facets()
    keys = _RowKeys()
    extra: dict[str, list[list[Any]]] = {}
    budget = [opts["html_max_embedded"]]
    failing = sorted(
        (r for r in result.results if r.findings),
        key=lambda r: (
            all(_state(f) != "active" for f in r.findings),
            -SEVERITY_RANK[r.effective_severity],
            r.rule.id,
        ),
    )
    rules = tuple(_rule_view(r, result.fail_on, facets, opts, budget, extra, keys) for r in failing)
    listed = opts["html_max_listed"]
    waived = [f for f in result.findings if f.suppressed is not None]
    baselined = [f for f in result.findings if f.suppressed is None and f.baseline == "unchanged"]
    expired = [
        f for f in result.findings if f.suppressed is None and f.details.get("expired_waiver")
    ]
    frameworks: dict[str, list[RequirementResult]] = {}
    for req in result.requirements:
        frameworks.setdefault(req.framework, []).append(req)
    logins, logins_left = _login_roles(result, listed, facets)
    routes = _routes(result, listed)
    graph = graph_svg.render(
        result.inventory or {},
        max_nodes=opts["graph_max_nodes"],
        routes=_route_chains(result)[:listed],
    )
    titles = {name: FrameworkInfo.of(html_text.framework_info(name, meta)) for name in frameworks}
    top_risks = _top_risks(result, opts["html_top_risks"], keys.rendered)
    all_rules = sorted(
        (
            RuleLine(
                id=r.rule.id,
                anchor="rule-" + r.rule.help_anchor,
                title=r.rule.title,
                severity=r.effective_severity,
                status=r.status,
                counts=rule_counts(r, result.fail_on),
                has_findings=bool(r.findings),
                category=r.rule.category,
            )
            for r in result.results
        ),
        key=lambda x: x.id,
    )
    dbs = sorted(facets.dbs.items(), key=lambda kv: kv[0])
    roles = sorted(facets.roles.items(), key=lambda kv: kv[0])
    waived_rows = tuple(_finding_view(f, facets) for f in waived[:listed])
    baselined_rows = tuple(_finding_view(f, facets) for f in baselined[:listed])
    expired_rows = tuple(_finding_view(f, facets) for f in expired[:listed])
    return Page(
        tool=TOOL_NAME,
        version=__version__,
        target=target_label(meta),
        server_version=meta.get("server_version"),
        collected_at=meta.get("collected_at"),
        connected_user=meta.get("connected_user"),
        is_superuser=meta.get("is_superuser"),
        not_collected=tuple(not_collected(meta)),
        summary=s,
        severities=tuple(SEVERITIES),
        fail_on=result.fail_on,
        frameworks=frameworks,
        framework_info=titles,
        rules=rules,
        top_risks=top_risks,
        all_rules=tuple(all_rules),
        problems=tuple(
            r for r in result.results if r.status in ("skipped", "error") or r.not_evaluated
        ),
        waived=waived_rows,
        waived_total=len(waived),
        baselined=baselined_rows,
        baselined_total=len(baselined),
        expired=expired_rows,
        expired_total=len(expired),
        resolved=tuple(ResolvedLine.of(e) for e in result.resolved[:listed]),
        resolved_total=len(result.resolved),
        logins=logins,
        logins_left=logins_left,
        graph=graph.svg if graph is not None else None,
        graph_info=(
            GraphInfo(
                boxes=len(graph.data["names"]),
                bundled=graph.layout.bundled,
                omitted=graph.layout.omitted,
            )
            if graph is not None and graph.layout
            else None
        ),
        routes=routes,
        inventory_notes=tuple(str(e) for e in (result.inventory or {}).get("errors") or [])[:10],
        inventory_truncated=int((result.inventory or {}).get("truncated") or 0),
        db_options=tuple(("(cluster)" if name == "" else name, i) for name, i in dbs),
        role_options=tuple(roles),
        data=PageData(
            extra=extra,
            total_findings=s.total,
            rows_rendered=sum(len(r.rows) for r in rules),
            graph=graph.data if graph is not None else None,
        ),
    )


def _asset(name: str) -> str:
    return (templates_dir() / name).read_text(encoding="utf-8")


def _csp_hash(text: str) -> str:
    return (
        "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode() + "'"
    )


def environment() -> Any:
    """The Jinja2 environment: autoescape for every template, StrictUndefined."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        # compiled templates kept between runs (about 0.1 s of CPU per report)
        bytecode_cache=bytecode_cache("html", Path(__file__).read_bytes()),
    )

    env.filters["pr"] = printable
    env.filters["ident"] = html_text.ident
    env.filters["inline"] = html_text.inline
    env.filters["paragraphs"] = html_text.paragraphs
    env.globals["note_parts"] = html_text.note_parts
    env.filters["num"] = lambda n: f"{n:,}"
    return env


def write(result: ScanResult, fh: IO[str], **options: Any) -> None:
    """Render the report into ``fh`` (Jinja streams the template in chunks)."""
    write_page(context(result, **options), fh)


def write_page(page: Page, fh: IO[str]) -> None:
    """Render a page built by ``context`` into ``fh``."""
    from markupsafe import Markup

    env = environment()
    css, js = _asset("report.css"), _asset("report.js")
    csp = (
        "default-src 'none'; img-src data:; base-uri 'none'; form-action 'none'; "
        f"style-src {_csp_hash(css)}; script-src {_csp_hash(js)}"
    )
    if page.graph:  # ElementTree-escaped SVG
        page = page._replace(graph=Markup(page.graph))
    assets = Assets(csp=csp, css=Markup(css), js=Markup(js))  # our own static files, not data
    for chunk in env.get_template("report.html.j2").generate(page=page, assets=assets):
        fh.write(chunk)


def render(result: ScanResult, **options: Any) -> str:
    import io

    buf = io.StringIO()
    write(result, buf, **options)
    return buf.getvalue()


def template_names() -> list[str]:
    return sorted(p.name for p in Path(templates_dir()).iterdir() if p.is_file())


def write_report(ctx: ReportContext, fh: IO[str]) -> None:
    """The registry's entry point (registry.REPORTERS): the typed options it declares."""
    o = ctx.options
    write(
        ctx.result,
        fh,
        html_rows_per_rule=o.html_rows_per_rule,
        html_max_embedded=o.html_max_embedded,
        html_max_listed=o.html_max_listed,
        graph_max_nodes=o.graph_max_nodes,
    )
