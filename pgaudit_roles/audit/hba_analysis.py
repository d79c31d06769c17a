"""Derived facts about pg_hba rules, for the audit schema and the hba rules.

Pure logic over ``hba_rules`` rows (from the ``pg_hba_file_rules`` view or from
:func:`pgaudit_roles.collect.hba.parse_hba_file`): how far a rule reaches (remote? how many
addresses? every database, every user, replication?) and whether it can ever match at all.
A rule is *shadowed* when an earlier rule matches every connection it matches: PostgreSQL
uses the first matching line and never falls through, so the later line is dead text, and
usually a sign that the author believes something that is not true (a ``reject`` or a
stricter method placed below a broad ``trust``).

Conventions shared with the parser: a token stored in double quotes (``"all"``) is a
literal name, not a keyword; ``+name`` is a group check; a token starting with ``/`` is a
regular expression (16+; treated as one here on every version, which only makes shadowing
more conservative).
"""

from __future__ import annotations

import heapq
import ipaddress
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..collect.hba import token_is_literal, unquote_token

Column = tuple[str, str, str]

ANALYSIS_COLUMNS: list[Column] = [
    ("in_effect", "BOOLEAN", "The line has no error, so the server uses it"),
    ("is_remote", "BOOLEAN", "type is not local (the rule applies to TCP connections)"),
    (
        "address_family",
        "VARCHAR",
        "ipv4 | ipv6 for an address/netmask; NULL for keywords and host names",
    ),
    (
        "prefix_len",
        "INTEGER",
        "CIDR prefix length of the netmask (0 for the keyword all); NULL for host names, "
        "samehost/samenet, local lines and non-contiguous netmasks",
    ),
    (
        "address_count",
        "DOUBLE",
        "Number of client addresses the line covers: 2^(address bits - prefix); all = 2^32 + 2^128 "
        "(every IPv4 and IPv6 address); NULL for host names, samehost, samenet and local lines. "
        "DOUBLE because IPv6 counts exceed 128-bit integers",
    ),
    ("is_all_addresses", "BOOLEAN", "Address all, 0.0.0.0/0 or ::/0 (any client); false for local"),
    ("is_hostname", "BOOLEAN", "The address is a host name (a leading dot = domain suffix)"),
    ("is_replication", "BOOLEAN", "The database field has the replication keyword"),
    (
        "matches_all_databases",
        "BOOLEAN",
        "The database field has the all keyword (not replication)",
    ),
    ("matches_all_users", "BOOLEAN", "The user field has the all keyword"),
    (
        "shadowed_by",
        "INTEGER",
        "rule_number of the first earlier rule that matches every connection this one matches, "
        "so this one can never be used; NULL when none",
    ),
]

ALL_ADDRESS_COUNT = 2**32 + 2**128

# Which kinds of TCP connection each type accepts: ssl, gss (GSSAPI-encrypted), plain.
_TYPE_CLASSES: dict[str, frozenset[str]] = {
    "local": frozenset({"unix"}),
    "host": frozenset({"ssl", "gss", "plain"}),
    "hostssl": frozenset({"ssl"}),
    "hostnossl": frozenset({"gss", "plain"}),
    "hostgssenc": frozenset({"gss"}),
    "hostnogssenc": frozenset({"ssl", "plain"}),
}


@dataclass(frozen=True)
class _Addr:
    """A line's address field, reduced to what coverage needs."""

    kind: str  # all | mask | hostname | samehost | samenet | none
    family: int = 0  # 4 or 6 for mask
    network: int = 0
    mask: int = 0
    hostname: str = ""

    def covers(self, other: _Addr) -> bool:
        if self.kind == "all":
            return True
        if self.kind != other.kind:
            return False
        if self.kind == "mask":
            return (
                self.family == other.family
                and self.mask & ~other.mask == 0
                and other.network & self.mask == self.network
            )
        if self.kind == "hostname":
            mine, theirs = self.hostname.lower(), other.hostname.lower()
            if mine.startswith("."):
                return theirs.endswith(mine)
            return mine == theirs
        return True  # same keyword (samehost, samenet) or both local


def _parse_address(address: str | None, netmask: str | None, rtype: str | None) -> _Addr:
    if rtype == "local" or address is None:
        return _Addr("none")
    if not token_is_literal(address) and address in ("all", "samehost", "samenet"):
        return _Addr(address)
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return _Addr("hostname", hostname=unquote_token(address))
    width = 32 if ip.version == 4 else 128
    mask = (1 << width) - 1
    if netmask:
        try:
            m = ipaddress.ip_address(netmask)
            if m.version == ip.version:
                mask = int(m)
        except ValueError:
            pass
    return _Addr("mask", family=ip.version, network=int(ip) & mask, mask=mask)


def _prefix_len(addr: _Addr) -> int | None:
    if addr.kind == "all":
        return 0
    if addr.kind != "mask":
        return None
    width = 32 if addr.family == 4 else 128
    ones = bin(addr.mask).count("1")
    contiguous = addr.mask == ((1 << width) - 1) ^ ((1 << (width - ones)) - 1)
    return ones if contiguous else None


def _address_count(addr: _Addr) -> int | None:
    if addr.kind == "all":
        return ALL_ADDRESS_COUNT
    if addr.kind != "mask":
        return None
    width = 32 if addr.family == 4 else 128
    return 2 ** (width - bin(addr.mask).count("1"))


def _is_keyword(token: str, word: str) -> bool:
    return token == word  # quoted keywords are stored with their quotes, so never equal


def _group_closure(
    roles: Iterable[Mapping[str, Any]] | None,
    memberships: Iterable[Mapping[str, Any]] | None,
    wanted: Iterable[str] | None = None,
) -> dict[str, set[str]]:
    """group name -> names of every role that is directly or indirectly a member of it.

    All grants count, whatever their INHERIT/SET options: pg_hba's ``+group`` uses plain
    membership (superusers only when explicitly granted). ``wanted`` limits the result to
    the groups some line names (``+g``): with thousands of roles, the closure of every role
    is the quadratic part nobody reads.
    """
    if not roles or memberships is None:
        return {}
    names = {int(r["oid"]): str(r["name"]) for r in roles}
    direct: dict[int, set[int]] = {}
    for m in memberships:
        direct.setdefault(int(m["role_oid"]), set()).add(int(m["member_oid"]))
    if wanted is None:
        groups = list(names)
    else:
        by_name = {name: oid for oid, name in names.items()}
        groups = [by_name[g] for g in set(wanted) if g in by_name]
    closure: dict[str, set[str]] = {}
    for group in groups:
        seen: set[int] = set()
        stack = list(direct.get(group, ()))
        while stack:
            member = stack.pop()
            if member in seen:
                continue
            seen.add(member)
            stack.extend(direct.get(member, ()))
        closure[names[group]] = {names[m] for m in seen if m in names}
    return closure


class _Coverage:
    """Does one token list match at least every connection another one matches?"""

    def __init__(self, groups: Mapping[str, set[str]]) -> None:
        self.groups = groups

    def _in_group(self, name: str, group: str) -> bool:
        return name == group or name in self.groups.get(group, ())

    def user_covered(self, token: str, earlier: Sequence[str]) -> bool:
        if token in earlier or any(_is_keyword(e, "all") for e in earlier):
            return True
        groups = [e[1:] for e in earlier if e.startswith("+")]
        if not groups or token.startswith("/"):
            return False
        if token.startswith("+"):  # +h is inside +g when h is g or a member of g
            return any(self._in_group(token[1:], g) for g in groups)
        if token == "all":
            return False
        return any(self._in_group(unquote_token(token), g) for g in groups)

    @staticmethod
    def database_covered(token: str, earlier: Sequence[str]) -> bool:
        if token in earlier:
            return True
        return any(_is_keyword(e, "all") for e in earlier) and not _is_keyword(token, "replication")


def _covers(
    earlier: Mapping[str, Any],
    later: Mapping[str, Any],
    e_addr: _Addr,
    l_addr: _Addr,
    cov: _Coverage,
) -> bool:
    e_types = _TYPE_CLASSES.get(str(earlier["type"]), frozenset())
    l_types = _TYPE_CLASSES.get(str(later["type"]), frozenset())
    if not l_types or not l_types <= e_types:
        return False
    if not e_addr.covers(l_addr):
        return False
    e_dbs, e_users = list(earlier.get("databases") or []), list(earlier.get("users") or [])
    if not all(cov.database_covered(t, e_dbs) for t in later.get("databases") or []):
        return False
    return all(cov.user_covered(t, e_users) for t in later.get("users") or [])


def analyze(
    rows: Sequence[Mapping[str, Any]],
    roles: Sequence[Mapping[str, Any]] | None = None,
    memberships: Sequence[Mapping[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """Each row (in evaluation order) with :data:`ANALYSIS_COLUMNS` added.

    ``roles`` and ``memberships`` (snapshot rows: ``oid``/``name`` and
    ``role_oid``/``member_oid``) are optional; with them a ``+group`` line also shadows later
    lines for its members. Without them ``+group`` only covers itself, the group's own name
    and ``all`` covers everything: shadowing is only claimed when it is certain. Regex
    tokens only cover an identical token. Lines with errors are not in effect: they neither
    shadow nor get shadowed. ``shadowed_by`` uses the earlier row's ``rule_number`` (or its
    position among rows in effect when the source has no rule numbers, as on 13-15 views).
    """
    return [
        {**row, **facts}
        for row, facts in zip(rows, analyze_facts(rows, roles, memberships), strict=True)
    ]


def analyze_facts(
    rows: Sequence[Mapping[str, Any]],
    roles: Sequence[Mapping[str, Any]] | None = None,
    memberships: Sequence[Mapping[str, Any]] | None = None,
) -> Iterator[dict[str, Any]]:
    """The :data:`ANALYSIS_COLUMNS` of each row, in order, without copying the rows.

    Why an index: the first covering earlier line used to be found by testing every earlier
    line, which is quadratic (20,000 lines took six minutes). A covering line must cover
    each database token, each user token, the address and the connection type of the later
    line, so it is in the posting list of each of them; the shortest of those lists is
    walked in line order and each candidate checked with the exact test (:func:`_covers`),
    so the answer is the same line as before. Memory is the rows' tokens once more.
    """
    wanted = {
        t[1:]
        for r in rows
        if r.get("error") is None
        for t in (r.get("users") or [])
        if t.startswith("+")
    }
    groups = _group_closure(roles, memberships, wanted)
    index = _ShadowIndex(_Coverage(groups), groups)
    position = 0
    for row in rows:
        rtype = row.get("type")
        in_effect = row.get("error") is None and rtype is not None
        addr = _parse_address(row.get("address"), row.get("netmask"), rtype)
        dbs, users = list(row.get("databases") or []), list(row.get("users") or [])
        count = _address_count(addr)
        facts: dict[str, Any] = {
            "in_effect": in_effect,
            "is_remote": None if rtype is None else rtype != "local",
            "address_family": f"ipv{addr.family}" if addr.kind == "mask" else None,
            "prefix_len": _prefix_len(addr),
            "address_count": float(count) if count is not None else None,
            "is_all_addresses": None
            if rtype is None
            else (addr.kind == "all" or (addr.kind == "mask" and addr.mask == 0)),
            "is_hostname": None if rtype is None else addr.kind == "hostname",
            "is_replication": None
            if rtype is None
            else any(_is_keyword(t, "replication") for t in dbs),
            "matches_all_databases": None
            if rtype is None
            else any(_is_keyword(t, "all") for t in dbs),
            "matches_all_users": None
            if rtype is None
            else any(_is_keyword(t, "all") for t in users),
            "shadowed_by": None,
        }
        if in_effect:
            line = _Line(str(rtype), addr, tuple(dbs), tuple(users))
            facts["shadowed_by"] = index.first_cover(line)
            own = row.get("rule_number")
            position += 1
            index.add(line, int(own) if own is not None else position)
        yield facts


@dataclass(frozen=True)
class _Line:
    """What shadowing needs of a line in effect (the row itself is not kept)."""

    type: str
    addr: _Addr
    databases: tuple[str, ...]
    users: tuple[str, ...]

    def as_row(self) -> dict[str, Any]:
        return {"type": self.type, "databases": self.databases, "users": self.users}


def _prefix_mask(family: int, length: int) -> int:
    width = 32 if family == 4 else 128
    return ((1 << width) - 1) ^ ((1 << (width - length)) - 1)


class _ShadowIndex:
    """Earlier lines in effect, in posting lists keyed by what a later line must find.

    Every list holds positions in increasing order (lines are added in order), so merging
    the lists of one key gives candidates in line order and the first that covers is the
    answer. Keys are a superset filter; :func:`_covers` decides.
    """

    def __init__(self, cov: _Coverage, groups: Mapping[str, set[str]]) -> None:
        self.cov = cov
        self.lines: list[tuple[_Line, int]] = []
        self.postings: dict[tuple[Any, ...], list[int]] = {}
        self.member_of: dict[str, set[str]] = {}
        self.net_prefixes: dict[int, set[int]] = {}
        """family -> the prefix lengths of the networks posted: a later line's address
        keys need only those (a key nobody posted finds no list)."""
        for group, members in groups.items():
            for m in members:
                self.member_of.setdefault(m, set()).add(group)

    def _post(self, key: tuple[Any, ...], pos: int) -> None:
        self.postings.setdefault(key, []).append(pos)

    def add(self, line: _Line, number: int) -> None:
        pos = len(self.lines)
        self.lines.append((line, number))
        for t in set(line.databases):
            self._post(("d", t), pos)
        for t in set(line.users):
            self._post(("u", t), pos)
            if t.startswith("+"):
                self._post(("g", t[1:]), pos)
        self._post(("t", line.type), pos)
        a = line.addr
        if a.kind == "mask":
            plen = _prefix_len(a)
            if plen is None:
                self._post(("a-irregular", a.family), pos)
            else:
                self._post(("a-net", a.family, plen, a.network), pos)
                self.net_prefixes.setdefault(a.family, set()).add(plen)
        elif a.kind == "hostname":
            self._post(("a-host", a.hostname.lower()), pos)
        else:
            self._post(("a", a.kind), pos)

    def _keys_address(self, a: _Addr) -> list[tuple[Any, ...]]:
        keys: list[tuple[Any, ...]] = [("a", "all")]
        if a.kind == "mask":
            lead = _leading_ones(a.mask, 32 if a.family == 4 else 128)
            keys.append(("a-irregular", a.family))
            # every prefix up to ``lead`` could hold a covering network, but only the
            # lengths some earlier line has can (up to 129 keys an IPv6 line otherwise)
            for plen in sorted(self.net_prefixes.get(a.family, ())):
                if plen <= lead:
                    keys.append(("a-net", a.family, plen, a.network & _prefix_mask(a.family, plen)))
        elif a.kind == "hostname":
            h = a.hostname.lower()
            keys.append(("a-host", h))
            keys.extend(("a-host", h[i:]) for i, ch in enumerate(h) if ch == "." and i > 0)
        elif a.kind != "all":
            keys.append(("a", a.kind))
        return keys

    def _keys_database(self, t: str) -> list[tuple[Any, ...]]:
        keys: list[tuple[Any, ...]] = [("d", t)]
        if not _is_keyword(t, "replication"):
            keys.append(("d", "all"))
        return keys

    def _keys_user(self, t: str) -> list[tuple[Any, ...]]:
        keys: list[tuple[Any, ...]] = [("u", t), ("u", "all")]
        if t.startswith("/") or t == "all":
            return keys
        name = t[1:] if t.startswith("+") else unquote_token(t)
        keys.append(("g", name))
        keys.extend(("g", g) for g in self.member_of.get(name, ()))
        return keys

    def _keys_type(self, rtype: str) -> list[tuple[Any, ...]]:
        mine = _TYPE_CLASSES.get(rtype, frozenset())
        return [("t", other) for other, classes in _TYPE_CLASSES.items() if mine <= classes]

    def first_cover(self, line: _Line) -> int | None:
        if not _TYPE_CLASSES.get(line.type) or not self.lines:
            return None
        alternatives = [self._keys_type(line.type), self._keys_address(line.addr)]
        alternatives += [self._keys_database(t) for t in line.databases]
        alternatives += [self._keys_user(t) for t in line.users]
        best: list[list[int]] | None = None
        best_size = -1
        for keys in alternatives:
            lists = [p for k in dict.fromkeys(keys) if (p := self.postings.get(k))]
            size = sum(len(p) for p in lists)
            if best is None or size < best_size:
                best, best_size = lists, size
                if size == 0:
                    return None
        assert best is not None
        later = line.as_row()
        previous = -1
        for pos in heapq.merge(*best):
            if pos == previous:
                continue
            previous = pos
            earlier, number = self.lines[pos]
            if _covers(earlier.as_row(), later, earlier.addr, line.addr, self.cov):
                return number
        return None


def _leading_ones(mask: int, width: int) -> int:
    """How many of the top bits of ``mask`` are set (the longest prefix a covering network
    with a contiguous netmask may have)."""
    inverted = ~mask & ((1 << width) - 1)
    return width - inverted.bit_length()


def pairwise_shadowed_by(
    rows: list[dict[str, Any]], roles: Any = None, memberships: Any = None
) -> list[int | None]:
    """The definition the index must agree with: the first earlier line in effect that covers
    this one, found by trying every earlier line (quadratic). Kept for the equivalence test
    and the benchmark's comparison column, never used by a scan."""
    cov = _Coverage(_group_closure(roles, memberships))
    earlier: list[tuple[dict[str, Any], Any, int]] = []
    out: list[int | None] = []
    for row in rows:
        addr = _parse_address(row.get("address"), row.get("netmask"), row.get("type"))
        if row.get("error") is not None or row.get("type") is None:
            out.append(None)
            continue
        out.append(
            next((n for e, e_addr, n in earlier if _covers(e, row, e_addr, addr, cov)), None)
        )
        own = row.get("rule_number")
        earlier.append((row, addr, int(own) if own is not None else len(earlier) + 1))
    return out
