"""The fleet as JUnit XML: one ``<testsuite>`` per target (valid against the Ant JUnit XSD).

Each target's testcases are the ones its own JUnit report has (``reports.junit_report``,
one per rule and database), gathered into the target's suite; their ``classname`` starts
with the target (``<target>.db=<database>.<category>``), so a CI test tab shows the fleet
as target -> database -> rule. A target that was not audited has the PGR-FLEET-001
failure; one that never ran (the run was stopped) has a skipped case saying so.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import IO, Any

from .. import __version__
from ..reports.common import TOOL_NAME, printable
from ..reports.junit_report import _component, _conform, _hostname, _timestamp
from ..reports.junit_report import build as build_target
from .outcome import FleetResult, TargetOutcome

_PREFIX = TOOL_NAME + "."


def _cases(o: TargetOutcome) -> list[ET.Element]:
    target = _component(o.target.name)
    if o.result is None:
        case = ET.Element(
            "testcase",
            name=f"[{o.status.upper()}] {printable(o.target.name)}",
            classname=f"{target}.fleet",
            time="0",
        )
        ET.SubElement(case, "skipped", message=printable(o.reason or o.status))
        return [case]
    out = []
    root = build_target(o.result)
    for suite in root.findall("testsuite"):
        for case in suite.findall("testcase"):
            cls = case.get("classname") or ""
            rest = cls[len(_PREFIX) :] if cls.startswith(_PREFIX) else cls
            case.set("classname", f"{target}.{rest}")
            out.append(case)
    return out


def build(r: FleetResult, *, hostname: str | None = None) -> ET.Element:
    host = hostname or _hostname()
    root = ET.Element("testsuites")
    for i, o in enumerate(r.outcomes):
        cases = _cases(o)
        failures = sum(1 for c in cases if c.find("failure") is not None)
        errors = sum(1 for c in cases if c.find("error") is not None)
        skipped = sum(1 for c in cases if c.find("skipped") is not None)
        stamp = _timestamp(
            o.result.meta.get("collected_at") if o.result is not None else r.started_at
        )
        suite = ET.Element(
            "testsuite",
            {
                "name": f"target {printable(o.target.name)}",
                "timestamp": stamp,
                "hostname": host,
                "tests": str(len(cases)),
                "failures": str(failures),
                "errors": str(errors),
                "skipped": str(skipped),
                "time": f"{o.duration_s:.3f}",
                "id": str(i),
                "package": TOOL_NAME,
            },
        )
        props = ET.SubElement(suite, "properties")
        values = {
            "tool": TOOL_NAME,
            "tool_version": __version__,
            "target": o.target.name,
            "status": o.status,
            "where": o.label,
            "environment": o.target.environment,
            "application": o.target.application,
            "team": o.target.team,
            "tags": ",".join(o.target.tags) or None,
            "fail_on": o.result.fail_on if o.result is not None else r.fail_on,
            "server_version": (
                o.result.meta.get("server_version") if o.result is not None else None
            ),
            "reason": o.reason,
        }
        for k, v in values.items():
            if v is not None:
                ET.SubElement(props, "property", name=k, value=printable(str(v)))
        for c in cases:
            suite.append(c)
        root.append(_conform(suite, i))
    return root


def write(r: FleetResult, fh: IO[str], **_: Any) -> None:
    root = build(r)
    ET.indent(root)
    fh.write('<?xml version="1.0" encoding="UTF-8"?>\n')
    ET.ElementTree(root).write(fh, encoding="unicode")
    fh.write("\n")
