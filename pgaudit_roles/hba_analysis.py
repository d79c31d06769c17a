"""Derived facts about pg_hba rules, for the audit schema and the hba rules.

Pure logic over ``hba_rules`` rows (from the ``pg_hba_file_rules`` view or from
:func:`pgaudit_roles.hba.parse_hba_file`): how far a rule reaches (remote? how many
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

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .hba import token_is_literal, unquote_token

Column = tuple[str, str, str]

ANALYSIS_COLUMNS: list[Column] = [
    ("in_effect", "BOOLEAN", "The line has no error, so the server uses it"),
    ("is_remote", "BOOLEAN", "type is not local (the rule applies to TCP connections)"),
    ("address_family", "VARCHAR", "ipv4 | ipv6 for an address/netmask; NULL for keywords and host names"),
    ("prefix_len", "INTEGER",
     "CIDR prefix length of the netmask (0 for the keyword all); NULL for host names, "
     "samehost/samenet, local lines and non-contiguous netmasks"),
    ("address_count", "DOUBLE",
     "Number of client addresses the line covers: 2^(address bits - prefix); all = 2^32 + 2^128 "
     "(every IPv4 and IPv6 address); NULL for host names, samehost, samenet and local lines. "
     "DOUBLE because IPv6 counts exceed 128-bit integers"),
    ("is_all_addresses", "BOOLEAN", "Address all, 0.0.0.0/0 or ::/0 (any client); false for local"),
    ("is_hostname", "BOOLEAN", "The address is a host name (a leading dot = domain suffix)"),
    ("is_replication", "BOOLEAN", "The database field has the replication keyword"),
    ("matches_all_databases", "BOOLEAN", "The database field has the all keyword (not replication)"),
    ("matches_all_users", "BOOLEAN", "The user field has the all keyword"),
    ("shadowed_by", "INTEGER",
     "rule_number of the first earlier rule that matches every connection this one matches, "
     "so this one can never be used; NULL when none"),
]

ALL_ADDRESS_COUNT = 2 ** 32 + 2 ** 128

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
            return (self.family == other.family and self.mask & ~other.mask == 0
                    and other.network & self.mask == self.network)
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


def _group_closure(roles: Iterable[Mapping[str, Any]] | None,
                   memberships: Iterable[Mapping[str, Any]] | None) -> dict[str, set[str]]:
    """group name -> names of every role that is directly or indirectly a member of it.

    All grants count, whatever their INHERIT/SET options: pg_hba's ``+group`` uses plain
    membership (superusers only when explicitly granted).
    """
    if not roles or memberships is None:
        return {}
    names = {int(r["oid"]): str(r["name"]) for r in roles}
    direct: dict[int, set[int]] = {}
    for m in memberships:
        direct.setdefault(int(m["role_oid"]), set()).add(int(m["member_oid"]))
    closure: dict[str, set[str]] = {}
    for group in names:
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


def _covers(earlier: Mapping[str, Any], later: Mapping[str, Any], e_addr: _Addr, l_addr: _Addr,
            cov: _Coverage) -> bool:
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


def analyze(rows: Sequence[Mapping[str, Any]], roles: Sequence[Mapping[str, Any]] | None = None,
            memberships: Sequence[Mapping[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Each row (in evaluation order) with :data:`ANALYSIS_COLUMNS` added.

    ``roles`` and ``memberships`` (snapshot rows: ``oid``/``name`` and
    ``role_oid``/``member_oid``) are optional; with them a ``+group`` line also shadows later
    lines for its members. Without them ``+group`` only covers itself, the group's own name
    and ``all`` covers everything: shadowing is only claimed when it is certain. Regex
    tokens only cover an identical token. Lines with errors are not in effect: they neither
    shadow nor get shadowed. ``shadowed_by`` uses the earlier row's ``rule_number`` (or its
    position among rows in effect when the source has no rule numbers, as on 13-15 views).
    """
    cov = _Coverage(_group_closure(roles, memberships))
    out: list[dict[str, Any]] = []
    effective: list[tuple[Mapping[str, Any], _Addr, int]] = []
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
            "is_all_addresses": None if rtype is None else (
                addr.kind == "all" or (addr.kind == "mask" and addr.mask == 0)),
            "is_hostname": None if rtype is None else addr.kind == "hostname",
            "is_replication": None if rtype is None else any(_is_keyword(t, "replication") for t in dbs),
            "matches_all_databases": None if rtype is None else any(_is_keyword(t, "all") for t in dbs),
            "matches_all_users": None if rtype is None else any(_is_keyword(t, "all") for t in users),
            "shadowed_by": None,
        }
        if in_effect:
            for earlier, e_addr, number in effective:
                if _covers(earlier, row, e_addr, addr, cov):
                    facts["shadowed_by"] = number
                    break
            own = row.get("rule_number")
            effective.append((row, addr, int(own) if own is not None else len(effective) + 1))
        out.append({**row, **facts})
    return out
