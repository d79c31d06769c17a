"""escalation.Graph.routes against the search it replaced: one reverse search per target,
then every start tried in turn (the starts' order, the exclusions of targets and of an
owner's own roles, PUBLIC searched apart). Pure logic, no server.

Why: routes now looks up the starts among the states each search reached instead of
trying every start against every target (1.4 million pairs on the bench's large preset);
this holds the routes, their order included, equal on random graphs."""

from __future__ import annotations

import random
from typing import Any

from pgaudit_roles.audit import escalation
from pgaudit_roles.audit.escalation import Edge, Graph, Route, State

SEEDS = 300


def _reference_routes(graph: Graph, to: str, from_role: str | None = None) -> list[Route]:
    """Graph.routes as it was: every start against every target."""
    out: list[Route] = []
    starts = graph.starts(from_role)
    for tkind, label, app, states in graph.targets(to):
        searches = {}
        for start, name, kind in starts:
            if start in states:
                continue
            if tkind == "owner" and start[1] in {s[1] for s in states}:
                continue
            avoid = start[1] != 0
            if avoid not in searches:
                searches[avoid] = graph.reverse_search(states, avoid_public=avoid)
            edges = graph.route(start, searches[avoid])
            if edges:
                out.append(Route(start, name, kind, tkind, label, app, edges))
    return out


def _graph(rng: random.Random) -> Graph:
    n = rng.randint(1, 25)
    predefined = [d.name for d in escalation.DANGEROUS_ROLES if d.danger != "superuser"]
    roles: dict[int, dict[str, Any]] = {}
    for oid in range(10, 10 + n):
        name = rng.choice([f"r{oid}", rng.choice(predefined), f"r{rng.randint(10, 12)}"])
        roles[oid] = {
            "name": name,
            "kind": rng.choice(["owner", "login", "group", None]),
            "app": rng.choice([None, "app1", "app2"]),
            "login": rng.random() < 0.6,
            "superuser_equivalent": rng.random() < 0.15,
            "superuser": rng.random() < 0.1,
        }
    nodes: list[State] = [("r", oid, m) for oid in [0, *roles] for m in ("as", "privs")]
    nodes += [("superuser",), ("os",), ("remote", 1, "srv1"), ("remote", 2, "srv2")]
    edges = []
    for i in range(rng.randint(0, 4 * n)):
        src = rng.choice(nodes[: 2 * (n + 1)])  # edges start at roles
        dst = rng.choice(nodes)
        if src != dst:
            label = str(dst[2]) if dst[0] == "remote" else str(dst[0])
            edges.append(
                Edge(src, dst, rng.choice(["set_role", "inherit", "k"]), None, None, f"e{i}",
                     None, rng.choice([None, f"fix{i}"]), rng.randint(0, 3), label)
            )  # fmt: skip
    return Graph(edges, roles)


def test_routes_equal_the_exhaustive_search() -> None:
    found = 0
    for seed in range(SEEDS):
        rng = random.Random(seed)
        graph = _graph(rng)
        names = sorted({r["name"] for r in graph.roles.values()})
        for to in ("superuser", "os", "owner", "predefined", "remote", *names[:3]):
            for from_role in (None, "PUBLIC", rng.choice(names), "nobody"):
                expected = [r.row() for r in _reference_routes(graph, to, from_role)]
                assert [r.row() for r in graph.routes(to, from_role)] == expected, (seed, to)
                found += len(expected)
        expected = [
            r.row()
            for to in ("superuser", "os", "owner", "predefined", "remote")
            for r in _reference_routes(graph, to)
        ]
        assert [r.row() for r in graph.standard_routes(None)] == expected, seed
    assert found > 1000, found  # the graphs have routes to compare
