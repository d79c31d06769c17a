"""The shape of the package: data flows one way through the pipeline stages, with no cycle.

Pure: the graph is read from the source with ``ast`` (nothing is imported, no server).
Every ``import`` of a ``pgaudit_roles`` module counts, wherever it is written; an import
under ``if TYPE_CHECKING:`` is a type annotation only, so it may close a cycle (it never
runs) but it must still respect the stage order. See ARCHITECTURE.md.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "pgaudit_roles"

# Stages in pipeline order: a module may import its own stage and earlier ones, never a
# later one. Sub-packages and top-level modules not named here fail the test: a new one
# must be placed deliberately.
STAGES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("core", ("pgaudit_roles", "pgaudit_roles.core")),
    ("collect", ("pgaudit_roles.collect",)),
    ("audit", ("pgaudit_roles.audit",)),
    ("evaluate", ("pgaudit_roles.evaluate",)),
    ("reports", ("pgaudit_roles.reports",)),
    # what runs the stages: the run's configuration, the pipeline, and the features built
    # on it (twin, lint, demo, fleet, history, diff)
    (
        "run",
        (
            "pgaudit_roles.config",
            "pgaudit_roles.pipeline",
            "pgaudit_roles.diffing",
            "pgaudit_roles.twin",
            "pgaudit_roles.lint",
            "pgaudit_roles.demo",
            "pgaudit_roles.fleet",
            "pgaudit_roles.history",
        ),
    ),
    # the command line, its commands, and the generators of the documents that describe
    # them (docgen renders the CLI reference; ``rules new`` regenerates the docs)
    (
        "interface",
        (
            "pgaudit_roles.commands",
            "pgaudit_roles.cli",
            "pgaudit_roles.docgen",
            "pgaudit_roles.rule_docs",
            "pgaudit_roles.rule_examples",
            "pgaudit_roles.rule_scaffold",
        ),
    ),
)


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    line: int
    type_only: bool
    deferred: bool  # written inside a function


def modules(root: Path = PACKAGE) -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def edges_of(name: str, path: Path, known: set[str]) -> list[Edge]:
    """The project imports of one module, resolved to module names."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    out: list[Edge] = []

    def visit(node: ast.AST, type_only: bool, deferred: bool) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.body:
                visit(child, True, deferred)
            for child in node.orelse:
                visit(child, type_only, deferred)
            return
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            deferred = True
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            if module == "pgaudit_roles" or module.startswith("pgaudit_roles."):
                for alias in node.names:
                    sub = f"{module}.{alias.name}"
                    target = sub if sub in known else module
                    out.append(Edge(name, target, node.lineno, type_only, deferred))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "pgaudit_roles" or alias.name.startswith("pgaudit_roles."):
                    out.append(Edge(name, alias.name, node.lineno, type_only, deferred))
        for child in ast.iter_child_nodes(node):
            visit(child, type_only, deferred)

    visit(ast.parse(path.read_text(encoding="utf-8"), str(path)), False, False)
    return out


def graph(root: Path = PACKAGE) -> list[Edge]:
    mods = modules(root)
    known = set(mods)
    return [
        e
        for name, path in mods.items()
        for e in edges_of(name, path, known)
        if e.target != e.source
    ]


def cycles(nodes: set[str], adjacency: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for start in sorted(nodes):
        if start in index:
            continue
        work = [(start, iter(sorted(adjacency.get(start, ()))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(adjacency.get(child, ())))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return found


def stage_of(module: str) -> int | None:
    """Index in STAGES of the longest prefix that names ``module``'s stage."""
    best: tuple[int, int] | None = None
    for rank, (_name, prefixes) in enumerate(STAGES):
        for prefix in prefixes:
            if module == prefix or module.startswith(prefix + "."):
                if prefix == "pgaudit_roles" and module != prefix:
                    continue  # the root package itself (``__version__``) only
                if best is None or len(prefix) > best[1]:
                    best = (rank, len(prefix))
    return None if best is None else best[0]


EDGES = graph()


def test_the_graph_sees_the_package() -> None:
    # guards the test itself: a parser that found nothing would pass every check below
    pairs = {(e.source, e.target) for e in EDGES}
    assert ("pgaudit_roles.collect.collector", "pgaudit_roles.collect.snapshot") in pairs
    assert ("pgaudit_roles.evaluate.engine", "pgaudit_roles.audit.audit_schema") in pairs
    assert ("pgaudit_roles.pipeline", "pgaudit_roles.evaluate.engine") in pairs
    assert len(modules()) > 60 and len(EDGES) > 200


def test_cycle_finder_finds_a_cycle() -> None:
    adjacency = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert cycles(set(adjacency), adjacency) == [["a", "b", "c"]]
    assert cycles({"a", "b"}, {"a": {"b"}}) == []


def test_no_import_cycle() -> None:
    adjacency: dict[str, set[str]] = {}
    for e in EDGES:
        if not e.type_only:
            adjacency.setdefault(e.source, set()).add(e.target)
    found = cycles(set(modules()), adjacency)
    detail = []
    for component in found:
        members = set(component)
        detail += [
            f"  {e.source}:{e.line} -> {e.target}"
            for e in EDGES
            if e.source in members and e.target in members and not e.type_only
        ]
    assert not found, "import cycles:\n" + "\n".join(detail)


def test_every_module_has_a_stage() -> None:
    unplaced = sorted(m for m in modules() if stage_of(m) is None)
    assert not unplaced, f"place these modules in STAGES (and ARCHITECTURE.md): {unplaced}"


def test_no_stage_imports_a_later_stage() -> None:
    wrong = []
    for e in EDGES:
        source, target = stage_of(e.source), stage_of(e.target)
        if source is not None and target is not None and target > source:
            wrong.append(
                f"  {e.source}:{e.line} ({STAGES[source][0]}) imports {e.target} "
                f"({STAGES[target][0]})"
            )
    assert not wrong, "a stage imports a later one:\n" + "\n".join(sorted(set(wrong)))


def test_stage_order_check_catches_a_backward_import() -> None:
    assert stage_of("pgaudit_roles.collect.snapshot") == 1
    assert stage_of("pgaudit_roles.reports.common") == 4
    assert stage_of("pgaudit_roles") == 0 and stage_of("pgaudit_roles.commands.scan") == 6
    assert stage_of("pgaudit_roles.no_such_thing") is None


DEFERRED_UNTIL_THE_FORK: dict[str, frozenset[str]] = {
    "pgaudit_roles.pipeline": frozenset(
        {
            "pgaudit_roles.audit.audit_schema",
            "pgaudit_roles.evaluate.baseline",
            "pgaudit_roles.evaluate.engine",
            "pgaudit_roles.evaluate.rule_queries",
            "pgaudit_roles.evaluate.rules",
            "pgaudit_roles.evaluate.template_preload",
            "pgaudit_roles.evaluate.waivers",
            "pgaudit_roles.reports",
            "pgaudit_roles.reports.registry",
        }
    ),
    "pgaudit_roles.commands._shared": frozenset(
        {
            "pgaudit_roles.evaluate.baseline",
            "pgaudit_roles.evaluate.frameworks",
            "pgaudit_roles.history",
            "pgaudit_roles.reports.prometheus_report",
            "pgaudit_roles.reports.text_report",
            "pgaudit_roles.twin.verify",
        }
    ),
}
"""The one exception: a live scan (``pipeline.run_scan``, the ``scan`` command) forks its
collection as soon as its configuration is read, and the child's ``import psycopg`` and
queries overlap this process's imports only if these modules (the audit schema, the
engine, the rules, the reporters; DuckDB with them) are imported after the fork, where
they are used. ``tests/test_pipeline_imports.py`` checks what is loaded at that point."""


def test_project_imports_are_at_the_top() -> None:
    # the project's own modules are imported where a reader looks for them; only heavy
    # third-party libraries are deferred (the CLI's --help must not load them), and the
    # evaluation's modules in the two that start a live scan's collection
    deferred = sorted(
        {
            f"  {e.source}:{e.line} -> {e.target}"
            for e in EDGES
            if e.deferred and e.target not in DEFERRED_UNTIL_THE_FORK.get(e.source, ())
        }
    )
    assert not deferred, "project imports inside functions:\n" + "\n".join(deferred)


@pytest.mark.parametrize(
    "code, expected",
    [
        ("def f():\n    from .b import x\n", [("p.a", "p.b", True, False)]),
        (
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from . import b\n",
            [("p.a", "p.b", False, True)],
        ),
        ("import p.b\nfrom os import path\n", [("p.a", "p.b", False, False)]),
    ],
)
def test_edges_are_classified(tmp_path: Path, code: str, expected: list[tuple]) -> None:
    path = tmp_path / "a.py"
    path.write_text(code.replace("p.", "pgaudit_roles."), encoding="utf-8")
    got = [
        (e.source, e.target, e.deferred, e.type_only)
        for e in edges_of("pgaudit_roles.a", path, {"pgaudit_roles.a", "pgaudit_roles.b"})
    ]
    assert got == [
        tuple(x.replace("p.", "pgaudit_roles.") if isinstance(x, str) else x for x in item)
        for item in expected
    ]


def test_every_project_import_names_a_module_that_exists() -> None:
    # mypy runs with ignore_missing_imports (for untyped third-party packages), so a stale
    # path after a move would only fail when that line runs
    known = set(modules())
    missing = sorted(
        {f"  {e.source}:{e.line} -> {e.target}" for e in EDGES if e.target not in known}
    )
    assert not missing, "imports of modules that do not exist:\n" + "\n".join(missing)
