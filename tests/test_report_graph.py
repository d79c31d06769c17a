"""Membership graph layout: groups above members, bounded size, names escaped."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from report_fixtures import IMG, inventory

from pgaudit_roles.reports.graph_svg import Edge, edges_from_inventory, layout, render_svg


def test_groups_sit_above_their_members():
    edges = [Edge("alice", "app_rw"), Edge("app_rw", "app_ro"), Edge("bob", "app_ro")]
    lay = layout({}, edges)
    n = lay.nodes
    assert n["app_ro"].y < n["app_rw"].y < n["alice"].y
    assert n["app_ro"].level == 2 and n["alice"].level == 0 and n["bob"].level == 0


def test_memberships_by_oid_and_name_and_duplicates_merge():
    inv = inventory()
    roles, edges = edges_from_inventory(inv)
    pairs = {(e.member, e.group) for e in edges}
    assert ("app_rw", "app_ro") in pairs  # given by OID
    assert (IMG, "app_rw") in pairs
    inv["memberships"].append({"role": "app_owner", "member": "deploy", "admin_option": False,
                               "inherit_option": True, "set_option": True})
    _, edges2 = edges_from_inventory(inv)
    (e,) = [e for e in edges2 if (e.member, e.group) == ("deploy", "app_owner")]
    assert e.admin and e.inherit  # strongest options of both grants
    assert len(edges2) == len(edges)


def test_large_graph_is_truncated_and_wrapped():
    edges = [Edge(f"user_{i}", f"grp_{i % 5}") for i in range(1000)]
    lay = layout({}, edges, max_nodes=100)
    assert len(lay.nodes) == 100 and lay.omitted == 905
    assert lay.width < 1300  # wrapped rows, not one 100-node-wide row
    svg = render_svg({"memberships": [{"role": e.group, "member": e.member} for e in edges]},
                     max_nodes=100)
    assert svg is not None and "905 less connected roles not drawn" in svg


def test_cycle_does_not_hang():
    lay = layout({}, [Edge("a", "b"), Edge("b", "a")])
    assert set(lay.nodes) == {"a", "b"}


def test_svg_is_well_formed_and_escaped():
    svg = render_svg(inventory())
    assert svg is not None
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg")
    titles = [el.text for el in root.iter() if el.tag.endswith("title")]
    assert any(t and t.startswith(IMG) for t in titles)
    assert "<img" not in svg and "<script>" not in svg


def test_no_memberships_no_graph():
    assert render_svg({"roles": [{"name": "a"}], "memberships": []}) is None
