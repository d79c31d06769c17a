"""The fleet overview as one self-contained HTML page (no network, no script).

Built from the same document as the fleet JSON (``report_json.document``), so the two
cannot disagree: the targets x severity matrix, the worst active findings across the
fleet, the rules failing on the most targets, and the drift between environments. Each
target links to its own report under ``targets/<target>/``, relative, so the directory
can be moved or served as it is. Autoescape is on; names go through ``printable``.
"""

from __future__ import annotations

from typing import IO, Any

from .. import __version__
from ..core.model import SEVERITIES
from ..reports.common import TOOL_NAME, where_label
from ..reports.html_report import _asset, _csp_hash, environment
from .envdrift import detail_lines
from .outcome import FleetResult
from .report_json import document

WORST_SHOWN = 50


def _link(reports: dict[str, str]) -> tuple[str | None, str]:
    for fmt, label in (("html", "HTML report"), ("json", "JSON report")):
        if fmt in reports:
            return reports[fmt], label
    return None, ""


def context(r: FleetResult) -> dict[str, Any]:

    doc = document(r)
    links = {}
    targets = []
    for t in doc["targets"]:
        link, label = _link(t["reports"])
        links[t["name"]] = link
        targets.append({**t, "link": link, "link_label": label})
    spread = {s: sum(1 for t in doc["targets"] if t["counts"][s]) for s in SEVERITIES}
    worst = []
    for w in r.worst(WORST_SHOWN):
        o, f = w
        worst.append(
            {
                "severity": f.severity,
                "target": o.target.name,
                "rule_id": f.rule_id,
                "where": where_label(f),
                "message": f.message,
                "link": links.get(o.target.name),
            }
        )
    active = sum(len(o.gating) for o in r.outcomes)
    envs = [{**e, "lines": detail_lines(e)} for e in doc["environments"]]
    verdict = doc["summary"]["verdict"]
    gating = doc["summary"]["gating"]
    text = (
        f"{gating} finding(s) at or above {r.fail_on} on {doc['summary']['targets_failing']} "
        f"target(s)"
        if gating
        else f"no finding at or above {r.fail_on}"
    )
    missing = len(r.outcomes) - doc["summary"]["by_status"]["audited"]
    if missing:
        text += f"; {missing} target(s) not audited"
    return {
        "tool": TOOL_NAME,
        "version": __version__,
        "verdict": verdict,
        "verdict_text": text,
        "interrupted": r.interrupted,
        "run": doc["run"],
        "fail_on": r.fail_on,
        "exit_code": doc["summary"]["exit_code"],
        "severities": SEVERITIES,
        "totals": doc["summary"]["by_severity"],
        "spread": spread,
        "targets": targets,
        "worst": worst,
        "worst_more": max(0, active - len(worst)),
        "rules": doc["rules"],
        "environments": envs,
        "environment_notes": doc["environment_notes"],
    }


def write(r: FleetResult, fh: IO[str], **_: Any) -> None:
    from markupsafe import Markup

    css = _asset("report.css") + "\n" + _asset("fleet.css")
    csp = (
        "default-src 'none'; img-src data:; base-uri 'none'; form-action 'none'; "
        f"style-src {_csp_hash(css)}"
    )
    ctx = context(r)
    ctx.update(csp=csp, css=Markup(css))  # our own static file, not data
    for chunk in environment().get_template("fleet.html.j2").generate(**ctx):
        fh.write(chunk)


def render(r: FleetResult) -> str:
    import io

    buf = io.StringIO()
    write(r, buf)
    return buf.getvalue()
