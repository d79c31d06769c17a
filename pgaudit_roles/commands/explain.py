"""``pgaudit-roles explain ROLE SNAPSHOT_OR_DSN``: everything one role is and can do, and why.

Why: "can app_api drop this table?" is answered by membership chains, inheritance flags,
ownership and PUBLIC grants spread over several catalogs. This prints them for one role,
from the audit schema: attributes, direct and transitive memberships (with the chain and
whether it inherits or allows SET ROLE), what it owns (directly, or as a member that can
act as the owner), and its effective privileges grouped by database and object with the
chain that gives each one. Names are printed as SQL identifiers (see ``query``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ..audit.can import EXPLAIN_TABLES, annotate_explain, render_explain_extra
from ..core.errors import UsageError
from ..core.sqlquote import PRIVILEGE_ORDER
from ._args import looks_like_target
from .paths import TABLES as ROUTE_TABLES
from .paths import gather as routes_from
from .query import (
    display_identity,
    echo_json_or_text,
    open_audit,
    printable,
    qualified_name,
    reading,
    records,
    sql_name,
)

TABLES = (
    "acl_objects",
    "effective_privileges",
    "memberships",
    "objects",
    "role_closure",
    "role_settings",
    "roles",
    *ROUTE_TABLES,
    *EXPLAIN_TABLES,
)
"""The audit tables explain's SQL reads (its own, the routes' and ``audit.can``'s): the
load builds only these and what they are built from."""

_KIND_WORDS = {
    "relation": "",
    "function": "FUNCTION",
    "type": "TYPE",
    "schema": "SCHEMA",
    "database": "DATABASE",
    "tablespace": "TABLESPACE",
    "parameter": "PARAMETER",
    "language": "LANGUAGE",
    "large_object": "LARGE OBJECT",
    "fdw": "FOREIGN DATA WRAPPER",
    "server": "SERVER",
}


def privilege_sort_key(priv: str) -> tuple[int, str]:
    return (PRIVILEGE_ORDER.index(priv) if priv in PRIVILEGE_ORDER else 99, priv)


def object_label(row: dict[str, Any]) -> str:
    kind = str(row.get("kind") or "")
    word = _KIND_WORDS.get(str(row.get("object_class")), "") or kind.upper()
    return f"{word} {display_identity(row)}"


def chain(path: Any) -> str:
    return " -> ".join(sql_name(p) for p in (path or []))


def gather(con: Any, role: str, include_system: bool) -> dict[str, Any]:
    """Everything explain prints, as plain data (also the --format json output)."""
    found = records(con, "SELECT * FROM roles WHERE name = ?", [role])
    if not found:
        close = [
            r["name"]
            for r in records(
                con, "SELECT name FROM roles WHERE lower(name) = lower(?) ORDER BY name", [role]
            )
        ]
        hint = f" (did you mean {', '.join(sql_name(n) for n in close)}?)" if close else ""
        raise UsageError(f"role {sql_name(role)} is not in the snapshot{hint}")
    r = found[0]
    data: dict[str, Any] = {"role": r}
    data["member_of"] = records(
        con,
        """
        SELECT role, grantor, admin_option, inherit_option, set_option FROM memberships
        WHERE member = ? ORDER BY role, grantor""",
        [role],
    )
    data["members"] = records(
        con,
        """
        SELECT member, grantor, admin_option, inherit_option, set_option FROM memberships
        WHERE role = ? ORDER BY member, grantor""",
        [role],
    )
    data["transitive"] = records(
        con,
        """
        SELECT database, role, depth, path, inherits, inherit_path, can_set, set_path
        FROM role_closure WHERE member = ? AND depth > 1 OR (member = ? AND database IS NOT NULL)
        ORDER BY database NULLS FIRST, depth, role""",
        [role, role],
    )
    data["settings"] = records(
        con,
        """
        SELECT database, name, value FROM role_settings WHERE role = ?
        ORDER BY database NULLS FIRST, name""",
        [role],
    )
    sys_filter = "" if include_system else "AND NOT o.is_system"
    data["owns"] = records(
        con,
        f"""
        SELECT o.database, o.object_class, o.kind, o.schema, o.object_name, o.identity
        FROM acl_objects o WHERE o.owner = ? {sys_filter}
        ORDER BY o.database NULLS FIRST, o.object_class, o.identity""",  # noqa: S608
        [role],
    )
    data["acts_as_owner"] = records(
        con,
        f"""
        SELECT o.owner, c.inherits, c.can_set,
               coalesce(c.inherit_path, c.set_path, c.path) AS path, count(*) AS objects
        FROM acl_objects o
        JOIN role_closure c ON c.role_oid = o.owner_oid AND c.member = ? AND c.depth > 0
         AND (c.database IS NULL OR c.database_oid = o.database_oid)
        WHERE (c.inherits OR c.can_set) {sys_filter}
        GROUP BY ALL ORDER BY o.owner""",  # noqa: S608
        [role],
    )
    data["privileges"] = (
        []
        if r["superuser"]
        else records(
            con,
            f"""
        SELECT e.database, e.object_class, e.kind, e.schema, e.object_name, e.identity,
               o.identity_args, e.column_name, e.privilege, e.via, e.via_role, e.path,
               e.grantable
        FROM effective_privileges e
        LEFT JOIN objects o ON o.database_oid = e.database_oid AND o.oid = e.object_oid
             AND o.object_class = e.object_class
        WHERE e.role = ? {sys_filter.replace("o.", "e.")}
        ORDER BY e.database NULLS FIRST,
                 CASE WHEN e.object_class = 'column' THEN 'relation' ELSE e.object_class END,
                 e.identity, e.object_oid, e.subid, e.privilege, e.via""",  # noqa: S608
            [role],
        )
    )

    data["routes"] = [] if r["superuser_equivalent"] else routes_from(con, role, None)
    return data


def _attributes(r: dict[str, Any]) -> list[str]:
    flags = [
        w
        for w, on in (
            ("SUPERUSER", r["superuser"]),
            ("LOGIN", r["login"]),
            ("CREATEROLE", r["createrole"]),
            ("CREATEDB", r["createdb"]),
            ("REPLICATION", r["replication"]),
            ("BYPASSRLS", r["bypassrls"]),
        )
        if on
    ]
    flags.append("INHERIT" if r["inherit"] else "NOINHERIT")
    out = [" ".join(flags)]
    if r["login"]:
        limit = r["connection_limit"]
        out.append(f"connection limit: {'none' if limit is None or limit < 0 else limit}")
        out.append(f"password expires: {r['valid_until'] or 'never'}")
        out.append(
            f"password type: {r['password_type'] or 'unknown (needs superuser or the helper)'}"
        )
    if r["superuser_equivalent"] and not r["superuser"]:
        out.append(f"superuser-equivalent through {sql_name(r['superuser_via'])}")
    return out


def render(data: dict[str, Any]) -> str:
    r = data["role"]
    kind = f"kind {r['kind']}" + (f", app {printable(r['app'])}" if r["app"] else "")
    if r.get("environment"):
        kind += f", environment {printable(r['environment'])}"
    lines = [f"Role {sql_name(r['name'])} ({kind})"]
    lines += [f"  {a}" for a in _attributes(r)]
    if r.get("comment"):
        lines.append(f"  comment: {printable(r['comment'])}")
    for s in data["settings"]:
        where = f"in database {sql_name(s['database'])}" if s["database"] else "everywhere"
        lines.append(f"  setting {printable(s['name'])}={printable(s['value'])} ({where})")

    lines += ["", "Member of (direct grants):"]
    if not data["member_of"]:
        lines.append("  (none)")
    for m in data["member_of"]:
        opts = [
            w
            for w, on in (
                ("INHERIT", m["inherit_option"]),
                ("SET", m["set_option"]),
                ("ADMIN", m["admin_option"]),
            )
            if on
        ]
        lines.append(
            f"  {sql_name(m['role'])}  [{', '.join(opts) or 'no INHERIT, no SET'}]"
            f"  granted by {sql_name(m['grantor'])}"
        )
    if data["transitive"]:
        lines += ["", "Reaches through membership chains:"]
        for t in data["transitive"]:
            where = f" (in database {sql_name(t['database'])} only)" if t["database"] else ""
            how = (
                ", ".join(
                    [
                        w
                        for w, on in (
                            ("inherits privileges", t["inherits"]),
                            ("can SET ROLE", t["can_set"]),
                        )
                        if on
                    ]
                )
                or "member only (no inheritance, no SET ROLE)"
            )
            lines.append(f"  {sql_name(t['role'])}{where}: {how}")
            lines.append(f"      chain: {chain(t['inherit_path'] or t['set_path'] or t['path'])}")
    lines += ["", "Members:"]
    if not data["members"]:
        lines.append("  (none)")
    for m in data["members"]:
        opts = [
            w
            for w, on in (
                ("INHERIT", m["inherit_option"]),
                ("SET", m["set_option"]),
                ("ADMIN", m["admin_option"]),
            )
            if on
        ]
        lines.append(f"  {sql_name(m['member'])}  [{', '.join(opts) or 'no INHERIT, no SET'}]")

    lines += ["", "Owns:"]
    if not data["owns"]:
        lines.append("  (nothing)")
    for o in data["owns"]:
        where = (
            f"  [{sql_name(o['database'])}]"
            if o["database"] and o["object_class"] != "database"
            else ""
        )
        lines.append(f"  {object_label(o)}{where}")
    for a in data["acts_as_owner"]:
        how = "has the owner's privileges" if a["inherits"] else "can SET ROLE to the owner"
        lines.append(
            f"  {how} of {a['objects']} object(s) owned by {sql_name(a['owner'])}"
            f" (chain: {chain(a['path'])})"
        )

    lines += ["", "Escalation routes out of this role (pgaudit-roles paths --from for every hop):"]
    if r["superuser_equivalent"]:
        lines.append("  (already superuser-equivalent)")
    elif not data["routes"]:
        lines.append("  (none found)")
    for rt in data["routes"]:
        lines.append(f"  to {printable(rt['target'])}: {printable(rt['route'])}")
        if rt["weakest_fix"]:
            lines.append(f"      weakest hop {rt['weakest_hop']}: {printable(rt['weakest_fix'])}")

    lines += ["", "Effective privileges:"]
    if r["superuser"]:
        lines.append("  SUPERUSER: every privilege on every object, whatever the ACLs say.")
    elif not data["privileges"]:
        lines.append("  (none)")
    lines += _privilege_lines(data["privileges"])

    lines += render_explain_extra(data, sql_name, object_label)
    return "\n".join(lines)


def _privilege_lines(rows: list[dict[str, Any]]) -> list[str]:
    lines: list[str] = []
    current_db: object = object()
    current_obj: tuple | None = None
    groups: dict[tuple, list[str]] = {}

    def flush() -> None:
        for (via, via_role, path, grantable, col), privs in groups.items():
            what = ", ".join(sorted(privs, key=privilege_sort_key)) + (
                f" ({sql_name(col)})" if col else ""
            )
            why = {
                "owner": f"as owner {sql_name(via_role)}",
                "direct": "granted directly",
                "role": f"via {sql_name(via_role)}",
                "public": "granted to PUBLIC",
                "predefined": f"via predefined role {sql_name(via_role)}",
            }.get(via, via)
            lines.append(
                f"      {what}: {why}{' WITH GRANT OPTION' if grantable else ''}"
                + (
                    f"  [{chain(path)}]"
                    if via in ("role", "owner", "predefined") and path and len(path) > 1
                    else ""
                )
            )
        groups.clear()

    for p in rows:
        db = p["database"]
        if db != current_db:
            flush()
            current_db = db
            current_obj = None
            lines.append(f"  database {sql_name(db)}:" if db else "  cluster-wide:")
        cls = "relation" if p["object_class"] == "column" else p["object_class"]
        key = (cls, p["schema"], p["object_name"], p["identity"])
        if key != current_obj:
            flush()
            current_obj = key
            blocked = (
                f"  (holds only: no {'; no '.join(printable(b) for b in p['blocked_by'])})"
                if p.get("blocked_by")
                else ""
            )
            lines.append(f"    {object_label(dict(p, object_class=cls))}{blocked}")
        gkey = (
            p["via"],
            p["via_role"],
            tuple(p["path"] or ()),
            bool(p["grantable"]),
            p["column_name"],
        )
        groups.setdefault(gkey, [])
        if p["privilege"] not in groups[gkey]:
            groups[gkey].append(p["privilege"])
    flush()
    return lines


@click.command("explain")
@click.argument("first", metavar="SNAPSHOT_OR_DSN")
@click.argument("second", metavar="ROLE")
@click.option(
    "--all",
    "include_system",
    is_flag=True,
    help="Include built-in objects (pg_catalog, information_schema) in the lists.",
)
@click.option(
    "--format", "fmt", type=click.Choice(("text", "json")), default="text", show_default=True
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Configuration file (naming policy, collection settings).",
)
def explain(
    first: str, second: str, include_system: bool, fmt: str, config_path: Path | None
) -> None:
    """Explain ROLE: attributes, memberships and chains, ownership, effective privileges.

    The older order, `explain ROLE SNAPSHOT_OR_DSN`, is still accepted when the first
    argument is neither an existing file nor a connection string and the second is.

    ROLE is the role name exactly as stored (no SQL quoting: app_api, "My Role" is
    given as 'My Role'). SNAPSHOT_OR_DSN is a snapshot file or a connection string
    (collected first, read-only). Names are printed as SQL identifiers; names with
    control characters as U&"..." identifiers. Privileges on built-in objects are left
    out unless --all is given. Privileges the role holds but cannot use yet (no CONNECT
    on the database, no USAGE on the schema) are marked "holds only"; privileges it can
    get by SET ROLE, grant options it keeps as owner, lo_compat_privileges and databases
    not collected are listed after them.
    """
    target, role = first, second
    if not looks_like_target(first) and looks_like_target(second):
        target, role = second, first  # the older order: ROLE SNAPSHOT_OR_DSN
    con, _snap = open_audit(target, config_path, reading(TABLES))
    try:
        data = gather(con, role, include_system)
        annotate_explain(con, data, include_system)
    finally:
        con.close()

    echo_json_or_text(data, fmt, render)  # databases not collected: in its Unknown section


__all__ = ["explain", "gather", "qualified_name", "render"]
