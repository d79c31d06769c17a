"""What the HTML report's templates read, as types.

Why: the templates used to get one untyped dict of about forty keys, so a missing or
misspelled key showed only when a template reached it (StrictUndefined at render time, on
the page that happened to exercise it). Here every value the templates read is a field of a
typed, immutable NamedTuple, built in one place (``html_report.context``), so mypy catches
a missing, misspelled or mistyped field where the page is built, and the templates read
attributes (``page.rules``, ``v.severity``). NamedTuple rather than frozen dataclasses:
the same checks, for a third of the import time (17 frozen dataclasses cost ~6 ms of every
scan that writes HTML, each method generated and compiled at import) and a cheaper
instance per finding row; no template iterates over or indexes a view object.

Names stay raw in these values: the templates escape them (autoescape, ``|pr``,
``|ident``). The exceptions are the Markup fields filled in by ``html_report.write``: our
own CSS and JS, and the ElementTree-escaped SVG.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from ..core.model import RequirementResult, RuleResult
from .common import Summary


class WaiverNote(NamedTuple):
    """What the page says about a waiver (``Waiver.describe()``): a key the waiver file
    left out is None, shown as empty."""

    reason: str | None
    owner: str | None
    ticket: str | None
    expires: str | None  # ISO date

    @classmethod
    def of(cls, described: Any) -> WaiverNote | None:
        if not isinstance(described, Mapping) or not described:
            return None
        return cls(
            reason=described.get("reason"),
            owner=described.get("owner"),
            ticket=described.get("ticket"),
            expires=described.get("expires"),
        )


def _text(v: Any) -> str | None:
    return None if v is None else str(v)


class ResolvedLine(NamedTuple):
    """A baseline entry no finding matches any more. A baseline file needs only each
    entry's fingerprint (``baseline.load``): what it leaves out is None, shown as empty,
    where the dict the template used to read made the whole report fail."""

    rule_id: str | None
    object: str | None
    database: str | None
    role: str | None

    @classmethod
    def of(cls, entry: Mapping[str, Any]) -> ResolvedLine:
        return cls(
            rule_id=_text(entry.get("rule_id")),
            object=_text(entry.get("object")),
            database=_text(entry.get("database")),
            role=_text(entry.get("role")),
        )


class FindingRow(NamedTuple):
    """One finding as a row (the finding_row macro) or a line of the waiver lists."""

    key: str
    """The row's element id is ``f-`` + key: the fingerprint, and for the second and later
    rows of a page sharing one fingerprint, ``-2``, ``-3``... so every id is unique while
    the common case keeps the link ``#f-<fingerprint>``."""
    rule_id: str
    severity: str
    rank: int
    database: str | None
    db_i: int
    role: str | None
    role_i: int
    object_type: str
    object: str
    message: str
    remediation: str | None
    manual: str | None
    destructive: bool
    state: str  # active | baselined | waived
    baseline: str | None
    waiver: WaiverNote | None
    expired_waiver: WaiverNote | None
    widened: tuple[str, ...]
    search: str


class RuleSection(NamedTuple):
    """A rule with findings: its article in "Findings by rule"."""

    id: str
    anchor: str
    title: str
    severity: str
    rank: int
    category: str
    rationale: str
    status: str
    reason: str | None
    fix_safety: str
    references: tuple[Mapping[str, Any], ...]
    counts: Mapping[str, int]
    rows: tuple[FindingRow, ...]
    embedded: int  # findings of the rule in the page's JSON ("Show more")
    has_sql: bool
    not_embedded: int  # findings left to the JSON report
    left_by_db: tuple[tuple[str, int], ...]
    left_by_role: tuple[tuple[str, int], ...]


class RuleLine(NamedTuple):
    """A line of "All rules evaluated"."""

    id: str
    anchor: str
    title: str
    severity: str
    status: str
    counts: Mapping[str, int]
    has_findings: bool
    category: str


class TopRisk(NamedTuple):
    """A line of "Top risks": the worst active finding, where, and its one-line fix."""

    severity: str
    rule_id: str
    title: str
    anchor: str  # its row's element id when the row is in the page, else its rule's
    route: str | None
    where: str
    role: str | None
    message: str
    sql: str | None
    sql_more: int
    manual: str | None


class FrameworkInfo(NamedTuple):
    """A framework's title, version and per-requirement notes (html_text.framework_info)."""

    title: str
    version: Any  # as the framework file gives it (a string or a number)
    notes: Mapping[str, str]  # requirement id -> note

    @classmethod
    def of(cls, info: Mapping[str, Any]) -> FrameworkInfo:
        return cls(title=info["title"], version=info["version"], notes=info["notes"])


class Membership(NamedTuple):
    group: str
    options: tuple[str, ...]  # ADMIN, INHERIT, SET


class PrivilegeTable(NamedTuple):
    """A login role's effective privileges: one line per privilege group per database,
    and the top objects as (database, class, name, privileges, via)."""

    counts: tuple[tuple[str, tuple[str, ...]], ...]
    top: tuple[tuple[str, str, str, str, str], ...]


class LoginCard(NamedTuple):
    name: str
    role_i: int
    attrs: tuple[str, ...]
    extra: tuple[tuple[str, str], ...]
    priv_table: PrivilegeTable | None
    member_of: tuple[Membership, ...]
    privileges: Any  # the generic view: nested dict/list/str, only when priv_table is None
    findings: int


class RouteStep(NamedTuple):
    """A node of an escalation route and the hop that reaches it (inventory
    ``escalation_paths``: the engine writes these as strings)."""

    node: str
    kind: str  # role, PUBLIC, superuser, os...
    hop: str | None  # None for the first node
    why: str | None
    weakest: bool


class Route(NamedTuple):
    from_kind: str | None
    hops: int | None
    chain: tuple[RouteStep, ...]
    fix: str | None  # the SQL that removes the weakest hop


class Routes(NamedTuple):
    routes: tuple[Route, ...]
    left: int


class GraphInfo(NamedTuple):
    boxes: int
    bundled: int
    omitted: int


class PageData(NamedTuple):
    """The page's ``<script type="application/json">`` for report.js."""

    extra: Mapping[str, list[list[Any]]]  # rule id -> compact rows for "Show more"
    total_findings: int
    rows_rendered: int
    graph: Mapping[str, Any] | None

    def as_json(self) -> dict[str, Any]:
        return {
            "format": "pgaudit-roles/html-data",
            "version": 1,
            "page": 100,
            "extra": self.extra,
            "total_findings": self.total_findings,
            "rows_rendered": self.rows_rendered,
            "graph": self.graph,
        }


class Page(NamedTuple):
    """Everything report.html.j2 and its partials read, as ``page.<field>``."""

    tool: str
    version: str
    target: str
    # snapshot meta (types checked when a snapshot is read: collect/snapshot_check.py)
    server_version: str | None
    collected_at: str | None
    connected_user: str | None
    is_superuser: bool | None
    not_collected: tuple[Mapping[str, str | None], ...]
    summary: Summary
    severities: tuple[str, ...]
    fail_on: str
    frameworks: Mapping[str, list[RequirementResult]]
    framework_info: Mapping[str, FrameworkInfo]
    rules: tuple[RuleSection, ...]
    top_risks: tuple[TopRisk, ...]
    all_rules: tuple[RuleLine, ...]
    problems: tuple[RuleResult, ...]
    waived: tuple[FindingRow, ...]
    waived_total: int
    baselined: tuple[FindingRow, ...]
    baselined_total: int
    expired: tuple[FindingRow, ...]
    expired_total: int
    resolved: tuple[ResolvedLine, ...]
    resolved_total: int
    logins: tuple[LoginCard, ...]
    logins_left: int
    graph: str | None  # SVG; html_report.write makes it Markup (ElementTree-escaped)
    graph_info: GraphInfo | None
    routes: Routes | None
    inventory_notes: tuple[str, ...]
    inventory_truncated: int
    db_options: tuple[tuple[str, int], ...]
    role_options: tuple[tuple[str, int], ...]
    data: PageData


class Assets(NamedTuple):
    """Our own static CSS and JS (Markup: not data) and the CSP that pins their hashes."""

    csp: str
    css: str
    js: str
