"""What an empty twin invented: databases whose owner and ACL the migrations never touched.

Why: the empty twin creates the database the migrations run in (and has ``postgres``)
with PostgreSQL's built-in ACL, CONNECT and TEMPORARY for PUBLIC. In production whoever
creates the database decides that ACL, not the migration set. A rule about a database's
ACL (PGR-PRIV-004: PUBLIC may connect to a database that holds application data) starts
to fire as soon as the migrations add the first table there, and the effect layer then
blamed the migration set's first statement for a grant nobody in it wrote. A finding about
a database that existed before the migrations ran, whose owner and ACL are the same after
them, is therefore the twin's own state: reported as pre-existing (never gating), not at
a statement. A database the migrations create, or whose ACL or owner they change, is
theirs and is reported where they do it. Only for the empty twin: a snapshot twin's
databases carry production's real ACLs, and what the migrations add to them is news.
"""

from __future__ import annotations

from typing import Any

from ..core.model import Finding

TWIN_DEFAULT_NOTE = (
    "the twin's own database: its owner and ACL are the ones the twin created it with, "
    "which the migrations did not change"
)
"""``details["twin_default"]`` of a finding re-classified as the twin's state."""


def database_states(snapshot: Any) -> dict[str, tuple[Any, ...]]:
    """Database name -> everything a migration can change about the database itself in
    ``snapshot``: its row (owner, connection limit, ALLOW_CONNECTIONS, template, ACL state),
    its ACL entries and its ``ALTER DATABASE ... SET`` / ``ALTER ROLE ... IN DATABASE``
    settings. What is *in* the database (schemas, tables) is left out on purpose."""
    acl: dict[Any, list[tuple[Any, ...]]] = {}
    for row in snapshot.table("shared_acl").dicts():
        if row.get("object_class") == "database":
            acl.setdefault(row.get("object_oid"), []).append(
                (row.get("grantee_oid"), row.get("privilege"), row.get("grantable"))
            )
    settings: dict[Any, list[tuple[Any, ...]]] = {}
    for row in snapshot.table("db_role_settings").dicts():
        settings.setdefault(row.get("database_oid"), []).append(
            (row.get("role_oid"), tuple(row.get("config") or ()))
        )
    out = {}
    for d in snapshot.table("databases").dicts():
        oid = d.get("oid")
        row = tuple(sorted((k, repr(v)) for k, v in d.items() if k != "auditor_can_connect"))
        out[str(d.get("name"))] = (
            row,
            tuple(sorted(acl.get(oid, []), key=repr)),
            tuple(sorted(settings.get(oid, []), key=repr)),
        )
    return out


def about_untouched_database(
    f: Finding, before: dict[str, tuple[Any, ...]], after: dict[str, tuple[Any, ...]]
) -> bool:
    """``f`` is about a database that existed before the migrations, in the same state
    after them (``database_states``), and names no role: a finding that names one is about
    that role's reach, which the migrations may well have made (a membership)."""
    if f.object_type != "database" or f.role not in (None, "PUBLIC"):
        return False
    name = f.database or f.object_name  # a database setting's object_name is the setting
    return name is not None and name in before and before[name] == after.get(name)
