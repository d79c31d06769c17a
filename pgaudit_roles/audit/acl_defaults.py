"""PostgreSQL's built-in privilege tables, per object type and server version, as data.

Why here: a NULL ACL in a catalog means "the hard-wired default for this object type and
owner" (``acldefault()``), so the audit schema must expand it exactly as the server would,
and rules must know which privileges exist for which kind of object. Both depend on the
server version (MAINTAIN exists from 17, parameters from 15, the predefined roles that
bypass ACLs from 14/17). Everything here is plain data and pure functions, loaded into
DuckDB as small tables by ``audit_schema`` and joined there (never a loop per object).

Sources: research/catalog.md sections 2.1, 2.3, 4.1; PostgreSQL docs ddl-priv.html
(Tables 5.1 and 5.2) and predefined-roles.html; ``acldefault()`` output verified on 13-18.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

MAINTAIN_VERSION = 170000
"""MAINTAIN privilege (letter ``m``) and the ``pg_maintain`` role exist from 17."""

PARAMETER_ACL_VERSION = 150000
"""``GRANT SET / ALTER SYSTEM ON PARAMETER`` (pg_parameter_acl) exists from 15."""

SYSTEM_CATALOG_OID_LIMIT = 12000
"""Relations with an OID below this are system catalogs (``IsCatalogRelationOid``: below
FirstBootstrapObjectId on 13, FirstUnpinnedObjectId on 14+, both 12000). Except for views,
nobody but a superuser may INSERT/UPDATE/DELETE/TRUNCATE them, whatever the ACL says."""

SYSTEM_CATALOG_DENIED: tuple[str, ...] = ("INSERT", "UPDATE", "DELETE", "TRUNCATE", "USAGE")

TABLE_KINDS: tuple[str, ...] = (
    "table",
    "partitioned table",
    "view",
    "materialized view",
    "foreign table",
)
"""Relation kinds that carry table privileges (everything in pg_class except sequences)."""

_TABLE_PRIVS = ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")
_SEQUENCE_PRIVS = ("USAGE", "SELECT", "UPDATE")
_COLUMN_PRIVS = ("SELECT", "INSERT", "UPDATE", "REFERENCES")


@dataclass(frozen=True)
class PrivilegeType:
    """One privilege that exists for one object class (and kind), from a server version."""

    object_class: str
    kind: str | None  # None: every kind of the class
    privilege: str
    min_version: int = 0
    owner_default: bool = False  # in acldefault() for the owner
    public_default: bool = False  # in acldefault() for PUBLIC


def _types() -> Iterator[PrivilegeType]:
    for kind in TABLE_KINDS:
        for p in _TABLE_PRIVS:
            yield PrivilegeType("relation", kind, p, owner_default=True)
        yield PrivilegeType("relation", kind, "MAINTAIN", MAINTAIN_VERSION, owner_default=True)
    for p in _SEQUENCE_PRIVS:
        yield PrivilegeType("relation", "sequence", p, owner_default=True)
    for p in _COLUMN_PRIVS:  # a NULL column ACL grants nothing: it only adds to the table's
        yield PrivilegeType("column", None, p)
    for p in ("USAGE", "CREATE"):
        yield PrivilegeType("schema", None, p, owner_default=True)
    yield PrivilegeType("database", None, "CREATE", owner_default=True)
    yield PrivilegeType("database", None, "TEMPORARY", owner_default=True, public_default=True)
    yield PrivilegeType("database", None, "CONNECT", owner_default=True, public_default=True)
    yield PrivilegeType("function", None, "EXECUTE", owner_default=True, public_default=True)
    yield PrivilegeType("type", None, "USAGE", owner_default=True, public_default=True)
    # Untrusted languages also default to PUBLIC USAGE in the ACL; CREATE FUNCTION checks
    # lanpltrusted separately (objects.trusted), has_language_privilege() does not.
    yield PrivilegeType("language", None, "USAGE", owner_default=True, public_default=True)
    yield PrivilegeType("large_object", None, "SELECT", owner_default=True)
    yield PrivilegeType("large_object", None, "UPDATE", owner_default=True)
    yield PrivilegeType("fdw", None, "USAGE", owner_default=True)
    yield PrivilegeType("server", None, "USAGE", owner_default=True)
    yield PrivilegeType("tablespace", None, "CREATE", owner_default=True)
    # Parameters have no owner and no NULL-ACL state worth expanding: a pg_parameter_acl
    # row exists only once something was granted, and then its ACL is explicit.
    yield PrivilegeType("parameter", None, "SET", PARAMETER_ACL_VERSION)
    yield PrivilegeType("parameter", None, "ALTER SYSTEM", PARAMETER_ACL_VERSION)


PRIVILEGE_TYPES: tuple[PrivilegeType, ...] = tuple(_types())

OBJECT_CLASSES: tuple[str, ...] = (
    "database",
    "tablespace",
    "parameter",
    "schema",
    "relation",
    "column",
    "function",
    "type",
    "language",
    "large_object",
    "fdw",
    "server",
)


def privilege_types(server_version_num: int | None) -> list[PrivilegeType]:
    """Privilege types that exist on this server version (None: the newest)."""
    v = server_version_num if server_version_num is not None else 10**9
    return [t for t in PRIVILEGE_TYPES if t.min_version <= v]


def privileges_for(
    object_class: str, kind: str | None, server_version_num: int | None
) -> list[str]:
    """Every privilege an object of this class and kind can carry, in catalog order."""
    return [
        t.privilege
        for t in privilege_types(server_version_num)
        if t.object_class == object_class and (t.kind is None or t.kind == kind)
    ]


def default_acl(
    object_class: str, kind: str | None, server_version_num: int | None
) -> list[tuple[str, str]]:
    """``acldefault()`` for a NULL ACL: ``[(grantee, privilege)]``, grantee 'owner'|'PUBLIC'."""
    out: list[tuple[str, str]] = []
    for t in privilege_types(server_version_num):
        if t.object_class != object_class or (t.kind is not None and t.kind != kind):
            continue
        if t.owner_default:
            out.append(("owner", t.privilege))
        if t.public_default:
            out.append(("PUBLIC", t.privilege))
    return out


# Default privileges (pg_default_acl): objtype letter -> what it applies to and the class.
DEFAULT_ACL_OBJTYPES: dict[str, tuple[str, str, str | None]] = {
    "r": ("tables", "relation", "table"),
    "S": ("sequences", "relation", "sequence"),
    "f": ("functions", "function", None),
    "T": ("types", "type", None),
    "n": ("schemas", "schema", None),
    "L": ("large objects", "large_object", None),
}
"""objtype -> (ALTER DEFAULT PRIVILEGES keyword, object class, kind used for acldefault)."""

PER_SCHEMA_OBJTYPES: tuple[str, ...] = ("r", "S", "f", "T")
"""Objtypes that may have per-schema default privileges (n and L are global only)."""


def builtin_default_privileges(server_version_num: int | None) -> list[tuple[str, str, str]]:
    """Built-in default ACL of a new object per objtype: ``[(objtype, grantee, privilege)]``.

    This is what applies when the creator has no global ``pg_default_acl`` row for the
    objtype (catalog.md 2.5); grantee is 'owner' (the creator) or 'PUBLIC'.
    """
    out: list[tuple[str, str, str]] = []
    for objtype, (_kw, cls, kind) in DEFAULT_ACL_OBJTYPES.items():
        for grantee, priv in default_acl(cls, kind, server_version_num):
            out.append((objtype, grantee, priv))
    return out


@dataclass(frozen=True)
class VirtualGrant:
    """A privilege a predefined role confers on every object of a class without an ACL entry."""

    role: str
    object_class: str
    kind: str | None  # None: every kind
    privilege: str
    min_version: int


def _virtual() -> Iterator[VirtualGrant]:
    # pg_class_aclmask: pg_read_all_data adds SELECT on every relation (sequences too),
    # pg_write_all_data adds INSERT/UPDATE/DELETE (UPDATE for sequences; the system-catalog
    # exception applies as to every non-superuser), pg_maintain (17+) adds MAINTAIN. pg_namespace_aclmask: either data role
    # adds USAGE on every schema.
    for kind in TABLE_KINDS:
        yield VirtualGrant("pg_read_all_data", "relation", kind, "SELECT", 140000)
        for p in ("INSERT", "UPDATE", "DELETE"):
            yield VirtualGrant("pg_write_all_data", "relation", kind, p, 140000)
        yield VirtualGrant("pg_maintain", "relation", kind, "MAINTAIN", MAINTAIN_VERSION)
    yield VirtualGrant("pg_read_all_data", "relation", "sequence", "SELECT", 140000)
    yield VirtualGrant("pg_write_all_data", "relation", "sequence", "UPDATE", 140000)
    yield VirtualGrant("pg_read_all_data", "schema", None, "USAGE", 140000)
    yield VirtualGrant("pg_write_all_data", "schema", None, "USAGE", 140000)


VIRTUAL_GRANTS: tuple[VirtualGrant, ...] = tuple(_virtual())


def virtual_grants(server_version_num: int | None) -> list[VirtualGrant]:
    v = server_version_num if server_version_num is not None else 10**9
    return [g for g in VIRTUAL_GRANTS if g.min_version <= v]


MANAGED_SUPERUSER_ROLES: tuple[str, ...] = (
    "rds_superuser",
    "cloudsqlsuperuser",
    "azure_pg_admin",
    "alloydbsuperuser",
    "neon_superuser",
    "mdb_superuser",
)
"""Provider admin roles treated like SUPERUSER by the superuser rules (design.md); the
provider of each is in ``escalation.MANAGED_PROVIDERS``."""

PRIVILEGE_LETTERS: dict[str, str] = {
    "r": "SELECT",
    "w": "UPDATE",
    "a": "INSERT",
    "d": "DELETE",
    "D": "TRUNCATE",
    "x": "REFERENCES",
    "t": "TRIGGER",
    "X": "EXECUTE",
    "U": "USAGE",
    "C": "CREATE",
    "c": "CONNECT",
    "T": "TEMPORARY",
    "s": "SET",
    "A": "ALTER SYSTEM",
    "m": "MAINTAIN",
}
"""aclitem letters -> SQL words (catalog.md 2.3), for reading ACL text in user input."""
