"""The fleet's report formats, declared once (as ``reports.registry`` does for one scan).

Two kinds of output per format name:

- the *combined* report of the whole fleet, ``fleet-report<extension>`` (the formats in
  ``FLEET_REPORTERS``, each a ``fleet.report_<module>`` with ``write(result, fh, **opts)``);
- each target's *own* report under ``targets/<name>/``, for every format the single-scan
  registry has (``reports.registry.REPORTERS``), written by the same reporters ``scan``
  uses.

So ``--format sql`` or ``csv`` gives each target its file and no combined one; ``json``,
``html``, ``junit``, ``sarif``, ``markdown`` and ``prometheus`` give both. ``text`` is the
terminal summary. The combined JSON is always written.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import IO, Any

from ..core.errors import UsageError
from ..reports import FORMATS

BASENAME = "fleet-report"


@dataclass(frozen=True)
class FleetReporter:
    name: str
    extension: str
    description: str
    module: str
    options: tuple[str, ...] = ()
    """Report options (``ReportOptions`` names) this format passes on to its writer."""

    def write(self, result: Any, fh: IO[str], options: Mapping[str, Any]) -> None:
        mod = importlib.import_module(f"pgaudit_roles.fleet.{self.module}")
        writer: Callable[..., None] = mod.write
        writer(result, fh, **{k: v for k, v in options.items() if k in self.options})


FLEET_REPORTERS: tuple[FleetReporter, ...] = (
    FleetReporter(
        "json",
        ".json",
        "The combined result (schemas/fleet-report.schema.json): "
        "run, verdict, every target with its status and findings, rules across "
        "targets, worst risks, drift between environments.",
        "report_json",
    ),
    FleetReporter(
        "html",
        ".html",
        "The overview: targets x severity, worst risks, the same "
        "rule on many targets, links to each target's report, environments.",
        "report_html",
    ),
    FleetReporter("junit", ".junit.xml", "JUnit XML with a test suite per target.", "report_junit"),
    FleetReporter(
        "sarif",
        ".sarif",
        "SARIF 2.1.0 with a run per target.",
        "report_sarif",
        ("sarif_anchor", "sarif_include_suppressed"),
    ),
    FleetReporter(
        "markdown", ".md", "Tables for a merge request, wiki or chat.", "report_markdown"
    ),
    FleetReporter(
        "prometheus", ".prom", "One node_exporter textfile for every target.", "report_prometheus"
    ),
)
BY_NAME: dict[str, FleetReporter] = {r.name: r for r in FLEET_REPORTERS}
ALIASES = {"md": "markdown"}


def single_formats() -> tuple[str, ...]:
    return FORMATS


def known() -> list[str]:
    return list(dict.fromkeys([*BY_NAME, *single_formats()]))


def parse(spec: str | None, default: Iterable[str]) -> list[str]:
    """``--format`` for fleet: names from either list (``md`` for markdown); exit 2 else."""
    items = spec.split(",") if spec else list(default)
    out: list[str] = []
    names = known()
    for item in items:
        name = ALIASES.get(item.strip().lower(), item.strip().lower())
        if not name:
            continue
        if name not in names:
            raise UsageError(
                f"unknown report format {name!r} for fleet (choose from {', '.join(names)})"
            )
        if name not in out:
            out.append(name)
    return out


def per_target(formats: Iterable[str]) -> list[str]:
    """Each target's own formats: the requested ones a single scan has, json always."""
    singles = single_formats()
    out = [f for f in formats if f in singles and f != "text"]
    return out if "json" in out else ["json", *out]


def combined(formats: Iterable[str]) -> list[FleetReporter]:
    """The combined reports to write: json always, then the requested ones in order."""
    names = ["json", *(f for f in formats if f in BY_NAME and f != "json")]
    return [BY_NAME[n] for n in names]
