"""Baselines: accept today's findings so that a gate fails only on new ones.

Entries are keyed by the finding fingerprint (rule + database + object + role), never by
message text, line or time, and carry readable fields so a reviewer can read the diff of a
baseline file. Entries are sorted so the file is stable under version control.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from . import __version__
from .atomic import write_text
from .errors import ConfigError
from .model import Finding

FORMAT = "pgaudit-roles/baseline"
VERSION = 1


def entry(f: Finding) -> dict[str, Any]:
    return {"fingerprint": f.fingerprint, "rule_id": f.rule_id, "severity": f.severity,
            "database": f.database, "object": f.object_identity or f.object_name, "role": f.role}


def create(findings: Iterable[Finding], path: str | Path) -> int:
    """Write a baseline of the findings that are not waived; return how many."""
    entries = sorted((entry(f) for f in findings if f.suppressed is None),
                     key=lambda e: (e["rule_id"], e["database"] or "", e["object"] or "",
                                    e["role"] or "", e["fingerprint"]))
    unique = list({e["fingerprint"]: e for e in entries}.values())
    doc = {"format": FORMAT, "version": VERSION, "tool_version": __version__,
           "created_at": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
           "findings": unique}
    write_text(path, json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    return len(unique)


def load(path: str | Path) -> dict[str, dict[str, Any]]:
    """fingerprint -> entry. A missing or malformed file is a ConfigError (exit 2)."""
    p = Path(path)
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"baseline file not found: {p}") from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{p}: not a valid baseline JSON file ({exc})") from None
    except RecursionError:
        raise ConfigError(f"{p}: not a valid baseline JSON file (nested too deeply)") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ConfigError(f"{p}: not a pgaudit-roles baseline (format field missing or wrong)")
    if doc.get("version") != VERSION:
        raise ConfigError(f"{p}: baseline version {doc.get('version')!r} is not supported")
    items = doc.get("findings")
    if not isinstance(items, list) or not all(isinstance(e, dict)
                                              and isinstance(e.get("fingerprint"), str)
                                              for e in items):
        raise ConfigError(f"{p}: 'findings' must be a list of entries with a fingerprint")
    return {e["fingerprint"]: e for e in items}


def apply(findings: Iterable[Finding], accepted: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Mark findings new/unchanged; return the baseline entries that are now resolved."""
    seen = set()
    for f in findings:
        if f.fingerprint in accepted:
            f.baseline = "unchanged"
            seen.add(f.fingerprint)
        else:
            f.baseline = "new"
    return [e for fp, e in accepted.items() if fp not in seen]
