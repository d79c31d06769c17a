"""Baselines: accept today's findings so that a gate fails only on new ones.

Entries are keyed by the finding fingerprint (rule + database + object + role), never by
message text, line or time, and carry readable fields so a reviewer can read the diff of a
baseline file. Entries are sorted so the file is stable under version control.

The fingerprint says *which* finding; it does not say how bad it is. A baseline that
accepted "PUBLIC holds INSERT on t" must not also accept "PUBLIC holds INSERT, UPDATE,
DELETE, TRUNCATE on t", so since version 2 each entry also stores ``evidence`` (a digest
of the finding's details without OIDs and scan dates) and ``widening`` (its privilege and
column lists as they were). A finding whose lists gained an element is "updated": it
gates like a new one and the reports show the old lists beside the new. A finding whose
evidence changed otherwise (narrowed, another path) stays accepted. Version 1 files (no
evidence) are still read: their entries accept the finding as it is now.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .. import __version__
from ..core.atomic import write_text
from ..core.errors import ConfigError
from ..core.model import Finding, widened, widening_evidence

FORMAT = "pgaudit-roles/baseline"
VERSION = 2
READABLE_VERSIONS = (1, 2)


def entry(f: Finding) -> dict[str, Any]:
    return {
        "fingerprint": f.fingerprint,
        "rule_id": f.rule_id,
        "severity": f.severity,
        "database": f.database,
        "object": f.object_identity or f.object_name,
        "role": f.role,
        "evidence": f.evidence_digest,
        "widening": widening_evidence(f.details),
    }


def create(findings: Iterable[Finding], path: str | Path) -> int:
    """Write a baseline of the findings that are not waived; return how many."""
    entries = sorted(
        (entry(f) for f in findings if f.suppressed is None),
        key=lambda e: (
            e["rule_id"],
            e["database"] or "",
            e["object"] or "",
            e["role"] or "",
            e["fingerprint"],
        ),
    )
    unique = list(_by_fingerprint(entries).values())
    doc = {
        "format": FORMAT,
        "version": VERSION,
        "tool_version": __version__,
        "created_at": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        "findings": unique,
    }
    write_text(path, json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    return len(unique)


def load(path: str | Path) -> dict[str, dict[str, Any]]:
    """fingerprint -> entry. A missing or malformed file is a ConfigError (exit 2)."""
    p = Path(path)
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"baseline file not found: {p} (create it from today's findings with: "
            f"{create_command(p)})"
        ) from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{p}: not a valid baseline JSON file ({exc})") from None
    except RecursionError:
        raise ConfigError(f"{p}: not a valid baseline JSON file (nested too deeply)") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ConfigError(f"{p}: not a pgaudit-roles baseline (format field missing or wrong)")
    if doc.get("version") not in READABLE_VERSIONS:
        raise ConfigError(f"{p}: baseline version {doc.get('version')!r} is not supported")
    items = doc.get("findings")
    if not isinstance(items, list) or not all(
        isinstance(e, dict) and isinstance(e.get("fingerprint"), str) for e in items
    ):
        raise ConfigError(f"{p}: 'findings' must be a list of entries with a fingerprint")
    return _by_fingerprint(items)


def _by_fingerprint(entries: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """One entry per fingerprint, merging the entries that share one (see :func:`_merged`)."""
    out: dict[str, dict[str, Any]] = {}
    for e in entries:
        prev = out.get(e["fingerprint"])
        out[e["fingerprint"]] = e if prev is None else _merged(prev, e)
    return out


def _merged(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """One entry for two findings that share a fingerprint (a rule may report one object
    and role once per grantor): the baseline accepted the union of their lists, so a
    finding is "updated" only when it holds more than all of them together, whatever
    order the rows came in."""
    wa, wb = a.get("widening"), b.get("widening")
    if not isinstance(wa, dict) or not isinstance(wb, dict):
        return a
    union = {
        k: sorted({str(x) for x in (wa.get(k) or []) + (wb.get(k) or [])})
        for k in set(wa) | set(wb)
    }
    return {**a, "widening": union}


def create_command(path: str | Path, source: str = "SNAPSHOT_OR_DSN") -> str:
    """The exact command that creates the missing baseline ``path`` (quoted for sh)."""
    import shlex

    return f"pgaudit-roles baseline create {source} -o {shlex.quote(str(path))}"


def apply(findings: Iterable[Finding], accepted: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Mark findings new/unchanged/updated; return the baseline entries now resolved."""
    seen = set()
    for f in findings:
        e = accepted.get(f.fingerprint)
        if e is None:
            f.baseline = "new"
            continue
        seen.add(f.fingerprint)
        f.baseline = "unchanged"
        if e.get("evidence") and e["evidence"] != f.evidence_digest:
            stored = e.get("widening")
            old: dict[str, list[str]] = stored if isinstance(stored, dict) else {}
            grew = widened(old, widening_evidence(f.details))
            if grew:
                f.baseline = "updated"
                f.previous = {"widened": grew, "baseline_severity": e.get("severity")}
    return [e for fp, e in accepted.items() if fp not in seen]
