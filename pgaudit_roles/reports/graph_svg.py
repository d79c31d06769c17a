"""The role membership graph as inline SVG, laid out in Python (no JS library, no network).

A layered ("Sugiyama-lite") layout fits role hierarchies: PostgreSQL forbids membership
cycles, so every role gets a level = 1 + the highest level among its members; group roles
rise to the top, login roles sit at the bottom. A few barycenter sweeps order each layer
to reduce crossings. Wide layers wrap onto several rows so a thousand login roles do not
make a 200,000-pixel-wide picture, and beyond ``max_nodes`` the best-connected roles are
kept and the rest counted.

The SVG is serialised with ElementTree, which escapes every text node and attribute;
labels additionally pass through ``printable`` so a newline or control character in a
role name shows as an escape rather than breaking the picture.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any

from .common import printable

NODE_W, NODE_H = 176, 34
GAP_X, ROW_H, LAYER_GAP = 18, 62, 40
MARGIN, LEGEND_H = 16, 30
MAX_PER_ROW = 6  # 6 nodes fit a 1200-pixel-wide page
LABEL_CHARS = 22
MIN_WIDTH = 960  # room for the legend

FILL = {"superuser": "#fde2e1", "login": "#e0ecff", "group": "#eef0f3", "predefined": "#efe6fb"}
STROKE = {"superuser": "#c0392b", "login": "#2b6cb0", "group": "#6b7280", "predefined": "#7c3aed"}


@dataclass
class Edge:
    member: str
    group: str
    admin: bool = False
    inherit: bool = True
    set: bool = True


@dataclass
class Node:
    name: str
    kind: str
    level: int = 0
    x: float = 0.0
    y: float = 0.0


@dataclass
class Layout:
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)
    width: float = 0.0
    height: float = 0.0
    omitted: int = 0


def _bool(v: Any, default: bool) -> bool:
    return default if v is None else bool(v)


def _role_kind(role: dict[str, Any]) -> str:
    if role.get("superuser"):
        return "superuser"
    if role.get("predefined") or str(role.get("name", "")).startswith("pg_"):
        return "predefined"
    if role.get("login"):
        return "login"
    return "group"


def edges_from_inventory(inventory: dict[str, Any]) -> tuple[dict[str, dict[str, Any]], list[Edge]]:
    """Roles by name and membership edges; memberships may name roles or give OIDs."""
    roles: dict[str, dict[str, Any]] = {}
    by_oid: dict[Any, str] = {}
    for r in inventory.get("roles") or []:
        if isinstance(r, dict) and isinstance(r.get("name"), str):
            roles[r["name"]] = r
            if r.get("oid") is not None:
                by_oid[r["oid"]] = r["name"]
    edges: list[Edge] = []
    seen = set()
    for m in inventory.get("memberships") or []:
        if not isinstance(m, dict):
            continue
        group = m.get("role") if "role" in m else by_oid.get(m.get("role_oid"))
        member = m.get("member") if "member" in m else by_oid.get(m.get("member_oid"))
        if not isinstance(group, str) or not isinstance(member, str) or group == member:
            continue
        if (member, group) in seen:  # several grantors: one edge, strongest options
            for e in edges:
                if e.member == member and e.group == group:
                    e.admin = e.admin or bool(m.get("admin_option"))
                    e.inherit = e.inherit or _bool(m.get("inherit_option"), True)
                    e.set = e.set or _bool(m.get("set_option"), True)
            continue
        seen.add((member, group))
        edges.append(Edge(member, group, bool(m.get("admin_option")),
                          _bool(m.get("inherit_option"), True), _bool(m.get("set_option"), True)))
    return roles, edges


def layout(roles: dict[str, dict[str, Any]], edges: list[Edge], *, max_nodes: int = 250) -> Layout:
    names = sorted({e.member for e in edges} | {e.group for e in edges})
    omitted = 0
    if len(names) > max_nodes:
        degree: dict[str, int] = dict.fromkeys(names, 0)
        for e in edges:
            degree[e.member] += 1
            degree[e.group] += 1
        keep = set(sorted(names, key=lambda n: (-degree[n], n))[:max_nodes])
        omitted = len(names) - len(keep)
        names = sorted(keep)
        edges = [e for e in edges if e.member in keep and e.group in keep]
    members: dict[str, list[str]] = {n: [] for n in names}
    groups: dict[str, list[str]] = {n: [] for n in names}
    for e in edges:
        members[e.group].append(e.member)
        groups[e.member].append(e.group)

    level: dict[str, int] = {}
    for _ in range(len(names) + 1):  # longest path; bounded even if the input had a cycle
        changed = False
        for n in names:
            lv = 1 + max((level.get(m, 0) for m in members[n]), default=-1)
            if level.get(n) != lv:
                level[n], changed = lv, True
        if not changed:
            break
    top = max(level.values(), default=0)
    layers: list[list[str]] = [[] for _ in range(top + 1)]
    for n in names:
        layers[top - level[n]].append(n)  # row 0 = highest groups

    pos = {n: float(i) for layer in layers for i, n in enumerate(layer)}
    for sweep in range(4):
        order = range(1, len(layers)) if sweep % 2 == 0 else range(len(layers) - 2, -1, -1)
        for li in order:
            def bary(n: str, down: bool = sweep % 2 == 0) -> float:
                near = groups[n] if down else members[n]
                return sum(pos[m] for m in near) / len(near) if near else pos[n]
            layers[li].sort(key=lambda n: (bary(n), n))
            for i, n in enumerate(layers[li]):
                pos[n] = float(i)

    out = Layout(edges=edges, omitted=omitted)
    y = MARGIN + LEGEND_H
    widest = 1
    for li, layer in enumerate(layers):
        rows = [layer[i:i + MAX_PER_ROW] for i in range(0, len(layer), MAX_PER_ROW)] or [[]]
        widest = max(widest, max(len(r) for r in rows))
        for row in rows:
            for i, n in enumerate(row):
                out.nodes[n] = Node(n, _role_kind(roles.get(n, {"name": n})), top - li)
                out.nodes[n].y = y
                out.nodes[n].x = i  # column; centred below
            y += ROW_H
        y += LAYER_GAP
    out.width = max(MIN_WIDTH, 2 * MARGIN + widest * (NODE_W + GAP_X) - GAP_X)
    out.height = y - LAYER_GAP + MARGIN
    # centre each row
    rows_at: dict[float, list[Node]] = {}
    for node in out.nodes.values():
        rows_at.setdefault(node.y, []).append(node)
    for row_nodes in rows_at.values():
        span = len(row_nodes) * (NODE_W + GAP_X) - GAP_X
        left = (out.width - span) / 2
        for node in row_nodes:
            node.x = left + node.x * (NODE_W + GAP_X)
    return out


def _label(name: str) -> str:
    text = printable(name)
    return text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1] + "\u2026"


def render_svg(inventory: dict[str, Any], *, max_nodes: int = 250) -> str | None:
    """The graph as an ``<svg>`` string, or None when there is no membership to draw."""
    roles, edges = edges_from_inventory(inventory)
    if not edges:
        return None
    lay = layout(roles, edges, max_nodes=max_nodes)
    w, h = round(lay.width), round(lay.height)
    svg = ET.Element("svg", {
        "xmlns": "http://www.w3.org/2000/svg", "viewBox": f"0 0 {w} {h}", "width": str(w),
        "height": str(h), "role": "img", "class": "role-graph",
        "aria-label": f"Role membership graph: {len(lay.nodes)} roles, {len(lay.edges)} memberships",
        "font-family": "system-ui, sans-serif", "font-size": "12",
    })
    defs = ET.SubElement(svg, "defs")
    marker = ET.SubElement(defs, "marker", {"id": "arrow", "viewBox": "0 0 10 10", "refX": "9",
                                            "refY": "5", "markerWidth": "7", "markerHeight": "7",
                                            "orient": "auto-start-reverse"})
    ET.SubElement(marker, "path", {"d": "M 0 0 L 10 5 L 0 10 z", "fill": "#6b7280"})
    _legend(svg)
    edge_layer = ET.SubElement(svg, "g", {"class": "edges"})
    for e in lay.edges:
        a, b = lay.nodes[e.member], lay.nodes[e.group]
        x1, y1 = a.x + NODE_W / 2, a.y
        x2, y2 = b.x + NODE_W / 2, b.y + NODE_H
        if a.y <= b.y:  # same or inverted row (wrapped layer): route from the side
            y1 = a.y + NODE_H / 2
        mid = (y1 + y2) / 2
        attrs = {"d": f"M {x1:.1f} {y1:.1f} C {x1:.1f} {mid:.1f}, {x2:.1f} {mid:.1f}, {x2:.1f} {y2:.1f}",
                 "fill": "none", "stroke": "#c0392b" if e.admin else "#6b7280",
                 "stroke-width": "2" if e.admin else "1.2", "marker-end": "url(#arrow)"}
        if not e.inherit:
            attrs["stroke-dasharray"] = "5 4"
        if not e.set:
            attrs["stroke-opacity"] = "0.5"
        path = ET.SubElement(edge_layer, "path", attrs)
        opts = [o for o, on in (("ADMIN", e.admin), ("INHERIT", e.inherit), ("SET", e.set)) if on]
        ET.SubElement(path, "title").text = (f"{printable(e.member)} is member of {printable(e.group)}"
                                             f" ({', '.join(opts) or 'no options'})")
    node_layer = ET.SubElement(svg, "g", {"class": "nodes"})
    for n in lay.nodes.values():
        g = ET.SubElement(node_layer, "g", {"class": f"node {n.kind}", "data-role": printable(n.name)})
        ET.SubElement(g, "title").text = f"{printable(n.name)} ({n.kind})"
        ET.SubElement(g, "rect", {"x": f"{n.x:.1f}", "y": f"{n.y:.1f}", "width": str(NODE_W),
                                  "height": str(NODE_H), "rx": "6", "fill": FILL[n.kind],
                                  "stroke": STROKE[n.kind]})
        t = ET.SubElement(g, "text", {"x": f"{n.x + NODE_W / 2:.1f}", "y": f"{n.y + NODE_H / 2 + 4:.1f}",
                                      "text-anchor": "middle", "fill": "#111827"})
        t.text = _label(n.name)
    if lay.omitted:
        ET.SubElement(svg, "text", {"x": str(MARGIN), "y": str(h - 4), "fill": "#6b7280"}).text = (
            f"{lay.omitted} less connected roles not drawn (see the role list)")
    return ET.tostring(svg, encoding="unicode")


def _legend(svg: ET.Element) -> None:
    g = ET.SubElement(svg, "g", {"class": "legend"})
    x = MARGIN
    for kind, text in (("superuser", "superuser"), ("login", "login role"), ("group", "group role"),
                       ("predefined", "predefined role")):
        ET.SubElement(g, "rect", {"x": str(x), "y": str(MARGIN), "width": "14", "height": "14", "rx": "3",
                                  "fill": FILL[kind], "stroke": STROKE[kind]})
        ET.SubElement(g, "text", {"x": str(x + 20), "y": str(MARGIN + 11)}).text = text
        x += 130
    ET.SubElement(g, "text", {"x": str(x), "y": str(MARGIN + 11), "fill": "#6b7280"}).text = (
        "arrow: member \u2192 group; red = ADMIN option; dashed = NOINHERIT")
