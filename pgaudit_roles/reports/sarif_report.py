"""SARIF 2.1.0 for GitHub code scanning (and any other SARIF consumer).

GitHub rejects results without a physical location, and database objects have none, so
every result points at an anchor file that lives in the repository (the tool config by
default, ``sarif_anchor``), line 1, and carries the real object as a logical location.
Because every result shares that one line, GitHub's own line-hash would merge them all:
we supply ``partialFingerprints`` from our fingerprint (rule + database + object + role).

Findings ``lint`` found pre-existing on its twin are omitted (they are not the
migrations' and have no line to point at). Waived findings are kept by default with a ``suppressions`` entry (kind external, the
waiver's reason as justification) and level ``note``: the audit trail shows what was
accepted and why; ``sarif_include_suppressed=False`` (``--sarif-omit-waived``) drops them.
With a baseline every result carries ``baselineState``: ``unchanged`` (accepted, level
``note``: it does not gate and must not read as a new error), ``new``, or ``updated`` (a
baselined finding whose grant widened: it gates again, and its properties hold the
baseline's privilege lists). Dropping baselined results instead would close their alerts.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from json.encoder import encode_basestring as _encode_str
from typing import IO, Any

from .. import __version__
from ..core.model import Finding, RuleResult, ScanResult
from .common import (
    TOOL_NAME,
    help_uri,
    json_text,
    object_label,
    outside_json,
    references,
    target_of,
)
from .registry import ReportContext

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "2.0", "info": "0.0"}
LEVEL = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}
KIND = {
    "database": "module",
    "schema": "namespace",
    "function": "function",
    "procedure": "function",
    "role": "resource",
    "table": "type",
    "view": "type",
    "materialized_view": "type",
    "sequence": "type",
    "foreign_table": "type",
    "type": "type",
    "column": "member",
}
DEFAULT_ANCHOR = "pgaudit-roles.toml"


def automation_id(result: ScanResult) -> str:
    """One category per target cluster, so runs for two clusters do not close each other's alerts."""
    t = target_of(result.meta)
    host = (t["host"] or "localhost").replace("/", "%2F")
    port = t["port"] or 5432
    return f"{TOOL_NAME}/{host}:{port}/"


def rule_descriptor(r: RuleResult) -> dict[str, Any]:
    rule = r.rule
    sev = r.effective_severity
    refs = references(r)
    md_refs = "\n".join(
        f"- [{_md(ref['text'])}](<{ref['url']}>)" if ref["url"] else f"- {_md(ref['text'])}"
        for ref in refs
    )
    example = _example_remediation(r)
    text = f"{rule.rationale}\n\nSeverity: {sev}. Fix safety: {rule.fix_safety}."
    md = f"**{_md(rule.title)}**\n\n{_md(rule.rationale)}\n\nSeverity: **{sev}**. Fix safety: {rule.fix_safety}."
    if example:
        text += f"\n\nRemediation (example):\n{example}"
        md += f"\n\n#### Remediation (example)\n\n{_fence(example, 'sql')}"
    elif rule.manual:
        text += f"\n\nRemediation (manual):\n{rule.manual}"
        md += f"\n\n#### Remediation (manual)\n\n{_md(rule.manual)}"
    if md_refs:
        text += "\n\nReferences:\n" + "\n".join(
            f"- {ref['text']}" + (f" <{ref['url']}>" if ref["url"] else "") for ref in refs
        )
        md += f"\n\n#### References\n\n{md_refs}"
    d: dict[str, Any] = {
        "id": rule.id,
        "name": _pascal(rule.title) or rule.id,
        "shortDescription": {"text": rule.title},
        "fullDescription": {"text": rule.rationale or rule.title},
        "help": {"text": text, "markdown": md},
        "defaultConfiguration": {"level": LEVEL[sev]},
        "properties": {
            "tags": list(dict.fromkeys(["security", rule.category, *rule.tags])),  # unique
            "security-severity": SECURITY_SEVERITY[sev],
            "precision": "high",
            "problem.severity": "error"
            if LEVEL[sev] == "error"
            else ("warning" if LEVEL[sev] == "warning" else "recommendation"),
        },
    }
    uri = help_uri(r)
    if uri:
        d["helpUri"] = uri
    if rule.aliases:
        d["deprecatedIds"] = list(rule.aliases)
    return d


def result_entry(f: Finding, rule_index: int, anchor: str) -> dict[str, Any]:
    fq = (
        f"{f.database}/{object_label(f)}"
        if f.database
        else f"{f.object_type or 'cluster'}/{object_label(f)}"
    )
    logical: dict[str, Any] = {
        "fullyQualifiedName": fq,
        "name": object_label(f),
        "kind": KIND.get(f.object_type or "", "object"),
    }
    text = f.message.strip() or f.rule_id
    accepted = f.suppressed is not None or f.baseline == "unchanged"
    out: dict[str, Any] = {
        "ruleId": f.rule_id,
        "ruleIndex": rule_index,
        "level": "note" if accepted else LEVEL[f.severity],
        "message": {"text": text},
        "locations": [
            {
                "physicalLocation": _physical(f, anchor),
                "logicalLocations": [logical],
            }
        ],
        "partialFingerprints": {
            "primaryLocationLineHash": f.fingerprint,
            "pgauditRolesFingerprint/v1": f.fingerprint,
        },
        "properties": {
            "severity": f.severity,
            "security-severity": SECURITY_SEVERITY[f.severity],
            "database": f.database,
            "objectType": f.object_type,
            "object": object_label(f),
            "role": f.role,
            "destructive": f.destructive,
        },
    }
    if f.remediation:
        out["properties"]["remediation"] = f.remediation
    if f.manual:
        out["properties"]["manual"] = f.manual
    if f.pre_existing:
        out["properties"]["preExisting"] = True
    if f.baseline in _BASELINE_STATES:
        out["baselineState"] = f.baseline
    if f.previous:
        out["properties"]["baselineEvidence"] = f.previous
    if f.suppressed is not None:
        s = f.suppressed
        just = str(s.get("reason") or "waived")
        if s.get("expires"):
            just += f" (expires {s['expires']})"
        out["suppressions"] = [{"kind": "external", "status": "accepted", "justification": just}]
    return out


def _physical(f: Finding, anchor: str) -> dict[str, Any]:
    """The migration file, line and column of a lint finding (relative to the repository
    root, as GitHub needs); the anchor file's line 1 for everything else."""
    if f.file is not None and f.line is not None:
        region: dict[str, Any] = {"startLine": f.line}
        if f.column is not None:
            region["startColumn"] = f.column
        return {"artifactLocation": {"uri": _uri(f.file), "uriBaseId": "SRCROOT"}, "region": region}
    return _anchor_location(anchor)


def _anchor_location(anchor: str) -> dict[str, Any]:
    return {"artifactLocation": {"uri": anchor}, "region": {"startLine": 1}}


def _uri(path: str) -> str:
    """A relative URI reference: path segments percent-encoded, ``/`` kept."""
    from urllib.parse import quote

    return quote(path, safe="/")


def build(
    result: ScanResult, *, sarif_anchor: str = DEFAULT_ANCHOR, sarif_include_suppressed: bool = True
) -> dict[str, Any]:
    """The SARIF log as a dict (one run for the one target)."""
    results = [
        result_entry(f, rule_index, sarif_anchor)
        for f, rule_index in _kept(result, sarif_include_suppressed)
    ]
    return _log(result, results)


def _kept(result: ScanResult, include_suppressed: bool) -> Iterator[tuple[Finding, int]]:
    """The findings the log holds, in order, with their rule's index in the driver's rules."""
    index = {r.rule.id: i for i, r in enumerate(result.results)}
    for r in result.results:
        for f in r.findings:
            if f.suppressed is not None and not include_suppressed:
                continue
            if f.pre_existing:  # lint: already on the twin, not the migrations' doing
                continue
            yield f, index.get(f.rule_id, index[r.rule.id])


def _log(result: ScanResult, results: list[dict[str, Any]]) -> dict[str, Any]:
    """The SARIF log around ``results``."""
    rules = [rule_descriptor(r) for r in result.results]
    index = {r.rule.id: i for i, r in enumerate(result.results)}
    notifications = [
        {
            "descriptor": {"id": r.rule.id, "index": index[r.rule.id]},
            "level": "error" if r.status == "error" else "warning" if r.not_evaluated else "note",
            "message": {"text": f"{r.rule.id} {r.status}: {r.reason or 'no reason given'}"},
        }
        for r in result.results
        if r.status in ("skipped", "error") or r.not_evaluated
    ]
    t = target_of(result.meta)
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": TOOL_NAME,
                "version": __version__,
                "semanticVersion": __version__,
                "informationUri": "https://pypi.org/project/pgaudit-roles/",
                "rules": rules,
            }
        },
        "automationDetails": {"id": automation_id(result)},
        "originalUriBaseIds": {"SRCROOT": {"description": {"text": "The repository root"}}},
        "results": results,
        "invocations": [
            {
                "executionSuccessful": not any(r.status == "error" for r in result.results),
                "toolConfigurationNotifications": notifications,
            }
        ],
        "properties": {
            "target": {"host": t["host"], "port": t["port"], "dbname": t["dbname"]},
            "serverVersion": result.meta.get("server_version"),
            "collectedAt": result.meta.get("collected_at"),
            "failOn": result.fail_on,
            "outsideFramework": outside_json(result.outside_framework),
        },
        "columnKind": "unicodeCodePoints",
    }
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}


def write(result: ScanResult, fh: IO[str], **options: Any) -> None:
    """One line of JSON: SARIF is read by code scanners, not people, and without ``indent``
    Python uses its C encoder (a small scan's 1 MB SARIF: 7 ms instead of 23-30 ms),
    written in pieces (:func:`iter_text`)."""
    for chunk in iter_text(result, **options):
        fh.write(chunk)


def render(result: ScanResult, **options: Any) -> str:
    return "".join(iter_text(result, **options))


_ENCODER = json.JSONEncoder(ensure_ascii=False, default=str)
"""``json.dumps(..., ensure_ascii=False, default=str)``'s encoder, built once."""

_BATCH = 1_000
"""Results per piece of :func:`iter_text`."""


def iter_text(
    result: ScanResult, *, sarif_anchor: str = DEFAULT_ANCHOR, sarif_include_suppressed: bool = True
) -> Iterator[str]:
    """``json_text(json.dumps(build(...), ensure_ascii=False, default=str)) + "\\n"`` in
    pieces, without the log's results as dicts or the log as one string.

    Why: the bench's large preset has 56,607 results, a 64 MB line. Encoded whole, that
    line is not ASCII as soon as one name is (256 characters of it), so ``json_text``
    scanned all of it with a regular expression and the file's UTF-8 encoder copied it
    character by character (0.5 s); in pieces of :data:`_BATCH` results only the pieces
    holding such a character take that path. Each result is written by
    :func:`_result_text`, which skips building its dicts (another 0.5 s). The pieces are
    the encoder's text cut between the results: the same bytes (tests compare both)."""
    enc = _ENCODER.encode
    log = _log(result, [])
    (run,) = log["runs"]
    keys = list(run)
    at = keys.index("results")
    assert list(log)[-1] == "runs", "the pieces below put the run last"
    head = "".join(f"{enc(k)}: {enc(v)}, " for k, v in log.items() if k != "runs")
    before = "".join(f"{enc(k)}: {enc(run[k])}, " for k in keys[:at])
    after = "".join(f", {enc(k)}: {enc(run[k])}" for k in keys[at + 1 :])
    yield json_text("{" + head + '"runs": [{' + before + '"results": [')
    physical = enc(_anchor_location(sarif_anchor))
    batch: list[str] = []
    sep = ""
    for f, rule_index in _kept(result, sarif_include_suppressed):
        batch.append(_result_text(f, rule_index, sarif_anchor, physical))
        if len(batch) == _BATCH:
            yield json_text(sep + ", ".join(batch))
            batch, sep = [], ", "
    if batch:
        yield json_text(sep + ", ".join(batch))
    yield json_text("]" + after + "}]}") + "\n"


def _result_text(f: Finding, rule_index: int, anchor: str, physical: str) -> str:
    """``_ENCODER.encode(result_entry(f, rule_index, anchor))``, written directly for the
    shape nearly every finding has (``physical``: the anchor's location, encoded); a
    finding with a lint location, a waiver or baseline evidence, or a field of an
    unexpected type (``encode_basestring`` raises TypeError) goes through the dict.
    tests/test_report_sarif.py holds the two to the same text."""
    if f.file is not None or f.suppressed is not None or f.previous or f.pre_existing:
        return _ENCODER.encode(result_entry(f, rule_index, anchor))
    try:
        return _plain_result_text(f, rule_index, physical)
    except TypeError:
        return _ENCODER.encode(result_entry(f, rule_index, anchor))


def _plain_result_text(f: Finding, rule_index: int, physical: str) -> str:
    esc = _encode_str
    label = object_label(f)
    sev = f.severity
    fq = f"{f.database}/{label}" if f.database else f"{f.object_type or 'cluster'}/{label}"
    level = "note" if f.baseline == "unchanged" else LEVEL[sev]
    fp = esc(f.fingerprint)
    destructive = f.destructive
    if destructive is not True and destructive is not False:
        raise TypeError("destructive is not a bool")
    extra = ""
    if f.remediation:
        extra += ', "remediation": ' + esc(f.remediation)
    if f.manual:
        extra += ', "manual": ' + esc(f.manual)
    state = f', "baselineState": {esc(f.baseline)}' if f.baseline in _BASELINE_STATES else ""
    return (
        f'{{"ruleId": {esc(f.rule_id)}, "ruleIndex": {rule_index:d}, "level": {esc(level)}, '
        f'"message": {{"text": {esc(f.message.strip() or f.rule_id)}}}, '
        f'"locations": [{{"physicalLocation": {physical}, "logicalLocations": '
        f'[{{"fullyQualifiedName": {esc(fq)}, "name": {esc(label)}, '
        f'"kind": {esc(KIND.get(f.object_type or "", "object"))}}}]}}], '
        f'"partialFingerprints": {{"primaryLocationLineHash": {fp}, '
        f'"pgauditRolesFingerprint/v1": {fp}}}, '
        f'"properties": {{"severity": {esc(sev)}, '
        f'"security-severity": {esc(SECURITY_SEVERITY[sev])}, '
        f'"database": {_encode_opt(f.database)}, "objectType": {_encode_opt(f.object_type)}, '
        f'"object": {esc(label)}, "role": {_encode_opt(f.role)}, '
        f'"destructive": {"true" if destructive else "false"}{extra}}}{state}}}'
    )


_BASELINE_STATES = ("new", "unchanged", "updated")


def _encode_opt(value: str | None) -> str:
    return "null" if value is None else _encode_str(value)


def _example_remediation(r: RuleResult) -> str | None:
    for f in r.findings:
        if f.remediation:
            return f.remediation
    return None


def _pascal(title: str) -> str:
    return "".join(
        w[:1].upper() + w[1:] for w in "".join(c if c.isalnum() else " " for c in title).split()
    )


_MD_SPECIAL = re.compile(r"[\\`*_{}\[\]()#!|<>&~]")


def _md(text: str) -> str:
    """Escape Markdown/HTML-significant characters so names render as text on GitHub."""
    return _MD_SPECIAL.sub(_backslashed, text)


def _backslashed(m: re.Match[str]) -> str:
    return "\\" + m.group()


_BACKTICKS = re.compile("`+")


def _fence(code: str, lang: str) -> str:
    """A fenced block longer than any backtick run inside the code, so it cannot be closed early."""
    longest = max(map(len, _BACKTICKS.findall(code)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}{lang}\n{code}\n{ticks}"


def write_report(ctx: ReportContext, fh: IO[str]) -> None:
    """The registry's entry point (registry.REPORTERS)."""
    write(
        ctx.result,
        fh,
        sarif_anchor=ctx.options.sarif_anchor,
        sarif_include_suppressed=ctx.options.sarif_include_suppressed,
    )
