"""Raw drift between two snapshots: what changed in roles, grants, ownership and pg_hba.

Everything is compared by *name*, never by OID: a restored copy or a rebuilt cluster has
new OIDs but must compare equal when its roles, ownership and privileges are the same
(that is the guide's "restore preserves ownership and privileges" check).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from typing import Any

from .snapshot import DatabaseSnapshot, Snapshot

ROLE_ATTRS = ("superuser", "inherit", "createrole", "createdb", "login", "replication",
              "bypassrls", "connection_limit", "valid_until", "password_type", "config")

_OBJ_SECTIONS = ("roles", "memberships", "privileges", "ownership", "objects",
                 "default_privileges", "hba", "settings", "databases")


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
                owners[(db.name, "schema", None, r["name"], None)] = _name(names, r["owner_oid"]) or ""
        for o in db.table("objects").dicts():
            if o["extension"]:
                continue
            schema = schemas.get(int(o["schema_oid"])) if o["schema_oid"] is not None else None
            if schema in ("pg_catalog", "information_schema") or (schema or "").startswith("pg_toast"):
                continue
            key = (db.name, o["object_class"], schema, o["name"], o["identity_args"])
            owners[key] = _name(names, o["owner_oid"]) or ""
    return owners, set(owners)


def _grants(s: Snapshot) -> set[tuple]:
    """Every (object, grantee, privilege) in force, with NULL ACLs expanded to the built-in
    defaults: the first GRANT on an object materialises the owner's implicit entries, which
    is not a change of who can do what and must not show as drift."""
    from .acl_defaults import default_acl

    names = _role_names(s)
    version = s.meta.get("server_version_num")
    out: set[tuple] = set()

    def defaults(cls: str, kind: str | None, owner_oid: Any, key: tuple) -> set[tuple]:
        return {(*key, _name(names, owner_oid) if grantee == "owner" else "PUBLIC", priv, False)
                for grantee, priv in default_acl(cls, kind, version)}

    for a in s.table("shared_acl").dicts():
        out.add((None, a["object_class"], None, a["object_name"], None, None,
                 _name(names, a["grantee_oid"]), a["privilege"], bool(a["grantable"])))
    for d in s.table("databases").dicts():
        if d["acl_state"] == "default":
            out |= defaults("database", None, d["owner_oid"],
                            (None, "database", None, d["name"], None, None))
    for t in s.table("tablespaces").dicts():
        if t["acl_state"] == "default":
            out |= defaults("tablespace", None, t["owner_oid"],
                            (None, "tablespace", None, t["name"], None, None))
    for db in s.databases:
        if db.status == "collected":
            out |= _db_grants(db, names, defaults)
    return out


def _db_grants(db: DatabaseSnapshot, names: dict[int, str],
               defaults: Callable[[str, str | None, Any, tuple], set[tuple]]) -> set[tuple]:
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
        out.add((key[0], cls, *key[2:], column, _name(names, a["grantee_oid"]),
                 a["privilege"], bool(a["grantable"])))
    return out


def _defaults(s: Snapshot) -> set[tuple]:
    names = _role_names(s)
    out = set()
    for db in s.databases:
        schemas = {int(r["oid"]): r["name"] for r in db.table("schemas").dicts()}
        for d in db.table("default_acls").dicts():
            schema = schemas.get(int(d["schema_oid"])) if d["schema_oid"] else None
            out.add((db.name, _name(names, d["creator_oid"]), schema, d["objtype"],
                     _name(names, d["grantee_oid"]), d["privilege"], bool(d["grantable"])
                     if d["grantable"] is not None else None))
    return out


def _memberships(s: Snapshot) -> dict[tuple[str, str], dict[str, bool]]:
    names = _role_names(s)
    out: dict[tuple[str, str], dict[str, bool]] = {}
    for m in s.table("memberships").dicts():
        key = (_name(names, m["role_oid"]) or "", _name(names, m["member_oid"]) or "")
        cur = out.setdefault(key, {"admin_option": False, "inherit_option": False, "set_option": False})
        for k in cur:
            cur[k] = cur[k] or bool(m[k])
    return out


def _hba(s: Snapshot) -> list[tuple]:
    return [(r["type"], tuple(r["databases"] or ()), tuple(r["users"] or ()), r["address"],
             r["netmask"], r["auth_method"], tuple(r["options"] or ()))
            for r in s.table("hba_rules").dicts() if not r["error"]]


def _hba_text(t: tuple) -> str:
    typ, dbs, users, addr, mask, method, opts = t
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


def compare(old: Snapshot, new: Snapshot) -> dict[str, Any]:
    """Structured drift, each section with added/removed/changed lists (JSON-ready)."""
    out: dict[str, Any] = {k: {} for k in _OBJ_SECTIONS}

    o_roles = {r["name"]: r for r in old.table("roles").dicts() if not r["predefined"]}
    n_roles = {r["name"]: r for r in new.table("roles").dicts() if not r["predefined"]}
    out["roles"] = {
        "added": sorted(set(n_roles) - set(o_roles)),
        "removed": sorted(set(o_roles) - set(n_roles)),
        "changed": [
            {"role": name, "changes": {a: [o_roles[name][a], n_roles[name][a]] for a in ROLE_ATTRS
                                       if o_roles[name][a] != n_roles[name][a]}}
            for name in sorted(set(o_roles) & set(n_roles))
            if any(o_roles[name][a] != n_roles[name][a] for a in ROLE_ATTRS)
        ],
    }

    om, nm = _memberships(old), _memberships(new)
    out["memberships"] = {
        "added": [{"role": r, "member": m, **nm[(r, m)]} for r, m in sorted(set(nm) - set(om))],
        "removed": [{"role": r, "member": m, **om[(r, m)]} for r, m in sorted(set(om) - set(nm))],
        "changed": [{"role": r, "member": m, "old": om[(r, m)], "new": nm[(r, m)]}
                    for r, m in sorted(set(om) & set(nm)) if om[(r, m)] != nm[(r, m)]],
    }

    keys = ("database", "object_class", "schema", "object", "args", "column", "grantee",
            "privilege", "grantable")
    og, ng = _grants(old), _grants(new)
    out["privileges"] = {
        "granted": [dict(zip(keys, t, strict=True)) for t in _sorted(ng - og)],
        "revoked": [dict(zip(keys, t, strict=True)) for t in _sorted(og - ng)],
    }

    oo, okeys = _objects(old)
    no, nkeys = _objects(new)
    okeys_ = ("database", "object_class", "schema", "object", "args")
    out["objects"] = {
        "added": [dict(zip(okeys_, k, strict=True)) for k in _sorted(nkeys - okeys)],
        "removed": [dict(zip(okeys_, k, strict=True)) for k in _sorted(okeys - nkeys)],
    }
    out["ownership"] = {
        "changed": [{**dict(zip(okeys_, k, strict=True)), "old_owner": oo[k], "new_owner": no[k]}
                    for k in _sorted(okeys & nkeys) if oo[k] != no[k]],
    }

    dkeys = ("database", "creator", "schema", "objtype", "grantee", "privilege", "grantable")
    od, nd = _defaults(old), _defaults(new)
    out["default_privileges"] = {
        "added": [dict(zip(dkeys, t, strict=True)) for t in _sorted(nd - od)],
        "removed": [dict(zip(dkeys, t, strict=True)) for t in _sorted(od - nd)],
    }

    oh, nh = _hba(old), _hba(new)
    out["hba"] = {
        "added": [_hba_text(t) for t in nh if t not in oh],
        "removed": [_hba_text(t) for t in oh if t not in nh],
        "reordered": sorted(set(oh)) == sorted(set(nh)) and oh != nh,
        "collected": [old.source_collected("hba_rules"), new.source_collected("hba_rules")],
    }

    os_ = {r["name"]: r["setting"] for r in old.table("settings").dicts()}
    ns_ = {r["name"]: r["setting"] for r in new.table("settings").dicts()}
    out["settings"] = {"changed": [{"name": k, "old": os_.get(k), "new": ns_.get(k)}
                                   for k in sorted(set(os_) | set(ns_)) if os_.get(k) != ns_.get(k)]}

    odb = {d.name for d in old.databases}
    ndb = {d.name for d in new.databases}
    out["databases"] = {"added": sorted(ndb - odb), "removed": sorted(odb - ndb)}
    return out


def is_empty(drift: dict[str, Any]) -> bool:
    for section in drift.values():
        for k, v in section.items():
            if k in ("collected",):
                continue
            if v:
                return False
    return True


def count(drift: dict[str, Any]) -> int:
    n = 0
    for section in drift.values():
        for k, v in section.items():
            if isinstance(v, list) and k != "collected":
                n += len(v)
            elif v is True and k == "reordered":
                n += 1
    return n
