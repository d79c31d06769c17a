"""The fleet as one SARIF 2.1.0 log with a run per target.

Each run is the target's own SARIF run (``reports.sarif_report``), with its automation id
made from the target's name, so code scanning keeps every target's alerts in a category
of their own (two targets on one host and port cannot close each other's alerts), and
the target's inventory attributes in the run's properties. Targets that never ran (the
run was stopped) have no run: the fleet JSON and HTML list them.
"""

from __future__ import annotations

import json
from typing import IO, Any
from urllib.parse import quote

from ..reports.common import TOOL_NAME, json_text
from ..reports.sarif_report import SARIF_SCHEMA
from ..reports.sarif_report import build as build_target
from .outcome import FleetResult


def build(r: FleetResult, **options: Any) -> dict[str, Any]:
    runs = []
    for o in r.outcomes:
        if o.result is None:
            continue
        run = build_target(o.result, **options)["runs"][0]
        run["automationDetails"] = {"id": f"{TOOL_NAME}/fleet/{quote(o.target.name, safe='')}/"}
        run.setdefault("properties", {})["fleetTarget"] = {
            **o.target.attributes(),
            "status": o.status,
            "reason": o.reason,
        }
        runs.append(run)
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": runs}


def write(r: FleetResult, fh: IO[str], **options: Any) -> None:
    fh.write(json_text(json.dumps(build(r, **options), ensure_ascii=False, indent=1, default=str)))
    fh.write("\n")
