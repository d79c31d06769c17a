"""Membership graph layout (grandalf, left to right): groups right of their members, no
edge through a foreign box, bounded size with bundles, names escaped."""

from __future__ import annotations

import random
import xml.etree.ElementTree as ET

from graph_geometry import crossings, overlaps
from report_fixtures import IMG, inventory

from pgaudit_roles.reports.graph_layout import NODE_H, NODE_W, Layout
from pgaudit_roles.reports.graph_svg import Edge, edges_from_inventory, layout, render, render_svg


def _geometry(lay: Layout) -> tuple[list, list]:
    names = list(lay.nodes)
    idx = {n: i for i, n in enumerate(names)}
    boxes = [(lay.nodes[n].x, lay.nodes[n].y, NODE_W, NODE_H) for n in names]
    edges = [(idx[e.member], idx[e.group], d) for e, d in zip(lay.edges, lay.paths, strict=True)]
    return crossings(boxes, edges), overlaps(boxes)


def _random_edges(n_logins: int, seed: int) -> list[Edge]:
    rng = random.Random(seed)
    groups = [f"grp_{i}" for i in range(20)]
    edges = [Edge(groups[i], groups[rng.randrange(0, 5 if i < 12 else 12)]) for i in range(5, 20)]
    for i in range(n_logins):
        edges += [Edge(f"user_{i}", g) for g in rng.sample(groups, rng.randint(1, 3))]
    return edges


def test_groups_sit_right_of_their_members():
    edges = [Edge("alice", "app_rw"), Edge("app_rw", "app_ro"), Edge("bob", "app_ro")]
    lay = layout({}, edges)
    n = lay.nodes
    assert n["alice"].x < n["app_rw"].x < n["app_ro"].x
    assert n["app_ro"].level == 2 and n["alice"].level == 0 and n["bob"].level == 0


def test_no_edge_crosses_a_foreign_box_and_boxes_never_overlap():
    for seed in range(3):
        lay = layout({}, _random_edges(280, seed), max_nodes=300)
        assert len(lay.nodes) == 300 and lay.bundled == 0 and lay.omitted == 0
        bad, overlap = _geometry(lay)
        assert bad == [] and overlap == []
    bad, overlap = _geometry(layout(*edges_from_inventory(inventory())))
    assert bad == [] and overlap == []


def test_the_geometry_check_can_fail():
    lay = layout({}, [Edge("a", "c"), Edge("b", "c"), Edge("x", "y")])
    names = list(lay.nodes)
    a, x = lay.nodes["a"], lay.nodes["x"]
    lay.paths[0] = f"M {a.x} {a.y + 5} L {x.x + NODE_W + 50} {x.y + NODE_H / 2}"
    boxes = [(lay.nodes[n].x, lay.nodes[n].y, NODE_W, NODE_H) for n in names]
    idx = {n: i for i, n in enumerate(names)}
    through = [(idx[e.member], idx[e.group], d) for e, d in zip(lay.edges, lay.paths, strict=True)]
    assert crossings(boxes, through) != []


def test_layout_is_deterministic():
    edges = _random_edges(60, 5)
    one, two = layout({}, edges), layout({}, list(reversed(edges)))
    assert {n: (v.x, v.y) for n, v in one.nodes.items()} == {
        n: (v.x, v.y) for n, v in two.nodes.items()
    }


def test_memberships_by_oid_and_name_and_duplicates_merge():
    inv = inventory()
    roles, edges = edges_from_inventory(inv)
    pairs = {(e.member, e.group) for e in edges}
    assert ("app_rw", "app_ro") in pairs  # given by OID
    assert (IMG, "app_rw") in pairs
    inv["memberships"].append(
        {
            "role": "app_owner",
            "member": "deploy",
            "admin_option": False,
            "inherit_option": True,
            "set_option": True,
        }
    )
    _, edges2 = edges_from_inventory(inv)
    (e,) = [e for e in edges2 if (e.member, e.group) == ("deploy", "app_owner")]
    assert e.admin and e.inherit  # strongest options of both grants
    assert len(edges2) == len(edges)


def test_beyond_the_limit_identical_members_are_bundled_then_the_rest_counted():
    edges = [Edge(f"user_{i}", f"grp_{i % 5}") for i in range(1000)]
    lay = layout({}, edges, max_nodes=100)
    assert len(lay.nodes) == 10 and lay.bundled == 1000 and lay.omitted == 0  # 5 bundles + 5 groups
    assert sorted(len(n.members) for n in lay.nodes.values() if n.members) == [200] * 5
    # members that share nothing cannot be bundled: the best-connected are kept
    edges = [Edge(f"user_{i}", f"grp_{i % 50}") for i in range(50)] + [Edge("grp_0", "top")]
    lay = layout({}, edges, max_nodes=20)
    assert len(lay.nodes) <= 20 and lay.omitted == 101 - len(lay.nodes)
    assert "top" in lay.nodes and "grp_0" in lay.nodes
    bad, overlap = _geometry(lay)
    assert bad == [] and overlap == []
    view = render(
        {"memberships": [{"role": e.group, "member": e.member} for e in edges]}, max_nodes=20
    )
    assert view is not None and len(view.data["omitted"]) == lay.omitted


def test_routes_map_to_boxes_including_bundled_roles():
    edges = [{"role": "grp", "member": f"u{i}"} for i in range(6)] + [
        {"role": "top", "member": "grp"}
    ]
    view = render({"memberships": edges}, max_nodes=4, routes=[["u3", "grp", "top", "superuser"]])
    assert view is not None
    names = view.data["names"]
    chain = view.data["routes"][0]
    assert names[chain[0]] == "6 roles" and names[chain[1]] == "grp" and chain[3] == -1
    assert "u3" in view.data["bundles"][str(chain[0])]


def test_cycle_does_not_hang():
    lay = layout({}, [Edge("a", "b"), Edge("b", "a")])
    assert set(lay.nodes) == {"a", "b"}
    bad, overlap = _geometry(lay)
    assert bad == [] and overlap == []


def test_svg_is_well_formed_and_escaped():
    svg = render_svg(inventory())
    assert svg is not None
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg")
    titles = [el.text for el in root.iter() if el.tag.endswith("title")]
    assert any(t and t.startswith(IMG) for t in titles)
    assert "<img" not in svg and "<script>" not in svg
    assert not [el for el in root.iter() if "style" in el.attrib]  # CSP blocks style attributes


def test_no_memberships_no_graph():
    assert render_svg({"roles": [{"name": "a"}], "memberships": []}) is None
