"""Two inline SVG charts per target: findings per severity over time (stacked bars) and
new vs resolved per run (bars above and below a zero line).

No script and no network: the HTML's CSP forbids both. Built with ElementTree, which
escapes every text node and attribute; the only free text is dates and numbers, and the
target name in the accessible title passes through ``printable`` first.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from ..core.model import SEVERITIES
from ..reports.common import printable
from .trend import TargetTrend

W, H = 760, 220
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 14, 36
COLOUR = {
    "critical": "#8b0000",
    "high": "#c0392b",
    "medium": "#d68910",
    "low": "#5d6d7e",
    "info": "#aab7b8",
}
NEW_COLOUR, RESOLVED_COLOUR = "#c0392b", "#1e8449"


def _svg(title: str, cls: str) -> ET.Element:
    svg = ET.Element(
        "svg",
        {
            "xmlns": "http://www.w3.org/2000/svg",
            "viewBox": f"0 0 {W} {H}",
            "width": str(W),
            "height": str(H),
            "role": "img",
            "class": cls,
        },
    )
    ET.SubElement(svg, "title").text = title
    return svg


def _text(
    parent: ET.Element, x: float, y: float, text: str, anchor: str = "middle", size: int = 10
) -> None:
    ET.SubElement(
        parent,
        "text",
        {
            "x": f"{x:.1f}",
            "y": f"{y:.1f}",
            "text-anchor": anchor,
            "font-size": str(size),
            "fill": "#333",
        },
    ).text = text


def _nice(n: int) -> int:
    """An axis maximum: the next of 1, 2, 5, 10, 20, 50 ... at or above ``n``."""
    step = 1
    while True:
        for m in (1, 2, 5):
            if step * m >= n:
                return step * m
        step *= 10


def _x_labels(svg: ET.Element, t: TargetTrend, slot: float) -> None:
    every = max(1, len(t.runs) // 8)
    for i, r in enumerate(t.runs):
        if i % every == 0:
            _text(
                svg, LEFT + slot * (i + 0.5), H - BOTTOM + 14, f"{r.started_at:%m-%d %H:%M}", size=9
            )


def severity_chart(t: TargetTrend) -> str:
    svg = _svg(f"Findings per severity over time: {printable(t.target)}", "chart severity")
    n = max(1, len(t.runs))
    top = _nice(max([r.total for r in t.runs] + [1]))
    plot_h = H - TOP - BOTTOM
    slot = (W - LEFT - RIGHT) / n
    bar = max(2.0, min(40.0, slot * 0.7))
    for frac in (0, 0.5, 1):
        y = TOP + plot_h * (1 - frac)
        ET.SubElement(
            svg,
            "line",
            {
                "x1": str(LEFT),
                "x2": str(W - RIGHT),
                "y1": f"{y:.1f}",
                "y2": f"{y:.1f}",
                "stroke": "#dde",
            },
        )
        _text(svg, LEFT - 6, y + 3, str(round(top * frac)), anchor="end")
    for i, r in enumerate(t.runs):
        x = LEFT + slot * (i + 0.5) - bar / 2
        y = TOP + plot_h
        for sev in reversed(SEVERITIES):  # critical on top
            count = r.counts[sev]
            if not count:
                continue
            h = plot_h * count / top
            y -= h
            rect = ET.SubElement(
                svg,
                "rect",
                {
                    "x": f"{x:.1f}",
                    "y": f"{y:.1f}",
                    "width": f"{bar:.1f}",
                    "height": f"{h:.1f}",
                    "fill": COLOUR[sev],
                    "class": f"bar {sev}",
                    "data-count": str(count),
                },
            )
            ET.SubElement(rect, "title").text = f"{r.started_at:%Y-%m-%d %H:%M}: {count} {sev}"
    _x_labels(svg, t, slot)
    for j, sev in enumerate(SEVERITIES):
        ET.SubElement(
            svg,
            "rect",
            {
                "x": str(LEFT + j * 90),
                "y": str(H - 14),
                "width": "10",
                "height": "10",
                "fill": COLOUR[sev],
            },
        )
        _text(svg, LEFT + j * 90 + 14, H - 5, sev, anchor="start")
    return ET.tostring(svg, encoding="unicode")


def turnover_chart(t: TargetTrend) -> str:
    svg = _svg(f"New and resolved findings per run: {printable(t.target)}", "chart turnover")
    n = max(1, len(t.runs))
    top = _nice(max([max(len(r.new), len(r.resolved)) for r in t.runs] + [1]))
    plot_h = H - TOP - BOTTOM
    mid = TOP + plot_h / 2
    slot = (W - LEFT - RIGHT) / n
    bar = max(2.0, min(40.0, slot * 0.7))
    ET.SubElement(
        svg,
        "line",
        {
            "x1": str(LEFT),
            "x2": str(W - RIGHT),
            "y1": f"{mid:.1f}",
            "y2": f"{mid:.1f}",
            "stroke": "#999",
        },
    )
    _text(svg, LEFT - 6, TOP + 3, f"+{top}", anchor="end")
    _text(svg, LEFT - 6, mid + 3, "0", anchor="end")
    _text(svg, LEFT - 6, TOP + plot_h + 3, f"-{top}", anchor="end")
    for i, r in enumerate(t.runs):
        x = LEFT + slot * (i + 0.5) - bar / 2
        for kind, count, colour in (
            ("new", len(r.new), NEW_COLOUR),
            ("resolved", len(r.resolved), RESOLVED_COLOUR),
        ):
            if not count:
                continue
            h = (plot_h / 2) * count / top
            y = mid - h if kind == "new" else mid
            rect = ET.SubElement(
                svg,
                "rect",
                {
                    "x": f"{x:.1f}",
                    "y": f"{y:.1f}",
                    "width": f"{bar:.1f}",
                    "height": f"{h:.1f}",
                    "fill": colour,
                    "class": f"bar {kind}",
                    "data-count": str(count),
                },
            )
            ET.SubElement(rect, "title").text = f"{r.started_at:%Y-%m-%d %H:%M}: {count} {kind}"
    _x_labels(svg, t, slot)
    for j, (label, colour) in enumerate((("new", NEW_COLOUR), ("resolved", RESOLVED_COLOUR))):
        ET.SubElement(
            svg,
            "rect",
            {
                "x": str(LEFT + j * 90),
                "y": str(H - 14),
                "width": "10",
                "height": "10",
                "fill": colour,
            },
        )
        _text(svg, LEFT + j * 90 + 14, H - 5, label, anchor="start")
    return ET.tostring(svg, encoding="unicode")
