"""``diff OLD NEW``: new and resolved findings plus raw drift, for the nightly cron.

Inputs are two snapshots (findings are evaluated here, drift is computed from the raw
data) or two JSON reports (findings only: a report holds no raw catalog data, and the diff
says so rather than pretending there was no drift).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import UsageError
from .model import SEVERITIES, at_or_above

if TYPE_CHECKING:
    from .config import Config


@dataclass
class DiffResult:
    old_label: str
    new_label: str
    kind: str  # "snapshot" | "report"
    new: list[dict[str, Any]] = field(default_factory=list)
    resolved: list[dict[str, Any]] = field(default_factory=list)
    unchanged: int = 0
    drift: dict[str, Any] | None = None

    def gating_new(self, fail_on: str) -> list[dict[str, Any]]:
        return [f for f in self.new
                if not f.get("suppressed") and at_or_above(f["severity"], fail_on)]

    def to_json(self) -> dict[str, Any]:
        return {"format": "pgaudit-roles/diff", "version": 1, "old": self.old_label,
                "new": self.new_label, "inputs": self.kind,
                "findings": {"new": self.new, "resolved": self.resolved,
                             "unchanged": self.unchanged},
                "drift": self.drift}


def _finding_entry(f: Any) -> dict[str, Any]:
    get = (lambda k: f.get(k)) if isinstance(f, dict) else (lambda k: getattr(f, k))
    return {k: get(k) for k in ("fingerprint", "rule_id", "severity", "database", "object_type",
                                "object_identity", "role", "message", "remediation", "suppressed")}


def _read_input(path: str) -> tuple[str, Any]:
    """("snapshot", Snapshot) or ("report", report dict)."""
    import zlib

    from .atomic import open_maybe_gzip
    from .snapshot import FORMAT, from_json, is_archive_file, load_archive

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


_REPORT_TEXT_KEYS = ("database", "object_type", "object_identity", "role", "message",
                     "remediation")


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


def compare_files(old_path: str, new_path: str, cfg: Config) -> DiffResult:
    from . import drift
    from .scan import evaluate_snapshot, load_rules_for

    old_kind, old = _read_input(old_path)
    new_kind, new = _read_input(new_path)
    if old_kind != new_kind:
        raise UsageError(f"cannot diff a {old_kind} ({old_path}) against a {new_kind} "
                         f"({new_path}): give two snapshots or two JSON reports")
    result = DiffResult(old_label=old_path, new_label=new_path, kind=old_kind)
    if old_kind == "snapshot":
        rules = load_rules_for(cfg)
        old_f = [_finding_entry(f) for f in evaluate_snapshot(old, rules, cfg).findings]
        new_f = [_finding_entry(f) for f in evaluate_snapshot(new, rules, cfg).findings]
        result.drift = drift.compare(old, new)
    else:
        old_f = [_finding_entry(f) for f in old.get("findings", [])]
        new_f = [_finding_entry(f) for f in new.get("findings", [])]
    old_fp = {f["fingerprint"] for f in old_f}
    new_fp = {f["fingerprint"] for f in new_f}
    result.new = _sorted([f for f in new_f if f["fingerprint"] not in old_fp])
    result.resolved = _sorted([f for f in old_f if f["fingerprint"] not in new_fp])
    result.unchanged = len(old_fp & new_fp)
    return result


def _sorted(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    return sorted(items, key=lambda f: (rank.get(f["severity"], 9), f["rule_id"],
                                        f["database"] or "", f["object_identity"] or "",
                                        f["role"] or ""))


def render_text(d: DiffResult) -> str:
    from .reports.common import printable

    lines = [f"pgaudit-roles diff {printable(d.old_label)} -> {printable(d.new_label)}",
             f"findings: {len(d.new)} new, {len(d.resolved)} resolved, {d.unchanged} unchanged"]
    for title, items in (("NEW", d.new), ("RESOLVED", d.resolved)):
        for f in items:
            lines.append(f"  {title:<8} {f['severity']:<8} {f['rule_id']}  {printable(f['message'] or '')}")
    if d.drift is None:
        lines.append("drift: not available (JSON reports hold findings only; diff two snapshots "
                     "for raw drift)")
        return "\n".join(lines) + "\n"
    lines.append("drift:")
    for line in drift_lines(d.drift):
        lines.append("  " + printable(line))
    if len(lines) and lines[-1] == "drift:":
        lines.append("  none")
    return "\n".join(lines) + "\n"


def drift_lines(dr: dict[str, Any]) -> list[str]:
    """One readable line per change (names shown unquoted; the caller escapes controls)."""
    out: list[str] = []
    r = dr["roles"]
    out += [f"role added: {n}" for n in r["added"]]
    out += [f"role removed: {n}" for n in r["removed"]]
    for c in r["changed"]:
        changes = ", ".join(f"{k} {v[0]!r} -> {v[1]!r}" for k, v in c["changes"].items())
        out.append(f"role changed: {c['role']}: {changes}")
    m = dr["memberships"]
    out += [f"membership added: {x['member']} in {x['role']}" for x in m["added"]]
    out += [f"membership removed: {x['member']} in {x['role']}" for x in m["removed"]]
    out += [f"membership options changed: {x['member']} in {x['role']}: {x['old']} -> {x['new']}"
            for x in m["changed"]]

    def obj(x: dict[str, Any]) -> str:
        name = ".".join(p for p in (x.get("schema"), x.get("object")) if p)
        if x.get("args") is not None:
            name += f"({x['args']})"
        if x.get("column"):
            name += f" column {x['column']}"
        where = f" in {x['database']}" if x.get("database") else ""
        return f"{x['object_class']} {name}{where}"

    p = dr["privileges"]
    out += [f"grant: {x['privilege']}{' WITH GRANT OPTION' if x['grantable'] else ''} on "
            f"{obj(x)} to {x['grantee']}" for x in p["granted"]]
    out += [f"revoke: {x['privilege']} on {obj(x)} from {x['grantee']}" for x in p["revoked"]]
    out += [f"owner changed: {obj(x)}: {x['old_owner']} -> {x['new_owner']}"
            for x in dr["ownership"]["changed"]]
    out += [f"object added: {obj(x)}" for x in dr["objects"]["added"]]
    out += [f"object removed: {obj(x)}" for x in dr["objects"]["removed"]]
    dp = dr["default_privileges"]
    for verb, items in (("added", dp["added"]), ("removed", dp["removed"])):
        for x in items:
            where = f"schema {x['schema']}" if x["schema"] else "all schemas"
            out.append(f"default privilege {verb}: for role {x['creator']} in {where} of "
                       f"{x['database']}: {x['privilege']} on {x['objtype']} to {x['grantee']}")
    h = dr["hba"]
    out += [f"pg_hba line added: {t}" for t in h["added"]]
    out += [f"pg_hba line removed: {t}" for t in h["removed"]]
    if h.get("reordered"):
        out.append("pg_hba lines reordered (first match wins: the effective rules changed)")
    out += [f"setting changed: {x['name']} {x['old']!r} -> {x['new']!r}" for x in dr["settings"]["changed"]]
    out += [f"database added: {n}" for n in dr["databases"]["added"]]
    out += [f"database removed: {n}" for n in dr["databases"]["removed"]]
    return out


def render_html(d: DiffResult) -> str:
    import jinja2

    from .reports.common import printable
    from .resources import templates_dir

    # finalize: every {{ value }} of text is shown with control and bidi characters escaped
    # (a role name with a newline or U+202E must not rearrange the page)
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates_dir())),
                             autoescape=True, undefined=jinja2.StrictUndefined,
                             finalize=lambda v: printable(v) if isinstance(v, str) else v)
    tpl = env.get_template("diff.html.j2")
    return tpl.render(d=d, drift=drift_lines(d.drift) if d.drift is not None else None)


def write(d: DiffResult, fmt: str, path: Path | None) -> str | None:
    """Render ``fmt``; write atomically to ``path`` or return the text for stdout."""
    from .atomic import write_text

    if fmt == "json":
        from .reports.common import json_text

        text = json_text(json.dumps(d.to_json(), indent=1, ensure_ascii=False,
                                    default=str)) + "\n"
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
