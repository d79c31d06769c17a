"""Prometheus text format for node_exporter's textfile collector (``--format prometheus``).

Why: alerting already watches node_exporter. A cron job that silently stopped shows as an
old ``pgaudit_last_successful_scan_timestamp_seconds`` (the file is only replaced by a scan
that completed), a new critical finding as ``pgaudit_findings{severity="critical"} > 0``.

The file must appear whole (the collector may read at any moment): reports are written to
a temporary file in the same directory and renamed (``reports.write_reports``); the
temporary name does not end in ``.prom``, so the collector never reads it.

Label values are escaped as the text format requires (backslash, double quote, newline)
after control and bidi characters became visible escapes (``printable``), so a target or
rule name can neither break the file nor reorder a dashboard's text. ``fleet`` writes one
file for many targets with :func:`render_metrics` (each metric family appears once).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import IO, Any

from ..core.model import SEVERITIES, STATUSES, ScanResult
from .common import printable
from .registry import ReportContext

METRICS: dict[str, str] = {
    "pgaudit_findings": "Findings not waived, by target, rule and severity (0 for a rule that "
    "ran and found nothing).",
    "pgaudit_gating_findings": "Findings that count towards the gate (not waived, not accepted "
    "by a baseline), by target and severity.",
    "pgaudit_rules": "Rules by evaluation status (pass, fail, incomplete, skipped, error).",
    "pgaudit_coverage_gaps": "Sources and databases the scan could not read (each is a "
    "coverage finding; rules needing them were not evaluated there).",
    "pgaudit_gate_failing": "1 when findings at or above fail_on remain (the scan exits 1), "
    "else 0.",
    "pgaudit_scan_duration_seconds": "Wall time of the scan (collect, evaluate, report).",
    "pgaudit_last_successful_scan_timestamp_seconds": "When the snapshot of the last completed "
    "scan was collected (Unix time).",
}


@dataclass
class Entry:
    """One target's result for the metrics file."""

    target: str
    result: ScanResult
    duration_seconds: float | None = None


def label_value(value: object) -> str:
    """A label value in the text format: visible escapes for controls and bidi, then the
    format's own escapes (``\\\\``, ``\\"``, ``\\n``)."""
    text = printable(str(value)).encode("utf-8", "replace").decode("utf-8")
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(**kv: object) -> str:
    return "{" + ",".join(f'{k}="{label_value(v)}"' for k, v in kv.items()) + "}"


def _number(v: float) -> str:
    return repr(float(v)) if not float(v).is_integer() else str(int(v))


def _timestamp(result: ScanResult) -> float:
    raw = result.meta.get("collected_at")
    try:
        when = dt.datetime.fromisoformat(str(raw))
    except ValueError:
        when = dt.datetime.now(dt.UTC)
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.timestamp()


def _samples(e: Entry) -> dict[str, list[str]]:
    r, target = e.result, e.target
    out: dict[str, list[str]] = {name: [] for name in METRICS}
    per: dict[tuple[str, str], int] = {}
    for rr in r.results:
        if rr.status in ("pass", "fail", "incomplete"):
            per.setdefault((rr.rule.id, rr.effective_severity), 0)
        for f in rr.findings:
            if f.suppressed is None:
                per[(f.rule_id, f.severity)] = per.get((f.rule_id, f.severity), 0) + 1
    for (rule, sev), n in sorted(per.items()):
        out["pgaudit_findings"].append(f"{_labels(target=target, rule=rule, severity=sev)} {n}")
    gating = dict.fromkeys(SEVERITIES, 0)
    for f in r.findings:
        if f.gating:
            gating[f.severity] += 1
    out["pgaudit_gating_findings"] = [
        f"{_labels(target=target, severity=s)} {n}" for s, n in gating.items()
    ]
    statuses = dict.fromkeys(STATUSES, 0)
    for rr in r.results:
        statuses[rr.status] = statuses.get(rr.status, 0) + 1
    out["pgaudit_rules"] = [f"{_labels(target=target, status=s)} {n}" for s, n in statuses.items()]
    gaps = sum(1 for c in r.meta.get("coverage") or [] if c.get("status") == "not_collected")
    out["pgaudit_coverage_gaps"] = [f"{_labels(target=target)} {gaps}"]
    failing = 1 if r.gating_findings() else 0
    out["pgaudit_gate_failing"] = [f"{_labels(target=target, fail_on=r.fail_on)} {failing}"]
    seconds = (
        e.duration_seconds
        if e.duration_seconds is not None
        else (r.meta.get("run_seconds") or r.meta.get("duration_seconds"))
    )
    if seconds is not None:
        out["pgaudit_scan_duration_seconds"] = [
            f"{_labels(target=target)} {_number(float(seconds))}"
        ]
    out["pgaudit_last_successful_scan_timestamp_seconds"] = [
        f"{_labels(target=target)} {_number(round(_timestamp(r), 3))}"
    ]
    return out


def render_metrics(entries: Sequence[Entry]) -> str:
    """The text format for one or many targets: each family's HELP, TYPE and samples once."""
    per_entry = [_samples(e) for e in entries]
    lines: list[str] = []
    for name, help_text in METRICS.items():
        samples = [s for p in per_entry for s in p[name]]
        if not samples:
            continue
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
        lines += [f"{name}{s}" for s in samples]
    return "\n".join(lines) + "\n"


def default_target(meta: dict[str, Any]) -> str | None:
    """``host:port`` of the cluster a snapshot was collected from (libpq never reports the
    password): the same cluster keeps one name whichever user or database scanned it."""
    t = meta.get("target")
    if isinstance(t, dict) and t.get("host"):
        return f"{t['host']}:{t.get('port') or 5432}"
    return str(t) if isinstance(t, str) and t else None


def target_of(result: ScanResult) -> str:
    """The target label of a ``scan``/``check`` result (``target_name``, set by the
    command from --target-name, else the cluster's host and port)."""
    meta: dict[str, Any] = result.meta
    return str(meta.get("target_name") or default_target(meta) or meta.get("target_label") or "")


def write(result: ScanResult, fh: IO[str]) -> None:
    """One target's metrics, the one ``scan``/``check`` looked at."""
    fh.write(render_metrics([Entry(target=target_of(result), result=result)]))


def render(result: ScanResult) -> str:
    """One target's metrics as a string."""
    return render_metrics([Entry(target=target_of(result), result=result)])


def write_report(ctx: ReportContext, fh: IO[str]) -> None:
    """The registry's entry point (registry.REPORTERS)."""
    write(ctx.result, fh)
