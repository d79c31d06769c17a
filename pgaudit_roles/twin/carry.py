"""What the twin cannot reproduce, carried over from the source snapshot and marked.

A throwaway server has its own pg_hba.conf, settings and sessions, stores no password,
and may lack an extension, a language or (on another major) a system object. Rather than
let those rules change verdict, the twin's snapshot takes those facts from the source:

- sources ``settings``, ``activity``, ``hba_rules`` and ``password_types``: the source's
  rows and status, with ``carried_over: true`` in ``meta.sources``;
- everything a build statement failed for (an object, a grant, a membership, a setting):
  the source's rows, with role and schema OIDs translated to the twin's by name;
- ``server_version`` stays the source's (rules that depend on the version evaluate as
  for the source); the twin's own is ``meta.twin.server_version``.

``meta.twin`` lists every carried item and every failed statement with its error.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..collect.columnfile import read_rows
from ..collect.snapshot import CLUSTER_TABLES, DATABASE_TABLES, DatabaseSnapshot, Snapshot, Table
from .plan import BOOTSTRAP_OID, INTERNAL_SCHEMA, SYSTEM_SCHEMAS

if TYPE_CHECKING:
    from . import Twin

_REWRITTEN_TABLES = ("schemas", "objects", "acl", "functions", "columns")
"""The twin's per-database tables :func:`_carry_database` reads and rewrites every time."""

_ROLE_COLUMNS = {"owner_oid", "grantor_oid", "grantee_oid", "creator_oid", "role_oid", "member_oid"}


def _dicts(t: Table) -> list[dict[str, Any]]:
    return list(t.dicts())


def _read_rewritten(snap: Snapshot) -> None:
    """Read the twin's column files that carry_over rewrites anyway into rows, up front.
    Through ``columnfile.read_rows``: the thread's reader connection (a scratch DuckDB
    opened here cost 13 ms of CPU on every twin collect, a third of this read on the demo)
    and no DuckDB at all for an empty file. The rows are the same as ``Table.rows`` would
    read (the same reader query)."""
    for d in snap.databases:
        if d.status != "collected":
            continue
        for name in _REWRITTEN_TABLES:
            t = d.tables.get(name)
            if t is not None and t.file is not None and t.types is not None:
                t.rows = read_rows(t)


def _set(t: Table, rows: list[dict[str, Any]]) -> None:
    t.rows = [[r.get(c) for c in t.columns] for r in rows]


def _tab(d: DatabaseSnapshot, name: str) -> Table:
    """The stored table (created when missing): ``d.table()`` returns a new object for a
    missing or empty one, which an assignment would not reach."""
    t = d.tables.get(name)
    if t is None:
        t = d.tables[name] = Table([c[0] for c in DATABASE_TABLES[name]])
    return t


def _ctab(s: Snapshot, name: str) -> Table:
    t = s.cluster.get(name)
    if t is None:
        t = s.cluster[name] = Table([c[0] for c in CLUSTER_TABLES[name]])
    return t


class _Map:
    """Source OIDs -> twin OIDs, through names."""

    def __init__(self, src: Snapshot, twin: Snapshot) -> None:
        tw = {r["name"]: int(r["oid"]) for r in twin.table("roles").dicts()}
        self.roles: dict[int, int] = {0: 0, BOOTSTRAP_OID: BOOTSTRAP_OID}
        self.names: dict[str, int] = {r["name"]: int(r["oid"]) for r in src.table("roles").dicts()}
        for r in src.table("roles").dicts():
            if int(r["oid"]) != BOOTSTRAP_OID and r["name"] in tw:
                self.roles[int(r["oid"])] = tw[r["name"]]
        dbs_t = {d["name"]: int(d["oid"]) for d in twin.table("databases").dicts()}
        self.dbs: dict[int, int] = {0: 0}
        for d in src.table("databases").dicts():
            if d["name"] in dbs_t:
                self.dbs[int(d["oid"])] = dbs_t[d["name"]]

    def role(self, oid: Any) -> Any:
        return oid if oid is None else self.roles.get(int(oid), oid)

    def row(self, r: dict[str, Any], schemas: dict[int, int] | None = None) -> dict[str, Any]:
        out = dict(r)
        for c in _ROLE_COLUMNS & set(out):
            out[c] = self.role(out[c])
        if schemas is not None and out.get("schema_oid") not in (None, 0):
            out["schema_oid"] = schemas.get(int(out["schema_oid"]), out["schema_oid"])
        if "database_oid" in out and out["database_oid"] is not None:
            out["database_oid"] = self.dbs.get(int(out["database_oid"]), out["database_oid"])
        return out


def carry_over(source: Snapshot, snap: Snapshot, twin: Twin) -> Snapshot:
    """``snap`` (collected on the twin) completed from ``source``; returns ``snap``."""
    _read_rewritten(snap)
    m = _Map(source, snap)
    failed = [f.key for f in twin.failures if f.key is not None]
    carried: list[str] = []

    # --- cluster-wide sources the twin cannot have -----------------------------------------
    sources = dict(snap.meta.get("sources", {}))
    src_sources = source.meta.get("sources", {})
    for name in ("settings", "activity", "hba_rules"):
        snap.cluster[name] = Table(
            list(source.table(name).columns), [list(r) for r in source.table(name).rows]
        )
        sources[name] = {
            **(
                src_sources.get(name)
                or {"collected": False, "reason": "not in the source snapshot"}
            ),
            "carried_over": True,
        }
        carried.append(f"source {name}")
    roles = _ctab(snap, "roles")
    src_roles = {r["name"]: r for r in source.table("roles").dicts()}
    rows = _dicts(roles)
    for r in rows:
        if int(r["oid"]) == BOOTSTRAP_OID and BOOTSTRAP_OID in {
            int(x["oid"]) for x in src_roles.values()
        }:
            r["name"] = next(
                x["name"] for x in src_roles.values() if int(x["oid"]) == BOOTSTRAP_OID
            )
        s = src_roles.get(r["name"])
        r["password_type"] = s["password_type"] if s is not None else None
    sources["password_types"] = {
        **(
            src_sources.get("password_types")
            or {"collected": False, "reason": "not in the source snapshot"}
        ),
        "carried_over": True,
    }
    carried.append("source password_types (the twin stores no password)")
    have_roles = {r["name"] for r in rows}
    for key in failed:
        if key[0] == "role" and key[1] not in have_roles and key[1] in src_roles:
            rows.append(dict(src_roles[key[1]]))
            have_roles.add(key[1])
            carried.append(f"role {key[1]!r}")
    _set(roles, rows)

    src_names = {int(r["oid"]): r["name"] for r in source.table("roles").dicts()}
    failed_members = {k[1:3] for k in failed if k[0] == "membership"}
    if failed_members:
        mem = _ctab(snap, "memberships")
        extra = [
            m.row(r)
            for r in source.table("memberships").dicts()
            if (src_names.get(int(r["role_oid"])), src_names.get(int(r["member_oid"])))
            in failed_members
        ]
        _set(mem, _dicts(mem) + extra)
        carried += [f"membership {k[1]!r} -> {k[2]!r}" for k in failed if k[0] == "membership"]
    failed_settings = [k for k in failed if k[0] == "db_role_setting"]
    if failed_settings:
        t = _ctab(snap, "db_role_settings")
        rows = _dicts(t)
        for _k, db, role, entry in failed_settings:
            db_oid = (
                next((int(d["oid"]) for d in snap.table("databases").dicts() if d["name"] == db), 0)
                if db
                else 0
            )
            role_oid = (
                next((int(r["oid"]) for r in snap.table("roles").dicts() if r["name"] == role), 0)
                if role
                else 0
            )
            hit = next(
                (
                    r
                    for r in rows
                    if int(r["database_oid"]) == db_oid and int(r["role_oid"]) == role_oid
                ),
                None,
            )
            if hit is None:
                rows.append({"database_oid": db_oid, "role_oid": role_oid, "config": [entry]})
            else:
                hit["config"] = [*(hit["config"] or []), entry]
            carried.append(
                f"setting {entry!r} ({role or 'every role'} in {db or 'every database'})"
            )
        _set(t, rows)
    # user tablespaces are not rebuilt (a tablespace needs a directory on the server)
    ts = _ctab(snap, "tablespaces")
    have_ts = {r["name"] for r in ts.dicts()}
    extra_ts = [m.row(r) for r in source.table("tablespaces").dicts() if r["name"] not in have_ts]
    if extra_ts:
        _set(ts, _dicts(ts) + extra_ts)
        carried += [f"tablespace {r['name']!r}" for r in extra_ts]
    failed_shared = {(k[1], k[2]) for k in failed if k[0] == "shared_acl"}
    failed_shared |= {("tablespace", r["name"]) for r in extra_ts}
    if failed_shared:
        t = _ctab(snap, "shared_acl")
        keep = [r for r in _dicts(t) if (r["object_class"], r["object_name"]) not in failed_shared]
        extra = [
            m.row(r)
            for r in source.table("shared_acl").dicts()
            if (r["object_class"], r["object_name"]) in failed_shared
        ]
        _set(t, keep + extra)
        carried += [f"{c} ACL {n!r}" for c, n in sorted(failed_shared)]

    # --- databases -----------------------------------------------------------------------
    src_dbs = {d.name: d for d in source.databases}
    src_dbrows = {d["name"]: d for d in source.table("databases").dicts()}
    dbt = _ctab(snap, "databases")
    dbrows = _dicts(dbt)
    twin_user = snap.meta.get("connected_user")
    for row in dbrows:
        s = src_dbrows.get(row["name"])
        if s is not None and twin_user != source.meta.get("connected_user"):
            row["auditor_can_connect"] = s["auditor_can_connect"]
    _set(dbt, dbrows)
    major_src = int(source.meta.get("server_version_num") or 0) // 10000
    major_twin = twin.server_version_num // 10000
    for d in snap.databases:
        sd = src_dbs.get(d.name)
        if sd is not None and sd.status != "collected":
            d.status, d.reason, d.tables = "not_collected", sd.reason, {}
            carried.append(f"database {d.name!r} not collected ({sd.reason})")
            continue
        if d.status != "collected" or sd is None:
            continue
        carried += _carry_database(sd, d, m, failed, major_src, major_twin)
    snap.databases = [d for d in snap.databases if d.name in src_dbs] + [
        DatabaseSnapshot(
            oid=m.dbs.get(sd.oid, sd.oid),
            name=sd.name,
            status="not_collected",
            reason=sd.reason or "outside the twin's scope",
        )
        for sd in source.databases
        if sd.name not in {d.name for d in snap.databases}
    ]

    snap.meta = {
        **snap.meta,
        "server_version_num": source.meta.get("server_version_num"),
        "server_version": source.meta.get("server_version"),
        "target": source.meta.get("target"),
        "is_superuser": source.meta.get("is_superuser"),
        "capabilities": source.meta.get("capabilities"),
        "databases_requested": source.meta.get("databases_requested"),
        "sources": sources,
        "twin": {
            "server_version": twin.server_version,
            "server_version_num": twin.server_version_num,
            "build_seconds": twin.build_seconds,
            "source_collected_at": source.meta.get("collected_at"),
            "databases": twin.databases,
            "schemas": twin.schemas,
            "carried_over": carried,
            "not_reproduced": [{"sql": f.sql, "error": f.error} for f in twin.failures],
            "notes": twin.notes,
        },
    }
    return snap


def _carry_database(
    sd: DatabaseSnapshot,
    d: DatabaseSnapshot,
    m: _Map,
    failed: list[tuple[Any, ...]],
    major_src: int,
    major_twin: int,
) -> list[str]:
    carried: list[str] = []
    src_names_db = {v: k for k, v in m.names.items()}
    t_schemas = _dicts(d.table("schemas"))
    s_schemas = _dicts(sd.table("schemas"))
    internal = {int(s["oid"]) for s in t_schemas if s["name"] == INTERNAL_SCHEMA}
    t_by_name = {s["name"]: int(s["oid"]) for s in t_schemas}
    smap = {int(s["oid"]): t_by_name.get(s["name"], int(s["oid"])) for s in s_schemas}
    s_sname = {int(s["oid"]): s["name"] for s in s_schemas}
    t_sname = {int(s["oid"]): s["name"] for s in t_schemas}
    system_t = {int(s["oid"]) for s in t_schemas if s["name"] in SYSTEM_SCHEMAS}

    objects = _dicts(d.table("objects"))
    drop: set[tuple[str, int]] = set()
    multiranges: set[tuple[Any, str]] = set()
    for o in objects:
        so = o["schema_oid"]
        if so is not None and int(so) in internal:
            drop.add((o["object_class"], int(o["oid"])))
        if major_src < 14 <= major_twin and o["kind"] == "multirange":
            drop.add((o["object_class"], int(o["oid"])))
            multiranges.add((so, o["name"]))
        if major_src != major_twin and so is not None and int(so) in system_t:
            drop.add((o["object_class"], int(o["oid"])))
    for o in objects:  # a multirange's constructors, on a twin newer than a 13 source
        if o["object_class"] == "function" and (o["schema_oid"], o["name"]) in multiranges:
            drop.add(("function", int(o["oid"])))
    if major_src != major_twin:
        carried.append(f"{sd.name}: objects in pg_catalog/information_schema (other major)")

    # source objects to carry: failed keys, and system objects on another major
    want: set[int] = set()
    failed_obj = {k[1:] for k in failed if k[0] == "object" and k[1] == sd.name}
    for o in sd.table("objects").dicts():
        schema = s_sname.get(int(o["schema_oid"])) if o["schema_oid"] is not None else None
        k = (sd.name, o["object_class"], schema, o["name"], o["identity_args"])
        if k in failed_obj or (major_src != major_twin and schema in SYSTEM_SCHEMAS):
            want.add(int(o["oid"]))
            if k in failed_obj:
                carried.append(f"{sd.name}: {o['object_class']} {schema or ''}.{o['name']}")
                # a stub that half-exists (created, ACL refused) is replaced by the source's row
                for to in objects:
                    ts = (
                        t_sname.get(int(to["schema_oid"])) if to["schema_oid"] is not None else None
                    )
                    if (to["object_class"], ts, to["name"], to["identity_args"]) == k[1:]:
                        drop.add((to["object_class"], int(to["oid"])))
    failed_cols = {(k[2], k[3], k[4]) for k in failed if k[0] == "column" and k[1] == sd.name}

    # 14+ spells a procedure's input arguments "IN x"; a 13 source does not
    src_args = {
        _norm_args(o["identity_args"]): o["identity_args"]
        for o in sd.table("objects").dicts()
        if o["object_class"] == "function" and o["identity_args"]
    }
    for o in objects:
        if o["object_class"] == "function" and o["identity_args"] and major_src != major_twin:
            o["identity_args"] = src_args.get(_norm_args(o["identity_args"]), o["identity_args"])
    keep_obj = [o for o in objects if (o["object_class"], int(o["oid"])) not in drop]
    keep_obj += [m.row(o, smap) for o in sd.table("objects").dicts() if int(o["oid"]) in want]
    _set(_tab(d, "objects"), keep_obj)

    def acl_class(c: str) -> str:
        return "relation" if c == "column" else c

    acl = [
        a
        for a in _dicts(d.table("acl"))
        if (acl_class(a["object_class"]), int(a["object_oid"])) not in drop
    ]
    src_rel = {
        int(o["oid"]): (
            s_sname.get(int(o["schema_oid"])) if o["schema_oid"] is not None else None,
            o["name"],
        )
        for o in sd.table("objects").dicts()
        if o["object_class"] == "relation"
    }
    src_cols = {
        (int(c["table_oid"]), int(c["attnum"])): c["name"] for c in sd.table("columns").dicts()
    }
    for a in sd.table("acl").dicts():
        oid = int(a["object_oid"])
        if oid in want:
            acl.append(m.row(a))
        elif a["object_class"] == "column" and oid in src_rel:
            schema, rel = src_rel[oid]
            if (schema, rel, src_cols.get((oid, int(a["subid"])))) in failed_cols:
                acl.append(m.row(a))
    funcs = [f for f in _dicts(d.table("functions")) if ("function", int(f["oid"])) not in drop]
    funcs += [m.row(f) for f in sd.table("functions").dicts() if int(f["oid"]) in want]
    cols = [c for c in _dicts(d.table("columns")) if ("relation", int(c["table_oid"])) not in drop]
    cols += [dict(c) for c in sd.table("columns").dicts() if int(c["table_oid"]) in want]
    # the stub's language where the twin used an internal stand-in
    src_lang = {}
    for o in sd.table("objects").dicts():
        if o["object_class"] == "function":
            schema = s_sname.get(int(o["schema_oid"])) if o["schema_oid"] is not None else None
            src_lang[(schema, o["name"], o["identity_args"])] = int(o["oid"])
    s_funcs = {int(f["oid"]): f for f in sd.table("functions").dicts()}
    t_key = {
        int(o["oid"]): (
            t_sname.get(int(o["schema_oid"])) if o["schema_oid"] is not None else None,
            o["name"],
            o["identity_args"],
        )
        for o in objects
        if o["object_class"] == "function"
    }
    for f in funcs:
        soid = src_lang.get(t_key.get(int(f["oid"]), (None, None, None)))
        if soid is not None and soid in s_funcs and s_funcs[soid]["language"] != f["language"]:
            f["language"] = s_funcs[soid]["language"]
    _set(_tab(d, "acl"), acl)
    _set(_tab(d, "functions"), funcs)
    _set(_tab(d, "columns"), cols)
    schemas = [s for s in t_schemas if int(s["oid"]) not in internal]
    _set(_tab(d, "schemas"), schemas)
    failed_def = {k[2:] for k in failed if k[0] == "default_acl" and k[1] == sd.name}
    if failed_def:
        dacl = _dicts(d.table("default_acls"))
        for r in sd.table("default_acls").dicts():
            schema = s_sname.get(int(r["schema_oid"])) if r["schema_oid"] else None
            if (src_names_db.get(int(r["creator_oid"])), schema, r["objtype"]) in failed_def:
                dacl.append(m.row(r, smap))
        _set(_tab(d, "default_acls"), dacl)
        carried += [f"{sd.name}: default privileges {k!r}" for k in sorted(failed_def, key=str)]
    return carried


def _norm_args(args: str) -> str:
    return ", ".join(a[3:] if a.startswith("IN ") else a for a in args.split(", "))
