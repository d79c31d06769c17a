"""The history store: every scan's summary and findings, kept as Parquet files for trends.

A nightly cron (or ``fleet``) appends one *run* per target; ``pgaudit-roles history``
reads them back with DuckDB (no server) and shows findings per severity over time, what
was new and resolved each run, time-to-fix per rule and the longest-open findings.

- :mod:`.store`: the on-disk layout, atomic appends, retention (``record``, ``load``);
- :mod:`.trend`: the comparison run after run, with ``diff``'s "unknown is never
  resolved" semantics;
- :mod:`.render`: text, JSON and HTML (inline SVG charts) of a trend.

``fleet`` records a target's run with ``record(run_from_result(result, target=...), dir)``.
"""

from __future__ import annotations

from .store import Retention, Run, load, parse_retention, record, run_from_result

__all__ = ["Retention", "Run", "load", "parse_retention", "record", "run_from_result"]
