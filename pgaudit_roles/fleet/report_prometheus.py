"""The fleet as one node_exporter textfile (``fleet-report.prom``): every target's metrics,
each metric family once (``reports.prometheus_report.render_metrics``), labelled with the
target's inventory name.

A target that was not audited has its PGR-FLEET-001 finding, its coverage gap and a
failing gate, but no ``pgaudit_last_successful_scan_timestamp_seconds`` sample: it had no
successful scan in this run, and a fresh timestamp would hide exactly what the metric is
for. Alert on ``pgaudit_findings{rule="PGR-FLEET-001"} > 0`` (and on the metric's absence
for a target). Targets that never ran (the run was stopped) are left out.
"""

from __future__ import annotations

from typing import IO, Any

from ..reports.prometheus_report import Entry, label_value, render_metrics
from .outcome import FleetResult

LAST_SUCCESS = "pgaudit_last_successful_scan_timestamp_seconds"


def render(r: FleetResult) -> str:
    entries = [
        Entry(target=o.target.name, result=o.result, duration_seconds=o.duration_s)
        for o in r.outcomes
        if o.result is not None
    ]
    text = render_metrics(entries) if entries else ""
    missed = {
        f'{LAST_SUCCESS}{{target="{label_value(o.target.name)}"}} '
        for o in r.outcomes
        if o.result is not None and o.status != "audited"
    }
    if not missed:
        return text
    return "".join(
        line + "\n" for line in text.splitlines() if not any(line.startswith(m) for m in missed)
    )


def write(r: FleetResult, fh: IO[str], **_: Any) -> None:
    fh.write(render(r))
