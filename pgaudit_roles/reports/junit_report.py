"""JUnit XML for CI test tabs (GitLab, Jenkins, Azure), built with the junit-xml package.

Shape (see research/ux-lessons.md, lesson 16):

- one ``<testsuite>`` per database that has findings, plus a ``cluster`` suite that holds
  cluster-wide findings (roles, hba) and one testcase per rule that produced no finding, so a
  clean scan still has passing tests (Jenkins treats an empty report as an error);
- ``classname`` is ``pgaudit-roles.cluster.<category>`` or ``pgaudit-roles.db=<database>.<category>``
  (dots and control characters in names percent-encoded, so it is injective and the
  Jenkins tree stays three levels deep); ``name`` is ``[SEVERITY] RULE_ID`` (granularity
  ``rule``, the default) or ``[SEVERITY] RULE_ID <object> role=<role> #<fingerprint8>``
  (granularity ``finding``): stable across runs, unique per classname (GitLab drops
  duplicates), never containing message text;
- failure for findings that are neither waived nor accepted by a baseline, with every
  finding and its remediation SQL in the body; skipped with the reason for skipped rules,
  waived or baselined findings; error for rules that could not run.

junit-xml emits a few attributes (``disabled``, ``type`` on ``skipped``, totals on
``testsuites``) and omits elements (``system-out``, ``time`` of zero) that the Ant JUnit
XSD used by Jenkins-style tools forbids or requires; ``_conform`` adjusts its output so the
document validates against that schema.
"""

from __future__ import annotations

import datetime as dt
import socket
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from typing import IO, Any

from .. import __version__
from ..core.model import Finding, RuleResult, ScanResult
from .common import TOOL_NAME, object_label, outside_lines, printable, target_label
from .registry import ReportContext

CLUSTER = None  # suite key for cluster-wide findings and rule-level cases
GRANULARITIES = ("rule", "finding")
_MAX_BODY_FINDINGS = 200


def _component(name: str) -> str:
    """A classname component: percent-encode what would split or break the dotted path."""
    out = []
    for ch in name:
        if ch in ".%" or ch.isspace() or not ch.isprintable():
            out.append("".join(f"%{b:02X}" for b in ch.encode("utf-8")))
        else:
            out.append(ch)
    return "".join(out) or "%00"


FILE_KEY = "\x00file:"
"""Suite keys of ``lint`` results: one suite per migration file (prefix cannot be a name)."""


def classname(database: str | None, category: str) -> str:
    if database is not None and database.startswith(FILE_KEY):
        where = f"file={_component(database[len(FILE_KEY) :])}"
    else:
        where = "cluster" if database is None else f"db={_component(database)}"
    return f"{TOOL_NAME}.{where}.{_component(category or 'general')}"


def suite_name(database: str | None) -> str:
    if database is not None and database.startswith(FILE_KEY):
        return f"file {printable(database[len(FILE_KEY) :])}"
    return "cluster" if database is None else f"database {printable(database)}"


def case_name(r: RuleResult, f: Finding | None = None, *, all_objects: bool = False) -> str:
    sev = (f.severity if f else r.effective_severity).upper()
    if f is None:
        return f"[{sev}] {r.rule.id}" + (" (all objects)" if all_objects else "")
    who = f" role={printable(f.role)}" if f.role else ""
    obj = f"{f.object_type or 'object'}:{printable(object_label(f))}"
    return f"[{sev}] {r.rule.id} {obj}{who} #{f.fingerprint[:8]}"


def _finding_text(f: Finding) -> str:
    where = printable(f.database) + "/" if f.database else ""
    lines = [
        f"[{f.severity.upper()}] {where}{f.object_type or 'object'} {printable(object_label(f))}"
        + (f" (role {printable(f.role)})" if f.role else "")
    ]
    lines.append(f"  {printable(f.message)}")
    lines.append(f"  fingerprint: {f.fingerprint}")
    if f.suppressed is not None:
        lines.append(f"  waived: {_waiver_text(f.suppressed)}")
    elif f.baseline == "unchanged":
        lines.append("  accepted by baseline")
    if f.details.get("expired_waiver"):
        lines.append(f"  expired waiver (gates again): {_waiver_text(f.details['expired_waiver'])}")
    if f.remediation:
        lines.append("  remediation:" + (" (destructive: review first)" if f.destructive else ""))
        lines.extend("    " + printable(line) for line in f.remediation.splitlines())
    if f.manual:
        lines.append("  manual procedure:")
        lines.extend("    " + printable(line) for line in f.manual.splitlines())
    return "\n".join(lines)


def _waiver_text(w: Any) -> str:
    if not isinstance(w, dict):
        return "waived"
    text = printable(w.get("reason") or "no reason")
    extra = [f"{k} {printable(w[k])}" for k in ("owner", "ticket") if w.get(k)]
    if w.get("expires"):
        extra.append(f"expires {printable(w['expires'])}")
    return text + (f" ({', '.join(extra)})" if extra else "")


def _body(r: RuleResult, findings: list[Finding]) -> str:
    head = [f"{r.rule.id}: {printable(r.rule.title)}", printable(r.rule.rationale), ""]
    shown = findings[:_MAX_BODY_FINDINGS]
    parts = [_finding_text(f) for f in shown]
    if len(findings) > len(shown):
        parts.append(
            f"... and {len(findings) - len(shown)} more findings: see the JSON or HTML report"
        )
    refs = [f"{ref.text}: {ref.url}" if ref.url else ref.text for ref in r.rule.references]
    tail = ["", "References:", *("  " + printable(x) for x in refs)] if refs else []
    return "\n".join(head + ["\n\n".join(parts)] + tail)


def _add_outcome(case: Any, r: RuleResult, findings: list[Finding]) -> None:
    active = [f for f in findings if f.suppressed is None and f.baseline != "unchanged"]
    if active:
        n = len(active)
        msg = f"{r.rule.id}: {n} finding{'s' if n != 1 else ''}: {printable(r.rule.title)}"
        case.add_failure_info(
            message=msg, output=_body(r, findings), failure_type=r.effective_severity
        )
        return
    waived = [f for f in findings if f.suppressed is not None]
    if waived and len(waived) == len(findings):
        reasons = sorted({_waiver_text(f.suppressed) for f in waived})
        msg = "waived: " + "; ".join(reasons[:3]) + ("; ..." if len(reasons) > 3 else "")
    elif waived:
        msg = f"waived ({len(waived)}) or accepted by baseline ({len(findings) - len(waived)})"
    else:
        msg = f"accepted by baseline ({len(findings)} finding{'s' if len(findings) != 1 else ''})"
    case.add_skipped_info(message=msg, output=_body(r, findings))


def _group(findings: Iterable[Finding], by_file: bool = False) -> dict[str | None, list[Finding]]:
    out: dict[str | None, list[Finding]] = {}
    for f in findings:
        if by_file:
            key = None if f.file is None else FILE_KEY + f.file
        else:
            key = f.database
        out.setdefault(key, []).append(f)
    return out


def build(
    result: ScanResult, *, junit_granularity: str = "rule", hostname: str | None = None
) -> ET.Element:
    """The ``<testsuites>`` element, valid against the Ant JUnit XSD."""
    from junit_xml import TestCase, TestSuite

    if junit_granularity not in GRANULARITIES:
        raise ValueError(f"junit granularity must be one of {', '.join(GRANULARITIES)}")
    cases: dict[str | None, list[Any]] = {CLUSTER: []}
    lint_files = _lint_files(result.meta)
    by_file = lint_files is not None
    for name in (lint_files or []) if by_file else _databases(result.meta):
        cases.setdefault(FILE_KEY + name if by_file else name, [])
    for r in result.results:
        cat = r.rule.category
        by_db = _group(r.findings, by_file)
        if not r.findings or r.status in ("skipped", "error"):
            case = TestCase(
                case_name(r, all_objects=True), classname=classname(None, cat), elapsed_sec=0
            )
            reason = printable(r.reason or "no reason given")
            if r.status in ("skipped", "incomplete"):  # incomplete never reads as a pass
                case.add_skipped_info(message=f"{r.status}: {reason}")
            elif r.status == "error":
                case.add_error_info(
                    message=f"rule could not be evaluated: {reason}",
                    output=f"{r.rule.id}: {reason}",
                    error_type="rule-error",
                )
            elif r.status == "fail":  # failed without rows: still a failure, say why
                case.add_failure_info(
                    message=f"{r.rule.id}: failed", output=reason, failure_type="fail"
                )
            cases[CLUSTER].append(case)
        for db, findings in by_db.items():
            bucket = cases.setdefault(db, [])
            if junit_granularity == "rule":
                case = TestCase(case_name(r), classname=classname(db, cat), elapsed_sec=0)
                _add_outcome(case, r, findings)
                bucket.append(case)
            else:
                for f in findings:
                    case = TestCase(case_name(r, f), classname=classname(db, cat), elapsed_sec=0)
                    _add_outcome(case, r, [f])
                    bucket.append(case)
    stamp = _timestamp(result.meta.get("collected_at"))
    host = hostname or _hostname()
    props = {
        "tool": TOOL_NAME,
        "tool_version": __version__,
        "target": printable(target_label(result.meta)),
        "server_version": printable(result.meta.get("server_version") or "unknown"),
        "fail_on": result.fail_on,
    }
    for i, line in enumerate(outside_lines(result.outside_framework)):
        props[f"outside_framework.{i}" if i else "outside_framework"] = printable(line)
    for key, bucket in cases.items():
        if by_file and key is not None and not bucket:  # a clean migration file passes
            bucket.append(
                TestCase("no findings", classname=classname(key, "migrations"), elapsed_sec=0)
            )
    root = ET.Element("testsuites")
    keys = [CLUSTER] + (
        [k for k in cases if k is not None]
        if by_file
        else sorted(k for k in cases if k is not None)
    )
    for i, key in enumerate(keys):
        suite = TestSuite(
            suite_name(key),
            cases[key],
            hostname=host,
            id=str(i),
            package=TOOL_NAME,
            timestamp=stamp,
            properties=props,
        )
        root.append(_conform(suite.build_xml_doc(), i))
    return root


def _conform(el: ET.Element, index: int) -> ET.Element:
    """Make junit-xml's suite valid for the XSD: required attributes and element order."""
    el.attrib.pop("disabled", None)
    el.set("id", str(index))  # junit-xml drops id "0" (falsy)
    el.set("time", el.get("time") or "0")
    props = el.find("properties")
    if props is None:
        props = ET.Element("properties")
    tests = el.findall("testcase")
    for child in list(el):
        el.remove(child)
    el.append(props)
    for tc in tests:
        tc.set("time", tc.get("time") or "0")
        for sk in tc.findall("skipped"):
            sk.attrib.pop("type", None)
        el.append(tc)
    ET.SubElement(el, "system-out")
    ET.SubElement(el, "system-err")
    return el


def _lint_files(meta: dict[str, Any]) -> list[str] | None:
    """The migration files of a ``lint`` result, in run order (None for a scan)."""
    lint = meta.get("lint")
    if not isinstance(lint, dict):
        return None
    return [str(f) for f in lint.get("order") or []]


def _databases(meta: dict[str, Any]) -> list[str]:
    """Databases the snapshot lists, so a database with no finding still gets its suite."""
    dbs = meta.get("databases")
    out = []
    if isinstance(dbs, list):
        for d in dbs:
            name = d.get("name") if isinstance(d, dict) else d
            if isinstance(name, str):
                out.append(name)
    return out


def _timestamp(value: Any) -> str:
    """ISO-8601 without zone or fraction (the XSD's pattern), in UTC."""
    when = None
    if isinstance(value, dt.datetime):
        when = value
    elif isinstance(value, str):
        try:
            when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            when = None
    if when is None:
        when = dt.datetime.now(dt.UTC)
    if when.tzinfo is not None:
        when = when.astimezone(dt.UTC).replace(tzinfo=None)
    return when.replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%S")


def _hostname() -> str:
    try:
        return socket.gethostname() or "localhost"
    except OSError:
        return "localhost"


def write(result: ScanResult, fh: IO[str], **options: Any) -> None:
    root = build(result, **options)
    ET.indent(root)
    fh.write('<?xml version="1.0" encoding="UTF-8"?>\n')
    ET.ElementTree(root).write(fh, encoding="unicode")
    fh.write("\n")


def render(result: ScanResult, **options: Any) -> str:
    import io

    buf = io.StringIO()
    write(result, buf, **options)
    return buf.getvalue()


def write_report(ctx: ReportContext, fh: IO[str]) -> None:
    """The registry's entry point (registry.REPORTERS)."""
    write(ctx.result, fh, junit_granularity=ctx.options.junit_granularity)
