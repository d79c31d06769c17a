"""The JSON report: the versioned, machine-readable contract (schemas/report.schema.json).

It is written as a stream of chunks, one finding at a time, so a scan with 100,000
findings never becomes one giant string in memory; ``render`` joins the same chunks for
the rare caller that wants a string. ``findings`` comes last so a consumer reading the
head of the file sees the summary first.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from json.encoder import encode_basestring as _encode_str
from typing import IO, Any

from .. import __version__
from ..core.model import Finding, RequirementResult, RuleResult, ScanResult
from .common import (
    TOOL_NAME,
    json_text,
    not_collected,
    references,
    rule_counts,
    scrub,
    summarize,
    target_of,
)
from .registry import ReportContext

SCHEMA_VERSION = "1.0"
"""Bumped in its major part when a field changes meaning or disappears."""


# default=str: details may carry dates or Decimals straight from the catalog. One encoder
# for every chunk: json.dumps with these options builds a new JSONEncoder per call (about
# 1 us, once per finding); encode() is what it then calls, and keeps no state between calls.
_ENCODER = json.JSONEncoder(ensure_ascii=False, default=str, sort_keys=False)


def _dumps(value: Any) -> str:
    return json_text(_ENCODER.encode(value))


def scan_json(result: ScanResult) -> dict[str, Any]:
    meta = result.meta
    return {
        "collected_at": _opt_str(meta.get("collected_at")),
        "snapshot_tool_version": _opt_str(meta.get("tool_version")),
        "server_version": _opt_str(meta.get("server_version")),
        "target": target_of(meta),
        "connected_user": _opt_str(meta.get("connected_user")),
        "is_superuser": meta.get("is_superuser")
        if isinstance(meta.get("is_superuser"), bool)
        else None,
        "not_collected": not_collected(meta),
        "fail_on": result.fail_on,
        "config_sources": {str(k): str(v) for k, v in result.config_sources.items()},
        "meta": scrub(json.loads(_dumps(meta))),
    }


def rule_json(r: RuleResult, fail_on: str) -> dict[str, Any]:
    rule = r.rule
    return {
        "id": rule.id,
        "title": rule.title,
        "severity": r.effective_severity,
        "default_severity": rule.severity,
        "category": rule.category,
        "rationale": rule.rationale,
        "status": r.status,
        "reason": r.reason,
        "not_evaluated": [
            {k: v for k, v in scope.items() if v is not None or k == "reason"}
            for scope in r.not_evaluated
        ],
        "counts": rule_counts(r, fail_on),
        "references": references(r),
        "fix_safety": rule.fix_safety,
        "destructive": rule.destructive,
        "aliases": list(rule.aliases),
        "tags": list(rule.tags),
        "requires": list(rule.requires),
        "min_server_version": rule.min_server_version,
        "object_type": rule.object_type,
        "origin": rule.origin,
    }


def finding_json(f: Finding) -> dict[str, Any]:
    out = _finding_core(f)
    if f.file is not None or f.pre_existing:  # lint: where the migration caused it
        out["location"] = (
            {"file": f.file, "line": f.line, "column": f.column} if f.file is not None else None
        )
        out["pre_existing"] = f.pre_existing
    return out


def _finding_core(f: Finding) -> dict[str, Any]:
    return {
        "fingerprint": f.fingerprint,
        "rule_id": f.rule_id,
        "severity": f.severity,
        "message": f.message,
        "database": f.database,
        "object_type": f.object_type,
        "schema": f.schema,
        "object_name": f.object_name,
        "object_identity": f.object_identity,
        "role": f.role,
        "remediation": f.remediation,
        "manual": f.manual,
        "destructive": f.destructive,
        "details": f.details,
        "suppressed": f.suppressed,
        "baseline": f.baseline,
        "baseline_previous": f.previous,
        "gating": f.gating,
    }


def requirement_json(req: RequirementResult) -> dict[str, Any]:
    return {
        "framework": req.framework,
        "id": req.id,
        "title": req.title,
        "status": req.status,
        "rules": list(req.rules),
        "note": req.note,
    }


def iter_json(result: ScanResult, *, indent: bool = False) -> Iterator[str]:
    """Yield the report as chunks of text; concatenated they are one JSON document."""
    nl = "\n" if indent else ""
    head = {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": TOOL_NAME, "version": __version__},
        "scan": scan_json(result),
        "summary": summarize(result).to_json(),
        "rules": [rule_json(r, result.fail_on) for r in result.results],
        "requirements": [requirement_json(q) for q in result.requirements],
        "resolved": [scrub(json.loads(_dumps(e))) for e in result.resolved],
    }
    body = _dumps(head)
    yield body[:-1] + f',{nl}"findings": [{nl}'
    sep = f",{nl}"
    batch: list[str] = []
    lead = ""
    for r in result.results:
        for f in r.findings:
            batch.append(_finding_text(f))
            if len(batch) == _BATCH:
                yield json_text(lead + sep.join(batch))
                batch, lead = [], sep
    if batch:
        yield json_text(lead + sep.join(batch))
    yield f"{nl}]}}\n"


_BATCH = 64
"""Findings per chunk of :func:`iter_json` (one write each; tens of kB, never the report)."""


def _finding_text(f: Finding) -> str:
    """``_ENCODER.encode(finding_json(f))``, its fixed fields written directly (their
    values escaped by the encoder's own string function) and the free-form ones (details,
    waiver, baseline evidence) encoded: 56,607 findings at the bench's large preset spent
    0.2 s in their dicts and per-call encoder set-up. A lint location, or a field of an
    unexpected type (``encode_basestring`` raises TypeError), goes through the dict;
    tests/test_report_json.py holds the two to the same text."""
    if f.file is not None or f.pre_existing:
        return _ENCODER.encode(finding_json(f))
    try:
        return _plain_finding_text(f)
    except TypeError:
        return _ENCODER.encode(finding_json(f))


def _plain_finding_text(f: Finding) -> str:
    esc, opt, enc = _encode_str, _encode_opt, _ENCODER.encode
    destructive, gating = f.destructive, f.gating
    if type(destructive) is not bool or type(gating) is not bool:
        raise TypeError("destructive and gating are booleans")
    waiver = "null" if f.suppressed is None else enc(f.suppressed)
    previous = "null" if f.previous is None else enc(f.previous)
    return (
        f'{{"fingerprint": {esc(f.fingerprint)}, "rule_id": {esc(f.rule_id)}, '
        f'"severity": {esc(f.severity)}, "message": {esc(f.message)}, '
        f'"database": {opt(f.database)}, "object_type": {opt(f.object_type)}, '
        f'"schema": {opt(f.schema)}, "object_name": {opt(f.object_name)}, '
        f'"object_identity": {opt(f.object_identity)}, "role": {opt(f.role)}, '
        f'"remediation": {opt(f.remediation)}, "manual": {opt(f.manual)}, '
        f'"destructive": {"true" if destructive else "false"}, "details": {enc(f.details)}, '
        f'"suppressed": {waiver}, "baseline": {opt(f.baseline)}, '
        f'"baseline_previous": {previous}, "gating": {"true" if gating else "false"}}}'
    )


def _encode_opt(value: str | None) -> str:
    return "null" if value is None else _encode_str(value)


def write(result: ScanResult, fh: IO[str]) -> None:
    """Stream the report into an open text file (one line per finding)."""
    for chunk in iter_json(result, indent=True):
        fh.write(chunk)


def render(result: ScanResult) -> str:
    return "".join(iter_json(result, indent=True))


def _opt_str(v: Any) -> str | None:
    return None if v is None else str(v)


def write_report(ctx: ReportContext, fh: IO[str]) -> None:
    """The registry's entry point (registry.REPORTERS)."""
    write(ctx.result, fh)
