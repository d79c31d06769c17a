"""``diff OLD NEW``: new, resolved, changed and unknown findings plus raw drift, for the cron.

Inputs are two snapshots (findings are evaluated here, drift is computed from the raw
data) or two JSON reports (findings only: a report holds no raw catalog data, and the diff
says so rather than pretending there was no drift).

A diff must never call something fixed because one side did not look. Each finding is
classified against what *both* sides collected:

- in NEW only: *new* when OLD looked where it lies, else *unknown* (OLD could not see it);
- in OLD only: *resolved* when NEW looked, else *unknown* (NEW could not see it);
- in both with different evidence (privileges widened or narrowed, another path, an
  attribute added): *changed*, old and new side by side; a widened grant gates like a new
  finding.

"Where it lies" is the rule's required sources (pg_hba, password types, settings...), the
finding's database, and, for cluster-wide findings of rules that read objects, every
database: a side that skipped any of them (not readable, failed, left out by ``-d``)
cannot say whether the finding is there.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .collect.snapshot import FORMAT, from_json, is_archive_file, load_archive
from .core.atomic import open_maybe_gzip, write_text
from .core.errors import UsageError
from .core.model import SEVERITIES, at_or_above, evidence, widened, widening_evidence
from .core.resources import templates_dir
from .evaluate import drift
from .evaluate.drift import Coverage
from .evaluate.frameworks import load_framework
from .pipeline import evaluate_snapshot, load_rules_for
from .reports.common import json_text, printable

if TYPE_CHECKING:
    from .config import Config

KIND_CATEGORIES: dict[str, tuple[str, ...]] = {
    "roles": ("roles",),
    "memberships": ("roles",),
    "privileges": ("privileges",),
    "ownership": ("ownership",),
    "default-privileges": ("default-privileges",),
    "hba": ("hba",),
    "settings": ("settings",),
    "databases": (),
}
"""``diff --kind`` -> the rule categories whose findings stay in scope."""


@dataclass
class DiffResult:
    old_label: str
    new_label: str
    kind: str  # "snapshot" | "report"
    new: list[dict[str, Any]] = field(default_factory=list)
    resolved: list[dict[str, Any]] = field(default_factory=list)
    changed: list[dict[str, Any]] = field(default_factory=list)
    unknown: list[dict[str, Any]] = field(default_factory=list)
    unchanged: int = 0
    drift: dict[str, Any] | None = None
    coverage: list[str] = field(default_factory=list)
    scope: dict[str, list[str]] = field(default_factory=dict)

    def gating_new(self, fail_on: str) -> list[dict[str, Any]]:
        """What fails ``--fail-on``: new findings, changed findings whose grant widened, and
        unknown findings present in NEW (OLD could not see them: they may be new)."""

        def gates(f: dict[str, Any]) -> bool:
            return (
                not f.get("suppressed")
                and not f.get("baselined")
                and at_or_above(f["severity"], fail_on)
            )

        return (
            [f for f in self.new if gates(f)]
            + [c for c in self.changed if c["widened"] and gates(c)]
            + [u for u in self.unknown if u["present_in"] == "new" and gates(u)]
        )

    def drift_count(self) -> int:
        return 0 if self.drift is None else drift.count(self.drift)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": "pgaudit-roles/diff",
            "version": 2,
            "old": self.old_label,
            "new": self.new_label,
            "inputs": self.kind,
            "scope": self.scope,
            "coverage": {"unknown": self.coverage},
            "findings": {
                "new": self.new,
                "resolved": self.resolved,
                "changed": self.changed,
                "unknown": self.unknown,
                "unchanged": self.unchanged,
            },
            "drift": self.drift,
            "drift_count": None if self.drift is None else self.drift_count(),
        }


def _finding_entry(f: Any) -> dict[str, Any]:
    get = (lambda k: f.get(k)) if isinstance(f, dict) else (lambda k: getattr(f, k))
    out = {
        k: get(k)
        for k in (
            "fingerprint",
            "rule_id",
            "severity",
            "database",
            "object_type",
            "object_identity",
            "role",
            "message",
            "remediation",
            "suppressed",
        )
    }
    if not isinstance(f, dict) and get("baseline") == "unchanged":  # diff --baseline accepts it
        out["baselined"] = True
    details = get("details") or {}
    out["_evidence"] = evidence(details) if isinstance(details, dict) else {}
    return out


def _public(entry: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in entry.items() if not k.startswith("_")}


@dataclass
class _Side:
    """What one input looked at, for classifying the findings only it has."""

    label: str
    sources: dict[str, str]  # source -> why it was not collected
    gaps: dict[str, str]  # database -> why it was not collected
    status: dict[str, tuple[str, str | None]]  # rule id -> (status, reason)

    def why_not_seen(self, f: dict[str, Any], requires: tuple[str, ...]) -> str | None:
        st, reason = self.status.get(f["rule_id"], ("missing", None))
        if st in ("skipped", "error", "missing"):
            what = "not evaluated" if st == "missing" else st
            return f"{f['rule_id']} {what} in {self.label}" + (f" ({reason})" if reason else "")
        for src in requires:
            if src in self.sources:
                return f"{src} not collected in {self.label} ({self.sources[src]})"
        db = f.get("database")
        if db and db in self.gaps:
            return f"database {db} not collected in {self.label} ({self.gaps[db]})"
        if not db and "objects" in requires and self.gaps:
            names = ", ".join(sorted(self.gaps)[:3]) + (", ..." if len(self.gaps) > 3 else "")
            return f"{len(self.gaps)} database(s) not collected in {self.label} ({names})"
        return None


def _read_input(path: str) -> tuple[str, Any]:
    """("snapshot", Snapshot) or ("report", report dict)."""
    import zlib

    if is_archive_file(path):
        return "snapshot", load_archive(path)
    try:
        with open_maybe_gzip(path) as fh:
            doc = json.load(fh)
    except FileNotFoundError:
        raise UsageError(f"{path}: file not found") from None
    except (OSError, ValueError, EOFError, zlib.error) as exc:
        raise UsageError(f"{path}: not a JSON snapshot or report ({exc})") from None
    except RecursionError:
        raise UsageError(f"{path}: not a JSON snapshot or report (nested too deeply)") from None
    if isinstance(doc, dict) and doc.get("format") == FORMAT:
        return "snapshot", from_json(doc, path)
    if isinstance(doc, dict) and "findings" in doc and "schema_version" in doc:
        _check_report(doc, path)
        return "report", doc
    raise UsageError(f"{path}: neither a pgaudit-roles snapshot nor a JSON report")


_REPORT_TEXT_KEYS = ("database", "object_type", "object_identity", "role", "message", "remediation")


def _check_report(doc: dict[str, Any], path: str) -> None:
    """A report's findings have the fields the comparison reads, with their types: a
    damaged report is one UsageError naming the finding, not a TypeError later."""
    items = doc["findings"]
    if not isinstance(items, list):
        raise UsageError(f"{path}: report 'findings' must be a list")
    for i, f in enumerate(items):
        where = f"{path}: report findings[{i}]"
        if not isinstance(f, dict):
            raise UsageError(f"{where}: must be an object")
        for key in ("fingerprint", "rule_id"):
            if not isinstance(f.get(key), str):
                raise UsageError(f"{where}.{key}: must be text")
        if f.get("severity") not in SEVERITIES:
            raise UsageError(f"{where}.severity: must be one of {', '.join(SEVERITIES)}")
        for key in _REPORT_TEXT_KEYS:
            if f.get(key) is not None and not isinstance(f[key], str):
                raise UsageError(f"{where}.{key}: must be text or null")
        if f.get("suppressed") is not None and not isinstance(f["suppressed"], dict):
            raise UsageError(f"{where}.suppressed: must be an object or null")


def _snapshot_side(snap: Any, result: Any, label: str) -> _Side:
    cov = Coverage(snap, label)
    return _Side(
        label=label,
        sources=cov.sources,
        gaps=cov.gaps,
        status={r.rule.id: (r.status, r.reason) for r in result.results},
    )


def _report_side(doc: dict[str, Any], label: str) -> _Side:
    scan = doc.get("scan") or {}
    sources = {
        str(m.get("source")): str(m.get("reason") or "not collected")
        for m in scan.get("not_collected") or []
        if isinstance(m, dict)
    }
    gaps = {
        str(d.get("name")): str(d.get("reason") or d.get("status"))
        for d in scan.get("databases") or []
        if isinstance(d, dict) and d.get("status") not in (None, "collected")
    }
    status = {
        str(r.get("id")): (str(r.get("status")), r.get("reason"))
        for r in doc.get("rules") or []
        if isinstance(r, dict)
    }
    return _Side(label=label, sources=sources, gaps=gaps, status=status)


def _rule_info(rules: list[Any]) -> dict[str, tuple[tuple[str, ...], str]]:
    return {r.id: (tuple(r.requires), r.category) for r in rules}


def _report_rule_info(*docs: dict[str, Any]) -> dict[str, tuple[tuple[str, ...], str]]:
    out: dict[str, tuple[tuple[str, ...], str]] = {}
    for doc in docs:
        for r in doc.get("rules") or []:
            if isinstance(r, dict) and r.get("id"):
                out[str(r["id"])] = (tuple(r.get("requires") or ()), str(r.get("category") or ""))
    return out


def compare_files(
    old_path: str,
    new_path: str,
    cfg: Config,
    *,
    databases: tuple[str, ...] = (),
    kinds: tuple[str, ...] = (),
) -> DiffResult:

    old_kind, old = _read_input(old_path)
    new_kind, new = _read_input(new_path)
    if old_kind != new_kind:
        raise UsageError(
            f"cannot diff a {old_kind} ({old_path}) against a {new_kind} "
            f"({new_path}): give two snapshots or two JSON reports"
        )
    result = DiffResult(
        old_label=old_path,
        new_label=new_path,
        kind=old_kind,
        scope={"databases": list(databases), "kinds": list(kinds)},
    )
    if old_kind != "snapshot" and cfg.baseline is not None:
        raise UsageError(
            "--baseline needs two snapshots (JSON reports are compared as they were written)"
        )
    if old_kind == "snapshot":
        rules = load_rules_for(cfg)
        scoped = (
            _rules_in_framework(rules, cfg.framework)
            if cfg.framework
            else _rules_in_kinds(rules, kinds)
        )
        old_r = evaluate_snapshot(old, scoped, cfg, inventory=False)
        if same_content(old_path, new_path):  # one file twice (the demo's `diff snap snap`)
            new_r = old_r
        else:
            new_r = evaluate_snapshot(new, scoped, cfg, inventory=False)
        old_f = [_finding_entry(f) for f in old_r.findings]
        new_f = [_finding_entry(f) for f in new_r.findings]
        old_side, new_side = _snapshot_side(old, old_r, "OLD"), _snapshot_side(new, new_r, "NEW")
        info = _rule_info(rules)
        result.drift = drift.compare(old, new, databases=databases or None, kinds=kinds or None)
        result.coverage = list(result.drift["coverage"]["unknown"])
    else:
        old_f = [_finding_entry(f) for f in old.get("findings", [])]
        new_f = [_finding_entry(f) for f in new.get("findings", [])]
        old_side, new_side = _report_side(old, "OLD"), _report_side(new, "NEW")
        info = _report_rule_info(old, new)
        for side in (old_side, new_side):
            result.coverage += [
                f"{src}: not collected in {side.label} ({why}): unknown"
                for src, why in sorted(side.sources.items())
            ]
            result.coverage += [
                f"database {db}: not collected in {side.label} ({why})"
                for db, why in sorted(side.gaps.items())
            ]
    if cfg.framework and old_kind != "snapshot":  # snapshots: evaluate() scoped them already
        rules = load_rules_for(cfg)
        wanted = load_framework(cfg.framework, rules).rule_ids()
        coverage = {r.id for r in rules if r.category == "coverage"}
        old_f = [f for f in old_f if f["rule_id"] in wanted or f["rule_id"] in coverage]
        new_f = [f for f in new_f if f["rule_id"] in wanted or f["rule_id"] in coverage]
    in_scope = _scope_filter(databases, kinds, info)
    old_f = [f for f in old_f if in_scope(f)]
    new_f = [f for f in new_f if in_scope(f)]
    _classify(result, old_f, new_f, old_side, new_side, info)
    return result


def same_content(a: str, b: str) -> bool:
    """Whether two input files hold the same bytes (the same file, or a copy).

    Why: an evaluation is a function of the snapshot's content (the file's name is only
    quoted in errors), so two inputs with the same bytes have the same findings, and the
    second evaluation, most of a diff's time, is the first's result. Different bytes
    (even the same snapshot gzipped at another time) are simply evaluated twice."""
    import filecmp

    try:
        if os.path.samefile(a, b):
            return True
        return os.path.getsize(a) == os.path.getsize(b) and filecmp.cmp(a, b, shallow=False)
    except OSError:
        return False


def _rules_in_kinds(rules: list[Any], kinds: tuple[str, ...]) -> list[Any]:
    """The rules whose findings a ``--kind`` scope keeps (every rule without one).

    Why: the scope filter drops the findings of every other category, so their rules need
    not run; each rule's findings do not depend on which other rules run beside it (the
    audit schema holds what the chosen rules read, ``engine.evaluate``). A framework
    scopes by rule id instead (``_rules_in_framework``)."""
    if not kinds:
        return rules
    cats = {c for k in kinds for c in KIND_CATEGORIES[k]}
    return [r for r in rules if r.category in cats]


def _rules_in_framework(rules: list[Any], framework: str) -> list[Any]:
    """The rules of ``framework`` and the coverage rules: all a ``diff --framework`` reads.

    Why: ``engine.evaluate`` with a framework runs every rule to count what lies outside it
    (``outside_framework``, shown by scan and check), but a diff compares only the findings
    of the framework's rules and the coverage rules; the others' evaluation was thrown away
    (for golive, two thirds of the rules). The framework's rule ids are all in this list,
    as ``load_framework`` checks again in the evaluation."""
    wanted = load_framework(framework, rules).rule_ids()
    return [r for r in rules if r.id in wanted or r.category == "coverage"]


def _scope_filter(
    databases: tuple[str, ...], kinds: tuple[str, ...], info: dict[str, tuple[tuple[str, ...], str]]
) -> Any:
    cats = {c for k in kinds for c in KIND_CATEGORIES[k]}

    def keep(f: dict[str, Any]) -> bool:
        if databases and f.get("database") not in databases:
            return False
        return not kinds or info.get(f["rule_id"], ((), ""))[1] in cats

    return keep


def _classify(
    result: DiffResult,
    old_f: list[dict[str, Any]],
    new_f: list[dict[str, Any]],
    old_side: _Side,
    new_side: _Side,
    info: dict[str, tuple[tuple[str, ...], str]],
) -> None:
    old_by = {f["fingerprint"]: f for f in old_f}
    new_by = {f["fingerprint"]: f for f in new_f}
    for fp, f in new_by.items():
        if fp in old_by:
            continue
        why = old_side.why_not_seen(f, info.get(f["rule_id"], ((), ""))[0])
        if why:
            result.unknown.append({**_public(f), "present_in": "new", "why": why})
        else:
            result.new.append(_public(f))
    for fp, f in old_by.items():
        if fp in new_by:
            continue
        why = new_side.why_not_seen(f, info.get(f["rule_id"], ((), ""))[0])
        if why:
            result.unknown.append({**_public(f), "present_in": "old", "why": why})
        else:
            result.resolved.append(_public(f))
    for fp in old_by.keys() & new_by.keys():
        o, n = old_by[fp], new_by[fp]
        if o["_evidence"] == n["_evidence"]:
            result.unchanged += 1
            continue
        grew = widened(widening_evidence(o["_evidence"]), widening_evidence(n["_evidence"]))
        result.changed.append(
            {
                **_public(n),
                "old_message": o["message"],
                "old_severity": o["severity"],
                "widened": grew,
                "changes": evidence_changes(o["_evidence"], n["_evidence"]),
            }
        )
    result.new = _sorted(result.new)
    result.resolved = _sorted(result.resolved)
    result.changed = _sorted(result.changed)
    result.unknown = _sorted(result.unknown)


def evidence_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Readable lines for what a finding's evidence says differently now."""
    out: list[str] = []
    for k in sorted(set(old) | set(new)):
        a, b = old.get(k), new.get(k)
        if a == b:
            continue
        label = k.replace("_", " ")
        if (
            isinstance(a, list | tuple | type(None))
            and isinstance(b, list | tuple | type(None))
            and (a is not None or b is not None)
        ):
            before = [str(x) for x in a or []]
            after = [str(x) for x in b or []]
            gained = [x for x in after if x not in before]
            lost = [x for x in before if x not in after]
            was, now = ", ".join(before) or "none", ", ".join(after) or "none"
            if gained and not lost:
                out.append(f"{label}: {was} widened to {now}")
            elif lost and not gained:
                out.append(f"{label}: {was} narrowed to {now}")
            else:
                out.append(f"{label}: {was} changed to {now}")
        else:
            out.append(f"{label}: {_word(a)} changed to {_word(b)}")
    return out


def _word(v: Any) -> str:
    if v is None:
        return "none"
    if isinstance(v, bool):
        return "yes" if v else "no"
    return str(v)


def _sorted(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    return sorted(
        items,
        key=lambda f: (
            rank.get(f["severity"], 9),
            f["rule_id"],
            f["database"] or "",
            f["object_identity"] or "",
            f["role"] or "",
        ),
    )


def render_text(d: DiffResult) -> str:
    lines = [f"pgaudit-roles diff {printable(d.old_label)} -> {printable(d.new_label)}"]
    if d.scope.get("databases") or d.scope.get("kinds"):
        parts = []
        if d.scope.get("databases"):
            parts.append("databases " + ", ".join(printable(x) for x in d.scope["databases"]))
        if d.scope.get("kinds"):
            parts.append("kinds " + ", ".join(d.scope["kinds"]))
        lines.append("scope: " + "; ".join(parts))
    lines.append(
        f"findings: {len(d.new)} new, {len(d.resolved)} resolved, {len(d.changed)} changed, "
        f"{len(d.unknown)} unknown, {d.unchanged} unchanged"
    )
    if d.coverage:
        lines.append("not compared (one side did not look; nothing here is resolved or new):")
        lines += [f"  {printable(c)}" for c in d.coverage]
    for title, items in (("NEW", d.new), ("RESOLVED", d.resolved)):
        for f in items:
            lines.append(
                f"  {title:<8} {f['severity']:<8} {f['rule_id']}  {printable(f['message'] or '')}"
            )
    for c in d.changed:
        tag = "WIDENED" if c["widened"] else "CHANGED"
        lines.append(
            f"  {tag:<8} {c['severity']:<8} {c['rule_id']}  now: {printable(c['message'] or '')}"
        )
        lines.append(
            f"  {'':<8} {'':<8} {'':<{len(c['rule_id'])}}  was: {printable(c['old_message'] or '')}"
        )
        for ch in c["changes"]:
            lines.append(f"  {'':<8} {'':<8} {'':<{len(c['rule_id'])}}  {printable(ch)}")
    for u in d.unknown:
        lines.append(
            f"  {'UNKNOWN':<8} {u['severity']:<8} {u['rule_id']}  {printable(u['message'] or '')}"
            f" [only in {u['present_in'].upper()}; {printable(u['why'])}]"
        )
    if d.drift is None:
        lines.append(
            "drift: not available (JSON reports hold findings only; diff two snapshots "
            "for raw drift)"
        )
        return "\n".join(lines) + "\n"
    drift_text = drift_lines(d.drift)
    lines.append(f"drift: {len(drift_text)} change(s)" if drift_text else "drift: none")
    lines += ["  " + printable(line) for line in drift_text]
    return "\n".join(lines) + "\n"


_ROLE_FLAGS = {
    "superuser": "SUPERUSER",
    "inherit": "INHERIT",
    "createrole": "CREATEROLE",
    "createdb": "CREATEDB",
    "login": "LOGIN",
    "replication": "REPLICATION",
    "bypassrls": "BYPASSRLS",
}
_MEMBER_FLAGS = {"admin_option": "ADMIN OPTION", "inherit_option": "INHERIT", "set_option": "SET"}


def _role_change(attr: str, old: Any, new: Any) -> str:
    """``createrole False -> True`` as a DBA says it: ``gained CREATEROLE``."""
    if attr in _ROLE_FLAGS:
        return f"{'gained' if new else 'lost'} {_ROLE_FLAGS[attr]}"
    if attr == "connection_limit":

        def lim(v: Any) -> str:
            return "unlimited" if v is None or int(v) < 0 else str(v)

        return f"connection limit {lim(old)} -> {lim(new)}"
    if attr == "valid_until":
        return f"password valid until {old or 'forever'} -> {new or 'forever'}"
    if attr == "password_type":
        return f"password {old or 'unknown'} -> {new or 'unknown'}"
    if attr == "config":
        before, after = list(old or []), list(new or [])
        parts = [f"set {x}" for x in after if x not in before]
        parts += [
            f"reset {x.split('=', 1)[0]}"
            for x in before
            if x.split("=", 1)[0] not in {y.split("=", 1)[0] for y in after}
        ]
        return "role settings: " + (", ".join(parts) or f"{before} -> {after}")
    return f"{attr.replace('_', ' ')} {old} -> {new}"


def _obj(x: dict[str, Any]) -> str:
    name = ".".join(p for p in (x.get("schema"), x.get("object")) if p)
    if x.get("args") is not None:
        name += f"({x['args']})"
    if x.get("column"):
        name += f" column {x['column']}"
    where = f" in {x['database']}" if x.get("database") else ""
    cls = {"relation": "table"}.get(x["object_class"], x["object_class"])
    return f"{cls} {name}{where}"


def _privilege_lines(p: dict[str, Any]) -> list[str]:
    """One line per (object, grantee) whose privileges changed, with the whole before and
    after: ``app_reader: SELECT widened to INSERT, SELECT, UPDATE on table s.t in db``."""
    out: list[str] = []
    for g in p.get("by_grantee", []):
        before, after = g["old"], g["new"]
        where, who = _obj(g), g["grantee"]
        if not before:
            out.append(f"{who} was granted {', '.join(after)} on {where}")
        elif not after:
            out.append(f"{who} lost {', '.join(before)} on {where} (no privileges left)")
        elif set(before) < set(after):
            out.append(f"{who}: {', '.join(before)} widened to {', '.join(after)} on {where}")
        elif set(after) < set(before):
            out.append(f"{who}: {', '.join(before)} narrowed to {', '.join(after)} on {where}")
        else:
            out.append(f"{who}: {', '.join(before)} changed to {', '.join(after)} on {where}")
    return out


def drift_lines(dr: dict[str, Any]) -> list[str]:
    """One readable line per change (names shown unquoted; the caller escapes controls)."""
    out: list[str] = []
    r = dr.get("roles")
    if r:
        out += [f"role added: {n}" for n in r["added"]]
        out += [f"role removed: {n}" for n in r["removed"]]
        for c in r["changed"]:
            changes = ", ".join(_role_change(k, v[0], v[1]) for k, v in c["changes"].items())
            out.append(f"role {c['role']}: {changes}")
    m = dr.get("memberships")
    if m:
        out += [f"{x['member']} became a member of {x['role']}" for x in m["added"]]
        out += [f"{x['member']} is no longer a member of {x['role']}" for x in m["removed"]]
        for x in m["changed"]:
            parts = [
                f"{'gained' if x['new'].get(k) else 'lost'} {label}"
                for k, label in _MEMBER_FLAGS.items()
                if x["old"].get(k) != x["new"].get(k)
            ]
            out.append(f"{x['member']} in {x['role']}: {', '.join(parts)}")
    if "privileges" in dr:
        out += _privilege_lines(dr["privileges"])
    if "ownership" in dr:
        out += [
            f"owner of {_obj(x)} changed from {x['old_owner']} to {x['new_owner']}"
            for x in dr["ownership"]["changed"]
        ]
    if "objects" in dr:
        out += [f"{_obj(x)} created" for x in dr["objects"]["added"]]
        out += [f"{_obj(x)} dropped" for x in dr["objects"]["removed"]]
    dp = dr.get("default_privileges")
    if dp:
        for verb, items in (("added", dp["added"]), ("removed", dp["removed"])):
            for x in items:
                where = f"schema {x['schema']}" if x["schema"] else "all schemas"
                out.append(
                    f"default privilege {verb}: for role {x['creator']} in {where} of "
                    f"{x['database']}: {x['privilege']} on {x['objtype']} to {x['grantee']}"
                )
    h = dr.get("hba")
    if h:
        out += [f"pg_hba line added: {t}" for t in h["added"]]
        out += [f"pg_hba line removed: {t}" for t in h["removed"]]
        if h.get("reordered"):
            out.append("pg_hba lines reordered (first match wins: the effective rules changed)")
    if "settings" in dr:
        out += [
            f"setting {x['name']} changed from {_word(x['old'])} to {_word(x['new'])}"
            for x in dr["settings"]["changed"]
        ]
    if "databases" in dr:
        out += [f"database added: {n}" for n in dr["databases"]["added"]]
        out += [f"database removed: {n}" for n in dr["databases"]["removed"]]
    return out


def render_html(d: DiffResult) -> str:
    import jinja2

    # finalize: every {{ value }} of text is shown with control and bidi characters escaped
    # (a role name with a newline or U+202E must not rearrange the page)
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        finalize=lambda v: printable(v) if isinstance(v, str) else v,
    )
    tpl = env.get_template("diff.html.j2")
    return tpl.render(d=d, drift=drift_lines(d.drift) if d.drift is not None else None)


FILE_NAMES: dict[str, str] = {
    "text": "pgaudit-diff.txt",
    "json": "pgaudit-diff.json",
    "html": "pgaudit-diff.html",
}
"""``diff --format ... --output-dir DIR``: the file each format is written to in DIR."""


def parse_formats(spec: str) -> list[str]:
    """``"json,html"`` -> the diff formats asked for, de-duplicated, in order (exit 2 on an
    unknown one)."""
    out: list[str] = []
    for item in spec.split(","):
        name = item.strip().lower()
        if not name:
            continue
        if name not in FILE_NAMES:
            raise UsageError(f"unknown diff format {name!r} (text, json, html)")
        if name not in out:
            out.append(name)
    if not out:
        raise UsageError("--format names no format (text, json, html)")
    return out


def write(d: DiffResult, fmt: str, path: Path | None) -> str | None:
    """Render ``fmt``; write atomically to ``path`` or return the text for stdout."""
    if fmt == "json":
        text = json_text(json.dumps(d.to_json(), indent=1, ensure_ascii=False, default=str)) + "\n"
    elif fmt == "html":
        text = render_html(d)
    elif fmt == "text":
        text = render_text(d)
    else:
        raise UsageError(f"unknown diff format {fmt!r} (text, json, html)")
    if path is None:
        return text
    write_text(path, text)
    return None


def write_files(d: DiffResult, formats: list[str], directory: Path) -> list[Path]:
    """Write each format to ``directory/FILE_NAMES[fmt]`` (each file atomically).

    Why: a cron that keeps the JSON for machines and the HTML for people gets both from one
    comparison; two ``diff`` runs would evaluate both snapshots twice, most of a diff's
    time, for the same result."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt in formats:
        path = directory / FILE_NAMES[fmt]
        write(d, fmt, path)
        paths.append(path)
    return paths
