"""Geometry of the role membership graph: a layered (Sugiyama) layout by grandalf, and
edge routes that never cross a box that is not one of their endpoints.

Why grandalf: it is a maintained, pure-Python implementation of the layered layout that
graphviz's dot made standard (rank assignment, dummy vertices for long edges, crossing
reduction, Brandes-Koepf coordinates), so the report stays one self-contained file with
no layout JavaScript, and the layout is computed once, when the report is written.

Orientation is left to right: a member sits left of the groups it belongs to (login roles
in the first column, the roles they inherit from further right), so a thousand login roles
make a tall column the page scrolls through, not a picture 200,000 pixels wide.

Why no edge crosses a foreign box: every box of a layer has the same width and sits in the
layer's column; an edge only ever
  * crosses the empty gap between two neighbouring columns, as a cubic curve whose
    control points stay inside that gap (so the curve does too), or
  * passes through a column at the height of one of grandalf's dummy vertices, as a
    straight horizontal line; dummy vertices get their own slot in the layer's order
    and a minimum separation from every box (enforced again here after grandalf's
    coordinate assignment), so that line touches no box.
The browser test samples every drawn path and checks this on the demo and on a 300-role
layout.

Beyond ``max_nodes`` roles, leaf roles (roles nobody is a member of: typically login
roles) that hold exactly the same memberships are drawn as one "N roles" box; if that
is still too many, the best-connected roles are kept and the rest are counted and
listed for the search box.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any

NODE_W, NODE_H = 176, 30
ROW_GAP = 10  # between two boxes of one column
LAYER_GAP = 96  # between two columns: where edges curve
DUMMY_H = 6  # a long edge's slot when it passes through a column
MARGIN = 16
COMPONENT_GAP = 36
SHELF_WIDTH = 1240  # components are packed in rows up to this width

BUNDLE_PREFIX = "\x00bundle:"  # PostgreSQL names cannot hold NUL: never a real role name


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
    level: int = 0  # layer (column) index: 0 = roles nobody is a member of
    x: float = 0.0  # top-left corner
    y: float = 0.0
    members: list[str] = field(default_factory=list)  # a bundle's roles

    @property
    def label(self) -> str:
        return f"{len(self.members)} roles" if self.members else self.name


@dataclass
class Layout:
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)  # SVG path data, one per edge
    width: float = 0.0
    height: float = 0.0
    omitted: int = 0  # roles not drawn at all
    omitted_names: list[str] = field(default_factory=list)
    bundled: int = 0  # roles drawn inside an "N roles" box


def role_kind(role: dict[str, Any]) -> str:
    if role.get("superuser"):
        return "superuser"
    if role.get("predefined") or str(role.get("name", "")).startswith("pg_"):
        return "predefined"
    if role.get("login"):
        return "login"
    return "group"


def _bundle(
    names: list[str], edges: list[Edge], kinds: dict[str, str], max_nodes: int
) -> tuple[list[str], list[Edge], dict[str, list[str]]]:
    """Leaf roles with identical memberships (same groups, same options, same kind) as
    one node each, only when the graph has more than ``max_nodes`` roles."""
    if len(names) <= max_nodes:
        return names, edges, {}
    has_members = {e.group for e in edges}
    out_edges: dict[str, list[Edge]] = {}
    for e in edges:
        out_edges.setdefault(e.member, []).append(e)
    by_key: dict[tuple[Any, ...], list[str]] = {}
    for n in names:
        if n in has_members:
            continue
        key = (
            kinds.get(n, "group"),
            tuple(sorted((e.group, e.admin, e.inherit, e.set) for e in out_edges.get(n, []))),
        )
        by_key.setdefault(key, []).append(n)
    bundles: dict[str, list[str]] = {}
    replaced: dict[str, str] = {}
    for i, (key, group) in enumerate(sorted(by_key.items(), key=lambda kv: kv[1][0])):
        if len(group) < 2:
            continue
        bid = f"{BUNDLE_PREFIX}{i}"
        bundles[bid] = sorted(group)
        kinds[bid] = key[0]
        for n in group:
            replaced[n] = bid
    new_edges: list[Edge] = []
    seen: set[tuple[str, str]] = set()
    for e in edges:
        m = replaced.get(e.member, e.member)
        if (m, e.group) in seen:
            continue
        seen.add((m, e.group))
        new_edges.append(Edge(m, e.group, e.admin, e.inherit, e.set))
    new_names = sorted({replaced.get(n, n) for n in names})
    return new_names, new_edges, bundles


def _keep_best_connected(
    names: list[str], edges: list[Edge], weight: dict[str, int], max_nodes: int
) -> tuple[list[str], list[Edge], list[str]]:
    """At most ``max_nodes`` roles, chosen by memberships (edges between well-connected
    roles first), so every kept box keeps at least one line; the rest are returned."""
    if len(names) <= max_nodes:
        return names, edges, []
    degree = dict.fromkeys(names, 0)
    for e in edges:
        degree[e.member] += weight.get(e.group, 1)
        degree[e.group] += weight.get(e.member, 1)
    keep: set[str] = set()
    kept_edges: list[Edge] = []
    for e in sorted(
        edges, key=lambda e: (-(degree[e.member] + degree[e.group]), e.member, e.group)
    ):
        new = {e.member, e.group} - keep
        if len(keep) + len(new) > max_nodes:
            continue
        keep |= new
        kept_edges.append(e)
    kept_ids = {id(e) for e in kept_edges}
    kept_edges = [e for e in edges if id(e) in kept_ids or (e.member in keep and e.group in keep)]
    dropped = sorted((n for n in names if n not in keep), key=lambda n: (-degree[n], n))
    return sorted(keep), kept_edges, dropped


def _components(names: list[str], edges: list[Edge]) -> list[tuple[list[str], list[Edge]]]:
    """Connected components in a deterministic order (largest first, then by name)."""
    parent = {n: n for n in names}

    def find(n: str) -> str:
        while parent[n] != n:
            parent[n] = parent[parent[n]]
            n = parent[n]
        return n

    for e in edges:
        a, b = find(e.member), find(e.group)
        if a != b:
            parent[max(a, b)] = min(a, b)
    comp_names: dict[str, list[str]] = {}
    for n in names:
        comp_names.setdefault(find(n), []).append(n)
    comp_edges: dict[str, list[Edge]] = {}
    for e in edges:
        comp_edges.setdefault(find(e.member), []).append(e)
    comps = [(sorted(ns), comp_edges.get(root, [])) for root, ns in comp_names.items()]
    comps.sort(key=lambda c: (-len(c[0]), c[0][0]))
    return comps


class _View:
    """What grandalf reads and writes on a vertex: its size and its centre."""

    def __init__(self, w: float, h: float) -> None:
        self.w, self.h = w, h
        self.xy: tuple[float, float] | None = None


@dataclass
class _Placed:
    """One component laid out in its own frame (origin at its top-left)."""

    level: dict[str, int]
    cy: dict[str, float]  # centre height of each node
    paths: list[list[tuple[str, float, float]]]  # per edge: ("M"/"L"/"C" points)
    width: float
    height: float


def _place_component(names: list[str], edges: list[Edge]) -> _Placed:
    from grandalf.graphs import Edge as GEdge
    from grandalf.graphs import Vertex, graph_core
    from grandalf.layouts import SugiyamaLayout

    # grandalf lays out top to bottom; we turn it a quarter: its x is our y, so a vertex's
    # grandalf width is our box height
    verts = {n: Vertex(n) for n in names}
    for v in verts.values():
        v.view = _View(NODE_H, NODE_W)
    gedges = [GEdge(verts[e.member], verts[e.group]) for e in edges]
    core = graph_core([verts[n] for n in names], gedges)
    sug = SugiyamaLayout(core)
    sug.xspace = ROW_GAP
    sug.yspace = LAYER_GAP
    # grandalf places blocks recursively, one frame per neighbour in a layer: a layer of
    # a few thousand boxes and long-edge slots needs more than Python's default depth
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 20 * (len(names) + len(edges)) + 1000))
    try:
        sug.init_all()
        for layer in sug.layers:
            for v in layer:
                if sug.grx[v].dummy:
                    v.view.w = DUMMY_H
        sug.draw(N=1.5)
    finally:
        sys.setrecursionlimit(limit)

    # Brandes-Koepf coordinates, then one sweep per layer that restores the minimum
    # separation in the layer's final order (averaging four alignments can bring two
    # neighbours closer than their half sizes): this is what the no-crossing argument
    # above relies on, so it is enforced here rather than trusted.
    centre: dict[Any, float] = {}
    for layer in sug.layers:
        ordered = sorted(layer, key=lambda v: sug.grx[v].pos)
        prev: Any = None
        for v in ordered:
            y = float(v.view.xy[0])
            if prev is not None:
                y = max(y, centre[prev] + (prev.view.w + v.view.w) / 2 + ROW_GAP)
            centre[v] = y
            prev = v
    top = min((centre[v] - v.view.w / 2 for v in centre), default=0.0)
    for v in centre:
        centre[v] -= top
    height = max((centre[v] + v.view.w / 2 for v in centre), default=0.0)
    rank = {n: sug.grx[verts[n]].rank for n in names}

    def col_left(r: int) -> float:
        return r * (NODE_W + LAYER_GAP)

    paths: list[list[tuple[str, float, float]]] = []
    for e, ge in zip(edges, gedges, strict=True):
        r0, r1 = rank[e.member], rank[e.group]
        step = 1 if r1 > r0 else -1
        ctrl = sug.ctrls.get(ge, {})
        # (x_in, x_out, y) per column crossed: the source box's border, each dummy's
        # column, the target box's border
        side = (lambda r: col_left(r) + NODE_W) if step == 1 else col_left
        other = col_left if step == 1 else (lambda r: col_left(r) + NODE_W)
        pts: list[tuple[float, float, float]] = [(side(r0), side(r0), centre[verts[e.member]])]
        for r in range(r0 + step, r1, step):
            d = ctrl[r]
            pts.append((other(r), side(r), centre[d]))
        pts.append((other(r1), other(r1), centre[verts[e.group]]))
        cmds: list[tuple[str, float, float]] = [("M", pts[0][1], pts[0][2])]
        for (_, xa, ya), (xb_in, xb_out, yb) in zip(pts, pts[1:], strict=False):
            mid = (xa + xb_in) / 2
            cmds += [("C", mid, ya), ("", mid, yb), ("", xb_in, yb)]
            if xb_out != xb_in:
                cmds.append(("L", xb_out, yb))
        paths.append(cmds)
    width = col_left(max(rank.values(), default=0)) + NODE_W
    return _Placed(rank, {n: centre[verts[n]] for n in names}, paths, width, height)


def layout(roles: dict[str, dict[str, Any]], edges: list[Edge], *, max_nodes: int = 300) -> Layout:
    """Boxes and edge routes for ``edges`` (member -> group), in SVG user units."""
    names = sorted({e.member for e in edges} | {e.group for e in edges})
    kinds = {n: role_kind(roles.get(n, {"name": n})) for n in names}
    names, edges, bundles = _bundle(names, edges, kinds, max_nodes)
    weight = {b: len(ms) for b, ms in bundles.items()}
    names, edges, dropped = _keep_best_connected(names, edges, weight, max_nodes)
    out = Layout(edges=edges)
    for d in dropped:
        out.omitted_names.extend(bundles.get(d, [d]))
    out.omitted = len(out.omitted_names)
    out.bundled = sum(len(bundles[n]) for n in names if n in bundles)

    placed = [(_place_component(ns, es), ns, es) for ns, es in _components(names, edges)]
    # shelf packing: components left to right, a new row when the shelf is full
    x = y = float(MARGIN)
    shelf_h = 0.0
    width = 0.0
    path_of: dict[int, str] = {}
    for comp, ns, es in placed:
        if x > MARGIN and x + comp.width > SHELF_WIDTH:
            x, y = float(MARGIN), y + shelf_h + COMPONENT_GAP
            shelf_h = 0.0
        for n in ns:
            node = Node(n, kinds[n], comp.level[n], members=bundles.get(n, []))
            node.x = x + comp.level[n] * (NODE_W + LAYER_GAP)
            node.y = y + comp.cy[n] - NODE_H / 2
            out.nodes[n] = node
        for e, cmds in zip(es, comp.paths, strict=True):
            path_of[id(e)] = " ".join(
                f"{c + ' ' if c else ''}{px + x:.1f} {py + y:.1f}" for c, px, py in cmds
            )
        width = max(width, x + comp.width)
        shelf_h = max(shelf_h, comp.height)
        x += comp.width + COMPONENT_GAP
    out.paths = [path_of[id(e)] for e in edges]
    out.width = width + MARGIN
    out.height = y + shelf_h + MARGIN
    return out
