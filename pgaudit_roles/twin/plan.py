"""The SQL that rebuilds a snapshot, as ordered steps: roles, memberships, databases,
schemas, object stubs, exact ACLs (grantors kept), default privileges, settings.

Why steps and not one script: a step that fails on the twin (an extension that is not
installed, a type from a missing library, a predefined role this version lacks) must be
recorded as *not reproduced*, with the key of what it would have built, so the twin's
snapshot carries the source's rows for it instead of silently dropping them. Every name
goes through :mod:`pgaudit_roles.core.sqlquote`; the snapshot is a file anyone can edit.

Nothing here touches a server: :func:`plan` is pure, tested without PostgreSQL.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..audit.acl_defaults import DEFAULT_ACL_OBJTYPES
from ..collect.snapshot import DatabaseSnapshot, Snapshot
from ..core.sqlquote import (
    alter_kind,
    func_signature,
    grant_kind,
    grantee,
    privilege_list,
    qualified,
    quote_ident,
    quote_literal,
)

BOOTSTRAP_OID = 10
TWIN_SUPERUSER = "postgres"
INTERNAL_SCHEMA = "pgaudit_twin_internal"
"""Schema for the twin's own helpers (aggregate state functions); filtered out of the
twin's snapshot."""
SYSTEM_SCHEMAS = ("pg_catalog", "information_schema")
INITDB_DATABASES = ("postgres", "template1", "template0")

# GUCs whose value is a list the server re-quotes element by element (GUC_LIST_QUOTE).
LIST_GUCS = frozenset(
    {
        "search_path",
        "temp_tablespaces",
        "session_preload_libraries",
        "shared_preload_libraries",
        "local_preload_libraries",
        "unix_socket_directories",
    }
)


@dataclass
class Step:
    """One statement for the twin. ``key`` names what it reproduces (for carry-over when it
    fails); ``as_role`` runs it under SET ROLE (a grant whose grantor is not the owner);
    ``fallback`` is tried when the statement fails (e.g. a membership without GRANTED BY)."""

    database: str | None  # None: cluster-wide, run in database postgres
    sql: str
    key: tuple[Any, ...] | None = None
    as_role: str | None = None
    fallback: str | None = None
    autocommit: bool = False  # CREATE DATABASE cannot run in a transaction block
    pre: list[str] = field(default_factory=list)  # as the superuser, before (temporary grant)
    post: list[str] = field(default_factory=list)  # as the superuser, after (its revoke)
    existing: tuple[Any, ...] | None = None
    """For a REVOKE on an object initdb made: (class, schema, name, args) whose current
    grantees in the twin are added to the FROM list by the builder."""


@dataclass
class Plan:
    """Phases of steps, run in order; within a phase a database's steps share a transaction."""

    phases: list[tuple[str, list[Step]]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what cannot be reproduced, known up front
    not_reproduced: list[tuple[Any, ...]] = field(default_factory=list)

    def add(self, name: str, steps: list[Step]) -> None:
        if steps:
            self.phases.append((name, steps))


# --- small helpers -----------------------------------------------------------------------


def guc_value_sql(name: str, value: str) -> str:
    """``value`` (as stored in rolconfig/proconfig) as the right-hand side of SET name TO.

    List settings are split and each element given as its own literal, so the server's
    re-quoting stores exactly the source's text (``"$user", public`` stays that)."""
    if name.lower() not in LIST_GUCS:
        return quote_literal(value)
    items: list[str] = []
    cur: list[str] = []
    quoted = False
    i = 0
    while i < len(value):
        ch = value[i]
        if ch == '"':
            if quoted and i + 1 < len(value) and value[i + 1] == '"':
                cur.append('"')
                i += 2
                continue
            quoted = not quoted
        elif ch == "," and not quoted:
            items.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
        i += 1
    items.append("".join(cur).strip())
    return ", ".join(quote_literal(it) for it in items)


def split_setting(entry: str) -> tuple[str, str]:
    name, _, value = entry.partition("=")
    return name, value


def set_clause(entry: str) -> str:
    name, value = split_setting(entry)
    return f"SET {quote_ident(name)} TO {guc_value_sql(name, value)}"


class Names:
    """Source role OIDs -> the names the twin uses (the bootstrap superuser is ``postgres``)."""

    def __init__(self, snap: Snapshot) -> None:
        self.by_oid: dict[int, str] = {
            int(r["oid"]): r["name"] for r in snap.table("roles").dicts()
        }
        self.bootstrap = self.by_oid.get(BOOTSTRAP_OID, TWIN_SUPERUSER)

    def name(self, oid: Any) -> str | None:
        if oid is None:
            return None
        oid = int(oid)
        if oid == BOOTSTRAP_OID:
            return TWIN_SUPERUSER
        return self.by_oid.get(oid)

    def grantee(self, oid: Any) -> str:
        if int(oid) == 0:
            return "PUBLIC"
        name = self.name(oid)
        if name is None:
            raise KeyError(oid)
        return grantee(name)


def _privs_by_grant(rows: Iterable[dict[str, Any]]) -> dict[tuple[int, int, bool], list[str]]:
    out: dict[tuple[int, int, bool], list[str]] = defaultdict(list)
    for r in rows:
        if r.get("grantee_oid") is None or r.get("privilege") is None:
            continue
        out[(int(r["grantor_oid"]), int(r["grantee_oid"]), bool(r["grantable"]))].append(
            r["privilege"]
        )
    return out


# --- the plan ------------------------------------------------------------------------------


def plan(
    snap: Snapshot,
    twin_version_num: int,
    *,
    databases: Iterable[str] | None = None,
    schemas: Iterable[str] | None = None,
) -> Plan:
    """Every step that rebuilds ``snap`` on a server of ``twin_version_num``."""
    names = Names(snap)
    p = Plan()
    src_version = int(snap.meta.get("server_version_num") or 0)
    if names.bootstrap != TWIN_SUPERUSER:
        p.notes.append(
            f"the source's bootstrap superuser is {names.bootstrap!r}; the twin's is "
            f"{TWIN_SUPERUSER!r} (its rows are renamed in the twin's snapshot)"
        )
    p.add("roles", _roles(snap, names))
    p.add("memberships", _memberships(snap, names, src_version, twin_version_num))
    p.add("databases", _databases(snap, names))
    p.add("cluster acls", _shared_acls(snap, names, twin_version_num))
    wanted_dbs = set(databases) if databases is not None else None
    wanted_schemas = set(schemas) if schemas is not None else None
    for db in snap.databases:
        if db.status != "collected" or (wanted_dbs is not None and db.name not in wanted_dbs):
            continue
        for name, steps in _database(db, names, twin_version_num, wanted_schemas, src_version):
            p.add(f"{name} ({db.name})", steps)
    p.add("role settings", _settings(snap, names))
    p.add("database options", _database_options(snap))
    return p


def _roles(snap: Snapshot, names: Names) -> list[Step]:
    steps: list[Step] = []
    for r in snap.table("roles").dicts():
        if r["predefined"] and int(r["oid"]) != BOOTSTRAP_OID:
            continue
        attrs = [
            "SUPERUSER" if r["superuser"] else "NOSUPERUSER",
            "INHERIT" if r["inherit"] else "NOINHERIT",
            "CREATEROLE" if r["createrole"] else "NOCREATEROLE",
            "CREATEDB" if r["createdb"] else "NOCREATEDB",
            "LOGIN" if r["login"] else "NOLOGIN",
            "REPLICATION" if r["replication"] else "NOREPLICATION",
            "BYPASSRLS" if r["bypassrls"] else "NOBYPASSRLS",
            f"CONNECTION LIMIT {int(r['connection_limit'])}",
        ]
        if r["valid_until"] is not None:
            attrs.append(f"VALID UNTIL {quote_literal(str(r['valid_until']))}")
        key = ("role", r["name"])
        if int(r["oid"]) == BOOTSTRAP_OID:  # exists; it stays a superuser with LOGIN
            attrs = [
                a
                for a in attrs
                if a not in ("NOSUPERUSER", "NOLOGIN", "NOREPLICATION", "NOBYPASSRLS")
            ]
            steps.append(
                Step(None, f"ALTER ROLE {quote_ident(TWIN_SUPERUSER)} " + " ".join(attrs), key)
            )
        else:
            steps.append(
                Step(None, f"CREATE ROLE {quote_ident(r['name'])} " + " ".join(attrs), key)
            )
        if r["comment"] is not None:
            steps.append(
                Step(
                    None,
                    f"COMMENT ON ROLE {quote_ident(names.name(r['oid']) or '')} "
                    f"IS {quote_literal(r['comment'])}",
                    key,
                )
            )
    return steps


def _memberships(snap: Snapshot, names: Names, src: int, twin: int) -> list[Step]:
    """Grants by the bootstrap superuser first, then the others (their grantor needs ADMIN
    on 16+, which an earlier grant gives); a grantor the twin refuses falls back to none."""
    rows = list(snap.table("memberships").dicts())
    rows.sort(key=lambda m: (int(m["grantor_oid"] or 0) != BOOTSTRAP_OID,))
    steps: list[Step] = []
    for m in rows:
        role, member = names.name(m["role_oid"]), names.name(m["member_oid"])
        if role is None or member is None:
            continue
        key = ("membership", role, member, names.name(m["grantor_oid"]))
        head = f"GRANT {quote_ident(role)} TO {quote_ident(member)}"
        if twin >= 160000:
            opts = [
                f"ADMIN {'TRUE' if m['admin_option'] else 'FALSE'}",
                f"INHERIT {'TRUE' if m['inherit_option'] else 'FALSE'}",
                f"SET {'TRUE' if m['set_option'] else 'FALSE'}",
            ]
            base = f"{head} WITH {', '.join(opts)}"
        else:
            base = head + (" WITH ADMIN OPTION" if m["admin_option"] else "")
        grantor = names.name(m["grantor_oid"])
        sql = base if grantor is None else f"{base} GRANTED BY {quote_ident(grantor)}"
        steps.append(Step(None, sql, key, fallback=base if grantor is not None else None))
    return steps


def _databases(snap: Snapshot, names: Names) -> list[Step]:
    steps: list[Step] = []
    for d in snap.table("databases").dicts():
        owner = names.name(d["owner_oid"]) or TWIN_SUPERUSER
        ident = quote_ident(d["name"])
        key = ("database", d["name"])
        if d["name"] not in INITDB_DATABASES:
            steps.append(
                Step(
                    None,
                    f"CREATE DATABASE {ident} TEMPLATE template0 OWNER {quote_ident(owner)}",
                    key,
                    autocommit=True,
                )
            )
        else:
            steps.append(Step(None, f"ALTER DATABASE {ident} OWNER TO {quote_ident(owner)}", key))
        steps.append(
            Step(
                None,
                f"ALTER DATABASE {ident} CONNECTION LIMIT {max(int(d['connection_limit']), -1)}",
                key,
            )
        )
    return steps


def _database_options(snap: Snapshot) -> list[Step]:
    """Last: a database that refuses connections cannot be built inside."""
    steps: list[Step] = []
    for d in snap.table("databases").dicts():
        ident = quote_ident(d["name"])
        if d["name"] == "template0":
            continue
        steps.append(
            Step(
                None,
                f"ALTER DATABASE {ident} IS_TEMPLATE {'true' if d['is_template'] else 'false'}",
                ("database", d["name"]),
            )
        )
        if not d["allow_connections"]:
            steps.append(
                Step(
                    None, f"ALTER DATABASE {ident} ALLOW_CONNECTIONS false", ("database", d["name"])
                )
            )
    return steps


def _acl_steps(
    database: str | None,
    target: str,
    owner: str | None,
    rows: list[dict[str, Any]],
    names: Names,
    key: tuple[Any, ...],
    existing: tuple[Any, ...] | None = None,
    columns: str | None = None,
    usage_schema: str | None = None,
) -> list[Step]:
    """An explicit ACL written out exactly: everything revoked, then each grant, run by its
    grantor (as the superuser when the grantor is the owner, which the server records as
    the owner; under SET ROLE otherwise)."""
    steps: list[Step] = []
    if columns is None:
        who = ["PUBLIC", *(quote_ident(r) for r in dict.fromkeys(x for x in [owner] if x))]
        steps.append(
            Step(database, f"REVOKE ALL ON {target} FROM {', '.join(who)}", key, existing=existing)
        )
    grants = _privs_by_grant(rows)
    ordered = sorted(grants.items(), key=lambda kv: names.name(kv[0][0]) != owner)
    for (grantor_oid, grantee_oid, grantable), privs in ordered:
        try:
            to = names.grantee(grantee_oid)
        except KeyError:
            continue
        plist = privilege_list(sorted(set(privs)), [columns] if columns is not None else None)
        sql = f"GRANT {plist} ON {target} TO {to}" + (" WITH GRANT OPTION" if grantable else "")
        grantor = names.name(grantor_oid)
        as_role = None if grantor in (owner, None) else grantor
        step = Step(database, sql, key, as_role=as_role)
        if as_role is not None and usage_schema is not None:
            # the grantor must see the schema to name the object: a temporary USAGE,
            # revoked right after (the schema's own ACL was written out before)
            step.pre = [
                f"GRANT USAGE ON SCHEMA {quote_ident(usage_schema)} TO {quote_ident(as_role)}"
            ]
            step.post = [
                f"REVOKE USAGE ON SCHEMA {quote_ident(usage_schema)} FROM {quote_ident(as_role)}"
            ]
        steps.append(step)
    return steps


def _shared_acls(snap: Snapshot, names: Names, twin: int) -> list[Step]:
    by_obj: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in snap.table("shared_acl").dicts():
        by_obj[(r["object_class"], r["object_name"])].append(r)
    owners = {d["name"]: names.name(d["owner_oid"]) for d in snap.table("databases").dicts()}
    owners.update(
        {t["name"]: names.name(t["owner_oid"]) for t in snap.table("tablespaces").dicts()}
    )
    explicit = {
        ("database", d["name"])
        for d in snap.table("databases").dicts()
        if d["acl_state"] == "explicit"
    }
    explicit |= {
        ("tablespace", t["name"])
        for t in snap.table("tablespaces").dicts()
        if t["acl_state"] == "explicit"
    }
    steps: list[Step] = []
    for cls, name in sorted(explicit | set(by_obj)):
        rows = by_obj.get((cls, name), [])
        if cls == "parameter":
            if twin < 150000:
                continue
            target = f"PARAMETER {quote_ident(name)}"
            grants = _privs_by_grant(rows)
            for (_g, grantee_oid, grantable), privs in grants.items():
                try:
                    to = names.grantee(grantee_oid)
                except KeyError:
                    continue
                steps.append(
                    Step(
                        None,
                        f"GRANT {privilege_list(sorted(set(privs)))} ON {target} "
                        f"TO {to}" + (" WITH GRANT OPTION" if grantable else ""),
                        ("shared_acl", cls, name),
                    )
                )
            continue
        if cls == "tablespace" and name not in ("pg_default", "pg_global"):
            continue  # user tablespaces are not rebuilt (no directory); carried over
        kw = "DATABASE" if cls == "database" else "TABLESPACE"
        steps += _acl_steps(
            None,
            f"{kw} {quote_ident(name)}",
            owners.get(name),
            rows,
            names,
            ("shared_acl", cls, name),
            existing=(cls, None, name, None),
        )
    return steps


def _settings(snap: Snapshot, names: Names) -> list[Step]:
    dbs = {int(d["oid"]): d["name"] for d in snap.table("databases").dicts()}
    steps: list[Step] = []
    for s in snap.table("db_role_settings").dicts():
        db = dbs.get(int(s["database_oid"])) if int(s["database_oid"]) else None
        role = names.name(s["role_oid"]) if int(s["role_oid"]) else None
        if int(s["database_oid"]) and db is None:
            continue
        if int(s["role_oid"]) and role is None:
            continue
        for entry in s["config"] or []:
            key = ("db_role_setting", db, role, entry)
            if role is None:
                head = f"ALTER DATABASE {quote_ident(db)}" if db is not None else "ALTER ROLE ALL"
            else:
                head = f"ALTER ROLE {quote_ident(role)}" + (
                    f" IN DATABASE {quote_ident(db)}" if db is not None else ""
                )
            steps.append(Step(None, f"{head} {set_clause(entry)}", key))
    return steps


# --- one database --------------------------------------------------------------------------


def _range_multirange(name: str) -> str:
    """The multirange name the server derives from a range name (makeMultirangeTypeName)."""
    i = name.rfind("range")
    return name[:i] + "multi" + name[i:] if i >= 0 else name + "_multirange"


def _database(
    db: DatabaseSnapshot, names: Names, twin: int, wanted_schemas: set[str] | None, src: int
) -> list[tuple[str, list[Step]]]:
    dbn = db.name
    schemas = {int(r["oid"]): r for r in db.table("schemas").dicts()}
    sname = {oid: r["name"] for oid, r in schemas.items()}

    def in_scope(schema_name: str | None) -> bool:
        return (
            wanted_schemas is None
            or schema_name is None
            or schema_name in wanted_schemas
            or schema_name in SYSTEM_SCHEMAS
        )

    objects = [
        o
        for o in db.table("objects").dicts()
        if in_scope(sname.get(int(o["schema_oid"])) if o["schema_oid"] is not None else None)
    ]
    acl_rows: dict[tuple[str, int, int], list[dict[str, Any]]] = defaultdict(list)
    for a in db.table("acl").dicts():
        acl_rows[(a["object_class"], int(a["object_oid"]), int(a["subid"]))].append(a)
    functions = {int(f["oid"]): f for f in db.table("functions").dicts()}
    columns: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for c in db.table("columns").dicts():
        columns[int(c["table_oid"])].append((int(c["attnum"]), c["name"]))
    ext_names = {e["name"] for e in db.table("extensions").dicts()}

    create: list[Step] = []
    types: list[Step] = []
    rels: list[Step] = []
    funcs: list[Step] = []
    owners: list[Step] = []
    acls: list[Step] = []
    acls_late: list[Step] = []

    # schemas
    for s in schemas.values():
        if not in_scope(s["name"]):
            continue
        key = ("object", dbn, "schema", None, s["name"], None)
        owner = names.name(s["owner_oid"]) or TWIN_SUPERUSER
        ident = quote_ident(s["name"])
        if s["is_system"]:
            pass
        elif s["name"] == "public":
            create.append(Step(dbn, "CREATE SCHEMA IF NOT EXISTS public", key))
            owners.append(Step(dbn, f"ALTER SCHEMA public OWNER TO {quote_ident(owner)}", key))
        else:
            create.append(
                Step(dbn, f"CREATE SCHEMA {ident} AUTHORIZATION {quote_ident(owner)}", key)
            )
        if s["acl_state"] == "explicit":
            acls += _acl_steps(
                dbn,
                f"SCHEMA {ident}",
                owner,
                acl_rows.get(("schema", int(s["oid"]), 0), []),
                names,
                key,
                existing=("schema", s["name"], s["name"], None),
            )
    if "public" not in {s["name"] for s in schemas.values()} and in_scope("public"):
        create.append(
            Step(
                dbn, "DROP SCHEMA IF EXISTS public", ("object", dbn, "schema", None, "public", None)
            )
        )

    # range types: the subtype is read from the constructor's arguments; the constructors
    # (and the multirange's) are made by CREATE TYPE, so they only get owner and ACL
    range_like = {
        (sname.get(int(o["schema_oid"])), o["name"])
        for o in objects
        if o["object_class"] == "type" and o["kind"] in ("range", "multirange")
    }
    subtypes: dict[tuple[Any, str], str] = {}
    for o in objects:
        k = (sname.get(int(o["schema_oid"])) if o["schema_oid"] is not None else None, o["name"])
        if o["object_class"] == "function" and k in range_like and o["identity_args"]:
            parts = o["identity_args"].split(", ")
            if len(parts) == 2 and parts[0] == parts[1]:
                subtypes[k] = parts[0]

    helper_made = False

    def helper() -> list[Step]:
        nonlocal helper_made
        if helper_made:
            return []
        helper_made = True
        return [Step(dbn, f"CREATE SCHEMA IF NOT EXISTS {quote_ident(INTERNAL_SCHEMA)}", None)]

    # fdws and servers first (foreign tables need a server)
    fdw_of_db: str | None = None
    servers_of_db: list[str] = []
    for o in objects:
        key = ("object", dbn, o["object_class"], None, o["name"], None)
        if o["extension"]:
            continue
        if o["object_class"] == "fdw":
            fdw_of_db = fdw_of_db or o["name"]
            create.append(Step(dbn, f"CREATE FOREIGN DATA WRAPPER {quote_ident(o['name'])}", key))
    for o in objects:
        if o["object_class"] == "server" and not o["extension"]:
            key = ("object", dbn, "server", None, o["name"], None)
            if fdw_of_db is None:
                create.append(Step(dbn, "SELECT pg_catalog.pgaudit_twin_no_fdw()", key))
                continue
            servers_of_db.append(o["name"])
            create.append(
                Step(
                    dbn,
                    f"CREATE SERVER {quote_ident(o['name'])} FOREIGN DATA WRAPPER "
                    f"{quote_ident(fdw_of_db)}",
                    key,
                )
            )

    for o in objects:
        cls, kind = o["object_class"], o["kind"]
        schema = sname.get(int(o["schema_oid"])) if o["schema_oid"] is not None else None
        key = ("object", dbn, cls, schema, o["name"], o["identity_args"])
        owner = names.name(o["owner_oid"]) or TWIN_SUPERUSER
        system = schema in SYSTEM_SCHEMAS
        existing = system or (
            cls == "language" and o["name"] in ("plpgsql", "sql", "c", "internal")
        )
        constructor = cls == "function" and (schema, o["name"]) in range_like
        if o["extension"] and not existing:
            # extension members: the extension is created if this build has it
            if o["extension"] not in ("plpgsql",):
                create.append(
                    Step(dbn, f"CREATE EXTENSION IF NOT EXISTS {quote_ident(o['extension'])}", key)
                )
            existing = True
        oid = int(o["oid"])
        target: str | None = None
        try:
            if cls == "relation":
                target = f"{grant_kind(kind)} {qualified(schema, o['name'])}"
                if not existing:
                    rels.append(
                        Step(
                            dbn,
                            _relation_sql(
                                kind,
                                qualified(schema, o["name"]),
                                sorted(columns.get(oid, [])),
                                servers_of_db,
                            ),
                            key,
                        )
                    )
                    owners.append(
                        Step(
                            dbn,
                            f"ALTER {alter_kind(kind)} "
                            f"{qualified(schema, o['name'])} OWNER TO "
                            f"{quote_ident(owner)}",
                            key,
                        )
                    )
            elif cls == "function":
                sig = func_signature(schema, o["name"], o["identity_args"])
                target = f"{grant_kind(kind)} {sig}"
                if constructor:
                    owners.append(
                        Step(
                            dbn,
                            f"ALTER {alter_kind(kind)} {sig} OWNER TO {quote_ident(owner)}",
                            key,
                        )
                    )
                    existing = True
                elif not existing:
                    fsql, needs_helper = _function_sql(
                        kind,
                        schema,
                        o["name"],
                        o["identity_args"] or "",
                        functions.get(oid, {}),
                        oid,
                    )
                    if needs_helper:
                        funcs += helper()
                    funcs += [Step(dbn, s, key) for s in fsql]
                    owners.append(
                        Step(
                            dbn,
                            f"ALTER {alter_kind(kind)} {sig} OWNER TO {quote_ident(owner)}",
                            key,
                        )
                    )
            elif cls == "type":
                target = f"{grant_kind(kind)} {qualified(schema, o['name'])}"
                if not existing:
                    tsql = _type_sql(
                        kind, qualified(schema, o["name"]), twin, subtypes.get((schema, o["name"]))
                    )
                    if tsql is not None:  # None: a multirange, made with its range
                        types.append(Step(dbn, tsql, key))
                    owners.append(
                        Step(
                            dbn,
                            f"ALTER {alter_kind(kind)} "
                            f"{qualified(schema, o['name'])} OWNER TO "
                            f"{quote_ident(owner)}",
                            key,
                        )
                    )
            elif cls == "language":
                target = f"LANGUAGE {quote_ident(o['name'])}"
                if not existing:
                    create.append(
                        Step(dbn, f"CREATE EXTENSION IF NOT EXISTS {quote_ident(o['name'])}", key)
                    )
                owners.append(
                    Step(
                        dbn,
                        f"ALTER LANGUAGE {quote_ident(o['name'])} OWNER TO {quote_ident(owner)}",
                        key,
                    )
                )
            elif cls == "large_object":
                target = f"LARGE OBJECT {oid}"
                create.append(Step(dbn, f"SELECT pg_catalog.lo_create({oid})", key))
                owners.append(
                    Step(dbn, f"ALTER LARGE OBJECT {oid} OWNER TO {quote_ident(owner)}", key)
                )
            elif cls == "fdw":
                target = f"FOREIGN DATA WRAPPER {quote_ident(o['name'])}"
                owners.append(
                    Step(
                        dbn,
                        f"ALTER FOREIGN DATA WRAPPER {quote_ident(o['name'])} "
                        f"OWNER TO {quote_ident(owner)}",
                        key,
                    )
                )
            elif cls == "server":
                target = f"FOREIGN SERVER {quote_ident(o['name'])}"
                owners.append(
                    Step(
                        dbn,
                        f"ALTER SERVER {quote_ident(o['name'])} OWNER TO {quote_ident(owner)}",
                        key,
                    )
                )
        except (ValueError, TypeError):
            continue  # a name or argument list we cannot quote: not reproduced
        if target is None or (system and src // 10000 != twin // 10000):
            continue  # another major's system objects are carried over, not rebuilt
        if o["acl_state"] == "explicit":
            acls += _acl_steps(
                dbn,
                target,
                owner,
                acl_rows.get((cls, oid, 0), []),
                names,
                key,
                existing=(cls, schema, o["name"], o["identity_args"]) if existing else None,
                usage_schema=schema
                if cls not in ("large_object", "language", "fdw", "server")
                else None,
            )
        if cls == "relation":
            for attnum, col in sorted(columns.get(oid, [])):
                rows = acl_rows.get(("column", oid, attnum), [])
                acls_late += _acl_steps(
                    dbn,
                    target,
                    owner,
                    rows,
                    names,
                    ("column", dbn, schema, o["name"], col),
                    columns=col,
                    usage_schema=schema,
                )
    del ext_names

    defaults: list[Step] = []
    by_entry: dict[tuple[int, int, str], list[dict[str, Any]]] = defaultdict(list)
    for d in db.table("default_acls").dicts():
        by_entry[(int(d["creator_oid"]), int(d["schema_oid"]), d["objtype"])].append(d)
    for (creator_oid, schema_oid, objtype), rows in sorted(by_entry.items()):
        creator = names.name(creator_oid)
        if creator is None or objtype not in DEFAULT_ACL_OBJTYPES:
            continue
        schema = sname.get(schema_oid) if schema_oid else None
        if schema_oid and (schema is None or not in_scope(schema)):
            continue
        if objtype == "L" and twin < 180000:
            continue
        keyword = DEFAULT_ACL_OBJTYPES[objtype][0].upper()
        head = f"ALTER DEFAULT PRIVILEGES FOR ROLE {quote_ident(creator)}" + (
            f" IN SCHEMA {quote_ident(schema)}" if schema else ""
        )
        dkey: tuple[Any, ...] = ("default_acl", dbn, creator, schema, objtype)
        if not schema_oid:
            defaults.append(
                Step(
                    dbn, f"{head} REVOKE ALL ON {keyword} FROM PUBLIC, {quote_ident(creator)}", dkey
                )
            )
        for (_g, grantee_oid, grantable), privs in _privs_by_grant(rows).items():
            try:
                to = names.grantee(grantee_oid)
            except KeyError:
                continue
            defaults.append(
                Step(
                    dbn,
                    f"{head} GRANT {privilege_list(sorted(set(privs)))} ON "
                    f"{keyword} TO {to}" + (" WITH GRANT OPTION" if grantable else ""),
                    dkey,
                )
            )
    return [
        ("schemas", create),
        ("types", types),
        ("relations", rels),
        ("functions", funcs),
        ("owners", owners),
        ("acls", acls),
        ("column acls", acls_late),
        ("default privileges", defaults),
    ]


def _relation_sql(kind: str, name: str, cols: list[tuple[int, str]], servers: list[str]) -> str:
    coldefs = ", ".join(f"{quote_ident(c)} integer" for _n, c in cols)
    if kind == "table":
        return f"CREATE TABLE {name} ({coldefs})"
    if kind == "partitioned table":
        if not cols:
            return f"CREATE TABLE {name} (pgaudit_twin_key integer) PARTITION BY LIST (pgaudit_twin_key)"
        return f"CREATE TABLE {name} ({coldefs}) PARTITION BY LIST ({quote_ident(cols[0][1])})"
    select = ", ".join(f"NULL::integer AS {quote_ident(c)}" for _n, c in cols)
    if kind == "view":
        return f"CREATE VIEW {name} AS SELECT {select}"
    if kind == "materialized view":
        return f"CREATE MATERIALIZED VIEW {name} AS SELECT {select} WITH NO DATA"
    if kind == "sequence":
        return f"CREATE SEQUENCE {name}"
    if kind == "foreign table":
        if not servers:
            return "SELECT pg_catalog.pgaudit_twin_no_server()"
        return f"CREATE FOREIGN TABLE {name} ({coldefs}) SERVER {quote_ident(servers[0])}"
    raise ValueError(kind)


def _type_sql(kind: str, name: str, twin: int, subtype: str | None = None) -> str | None:
    if kind == "enum":
        return f"CREATE TYPE {name} AS ENUM ()"
    if kind == "domain":
        return f"CREATE DOMAIN {name} AS text"
    if kind == "composite":
        return f"CREATE TYPE {name} AS ()"
    if kind == "range":
        if subtype is not None:
            func_signature(None, "x", subtype)  # proves it is one type name, nothing more
        return f"CREATE TYPE {name} AS RANGE (SUBTYPE = {subtype or 'integer'})"
    if kind == "multirange":
        return None
    return "SELECT pg_catalog.pgaudit_twin_cannot_build_type()"  # base/pseudo: not reproduced


_BODY = {"sql": "SELECT NULL", "plpgsql": "BEGIN END"}


def _function_sql(
    kind: str, schema: str | None, name: str, args: str, f: dict[str, Any], oid: int
) -> tuple[list[str], bool]:
    """A stub with the same signature, language (when the twin has it), SECURITY DEFINER,
    LEAKPROOF and SET clauses; its body does nothing."""
    sig = func_signature(schema, name, args)
    lang = f.get("language") or "sql"
    extras = []
    if f.get("security_definer"):
        extras.append("SECURITY DEFINER")
    if f.get("leakproof"):
        extras.append("LEAKPROOF")
    extras += [set_clause(c) for c in f.get("config") or []]
    tail = (" " + " ".join(extras)) if extras else ""
    if kind == "aggregate":
        if "ORDER BY" in args.upper():
            return (["SELECT pg_catalog.pgaudit_twin_no_ordered_set_aggregate()"], False)
        helper = qualified(INTERNAL_SCHEMA, f"sfunc_{oid}")
        hargs = "integer" if args.strip() in ("", "*") else f"integer, {args}"
        return (
            [
                f"CREATE FUNCTION {helper}({hargs}) RETURNS integer LANGUAGE internal "
                "AS 'int4larger'",
                f"CREATE AGGREGATE {sig} (SFUNC = {helper}, STYPE = integer)",
            ],
            True,
        )
    if kind == "window function":
        return (
            [
                f"CREATE FUNCTION {sig} RETURNS integer WINDOW LANGUAGE internal "
                f"AS 'window_row_number'{tail}"
            ],
            False,
        )
    if lang not in _BODY:
        # c, internal, untrusted languages: an internal stub; the language is carried over
        body_lang, body = "internal", "int4larger"
    else:
        body_lang, body = lang, _BODY[lang]
    if kind == "procedure":
        return (
            [f"CREATE PROCEDURE {sig} LANGUAGE {body_lang}{tail} AS {quote_literal(body)}"],
            False,
        )
    return (
        [f"CREATE FUNCTION {sig} RETURNS void LANGUAGE {body_lang}{tail} AS {quote_literal(body)}"],
        False,
    )
