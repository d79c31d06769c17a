"""The role closure of a small membership graph, computed in Python.

Why a second path next to the SQL one in ``effective``: on a small cluster (the test
suite's, a single-application server) the closure is a few hundred rows, and DuckDB's
cost is per statement, not per row: the set-based search costs one statement per depth
level plus about ten others (30-80 ms), where walking the graph here and inserting the
rows in one statement costs a few milliseconds. The SQL path stays for large graphs,
where set-based work wins and rows should not pass through Python.

The rules are exactly those of ``effective.build_role_closure`` (its docstring and
``_bfs``/``_database_owner_rows``): one edge per (member, role) pair with the options OR'ed
over the pair's grant rows (13-15: inheritance is the member's rolinherit, SET ROLE any
chain); a breadth-first search per role and per search (any chain, inheriting chains,
SET-able chains) keeping, among the shortest chains, the smallest name list; per-database
rows for what the implicit owner -> pg_database_owner edge adds. ``tests/test_closure_paths.py``
compares both paths on random graphs.

Inputs whose SQL semantics would need more care than a plain dictionary (a NULL, empty or
repeated role OID or name, a NULL or repeated database OID, several pg_database_owner
roles) return None, and so do names that leave no separator free for :func:`encode`: the
caller then uses the SQL path, which defines the result.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

PDO = "pg_database_owner"

MODES = ("any", "inh", "set")

Path = tuple[str, ...]
Reach = dict[int, tuple[int, Path]]
"""From one member: role OID -> (depth of the shortest chain, its smallest name list)."""


@dataclass
class Closure:
    """The closure's rows: (database, database_oid, member_oid, role_oid, depth, path,
    inherit_depth, inherit_path, set_path, in_inherit_closure), paths as name tuples.

    ``role_closure``'s other columns follow: member and role are the path's first and
    last names, inherits is ``inherit_depth IS NOT NULL``, can_set ``set_path IS NOT
    NULL``. ``internal.inherit_closure`` is the rows with ``in_inherit_closure`` (the
    inheriting pairs, each valid in exactly one scope per database: a per-database row
    only where the cluster-wide pair does not inherit)."""

    rows: list[tuple[Any, ...]]

    def role_closure(self) -> list[tuple[Any, ...]]:
        """The rows as ``role_closure`` holds them, in its column order."""
        return [
            (
                db,
                dboid,
                path[0],
                path[-1],
                member,
                role,
                depth,
                list(path),
                inh_depth is not None,
                inh_depth,
                None if inh_path is None else list(inh_path),
                set_path is not None,
                None if set_path is None else list(set_path),
            )
            for db, dboid, member, role, depth, path, inh_depth, inh_path, set_path, _k in self.rows
        ]

    def keeps_all_inheriting(self) -> bool:
        """Whether ``internal.inherit_closure`` is every inheriting row: no per-database
        row inherits a pair whose cluster-wide row inherits too (the usual case)."""
        return all(r[9] for r in self.rows if r[6] is not None)


class TooLarge(Exception):
    """The closure would exceed the row budget: the SQL path is the better one."""


SEPARATORS = tuple(chr(c) for c in range(1, 32))
"""Characters that may separate rows, fields and names in :func:`encode`'s text."""


def encode(closure: Closure, names: Iterable[str]) -> tuple[str, str, str, str] | None:
    """The rows as one text (rows, their fields, a path's names each split by its own
    separator) and the three separators, or None when the names use every candidate.

    Why text: DuckDB turns a Python list parameter into one value object per element,
    which for a few thousand rows costs more than the closure itself; one string is
    passed as is and split by vectorised ``string_split``
    (``effective._DECODE_ROLE_CLOSURE_SQL``). Fields: database, database_oid, member_oid,
    role_oid, depth, path, inherit_depth, inherit_path, set_path; an empty field is NULL (a
    name is never empty, see :func:`compute`)."""
    used: set[str] = set()
    for name in names:
        used.update(name)
    for row in closure.rows:
        if row[0] is not None:
            used.update(row[0])
    free = [c for c in SEPARATORS if c not in used]
    if len(free) < 3:
        return None
    rsep, fsep, nsep = free[:3]
    out = []
    for db, dboid, member, role, depth, path, inh_depth, inh_path, set_path, _k in closure.rows:
        joined = nsep.join(path)
        out.append(
            fsep.join(
                (
                    "" if db is None else db,
                    "" if dboid is None else str(dboid),
                    str(member),
                    str(role),
                    str(depth),
                    joined,
                    "" if inh_depth is None else str(inh_depth),
                    "" if inh_path is None else joined if inh_path is path else nsep.join(inh_path),
                    "" if set_path is None else joined if set_path is path else nsep.join(set_path),
                )
            )
        )
    return rsep.join(out), rsep, fsep, nsep


def compute(
    roles: Sequence[tuple[Any, Any, Any, Any]],
    memberships: Iterable[tuple[Any, Any, Any, Any]],
    databases: Sequence[tuple[Any, Any, Any]],
    v16: bool,
    max_pairs: int,
) -> Closure | None:
    """The closure, or None when the input needs the SQL path (see the module doc).

    ``roles``: (oid, name, inherit, predefined) of ``internal.roles_raw``;
    ``memberships``: (member_oid, role_oid, inherit_option, set_option) of ``memberships``;
    ``databases``: (name, oid, owner_oid) of ``internal.databases_raw``. ``v16``: the 16+
    inheritance and SET rules. Raises :class:`TooLarge` once the searches have found
    more than ``max_pairs`` (member, role) pairs.
    """
    names: dict[int, str] = {}
    inherit: dict[int, Any] = {}
    for oid, name, inh, _predefined in roles:
        if oid is None or not name or oid in names:
            return None
        names[oid] = name
        inherit[oid] = inh
    if len(set(names.values())) != len(names):
        return None
    pdos = [oid for oid, name, _i, predefined in roles if name == PDO and predefined is True]
    if len(pdos) > 1:
        return None
    db_oids = [d[1] for d in databases]
    if None in db_oids or len(set(db_oids)) != len(db_oids):
        return None
    if pdos and any(not d[0] for d in databases):
        return None

    # one edge per pair, options OR'ed over its grant rows (bool_or, NULL counts as false)
    pairs: dict[tuple[int, int], list[bool]] = {}
    for member, role, inh_opt, set_opt in memberships:
        if member not in names or role not in names:
            continue  # the SQL joins both ends to roles_raw
        inh = bool(inh_opt) if v16 else bool(inherit[member])
        setopt = bool(set_opt) if v16 else True
        opts = pairs.setdefault((member, role), [False, False])
        opts[0] = opts[0] or inh
        opts[1] = opts[1] or setopt
    adjacency: dict[str, dict[int, list[int]]] = {m: {} for m in MODES}
    for (member, role), (inh, setopt) in pairs.items():
        adjacency["any"].setdefault(member, []).append(role)
        if inh:
            adjacency["inh"].setdefault(member, []).append(role)
        if setopt:
            adjacency["set"].setdefault(member, []).append(role)

    budget = [max_pairs]
    reach: dict[str, dict[int, Reach]] = {}
    for mode in MODES:
        # a search over the same edges as "any" (every grant inherits / allows SET: the
        # usual case) has the same result: shared, not searched again
        if mode != "any" and adjacency[mode] == adjacency["any"]:
            reach[mode] = reach["any"]
        else:
            reach[mode] = {s: _bfs(s, names, adjacency[mode], budget) for s in names}
    any_, inh_, set_ = reach["any"], reach["inh"], reach["set"]

    rows: list[tuple[Any, ...]] = []
    for member, found in any_.items():
        inh_m, set_m = inh_[member], set_[member]
        for role, (depth, path) in found.items():
            i = inh_m.get(role)
            s = set_m.get(role)
            rows.append(
                (
                    None,
                    None,
                    member,
                    role,
                    depth,
                    path,
                    None if i is None else i[0],
                    None if i is None else i[1],
                    None if s is None else s[1],
                    i is not None,
                )
            )
    if pdos:
        _database_owner_rows(pdos[0], databases, names, inherit, v16, reach, budget, rows)
    return Closure(rows)


def _bfs(
    start: int, names: dict[int, str], adjacency: dict[int, list[int]], budget: list[int]
) -> Reach:
    """Shortest chains from ``start``, level by level; among the chains of one length to a
    role the smallest name list (they differ only before the role's own name, so the
    smallest predecessor chain decides: what ``min(list_append(...))`` keeps in SQL)."""
    found: Reach = {start: (0, (names[start],))}
    frontier = [start]
    depth = 0
    while frontier:
        depth += 1
        best: dict[int, Path] = {}
        for node in frontier:
            roles = adjacency.get(node)
            if not roles:
                continue
            prefix = found[node][1]
            for role in roles:
                if role in found:
                    continue
                old = best.get(role)
                if old is None or prefix < old:
                    best[role] = prefix
        budget[0] -= len(best)
        if budget[0] < 0:
            raise TooLarge
        for role, prefix in best.items():
            found[role] = (depth, (*prefix, names[role]))
        frontier = list(best)
    return found


def _database_owner_rows(
    pdo: int,
    databases: Sequence[tuple[Any, Any, Any]],
    names: dict[int, str],
    inherit: dict[int, Any],
    v16: bool,
    reach: dict[str, dict[int, Reach]],
    budget: list[int],
    rows: list[tuple[Any, ...]],
) -> None:
    """Per-database rows for the pairs the implicit owner -> pg_database_owner edge adds a
    search to (a chain to the owner, the edge, a chain from pg_database_owner; SET ROLE
    follows it whatever the owner's inheritance): the depth and chain of each search are
    the shorter of the cluster-wide one and the one through the edge (the cluster-wide one
    on a tie)."""
    for dbname, dboid, owner in databases:
        if owner not in names:
            continue
        # 14-15: the edge inherits when the owner has rolinherit (NULL: it does not)
        edge_inherits = True if v16 else inherit[owner] is True
        through: dict[tuple[int, int], dict[str, tuple[int, Path]]] = {}
        for mode in MODES:
            if mode == "inh" and not edge_inherits:
                continue
            searches = reach[mode]
            upward = searches[pdo]
            for member, found in searches.items():
                to_owner = found.get(owner)
                if to_owner is None:
                    continue
                depth_a, path_a = to_owner
                for role, (depth_b, path_b) in upward.items():
                    through.setdefault((member, role), {})[mode] = (
                        depth_a + 1 + depth_b,
                        path_a + path_b,
                    )
        budget[0] -= len(through)
        if budget[0] < 0:
            raise TooLarge
        for (member, role), via in through.items():
            best: dict[str, tuple[int, Path] | None] = {}
            adds = False
            for mode in MODES:
                c = reach[mode][member].get(role)
                p = via.get(mode)
                if c is None:
                    best[mode] = p
                    adds = adds or p is not None
                else:
                    best[mode] = p if p is not None and p[0] < c[0] else c
            if not adds:
                continue
            a, i, s = best["any"], best["inh"], best["set"]
            assert a is not None  # every inheriting or SET-able chain is also a chain
            rows.append(
                (
                    dbname,
                    dboid,
                    member,
                    role,
                    a[0],
                    a[1],
                    None if i is None else i[0],
                    None if i is None else i[1],
                    None if s is None else s[1],
                    i is not None and reach["inh"][member].get(role) is None,
                )
            )
