"""The role membership graph as inline SVG, plus the data its script needs (no network,
no layout JavaScript): the geometry comes from graph_layout (grandalf's layered layout).

The SVG is serialised with ElementTree, which escapes every text node and attribute;
labels additionally pass through ``printable`` so a newline, control or bidi character in
a role name shows as an escape rather than breaking or reordering the picture. Styling is
by class (report.css) and presentation attributes, never a ``style`` attribute, which the
report's Content-Security-Policy would block.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any

from .common import printable
from .graph_layout import NODE_H, NODE_W, Edge, Layout, layout, role_kind

__all__ = [
    "Edge",
    "GraphView",
    "edges_from_inventory",
    "layout",
    "render",
    "render_svg",
    "role_kind",
]

LABEL_CHARS = 24
KIND_TEXT = {
    "superuser": "superuser",
    "login": "login role",
    "group": "group role",
    "predefined": "predefined role",
}


def _bool(v: Any, default: bool) -> bool:
    return default if v is None else bool(v)


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
    index: dict[tuple[str, str], Edge] = {}
    for m in inventory.get("memberships") or []:
        if not isinstance(m, dict):
            continue
        group = m.get("role") if "role" in m else by_oid.get(m.get("role_oid"))
        member = m.get("member") if "member" in m else by_oid.get(m.get("member_oid"))
        if not isinstance(group, str) or not isinstance(member, str) or group == member:
            continue
        old = index.get((member, group))
        if old is not None:  # several grantors: one edge, strongest options
            old.admin = old.admin or bool(m.get("admin_option"))
            old.inherit = old.inherit or _bool(m.get("inherit_option"), True)
            old.set = old.set or _bool(m.get("set_option"), True)
            continue
        e = Edge(
            member,
            group,
            bool(m.get("admin_option")),
            _bool(m.get("inherit_option"), True),
            _bool(m.get("set_option"), True),
        )
        index[(member, group)] = e
        edges.append(e)
    return roles, edges


@dataclass
class GraphView:
    """The SVG and the JSON-able data the report's script uses for search and highlight."""

    svg: str
    data: dict[str, Any] = field(default_factory=dict)
    layout: Layout | None = None


def _label(text: str) -> str:
    return text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1] + "\u2026"


def render(
    inventory: dict[str, Any], *, max_nodes: int = 300, routes: list[list[str]] | None = None
) -> GraphView | None:
    """The graph, or None when there is no membership to draw. ``routes`` are escalation
    routes as role-name chains (first = the login role); each becomes a list of node
    indices so clicking a role can light up its routes."""
    roles, edges = edges_from_inventory(inventory)
    if not edges:
        return None
    lay = layout(roles, edges, max_nodes=max_nodes)
    order = list(lay.nodes)
    idx = {n: i for i, n in enumerate(order)}
    where = dict(idx)  # a bundled role answers with its bundle's box
    for n, node in lay.nodes.items():
        for m in node.members:
            where[m] = idx[n]
    w, h = round(lay.width), round(lay.height)
    svg = ET.Element(
        "svg",
        {
            "xmlns": "http://www.w3.org/2000/svg",
            "viewBox": f"0 0 {w} {h}",
            "width": str(w),
            "height": str(h),
            "class": "role-graph",
            "id": "role-graph",
            "role": "group",
            "aria-label": f"Role membership graph: {len(lay.nodes)} boxes, {len(lay.edges)} memberships",
            "font-family": "system-ui, sans-serif",
            "font-size": "12",
        },
    )
    defs = ET.SubElement(svg, "defs")
    for mid, cls in (("arrow", "arrow"), ("arrow-admin", "arrow admin"), ("arrow-hl", "arrow hl")):
        marker = ET.SubElement(
            defs,
            "marker",
            {
                "id": mid,
                "viewBox": "0 0 10 10",
                "refX": "9",
                "refY": "5",
                "markerWidth": "7",
                "markerHeight": "7",
                "orient": "auto-start-reverse",
            },
        )
        ET.SubElement(marker, "path", {"d": "M 0 0 L 10 5 L 0 10 z", "class": cls})
    edge_layer = ET.SubElement(svg, "g", {"class": "edges"})
    for e, d in zip(lay.edges, lay.paths, strict=True):
        classes = ["edge"] + [
            c
            for c, on in (("admin", e.admin), ("noinherit", not e.inherit), ("noset", not e.set))
            if on
        ]
        path = ET.SubElement(
            edge_layer,
            "path",
            {
                "d": d,
                "class": " ".join(classes),
                "data-m": str(idx[e.member]),
                "data-g": str(idx[e.group]),
                "marker-end": "url(#arrow-admin)" if e.admin else "url(#arrow)",
            },
        )
        opts = [o for o, on in (("ADMIN", e.admin), ("INHERIT", e.inherit), ("SET", e.set)) if on]
        ET.SubElement(
            path, "title"
        ).text = f"{_name(lay, e.member)} is member of {_name(lay, e.group)} ({', '.join(opts) or 'no options'})"
    node_layer = ET.SubElement(svg, "g", {"class": "nodes"})
    for i, n in enumerate(order):
        node = lay.nodes[n]
        kind_text = KIND_TEXT.get(node.kind, node.kind)
        if node.members:
            shown = ", ".join(printable(m) for m in node.members[:20])
            more = f" and {len(node.members) - 20} more" if len(node.members) > 20 else ""
            desc = f"{len(node.members)} {kind_text}s with the same memberships: {shown}{more}"
        else:
            desc = f"{printable(n)} ({kind_text})"
        g = ET.SubElement(
            node_layer,
            "g",
            {
                "class": f"node {node.kind}{' bundle' if node.members else ''}",
                "data-i": str(i),
                "tabindex": "0",
                "role": "button",
                "aria-pressed": "false",
                "aria-label": desc + ": show memberships and escalation routes",
            },
        )
        ET.SubElement(g, "title").text = desc
        ET.SubElement(
            g,
            "rect",
            {
                "x": f"{node.x:.1f}",
                "y": f"{node.y:.1f}",
                "width": str(NODE_W),
                "height": str(NODE_H),
                "rx": "6",
            },
        )
        ET.SubElement(
            g,
            "text",
            {
                "x": f"{node.x + NODE_W / 2:.1f}",
                "y": f"{node.y + NODE_H / 2 + 4:.1f}",
                "text-anchor": "middle",
            },
        ).text = _label(printable(node.label))
    route_data = []
    for chain in routes or []:
        route_data.append([where.get(n, -1) for n in chain])
    data = {
        "names": [
            printable(lay.nodes[n].label) if lay.nodes[n].members else printable(n) for n in order
        ],
        "kinds": [lay.nodes[n].kind for n in order],
        "bundles": {
            str(idx[n]): [printable(m) for m in lay.nodes[n].members]
            for n in order
            if lay.nodes[n].members
        },
        "omitted": [printable(m) for m in lay.omitted_names],
        "routes": route_data,
        "width": w,
        "height": h,
    }
    return GraphView(ET.tostring(svg, encoding="unicode"), data, lay)


def _name(lay: Layout, n: str) -> str:
    node = lay.nodes.get(n)
    return printable(node.label if node is not None else n)


def render_svg(inventory: dict[str, Any], *, max_nodes: int = 300) -> str | None:
    """The graph as an ``<svg>`` string, or None when there is no membership to draw."""
    view = render(inventory, max_nodes=max_nodes)
    return None if view is None else view.svg
