"""Raw drift between two snapshots: what changed in roles, grants, ownership and pg_hba.

Everything is compared by *name*, never by OID: a restored copy or a rebuilt cluster has
new OIDs but must compare equal when its roles, ownership and privileges are the same
(that is the guide's "restore preserves ownership and privileges" check).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from typing import Any

from ..audit.acl_defaults import default_acl
from ..collect.snapshot import DatabaseSnapshot, Snapshot

ROLE_ATTRS = (
    "superuser",
    "inherit",
    "createrole",
    "createdb",
    "login",
    "replication",
    "bypassrls",
    "connection_limit",
    "valid_until",
    "password_type",
    "config",
)

_OBJ_SECTIONS = (
    "roles",
    "memberships",
    "privileges",
    "ownership",
    "objects",
    "default_privileges",
    "hba",
    "settings",
    "databases",
)


def _role_names(s: Snapshot) -> dict[int, str]:
    names = {int(r["oid"]): r["name"] for r in s.table("roles").dicts()}
    names[0] = "PUBLIC"
    return names


def _name(names: dict[int, str], oid: Any) -> str | None:
    if oid is None:
        return None
    return names.get(int(oid), f"<oid {oid}>")


def _objects(s: Snapshot) -> tuple[dict[tuple, str], set[tuple]]:
    """(database, class, schema, name, args) -> owner name; plus the set of those keys."""
    names = _role_names(s)
    owners: dict[tuple, str] = {}
    for db in s.databases:
        if db.status != "collected":
            continue
        schemas = {int(r["oid"]): r["name"] for r in db.table("schemas").dicts()}
        for r in db.table("schemas").dicts():
            if not r["is_system"]:
                owners[(db.name, "schema", None, r["name"], None)] = (
                    _name(names, r["owner_oid"]) or ""
                )
        for o in db.table("objects").dicts():
            if o["extension"]:
                continue
            schema = schemas.get(int(o["schema_oid"])) if o["schema_oid"] is not None else None
            if schema in ("pg_catalog", "information_schema") or (schema or "").startswith(
                "pg_toast"
            ):
                continue
            key = (db.name, o["object_class"], schema, o["name"], o["identity_args"])
            owners[key] = _name(names, o["owner_oid"]) or ""
    return owners, set(owners)


def _grants(s: Snapshot) -> set[tuple]:
    """Every (object, grantee, privilege) in force, with NULL ACLs expanded to the built-in
    defaults: the first GRANT on an object materialises the owner's implicit entries, which
    is not a change of who can do what and must not show as drift."""
    names = _role_names(s)
    version = s.meta.get("server_version_num")
    out: set[tuple] = set()

    def defaults(cls: str, kind: str | None, owner_oid: Any, key: tuple) -> set[tuple]:
        return {
            (*key, _name(names, owner_oid) if grantee == "owner" else "PUBLIC", priv, False)
            for grantee, priv in default_acl(cls, kind, version)
        }

    for a in s.table("shared_acl").dicts():
        out.add(
            (
                None,
                a["object_class"],
                None,
                a["object_name"],
                None,
                None,
                _name(names, a["grantee_oid"]),
                a["privilege"],
                bool(a["grantable"]),
            )
        )
    for d in s.table("databases").dicts():
        if d["acl_state"] == "default":
            out |= defaults(
                "database", None, d["owner_oid"], (None, "database", None, d["name"], None, None)
            )
    for t in s.table("tablespaces").dicts():
        if t["acl_state"] == "default":
            out |= defaults(
                "tablespace",
                None,
                t["owner_oid"],
                (None, "tablespace", None, t["name"], None, None),
            )
    for db in s.databases:
        if db.status == "collected":
            out |= _db_grants(db, names, defaults)
    return out


def _db_grants(
    db: DatabaseSnapshot,
    names: dict[int, str],
    defaults: Callable[[str, str | None, Any, tuple], set[tuple]],
) -> set[tuple]:
    """Grants in one database; system schemas and extension members are not drift."""
    out: set[tuple] = set()
    schemas = {int(r["oid"]): r for r in db.table("schemas").dicts()}
    objs = {(o["object_class"], int(o["oid"])): o for o in db.table("objects").dicts()}
    cols = {(int(c["table_oid"]), int(c["attnum"])): c["name"] for c in db.table("columns").dicts()}

    def identity(cls: str, oid: int) -> tuple | None:
        if cls == "schema":
            sch = schemas.get(oid)
            if sch is None or sch["is_system"]:
                return None
            return (db.name, "schema", None, sch["name"], None)
        o = objs.get((cls, oid))
        if o is None or o["extension"]:
            return None
        sch = schemas.get(int(o["schema_oid"])) if o["schema_oid"] is not None else None
        if sch is not None and sch["is_system"]:
            return None
        return (db.name, cls, sch["name"] if sch else None, o["name"], o["identity_args"])

    for sch in schemas.values():
        key = identity("schema", int(sch["oid"]))
        if key and sch["acl_state"] == "default":
            out |= defaults("schema", None, sch["owner_oid"], (*key, None))
    for o in objs.values():
        key = identity(o["object_class"], int(o["oid"]))
        if key and o["acl_state"] == "default":
            out |= defaults(o["object_class"], o["kind"], o["owner_oid"], (*key, None))
    for a in db.table("acl").dicts():
        cls, oid = a["object_class"], int(a["object_oid"])
        key = identity("relation" if cls == "column" else cls, oid)
        if key is None:
            continue
        column = cols.get((oid, int(a["subid"]))) if cls == "column" else None
        out.add(
            (
                key[0],
                cls,
                *key[2:],
                column,
                _name(names, a["grantee_oid"]),
                a["privilege"],
                bool(a["grantable"]),
            )
        )
    return out


def _defaults(s: Snapshot) -> set[tuple]:
    names = _role_names(s)
    out = set()
    for db in s.databases:
        if db.status != "collected":
            continue
        schemas = {int(r["oid"]): r["name"] for r in db.table("schemas").dicts()}
        for d in db.table("default_acls").dicts():
            schema = schemas.get(int(d["schema_oid"])) if d["schema_oid"] else None
            out.add(
                (
                    db.name,
                    _name(names, d["creator_oid"]),
                    schema,
                    d["objtype"],
                    _name(names, d["grantee_oid"]),
                    d["privilege"],
                    bool(d["grantable"]) if d["grantable"] is not None else None,
                )
            )
    return out


def _memberships(s: Snapshot) -> dict[tuple[str, str], dict[str, bool]]:
    names = _role_names(s)
    out: dict[tuple[str, str], dict[str, bool]] = {}
    for m in s.table("memberships").dicts():
        key = (_name(names, m["role_oid"]) or "", _name(names, m["member_oid"]) or "")
        cur = out.setdefault(
            key, {"admin_option": False, "inherit_option": False, "set_option": False}
        )
        for k in cur:
            cur[k] = cur[k] or bool(m[k])
    return out


def _hba(s: Snapshot) -> list[tuple]:
    """Lines in effect, as text tuples. A row can have every field empty (a line added to
    the file without a reload shows up that way on some versions): it is kept, as
    empty strings, never None, so sorting and printing cannot fail."""
    return [
        (
            r["type"] or "",
            tuple(x or "" for x in r["databases"] or ()),
            tuple(x or "" for x in r["users"] or ()),
            r["address"] or "",
            r["netmask"] or "",
            r["auth_method"] or "",
            tuple(x or "" for x in r["options"] or ()),
        )
        for r in s.table("hba_rules").dicts()
        if not r["error"]
    ]


def _hba_text(t: tuple) -> str:
    typ, dbs, users, addr, mask, method, opts = t
    if not any((typ, dbs, users, addr, mask, method, opts)):
        return "(a line with every field empty)"
    parts = [typ, ",".join(dbs), ",".join(users)]
    if addr and mask:
        try:  # the view splits 10.0.0.0/8 into address + netmask: show it as written
            parts.append(str(ipaddress.ip_network(f"{addr}/{mask}", strict=False)))
        except ValueError:
            parts += [addr, mask]
    elif addr:
        parts.append(addr)
    parts.append(method)
    parts.extend(opts)
    return " ".join(parts)


def _sorted(items: Iterable[tuple]) -> list[tuple]:
    return sorted(items, key=lambda t: tuple("" if v is None else str(v) for v in t))


KINDS: dict[str, tuple[str, ...]] = {
    "roles": ("roles",),
    "memberships": ("memberships",),
    "privileges": ("privileges",),
    "ownership": ("ownership", "objects"),
    "default-privileges": ("default_privileges",),
    "hba": ("hba",),
    "settings": ("settings",),
    "databases": ("databases",),
}
"""``diff --kind`` names -> drift sections (also the rule categories they scope)."""

CLUSTER_SECTIONS = ("roles", "memberships", "hba", "settings", "databases")
"""Sections with no database: out of scope of ``diff -d`` unless a --kind names them."""


class Coverage:
    """What one snapshot looked at: sources and databases, with the reason for each gap.

    A database is *covered* when it was read, or when it does not exist in this snapshot
    (then its absence is a fact: it was dropped or not yet created). A database that
    exists but was skipped, failed, or was left out by ``-d`` is not covered: nothing can
    be said about what is in it.
    """

    def __init__(self, snap: Snapshot, label: str) -> None:
        self.label = label
        self.sources: dict[str, str] = {}
        for name, src in (snap.meta.get("sources") or {}).items():
            if isinstance(src, dict) and not src.get("collected"):
                self.sources[str(name)] = str(src.get("reason") or "not collected")
        self.gaps: dict[str, str] = {}
        for d in snap.databases:
            if d.status != "collected":
                self.gaps[d.name] = d.reason or d.status
        requested = snap.meta.get("databases_requested")
        if requested is not None:
            wanted = set(requested)
            for row in snap.table("databases").dicts():
                name = row["name"]
                if (
                    name not in wanted
                    and name not in self.gaps
                    and row.get("allow_connections")
                    and not row.get("is_template")
                ):
                    self.gaps[name] = "not requested (collected with -d)"

    def database(self, name: str | None) -> str | None:
        """Why database ``name`` was not looked at, or None when it was covered."""
        return None if name is None else self.gaps.get(name)

    def source(self, name: str) -> str | None:
        return self.sources.get(name)


def _known(x: dict[str, Any], old: Coverage, new: Coverage) -> bool:
    db = x.get("database")
    return old.database(db) is None and new.database(db) is None


def _gap_lines(old: Coverage, new: Coverage, sources: dict[str, str]) -> list[str]:
    """One line per gap: which side did not look at what, and why."""
    out: list[str] = []
    for side in (old, new):
        for name in sorted(side.gaps):
            out.append(
                f"database {name}: not collected in {side.label} ({side.gaps[name]}): "
                "its privileges, ownership and default privileges are unknown"
            )
        for src, label in sources.items():
            why = side.source(src)
            if why is not None:
                out.append(f"{label}: not collected in {side.label} ({why}): unknown")
    return out


def compare(
    old: Snapshot,
    new: Snapshot,
    *,
    databases: Iterable[str] | None = None,
    kinds: Iterable[str] | None = None,
) -> dict[str, Any]:
    """Structured drift, each section with added/removed/changed lists (JSON-ready).

    Only what both snapshots looked at is compared: an item of a database or a source one
    side did not collect is left out of added/removed and counted in ``coverage.unknown``
    (NEW without pg_hba must not report every line "removed"). ``databases`` and ``kinds``
    narrow the comparison (``diff -d``, ``diff --kind``).
    """
    oc, nc = Coverage(old, "OLD"), Coverage(new, "NEW")
    wanted_dbs = set(databases or ())
    out: dict[str, Any] = {k: {} for k in _OBJ_SECTIONS}
    unknown: dict[str, int] = {}

    o_roles = {r["name"]: r for r in old.table("roles").dicts() if not r["predefined"]}
    n_roles = {r["name"]: r for r in new.table("roles").dicts() if not r["predefined"]}
    # password types are read separately (they need a helper or superuser): a side that
    # could not read them holds NULL, which is "unknown", not "changed"
    pw_known = oc.source("password_types") is None and nc.source("password_types") is None
    attrs = [a for a in ROLE_ATTRS if pw_known or a != "password_type"]
    out["roles"] = {
        "added": sorted(set(n_roles) - set(o_roles)),
        "removed": sorted(set(o_roles) - set(n_roles)),
        "changed": [
            {
                "role": name,
                "changes": {
                    a: [o_roles[name][a], n_roles[name][a]]
                    for a in attrs
                    if o_roles[name][a] != n_roles[name][a]
                },
            }
            for name in sorted(set(o_roles) & set(n_roles))
            if any(o_roles[name][a] != n_roles[name][a] for a in attrs)
        ],
    }

    om, nm = _memberships(old), _memberships(new)
    out["memberships"] = {
        "added": [{"role": r, "member": m, **nm[(r, m)]} for r, m in sorted(set(nm) - set(om))],
        "removed": [{"role": r, "member": m, **om[(r, m)]} for r, m in sorted(set(om) - set(nm))],
        "changed": [
            {"role": r, "member": m, "old": om[(r, m)], "new": nm[(r, m)]}
            for r, m in sorted(set(om) & set(nm))
            if om[(r, m)] != nm[(r, m)]
        ],
    }

    def split(items: list[dict[str, Any]], section: str) -> list[dict[str, Any]]:
        if wanted_dbs:
            items = [x for x in items if _inside(x, wanted_dbs)]
        kept = [x for x in items if _known(x, oc, nc)]
        if len(kept) != len(items):
            unknown[section] = unknown.get(section, 0) + len(items) - len(kept)
        return kept

    keys = (
        "database",
        "object_class",
        "schema",
        "object",
        "args",
        "column",
        "grantee",
        "privilege",
        "grantable",
    )
    og, ng = _grants(old), _grants(new)
    out["privileges"] = {
        "granted": split([dict(zip(keys, t, strict=True)) for t in _sorted(ng - og)], "privileges"),
        "revoked": split([dict(zip(keys, t, strict=True)) for t in _sorted(og - ng)], "privileges"),
    }

    out["privileges"]["by_grantee"] = _by_grantee(
        out["privileges"]["granted"] + out["privileges"]["revoked"], og, ng
    )

    oo, okeys = _objects(old)
    no, nkeys = _objects(new)
    okeys_ = ("database", "object_class", "schema", "object", "args")
    out["objects"] = {
        "added": split(
            [dict(zip(okeys_, k, strict=True)) for k in _sorted(nkeys - okeys)], "objects"
        ),
        "removed": split(
            [dict(zip(okeys_, k, strict=True)) for k in _sorted(okeys - nkeys)], "objects"
        ),
    }
    out["ownership"] = {
        "changed": [
            {**dict(zip(okeys_, k, strict=True)), "old_owner": oo[k], "new_owner": no[k]}
            for k in _sorted(okeys & nkeys)
            if oo[k] != no[k]
        ],
    }

    dkeys = ("database", "creator", "schema", "objtype", "grantee", "privilege", "grantable")
    od, nd = _defaults(old), _defaults(new)
    out["default_privileges"] = {
        "added": split(
            [dict(zip(dkeys, t, strict=True)) for t in _sorted(nd - od)], "default_privileges"
        ),
        "removed": split(
            [dict(zip(dkeys, t, strict=True)) for t in _sorted(od - nd)], "default_privileges"
        ),
    }

    hba_gap = oc.source("hba_rules") or nc.source("hba_rules")
    oh, nh = _hba(old), _hba(new)
    out["hba"] = {
        "added": [] if hba_gap else [_hba_text(t) for t in nh if t not in oh],
        "removed": [] if hba_gap else [_hba_text(t) for t in oh if t not in nh],
        "reordered": not hba_gap and _sorted(set(oh)) == _sorted(set(nh)) and oh != nh,
        "collected": [old.source_collected("hba_rules"), new.source_collected("hba_rules")],
    }

    os_ = {r["name"]: r["setting"] for r in old.table("settings").dicts()}
    ns_ = {r["name"]: r["setting"] for r in new.table("settings").dicts()}
    names = sorted(set(os_) | set(ns_))
    if oc.source("settings") or nc.source("settings"):
        # some settings are hidden from the auditor on one side: one missing there is unknown
        hidden = [
            k
            for k in names
            if (k not in os_ and oc.source("settings")) or (k not in ns_ and nc.source("settings"))
        ]
        if hidden:
            unknown["settings"] = len(hidden)
        names = [k for k in names if k not in hidden]
    out["settings"] = {
        "changed": [
            {"name": k, "old": os_.get(k), "new": ns_.get(k)}
            for k in names
            if os_.get(k) != ns_.get(k)
        ]
    }

    odb = {r["name"] for r in old.table("databases").dicts()} or {d.name for d in old.databases}
    ndb = {r["name"] for r in new.table("databases").dicts()} or {d.name for d in new.databases}
    out["databases"] = {"added": sorted(ndb - odb), "removed": sorted(odb - ndb)}

    gaps = _gap_lines(
        oc, nc, {"hba_rules": "pg_hba", "settings": "settings", "password_types": "password types"}
    )
    if wanted_dbs:
        gaps = [
            g
            for g in gaps
            if not g.startswith("database ")
            or any(g.startswith(f"database {d}: ") for d in wanted_dbs)
        ]
        _scope_databases(out, wanted_dbs)
    if kinds:
        keep = {sec for k in kinds for sec in KINDS[k]}
        out = {k: v for k, v in out.items() if k in keep}
    elif wanted_dbs:
        out = {k: v for k, v in out.items() if k not in CLUSTER_SECTIONS}
    if hba_gap and "hba" in out:
        unknown["hba"] = 1
    out["coverage"] = {"unknown": gaps, "unknown_items": unknown}
    return out


_GRANT_KEY = ("database", "object_class", "schema", "object", "args", "column", "grantee")


def _by_grantee(
    changed: list[dict[str, Any]], og: set[tuple], ng: set[tuple]
) -> list[dict[str, Any]]:
    """Per (object, grantee) touched by a grant or revoke: the whole privilege list before
    and after, so a reader sees "SELECT widened to INSERT, SELECT, UPDATE"."""
    keys = {tuple(x[k] for k in _GRANT_KEY) for x in changed}

    def index(grants: set[tuple]) -> dict[tuple, list[str]]:
        out: dict[tuple, list[str]] = {}
        for t in grants:  # one pass: the grant sets hold every privilege of the cluster
            if t[:7] in keys:
                out.setdefault(t[:7], []).append(t[7] + (" WITH GRANT OPTION" if t[8] else ""))
        return out

    before, after = index(og), index(ng)
    return [
        {
            **dict(zip(_GRANT_KEY, k, strict=True)),
            "old": sorted(before.get(k, [])),
            "new": sorted(after.get(k, [])),
        }
        for k in _sorted(keys)
    ]


def _inside(x: dict[str, Any], dbs: set[str]) -> bool:
    """An item of one of ``dbs``, or a grant on one of those databases itself."""
    if x.get("database") is not None:
        return bool(x["database"] in dbs)
    return x.get("object_class") == "database" and x.get("object") in dbs


def _scope_databases(out: dict[str, Any], dbs: set[str]) -> None:
    """Keep only items of these databases (and the grants on the databases themselves)."""
    for section in ("privileges", "objects", "ownership", "default_privileges"):
        for k, v in out[section].items():
            out[section][k] = [x for x in v if _inside(x, dbs)]
    out["databases"] = {k: [n for n in v if n in dbs] for k, v in out["databases"].items()}


_NOT_DRIFT = ("collected", "unknown", "unknown_items", "by_grantee")


def is_empty(drift: dict[str, Any]) -> bool:
    return count(drift) == 0


def count(drift: dict[str, Any]) -> int:
    """Items of raw drift (coverage gaps are not drift: they are counted apart)."""
    n = 0
    for name, section in drift.items():
        if name == "coverage":
            continue
        for k, v in section.items():
            if isinstance(v, list) and k not in _NOT_DRIFT:
                n += len(v)
            elif v is True and k == "reordered":
                n += 1
    return n
