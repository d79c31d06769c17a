"""Compliance frameworks as data: requirement -> rules, or MANUAL with the reason.

Why data files (``rules/frameworks/<name>.toml``): an auditor reviews the mapping, not code,
and a requirement that no catalog query can check must stay visible as MANUAL instead of
silently disappearing from the report. A mapping that names an unknown rule is a load
error: a typo would otherwise turn a checked requirement into an unchecked one.

A requirement is *fail* when any mapped rule failed, *error* when one errored,
*incomplete* when a mapped rule could not look at part of what it needs (a source or a
database that was not collected: never PASS), *skipped* when a mapped rule was not run
(disabled, not selected), *pass*
only when every applicable mapped rule passed, and *manual* when no rule maps to it. Rules
skipped only because the server is older than they apply to are not applicable and are
left out of that verdict.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core import resources
from ..core.errors import RuleError, UsageError
from ..core.model import RequirementResult, Rule, RuleResult
from .rules import check_keys, resolve_ids

DEFAULT_CHECKLIST = "golive"
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")

FRAMEWORK_KEYS = ("name", "title", "version", "description", "source", "requirement")
REQUIREMENT_KEYS = ("id", "title", "rules", "manual", "note")


@dataclass(frozen=True)
class Requirement:
    """One requirement of a framework and the rules that check it."""

    id: str
    title: str
    rules: tuple[str, ...] = ()
    manual: str | None = None  # why (part of) it cannot be checked from the catalog
    note: str | None = None


@dataclass
class Framework:
    """A compliance mapping (``rules/frameworks/<name>.toml``): requirements to rules."""

    name: str
    title: str
    path: str
    version: str | None = None
    description: str | None = None
    source: str | None = None
    requirements: list[Requirement] = field(default_factory=list)

    def rule_ids(self) -> set[str]:
        return {rid for req in self.requirements for rid in req.rules}


def available(directory: Path | None = None) -> list[str]:
    """Names of the shipped frameworks (file stems)."""
    d = directory or resources.frameworks_dir()
    return sorted(p.stem for p in d.glob("*.toml")) if d.is_dir() else []


def load_framework(name: str, rules: Sequence[Rule], directory: Path | None = None) -> Framework:
    """A shipped framework by name, or a framework file by path; rule ids checked."""
    candidate = Path(name)
    if name.endswith(".toml") and candidate.is_file():
        path = candidate
    else:
        if not _NAME_RE.match(name):
            raise UsageError(
                f"unknown framework {name!r} (available: {', '.join(available(directory))})"
            )
        path = (directory or resources.frameworks_dir()) / f"{name}.toml"
        if not path.is_file():
            raise UsageError(
                f"unknown framework {name!r} (available: {', '.join(available(directory))})"
            )
    return load_framework_file(path, rules)


def load_all(rules: Sequence[Rule], directory: Path | None = None) -> list[Framework]:
    d = directory or resources.frameworks_dir()
    return [load_framework_file(d / f"{n}.toml", rules) for n in available(d)]


def default_checklist(rules: Sequence[Rule]) -> Framework | None:
    """The guide's go-live checklist, shown in reports when no --framework is chosen.

    Not strict about rule ids: when only some rules are evaluated (a test, a user's
    selection), the checklist's other rules show as "not evaluated" rather than failing
    the run. The shipped mapping itself is checked strictly by the meta-tests.
    """
    path = resources.frameworks_dir() / f"{DEFAULT_CHECKLIST}.toml"
    return load_framework_file(path, rules, strict=False) if path.is_file() else None


def load_framework_file(path: Path, rules: Sequence[Rule], *, strict: bool = True) -> Framework:
    import tomllib  # ~4 ms of import: not at a run's start, which needs no framework yet

    where = str(path)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise RuleError(f"{where}: cannot read framework file ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise RuleError(f"{where}: invalid TOML: {exc}") from None
    check_keys(doc, ("name", "title", "requirement"), FRAMEWORK_KEYS, where)
    for key in ("name", "title", "version", "description", "source"):
        if key in doc and not (isinstance(doc[key], str) and doc[key].strip()):
            raise RuleError(f"{where}: {key!r} must be a non-empty string")
    if doc["name"] != path.stem:
        raise RuleError(f"{where}: name {doc['name']!r} must equal the file name ({path.stem})")
    reqs_doc = doc["requirement"]
    if not isinstance(reqs_doc, list) or not reqs_doc:
        raise RuleError(f"{where}: needs at least one [[requirement]]")

    ids = resolve_ids(rules)
    seen: set[str] = set()
    reqs: list[Requirement] = []
    for i, r in enumerate(reqs_doc, 1):
        at = f"{where}: requirement {i}"
        if not isinstance(r, dict):
            raise RuleError(f"{at}: must be a table")
        check_keys(r, ("id", "title"), REQUIREMENT_KEYS, at)
        rid, title = r["id"], r["title"]
        if not isinstance(rid, str) or not rid or not isinstance(title, str) or not title.strip():
            raise RuleError(f"{at}: 'id' and 'title' must be non-empty strings")
        if rid in seen:
            raise RuleError(f"{at}: duplicate requirement id {rid!r}")
        seen.add(rid)
        mapped = r.get("rules", [])
        if not isinstance(mapped, list) or not all(isinstance(x, str) for x in mapped):
            raise RuleError(f"{at} ({rid}): 'rules' must be a list of rule ids")
        for x in mapped:
            if x not in ids:
                if strict:
                    raise RuleError(f"{at} ({rid}): unknown rule {x!r}")
                ids[x] = x
        manual, note = r.get("manual"), r.get("note")
        for key, value in (("manual", manual), ("note", note)):
            if value is not None and not (isinstance(value, str) and value.strip()):
                raise RuleError(f"{at} ({rid}): {key!r} must be a non-empty string")
        if not mapped and manual is None:
            raise RuleError(f"{at} ({rid}): map it to 'rules' or say why it is 'manual'")
        reqs.append(
            Requirement(
                id=rid,
                title=title.strip(),
                rules=tuple(dict.fromkeys(ids[x] for x in mapped)),
                manual=manual.strip() if manual else None,
                note=note.strip() if note else None,
            )
        )
    return Framework(
        name=doc["name"],
        title=doc["title"],
        path=where,
        version=doc.get("version"),
        description=doc.get("description"),
        source=doc.get("source"),
        requirements=reqs,
    )


def evaluate(
    framework: Framework, results: Iterable[RuleResult], server_version_num: int | None = None
) -> list[RequirementResult]:
    """One RequirementResult per requirement, from the rule results (see module doc)."""
    by_id = {r.rule.id: r for r in results}
    out: list[RequirementResult] = []
    for req in framework.requirements:
        status, note = _verdict(req, by_id, server_version_num)
        out.append(
            RequirementResult(
                framework=framework.name,
                id=req.id,
                title=req.title,
                status=status,
                rules=req.rules,
                note=note,
            )
        )
    return out


def _verdict(
    req: Requirement, by_id: dict[str, RuleResult], server_num: int | None
) -> tuple[str, str | None]:
    notes: list[str] = []
    if req.note:
        notes.append(req.note)
    if not req.rules:
        notes.insert(0, req.manual or "no rule checks this requirement")
        return "manual", " ".join(notes)
    if req.manual:
        notes.append(f"Also check by hand: {req.manual}")

    applicable: list[tuple[str, RuleResult | None]] = []
    for rid in req.rules:
        res = by_id.get(rid)
        if (
            res is not None
            and res.status == "skipped"
            and server_num is not None
            and server_num < res.rule.min_server_version
        ):
            continue  # not applicable to this server version
        applicable.append((rid, res))
    if not applicable:
        return "skipped", _join(["no mapped rule applies to this server version", *notes])

    failed = [rid for rid, res in applicable if res is not None and res.status == "fail"]
    errored = [rid for rid, res in applicable if res is not None and res.status == "error"]
    missing = [rid for rid, res in applicable if res is None]
    skipped = [rid for rid, res in applicable if res is not None and res.status == "skipped"]
    incomplete = [rid for rid, res in applicable if res is not None and res.not_evaluated]
    if failed:
        return "fail", _join([f"failed: {', '.join(failed)}", *notes])
    if errored:
        return "error", _join([f"rule error: {', '.join(errored)}", *notes])
    if incomplete:  # a source or a database it needs was not collected: never PASS
        return "incomplete", _join(
            [f"incomplete: {by_id[rid].rule.id} ({by_id[rid].reason})" for rid in incomplete]
            + notes
        )
    if missing or skipped:
        parts = []
        if skipped:
            parts.append(
                "skipped: "
                + ", ".join(
                    f"{rid} ({by_id[rid].reason})" if by_id[rid].reason else rid for rid in skipped
                )
            )
        if missing:
            parts.append(f"not evaluated: {', '.join(missing)}")
        return "skipped", _join([*parts, *notes])
    return "pass", _join(notes)


def _join(parts: list[str]) -> str | None:
    text = " ".join(p for p in parts if p)
    return text or None


def summary_rows(framework: Framework) -> list[dict[str, Any]]:
    """Plain rows for ``rules`` listings and docs."""
    return [
        {"id": r.id, "title": r.title, "rules": list(r.rules), "manual": r.manual}
        for r in framework.requirements
    ]
