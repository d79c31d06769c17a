"""The combined fleet report as JSON (schemas/fleet-report.schema.json).

One document per run: the run (inventory, selection, shard, interrupted), the fleet
summary and verdict, one entry per target (status, its own verdict and counts, the paths
of its own reports and snapshot, its findings in brief), the rules failing on the most
targets, the worst findings across the fleet, and the drift between environments. Each
target's full report (rules, evidence, remediation) is its own JSON beside it.
"""

from __future__ import annotations

import json
from typing import IO, Any

from .. import __version__
from ..core.model import Finding
from ..reports.common import TOOL_NAME, json_text, object_label, scrub, summarize
from .outcome import FleetResult, TargetOutcome

FORMAT = "pgaudit-roles/fleet-report"
SCHEMA_VERSION = "1.0"


def finding_brief(f: Finding) -> dict[str, Any]:
    return {
        "fingerprint": f.fingerprint,
        "rule_id": f.rule_id,
        "severity": f.severity,
        "message": f.message,
        "database": f.database,
        "object_type": f.object_type,
        "object": object_label(f) or None,
        "role": f.role,
        "gating": f.gating,
        "waived": f.suppressed is not None,
        "baseline": f.baseline,
    }


def target_json(o: TargetOutcome) -> dict[str, Any]:
    t = o.target
    res = o.result
    summary = summarize(res) if res is not None else None
    return {
        "name": t.name,
        "directory": f"targets/{t.slug}",
        "environment": t.environment,
        "application": t.application,
        "team": t.team,
        "tags": list(t.tags),
        "where": o.label,
        "status": o.status,
        "reason": o.reason,
        "verdict": summary.verdict if summary else "not_run",
        "server_version": (
            str(res.meta.get("server_version"))
            if res is not None and res.meta.get("server_version")
            else None
        ),
        "fail_on": res.fail_on if res is not None else None,
        "duration_s": o.duration_s,
        "peak_rss_kb": o.peak_rss_kb,
        "counts": o.counts(),
        "gating": len(o.gating),
        "coverage_gaps": summary.coverage_gaps if summary else 0,
        "reports": dict(o.reports),
        "snapshot": o.snapshot,
        "findings": [finding_brief(f) for f in (res.findings if res is not None else [])],
    }


def document(r: FleetResult) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": TOOL_NAME, "version": __version__},
        "run": {
            "inventory": r.inventory,
            "inventory_kind": r.inventory_kind,
            "started_at": r.started_at.isoformat(timespec="seconds"),
            "finished_at": r.finished_at.isoformat(timespec="seconds"),
            "duration_s": round((r.finished_at - r.started_at).total_seconds(), 3),
            "selection": list(r.selection),
            "shard": r.shard,
            "parallel": r.parallel,
            "jobs": r.jobs,
            "targets_in_inventory": r.total_in_inventory,
            "interrupted": r.interrupted,
            "incomplete": r.incomplete,
        },
        "summary": {
            "verdict": r.verdict(),
            "exit_code": r.exit_code(),
            "fail_on": r.fail_on,
            "targets": len(r.outcomes),
            "by_status": r.by_status(),
            "by_severity": r.severity_totals(),
            "gating": r.gating_total(),
            "targets_failing": sum(1 for o in r.outcomes if o.gating),
        },
        "targets": [target_json(o) for o in r.outcomes],
        "rules": r.rule_rows(),
        "worst": [{"target": o.target.name, **finding_brief(f)} for o, f in r.worst()],
        "environments": r.environments,
        "environment_notes": list(r.environment_notes),
    }


def write(result: FleetResult, fh: IO[str], **_: Any) -> None:
    doc = scrub(document(result))
    fh.write(json_text(json.dumps(doc, ensure_ascii=False, indent=1, default=str)))
    fh.write("\n")


def render(result: FleetResult) -> str:
    import io

    buf = io.StringIO()
    write(result, buf)
    return buf.getvalue()
