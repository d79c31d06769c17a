"""A target's runs compared one after another: new, resolved and unknown per run, how long
fixes took, and what has been open longest.

The comparison keeps ``diff``'s rule: a finding is *resolved* only when the run without it
looked where it lies (its rule ran, the sources it requires and its database were
collected); otherwise it is *unknown* and stays open, carried to the next run. Likewise a
finding absent from the previous run is *new* only when that run looked; else *unknown*
(it may have been there all along). The decision is the same code as ``diff``'s
(``diffing._Side.why_not_seen``), fed from the store's ``rules`` and ``coverage`` tables.

Pure logic over rows: no server, no files (the store hands the rows in).
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..core.errors import UsageError
from ..core.model import SEVERITIES
from ..diffing import _Side
from ..reports.common import printable

ITEM_KEYS = (
    "fingerprint",
    "rule_id",
    "severity",
    "status",
    "database",
    "object_type",
    "object_identity",
    "role",
    "message",
)


@dataclass
class RunPoint:
    """One run of a target as the trend shows it."""

    run_id: str
    started_at: dt.datetime
    counts: dict[str, int]  # non-waived findings per severity
    waived: int
    gaps: int
    gate: str
    first: bool  # the target's first recorded run: nothing to compare with
    versions: dict[str, Any] = field(default_factory=dict)  # server, tool; scan duration
    new: list[dict[str, Any]] = field(default_factory=list)
    resolved: list[dict[str, Any]] = field(default_factory=list)
    unknown: list[dict[str, Any]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "started_at": _iso(self.started_at),
            "counts": self.counts,
            "total": self.total,
            "waived": self.waived,
            "coverage_gaps": self.gaps,
            "gate": self.gate,
            "first": self.first,
            **self.versions,
            "new": self.new,
            "resolved": self.resolved,
            "unknown": self.unknown,
        }


@dataclass
class TargetTrend:
    target: str
    runs: list[RunPoint]
    time_to_fix: list[dict[str, Any]]
    longest_open: list[dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "runs": [r.to_json() for r in self.runs],
            "time_to_fix": self.time_to_fix,
            "longest_open": self.longest_open,
        }


@dataclass
class Trend:
    directory: str
    since: dt.datetime | None
    targets: list[TargetTrend]

    def to_json(self) -> dict[str, Any]:
        return {
            "format": "pgaudit-roles/history",
            "version": 1,
            "directory": self.directory,
            "since": _iso(self.since) if self.since else None,
            "targets": [t.to_json() for t in self.targets],
        }


def _iso(t: dt.datetime) -> str:
    return t.replace(microsecond=0).isoformat() + "Z"


def _item(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row.get(k) for k in ITEM_KEYS}


def _side(
    at: dt.datetime, rules: Sequence[dict[str, Any]], coverage: Sequence[dict[str, Any]]
) -> _Side:
    """What a run looked at, as ``diff`` sees a snapshot (drift.Coverage): every database
    the run did not read (not collected, not requested, not connectable) is a gap."""
    sources = {
        str(c["source"]): str(c.get("reason") or "not collected")
        for c in coverage
        if c["source"] != "database" and c["status"] == "not_collected"
    }
    gaps = {
        str(c["database"]): str(c.get("reason") or c["status"])
        for c in coverage
        if c["source"] == "database" and c["status"] != "collected"
    }
    status = {str(r["rule_id"]): (str(r["status"]), r.get("reason")) for r in rules}
    return _Side(label=f"the run of {at:%Y-%m-%d %H:%M}", sources=sources, gaps=gaps, status=status)


def target_trend(
    target: str,
    runs: Sequence[dict[str, Any]],
    findings: dict[str, list[dict[str, Any]]],
    rules: dict[str, list[dict[str, Any]]],
    coverage: dict[str, list[dict[str, Any]]],
    *,
    since: dt.datetime | None = None,
    longest: int = 20,
) -> TargetTrend:
    """The trend of one target. ``runs`` are its ``runs`` rows; the dicts map run id to that
    run's rows of each table. Every run is replayed (so first-seen times are right), and
    only runs at or after ``since`` are shown and counted for time-to-fix."""
    ordered = sorted(runs, key=lambda r: (r["started_at"], r["run_id"]))
    info: dict[str, tuple[tuple[str, ...], str]] = {}
    state: dict[str, dict[str, Any]] = {}  # fingerprint -> {"item", "since", "bound"}
    fixes: dict[str, list[tuple[float, bool]]] = {}
    points: list[RunPoint] = []
    prev: _Side | None = None
    for run in ordered:
        rid, at = run["run_id"], run["started_at"]
        rules_here = rules.get(rid, [])
        for r in rules_here:
            info[str(r["rule_id"])] = (tuple(r.get("requires") or ()), str(r.get("category") or ""))
        side = _side(at, rules_here, coverage.get(rid, []))
        cur = {f["fingerprint"]: f for f in findings.get(rid, [])}
        point = RunPoint(
            run_id=rid,
            started_at=at,
            counts={s: int(run.get(f"open_{s}") or 0) for s in SEVERITIES},
            waived=int(run.get("waived") or 0),
            gaps=int(run.get("coverage_gaps") or 0),
            gate=str(run.get("gate") or ""),
            first=prev is None,
            versions={
                k: run.get(k) for k in ("server_version", "tool_version", "duration_seconds")
            },
        )
        shown = since is None or at >= since
        for fp, f in cur.items():
            if fp in state:
                state[fp]["item"] = _item(f)
                continue
            why = (
                None if prev is None else prev.why_not_seen(f, info.get(f["rule_id"], ((), ""))[0])
            )
            state[fp] = {"item": _item(f), "since": at, "bound": prev is None or why is not None}
            if prev is None:
                continue
            if why:
                point.unknown.append({**_item(f), "present_in": "new", "why": why})
            else:
                point.new.append(_item(f))
        if prev is not None:
            for fp in [fp for fp in state if fp not in cur]:
                entry = state[fp]
                f = entry["item"]
                why = side.why_not_seen(f, info.get(f["rule_id"], ((), ""))[0])
                if why:
                    point.unknown.append({**f, "present_in": "old", "why": why})
                    continue
                took = (at - entry["since"]).total_seconds()
                point.resolved.append({**f, "open_seconds": took, "at_least": entry["bound"]})
                if shown:
                    fixes.setdefault(f["rule_id"], []).append((took, entry["bound"]))
                del state[fp]
        for items in (point.new, point.resolved, point.unknown):
            items.sort(key=_order)
        if shown:
            points.append(point)
        prev = side
    ttf: list[dict[str, Any]] = [
        {
            "rule_id": rule,
            "fixed": len(v),
            "median_seconds": statistics.median(s for s, _ in v),
            "max_seconds": max(s for s, _ in v),
            "at_least": any(b for _, b in v),
        }
        for rule, v in sorted(fixes.items())
    ]
    ttf.sort(key=lambda x: (-x["median_seconds"], x["rule_id"]))
    last = ordered[-1]["started_at"] if ordered else None
    still = [
        {
            **e["item"],
            "first_seen": _iso(e["since"]),
            "open_seconds": (last - e["since"]).total_seconds() if last else 0.0,
            "at_least": e["bound"],
        }
        for e in state.values()
        if e["item"].get("status") != "waived"
    ]
    still.sort(key=lambda x: (-x["open_seconds"], _order(x)))
    return TargetTrend(target=target, runs=points, time_to_fix=ttf, longest_open=still[:longest])


def _order(f: dict[str, Any]) -> tuple[Any, ...]:
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    return (
        rank.get(f.get("severity") or "", 9),
        f.get("rule_id") or "",
        f.get("database") or "",
        f.get("object_identity") or "",
        f.get("role") or "",
        f.get("fingerprint") or "",
    )


def build(
    store: Any, *, target: str | None = None, since: dt.datetime | None = None, longest: int = 20
) -> Trend:
    """The trend of every target in ``store`` (a ``store.Store``), or only ``target``."""

    runs = store.runs
    targets = sorted({r["target"] for r in runs})
    if target is not None:
        if target not in targets:
            known = ", ".join(repr(printable(t)) for t in targets[:10]) or "none"
            raise UsageError(
                f"no runs of target {printable(target)!r} in {store.root} (targets: {known})"
            )
        targets = [target]
    out: list[TargetTrend] = []
    for name in targets:
        mine = [r for r in runs if r["target"] == name]
        ids = [r["run_id"] for r in mine]
        tables = {t: _group(store.rows(t, ids)) for t in ("findings", "rules", "coverage")}
        out.append(
            target_trend(
                name,
                mine,
                tables["findings"],
                tables["rules"],
                tables["coverage"],
                since=since,
                longest=longest,
            )
        )
    return Trend(directory=str(store.root), since=since, targets=out)


def _group(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        out.setdefault(r["run_id"], []).append(r)
    return out


def parse_since(text: str | None) -> dt.datetime | None:
    """``--since``: an ISO date or date-time (UTC unless it names a zone)."""
    if not text:
        return None
    try:
        value = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(
            f"--since {text!r}: not a date (give e.g. 2026-01-31 or 2026-01-31T06:00)"
        ) from None
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value
