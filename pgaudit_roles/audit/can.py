"""What "can" means in ``who-can`` and ``explain``: holding a privilege is not using it.

Why its own module: ``effective_privileges`` answers "does the ACL check pass", exactly as
``has_*_privilege()`` does. A user asking "who can read this table" means more, and the
difference is where audits go wrong. Each answer is one of these *standings*:

- ``can use``: holds the privilege and every prerequisite PostgreSQL checks first:
  CONNECT on the object's database (for anything inside a database) and USAGE on its
  schema (for anything inside a schema).
- ``holds only``: holds it, but a prerequisite is missing (``blocked_by`` names it), so the
  privilege does nothing until someone grants the prerequisite: a latent grant.
- ``by SET ROLE``: does not hold it, but can ``SET ROLE`` to a role that does (a NOINHERIT
  role, or a 16+ membership granted WITH INHERIT FALSE). Not in effective_privileges.
- ``grant option kept``: the owner (and whoever inherits the owner's privileges) keeps
  every grant option even after revoking its own privilege, so it can grant it to
  anyone, itself included. Not in effective_privileges either.
- ``lo_compat``: ``lo_compat_privileges = on`` (server, database or role setting) switches
  the large-object checks off: every role reads and writes every large object.
- ``unknown``: the object's database was not collected, so nothing is known about it.

Superusers pass every check, so they always "can use". The functions here only add to
the data the commands already build (separate keys), so other annotations compose.
"""

from __future__ import annotations

from typing import Any

CAN_USE = "can use"
HOLDS_ONLY = "holds only"
BY_SET_ROLE = "by SET ROLE"
GRANT_OPTION = "grant option kept"
LO_COMPAT = "lo_compat"
UNKNOWN = "unknown"

WHO_CAN_TABLES = (
    "databases",
    "effective_privileges",
    "role_closure",
    "role_settings",
    "roles",
    "settings",
)
"""The audit tables :func:`annotate_who_can` and :func:`not_collected` read: a command
builds only the tables its SQL reads (``commands.query.open_audit``)."""
EXPLAIN_TABLES = (
    "acl_objects",
    "databases",
    "effective_privileges",
    "privilege_types",
    "role_closure",
    "role_settings",
    "settings",
)
"""The audit tables :func:`annotate_explain` reads."""

_TRUE = ("on", "true", "yes", "1")
_IN_DATABASE = {
    "relation",
    "column",
    "function",
    "type",
    "schema",
    "language",
    "large_object",
    "fdw",
    "server",
}
_IN_SCHEMA = {"relation", "column", "function", "type"}


def _records(con: Any, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    cur = con.execute(sql, params or [])
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]


def prerequisites(
    object_class: str, database: str | None, schema: str | None
) -> list[tuple[str, str]]:
    """(privilege, "SCHEMA x" / "DATABASE y") that must be held before this object's."""
    need: list[tuple[str, str]] = []
    if object_class in _IN_DATABASE and database is not None:
        need.append(("CONNECT", "database"))
    if object_class in _IN_SCHEMA and schema is not None:
        need.append(("USAGE", "schema"))
    return need


def _usable_sets(
    con: Any, roles: list[str], database_oid: Any, schema: str | None
) -> tuple[set[str], set[str]]:
    """(roles with CONNECT on the database, roles with USAGE on the schema)."""
    rows = _records(
        con,
        """
        SELECT DISTINCT e.role, e.object_class FROM effective_privileges e
        WHERE e.role IN (SELECT unnest(?))
          AND ((e.object_class = 'database' AND e.object_oid = ? AND e.privilege = 'CONNECT')
            OR (e.object_class = 'schema' AND e.database_oid = ? AND e.object_name = ?
                AND e.privilege = 'USAGE'))""",
        [roles, database_oid, database_oid, schema],
    )
    connect = {r["role"] for r in rows if r["object_class"] == "database"}
    usage = {r["role"] for r in rows if r["object_class"] == "schema"}
    return connect, usage


def blocked_by(obj: dict[str, Any], role: str, connect: set[str], usage: set[str]) -> list[str]:
    """What ``role`` lacks before it can use a privilege on ``obj`` (empty: nothing)."""
    cls = "column" if obj.get("column_name") else str(obj["object_class"])
    missing = []
    for priv, what in prerequisites(cls, obj.get("database"), obj.get("schema")):
        if what == "database" and role not in connect:
            missing.append(f"{priv} on DATABASE {obj['database']}")
        if what == "schema" and role not in usage:
            missing.append(f"{priv} on SCHEMA {obj['schema']}")
    return missing


def lo_compat_settings(con: Any) -> dict[tuple[str | None, str | None], bool]:
    """(database, role) -> on/off for every lo_compat_privileges setting; (None, None) is
    the server's value."""
    out: dict[tuple[str | None, str | None], bool] = {}
    for r in _records(
        con,
        """SELECT database, role, value FROM role_settings
                              WHERE name = 'lo_compat_privileges'""",
    ):
        out[(r["database"], r["role"])] = str(r["value"]).lower() in _TRUE
    server = _records(con, "SELECT setting FROM settings WHERE name = 'lo_compat_privileges'")
    out[(None, None)] = bool(server) and str(server[0]["setting"]).lower() in _TRUE
    return out


def lo_compat_on(
    settings: dict[tuple[str | None, str | None], bool], database: str | None, role: str | None
) -> bool:
    """Is ``lo_compat_privileges`` on for ``role``'s sessions in ``database``?

    The most specific setting wins, as at session start: role in database, role, database,
    then the server's value.
    """
    for key in ((database, role), (None, role), (database, None), (None, None)):
        if key in settings:
            return settings[key]
    return False


def not_collected(con: Any) -> list[dict[str, Any]]:
    """Databases whose catalogs were not read: answers about them are unknown."""
    return _records(
        con,
        """SELECT name AS database, not_collected_reason AS reason
                            FROM databases WHERE NOT collected ORDER BY name""",
    )


# --- who-can ------------------------------------------------------------------------------


def annotate_who_can(con: Any, results: list[dict[str, Any]]) -> None:
    """Add standings to each who-can result (``answer()``'s dicts), in place.

    Each holder gets ``standing`` and ``blocked_by``; each result gets ``by_set_role``,
    ``grant_option_only`` and ``lo_compat`` lists of roles that do not hold the privilege
    but can get it or use it anyway.
    """
    for res in results:
        obj = res["object"]
        holders = res["holders"]
        roles = sorted({h["role"] for h in holders})
        connect, usage = _usable_sets(con, roles, obj.get("database_oid"), obj.get("schema"))
        for h in holders:
            h["blocked_by"] = (
                [] if h["via"] == "superuser" else blocked_by(obj, h["role"], connect, usage)
            )
            h["standing"] = HOLDS_ONLY if h["blocked_by"] else CAN_USE
        held = {(h["role"], h["privilege"]) for h in holders}
        res["by_set_role"] = _set_role_only(con, obj, holders, held)
        res["grant_option_only"] = _grant_option_only(con, obj, res["privileges"], held)
        res["lo_compat"] = _lo_compat_roles(con, obj, res["privileges"], held)


def _set_role_only(
    con: Any, obj: dict[str, Any], holders: list[dict[str, Any]], held: set[tuple[str, str]]
) -> list[dict[str, Any]]:
    by_role: dict[str, list[str]] = {}
    for h in holders:
        by_role.setdefault(h["role"], []).append(h["privilege"])
    if not by_role:
        return []
    chains = _records(
        con,
        """
        SELECT c.member, c.role, c.set_path FROM role_closure c
        JOIN roles m ON m.name = c.member
        WHERE c.role IN (SELECT unnest(?)) AND c.can_set AND c.depth > 0 AND NOT m.superuser
          AND NOT (m.predefined AND starts_with(m.name, 'pg_'))
          AND (c.database IS NULL OR c.database_oid = ?)""",
        [sorted(by_role), obj.get("database_oid")],
    )
    best: dict[tuple[str, str], dict[str, Any]] = {}
    for c in chains:
        for priv in by_role[c["role"]]:
            if (c["member"], priv) in held:
                continue
            key = (c["member"], priv)
            path = list(c["set_path"] or [])
            if key not in best or (len(path), path) < (len(best[key]["path"]), best[key]["path"]):
                best[key] = {
                    "role": c["member"],
                    "privilege": priv,
                    "set_role": c["role"],
                    "path": path,
                    "standing": BY_SET_ROLE,
                }
    return [best[k] for k in sorted(best, key=lambda k: (k[1], k[0]))]


def _grant_option_only(
    con: Any, obj: dict[str, Any], privileges: list[str], held: set[tuple[str, str]]
) -> list[dict[str, Any]]:
    owner = obj.get("owner")
    if owner is None:
        return []
    heirs = _records(
        con,
        """
        SELECT c.member, c.inherit_path FROM role_closure c JOIN roles m ON m.name = c.member
        WHERE c.role = ? AND c.inherits AND NOT m.superuser
          AND NOT (m.predefined AND starts_with(m.name, 'pg_'))
          AND (c.database IS NULL OR c.database_oid = ?)
        ORDER BY c.depth, c.member""",
        [owner, obj.get("database_oid")],
    )
    out = []
    seen: set[tuple[str, str]] = set()
    for h in heirs:
        for priv in privileges:
            key = (h["member"], priv)
            if key in held or key in seen:
                continue
            seen.add(key)
            out.append(
                {
                    "role": h["member"],
                    "privilege": priv,
                    "owner": owner,
                    "path": list(h["inherit_path"] or []),
                    "standing": GRANT_OPTION,
                }
            )
    return sorted(out, key=lambda r: (r["privilege"], r["role"]))


def _lo_compat_roles(
    con: Any, obj: dict[str, Any], privileges: list[str], held: set[tuple[str, str]]
) -> list[dict[str, Any]]:
    if obj.get("object_class") != "large_object":
        return []
    checked = [p for p in privileges if p in ("SELECT", "UPDATE")]
    if not checked:
        return []
    roles = _records(
        con,
        """SELECT name FROM roles WHERE NOT superuser
                             AND NOT (predefined AND starts_with(name, 'pg_')) ORDER BY name""",
    )
    settings = lo_compat_settings(con)
    out = []
    for r in roles:
        if not lo_compat_on(settings, obj.get("database"), r["name"]):
            continue
        for priv in checked:
            if (r["name"], priv) not in held:
                out.append({"role": r["name"], "privilege": priv, "standing": LO_COMPAT})
    return out


def render_who_can_extra(res: dict[str, Any], name: Any) -> list[str]:
    """Text lines for the keys :func:`annotate_who_can` added (``name`` quotes a name)."""
    lines: list[str] = []
    if res.get("by_set_role"):
        lines.append("  can get it by SET ROLE (not inherited):")
        for r in res["by_set_role"]:
            lines.append(
                f"    {name(r['role'])}  {r['privilege']} after SET ROLE {name(r['set_role'])}"
                f"  [{' -> '.join(name(p) for p in r['path'])}]"
            )
    if res.get("grant_option_only"):
        lines.append("  can grant it without holding it (the owner keeps every grant option):")
        for r in res["grant_option_only"]:
            via = "" if r["role"] == r["owner"] else f" via owner {name(r['owner'])}"
            lines.append(f"    {name(r['role'])}  {r['privilege']} WITH GRANT OPTION{via}")
    if res.get("lo_compat"):
        privs = sorted({r["privilege"] for r in res["lo_compat"]})
        who = sorted({r["role"] for r in res["lo_compat"]})
        lines.append(
            f"  can use it anyway, lo_compat_privileges = on ({', '.join(privs)} "
            "not checked): " + ", ".join(name(r) for r in who)
        )
    return lines


# --- explain ------------------------------------------------------------------------------


def annotate_explain(con: Any, data: dict[str, Any], include_system: bool) -> None:
    """Add standings to ``explain``'s data for one role, in place (new keys only)."""
    r = data["role"]
    role = r["name"]
    sys_filter = "" if include_system else "AND NOT e.is_system"
    if r["superuser"]:
        data["by_set_role"], data["grant_option_only"] = [], []
    else:
        own = _records(
            con,
            """
            SELECT DISTINCT e.object_class, e.object_oid, e.database_oid, e.object_name
            FROM effective_privileges e
            WHERE e.role = ? AND ((e.object_class = 'database' AND e.privilege = 'CONNECT')
                               OR (e.object_class = 'schema' AND e.privilege = 'USAGE'))""",
            [role],
        )
        connect_dbs = {o["object_name"] for o in own if o["object_class"] == "database"}
        usage = {
            (o["database_oid"], o["object_name"]) for o in own if o["object_class"] == "schema"
        }
        db_oids = {d["name"]: d["oid"] for d in _records(con, "SELECT name, oid FROM databases")}
        for p in data["privileges"]:
            p["blocked_by"] = _blocked_for_role(p, connect_dbs, usage, db_oids)
            p["standing"] = HOLDS_ONLY if p["blocked_by"] else CAN_USE
        data["by_set_role"] = _records(
            con,
            f"""
            SELECT e.database, e.object_class, e.kind, e.schema, e.object_name, e.identity,
                   e.column_name, e.privilege, c.role AS set_role, c.set_path AS path,
                   '{BY_SET_ROLE}' AS standing
            FROM role_closure c
            JOIN effective_privileges e ON e.role = c.role
             AND (c.database IS NULL OR c.database_oid = e.database_oid)
            WHERE c.member = ? AND c.can_set AND NOT c.inherits AND c.depth > 0 {sys_filter}
              AND NOT EXISTS (SELECT 1 FROM effective_privileges h
                              WHERE h.role = ? AND h.object_class = e.object_class
                                AND h.object_oid = e.object_oid AND h.subid = e.subid
                                AND h.database_oid IS NOT DISTINCT FROM e.database_oid
                                AND h.privilege = e.privilege)
            QUALIFY row_number() OVER (PARTITION BY e.database_oid, e.object_class, e.object_oid,
                                       e.subid, e.privilege ORDER BY c.depth, c.role) = 1
            ORDER BY e.database NULLS FIRST, e.object_class, e.identity, e.privilege""",  # noqa: S608
            [role, role],
        )
        data["grant_option_only"] = _records(
            con,
            f"""
            SELECT o.database, o.object_class, o.kind, o.schema, o.object_name, o.identity,
                   t.privilege, o.owner, '{GRANT_OPTION}' AS standing
            FROM acl_objects o
            JOIN role_closure c ON c.role_oid = o.owner_oid AND c.member = ? AND c.inherits
             AND (c.database IS NULL OR c.database_oid = o.database_oid)
            JOIN privilege_types t ON t.object_class = o.object_class
             AND (t.kind IS NULL OR t.kind = o.kind)
            WHERE NOT EXISTS (SELECT 1 FROM effective_privileges h
                              WHERE h.role = ? AND h.object_class = o.object_class
                                AND h.object_oid = o.object_oid AND h.subid = 0
                                AND h.database_oid IS NOT DISTINCT FROM o.database_oid
                                AND h.privilege = t.privilege)
              {sys_filter.replace("e.", "o.")}
            ORDER BY o.database NULLS FIRST, o.object_class, o.identity, t.privilege""",  # noqa: S608
            [role, role],
        )
    settings = lo_compat_settings(con)
    lo_dbs = [
        d["name"]
        for d in _records(con, "SELECT name FROM databases WHERE collected ORDER BY name")
        if lo_compat_on(settings, d["name"], role)
    ]
    counts = {
        d["database"]: d["n"]
        for d in _records(
            con,
            """
        SELECT database, count(*) AS n FROM acl_objects WHERE object_class = 'large_object'
        GROUP BY database""",
        )
    }
    data["lo_compat"] = [
        {"database": d, "large_objects": counts.get(d, 0), "standing": LO_COMPAT} for d in lo_dbs
    ]
    data["not_collected"] = not_collected(con)


def _blocked_for_role(
    p: dict[str, Any], connect_dbs: set[str], usage: set[tuple[Any, str]], db_oids: dict[str, Any]
) -> list[str]:
    cls = "column" if p.get("column_name") else str(p["object_class"])
    missing = []
    for priv, what in prerequisites(cls, p.get("database"), p.get("schema")):
        if what == "database" and p["database"] not in connect_dbs:
            missing.append(f"{priv} on DATABASE {p['database']}")
        if what == "schema" and (db_oids.get(p["database"]), p["schema"]) not in usage:
            missing.append(f"{priv} on SCHEMA {p['schema']}")
    return missing


def render_explain_extra(data: dict[str, Any], name: Any, label: Any) -> list[str]:
    """Text lines for the keys :func:`annotate_explain` added."""
    lines: list[str] = []
    if data.get("by_set_role"):
        lines += ["", "Can get by SET ROLE (not inherited: only after SET ROLE):"]
        for p in data["by_set_role"]:
            where = (
                f" [{name(p['database'])}]"
                if p.get("database") and p["object_class"] != "database"
                else ""
            )
            col = f" ({name(p['column_name'])})" if p.get("column_name") else ""
            lines.append(
                f"  {p['privilege']}{col} on {label(p)}{where} after SET ROLE "
                f"{name(p['set_role'])}  [{' -> '.join(name(x) for x in p['path'] or [])}]"
            )
    if data.get("grant_option_only"):
        lines += ["", "Can grant without holding (the owner keeps every grant option):"]
        for p in data["grant_option_only"]:
            where = (
                f" [{name(p['database'])}]"
                if p.get("database") and p["object_class"] != "database"
                else ""
            )
            lines.append(
                f"  {p['privilege']} on {label(p)}{where} WITH GRANT OPTION"
                + ("" if p["owner"] == data["role"]["name"] else f" (owner {name(p['owner'])})")
            )
    for d in data.get("lo_compat") or []:
        lines += [
            "",
            f"lo_compat_privileges = on in database {name(d['database'])}: reads and "
            f"writes every large object there ({d['large_objects']} now), whatever "
            "the grants.",
        ]
    if data.get("not_collected"):
        lines += ["", "Unknown (database not collected):"]
        for d in data["not_collected"]:
            lines.append(f"  {name(d['database'])}: {d['reason'] or 'not collected'}")
    return lines
