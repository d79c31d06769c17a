"""The escalation edges of small snapshots, computed in Python from rows fetched once.

Why: on a small snapshot the edge statements (``sql/escalation_edges*.sql``,
``sql/escalation_privileges.sql``) move a few dozen rows, and their cost is DuckDB's
planning and executor setup: about 25 ms for the memberships and attributes, 15-25 ms
for the effective privileges, 35-45 ms for the SECURITY DEFINER routines, 28 ms for
triggers, 16 ms for parameter ACLs and user mappings, whatever the size, paid by every
audit-schema load (each check, each test). A handful of plain SELECTs (a millisecond
each) and the same logic over Python sets cost a few milliseconds. Large snapshots keep the SQL
(``escalation.build`` picks the path by size): there the work is per row and DuckDB's.

The functions here are those statements, branch for branch, with SQL's NULL rules where
a value may be NULL (:func:`_cat` is ``||``, :func:`_qi` is ``pg_quote_ident``), so both
paths give the same rows; ``tests/test_escalation.py`` builds the test layout both ways
and compares every row.
"""

from __future__ import annotations

import collections
import functools
from pathlib import Path
from typing import Any

from ..core.sqlquote import quote_ident

SQL_DIR = Path(__file__).resolve().parent / "sql"

Row = list[Any]


@functools.cache
def _sql(name: str) -> str:
    return (SQL_DIR / name).read_text(encoding="utf-8")


def fetch(con: Any, name: str) -> list[tuple[Any, ...]]:
    """The rows of ``sql/escalation_rows_<name>.sql``."""
    return list(con.execute(_sql(f"escalation_rows_{name}.sql")).fetchall())


def _qi(name: str | None) -> str | None:
    """``pg_quote_ident``: NULL stays NULL (the macro's ``||`` with NULL)."""
    return None if name is None else quote_ident(name)


def _qualified(schema: str | None, name: str | None) -> str | None:
    """``pg_qualified(sch, n)``: the name alone when the schema is NULL."""
    if schema is None:
        return _qi(name)
    return _cat(_qi(schema), ".", _qi(name))


def _cat(*parts: Any) -> str | None:
    """SQL's ``||``: NULL when any part is NULL."""
    if any(p is None for p in parts):
        return None
    return "".join(str(p) for p in parts)


def _routine_keyword(kind: str | None) -> str:
    return "PROCEDURE" if kind == "procedure" else "FUNCTION"


def _edge(
    database: Any,
    database_oid: Any,
    from_kind: str,
    from_role: Any,
    from_oid: Any,
    from_mode: str,
    to_kind: str,
    to_node: Any,
    to_oid: Any,
    to_mode: Any,
    kind: str,
    full_control: bool,
    object_identity: Any,
    evidence: Any,
    action: Any,
    fix: Any,
    fix_rank: int,
    *fix_parts: Any,
) -> Row:
    """One row in escalation_edges' column order (the fix parts last, nine of them)."""
    assert len(fix_parts) == 9
    return [
        database,
        database_oid,
        from_kind,
        from_role,
        from_oid,
        from_mode,
        to_kind,
        to_node,
        to_oid,
        to_mode,
        kind,
        full_control,
        object_identity,
        evidence,
        action,
        fix,
        fix_rank,
        *fix_parts,
    ]


_NO_FIX = (None,) * 9


# --- escalation_edges.sql: memberships, attributes, dangerous roles ------------------------


def core_edges(
    roles: list[tuple[Any, ...]],
    memberships: list[tuple[Any, ...]],
    reference: list[list[Any]],
    v: int,
) -> list[Row]:
    """The rows of ``sql/escalation_edges.sql``. ``roles`` are escalation_rows_roles.sql's
    rows, ``memberships`` escalation_rows_memberships.sql's, ``reference`` the rows of
    internal.esc_reference, ``v`` the version in internal.esc_params."""
    out: list[Row] = []
    # pairs: one edge per (member, role), the grant rows' options ORed together (bool_or:
    # true if any is true; NULL and false both keep the edge out)
    pairs: dict[tuple[Any, ...], list[bool]] = {}
    for role, role_oid, member, member_oid, adm, inh, st in memberships:
        flags = pairs.setdefault((role, role_oid, member, member_oid), [False, False, False])
        flags[0] |= adm is True
        flags[1] |= inh is True
        flags[2] |= st is True
    superuser_of: dict[Any, Any] = {}
    for r in roles:
        superuser_of.setdefault(r[0], r[6])
    v16 = v >= 160000
    for (role, role_oid, member, member_oid), (adm, inh, st) in pairs.items():
        qr, qm = quote_ident(role), quote_ident(member)
        revoke = f"REVOKE {qr} FROM {qm};"
        if st:
            out.append(
                _edge(
                    None, None, "role", member, member_oid, "as", "role", role, role_oid, "as",
                    "set_role", True, None,
                    f"{qm} is a member of {qr}{' with SET TRUE' if v16 else ''}"
                    ": SET ROLE makes it that role, attributes included",
                    f"SET ROLE {qr};", revoke, 5,
                    "revoke_membership", role, member, False, None, None, None, None, None,
                )
            )  # fmt: skip
        if inh:
            out.append(
                _edge(
                    None, None, "role", member, member_oid, "any", "role", role, role_oid,
                    "privs", "inherit", True, None,
                    f"{qm} is a member of {qr}"
                    f"{' with INHERIT TRUE' if v16 else ' and inherits'}"
                    ": it holds that role's privileges (and owner rights) without SET ROLE",
                    None, revoke, 5,
                    "revoke_membership", role, member, False, None, None, None, None, None,
                )
            )  # fmt: skip
        # granting a superuser role needs a superuser, ADMIN OPTION or not
        if adm and superuser_of.get(role_oid) is not True:
            out.append(
                _edge(
                    None, None, "role", member, member_oid, "any", "role", role, role_oid, "as",
                    "admin_option", True, None,
                    f"{qm} holds ADMIN OPTION on {qr}"
                    ": it can GRANT that role to itself and SET ROLE to it",
                    f"GRANT {qr} TO CURRENT_USER{' WITH SET TRUE' if v16 else ''}"
                    f"; SET ROLE {qr};",
                    f"REVOKE ADMIN OPTION FOR {qr} FROM {qm};", 4,
                    "revoke_admin", role, member, False, None, None, None, None, None,
                )
            )  # fmt: skip
    # CREATEROLE before 16: any non-superuser role, predefined ones included
    if v < 160000:
        for c in roles:
            c_oid, c_name, c_super, c_create = c[0], c[1], c[6], c[7]
            if c_create is not True or c_super is not False:
                continue
            qc = _qi(c_name)
            for r in roles:
                r_oid, r_name, r_super = r[0], r[1], r[6]
                if (
                    r_super is not False
                    or r_oid is None
                    or c_oid is None
                    or r_oid == c_oid
                    or r_name is None
                    or r_name == "pg_database_owner"
                ):
                    continue
                qr = quote_ident(r_name)
                out.append(
                    _edge(
                        None, None, "role", c_name, c_oid, "as", "role", r_name, r_oid, "as",
                        "createrole", True, None,
                        _cat(
                            qc, f" has CREATEROLE on PostgreSQL {v // 10000} (before 16): it "
                            "can GRANT any role that is not a superuser, predefined roles "
                            "included, to itself",
                        ),
                        f"GRANT {qr} TO CURRENT_USER; SET ROLE {qr};",
                        _cat("ALTER ROLE ", qc, " NOCREATEROLE;"), 6,
                        "nocreaterole", None, c_name, False, None, None, None, None, None,
                    )
                )  # fmt: skip
    # attributes and roles that are superuser-equivalent or give OS access
    for r in roles:
        if r[6] is True:
            out.append(
                _edge(
                    None, None, "role", r[1], r[0], "as", "superuser", "superuser", None, None,
                    "superuser_attribute", True, None, _cat(_qi(r[1]), " has SUPERUSER"), None,
                    _cat("ALTER ROLE ", _qi(r[1]), " NOSUPERUSER;"), 9,
                    "nosuperuser", None, r[1], False, None, None, None, None, None,
                )
            )  # fmt: skip
    by_name: dict[Any, list[list[Any]]] = collections.defaultdict(list)
    for x in reference:  # category, name, target, edge_kind, danger, privileges, reason
        if x[0] == "role" and x[3] is not None:
            by_name[x[1]].append(x)
    for r in roles:
        for x in by_name.get(r[1], ()):
            if r[8] is True or x[3] == "managed_admin":
                out.append(
                    _edge(
                        None, None, "role", r[1], r[0], "any", x[2], x[2], None, None, x[3],
                        True, None, _cat(_qi(r[1]), ": ", x[6]), None, None, 10, *_NO_FIX,
                    )
                )  # fmt: skip
    out.append(
        _edge(
            None, None, "superuser", "superuser", None, "any", "os", "os", None, None,
            "superuser_os", True, None,
            "a superuser runs shell commands as the server's operating-system user "
            "(COPY ... TO PROGRAM)",
            None, None, 10, *_NO_FIX,
        )
    )  # fmt: skip
    return out


# --- escalation_privileges.sql: the effective privileges the edges read -------------------

ESC_EFFECTIVE_COLUMNS: list[tuple[str, str]] = [
    ("database_oid", "BIGINT"),
    ("object_class", "VARCHAR"),
    ("object_oid", "BIGINT"),
    ("role_oid", "BIGINT"),
    ("privilege", "VARCHAR"),
    ("is_system", "BOOLEAN"),
]
"""internal.esc_effective's columns, as escalation_privileges.sql creates it."""


def effective_rows(
    con: Any,
    roles: list[tuple[Any, ...]],
    sd: list[tuple[Any, ...]],
    grants: list[tuple[Any, ...]],
    schemas: list[tuple[Any, ...]],
    code_owners: set[Any],
    object_rows: list[tuple[Any, ...]] | None = None,
) -> list[tuple[Any, ...]]:
    """The rows of ``sql/escalation_privileges.sql`` (internal.esc_effective), each once:
    the effective_privileges view's rows (direct and inherited grants, PUBLIC's,
    predefined roles', superusers') for its classes, readers and routines. ``sd``,
    ``grants`` and ``schemas`` are escalation_rows_<name>.sql's rows; ``code_owners`` the
    trigger and event trigger function owners (:func:`code_owners`), readers too;
    ``object_rows``: escalation_rows_objects.sql's rows, when already fetched."""
    objects: list[tuple[Any, ...]] = []
    types: list[tuple[Any, ...]] = []
    predefined: list[tuple[Any, ...]] = []
    closure: dict[Any, list[tuple[Any, Any]]] = collections.defaultdict(list)
    if object_rows is None:
        object_rows = fetch(con, "objects")
    for src, db, cls, oid, kind, is_system, priv, role, member in object_rows:
        if src == "object":
            objects.append((db, cls, oid, kind, is_system))
        elif src == "type":
            types.append((cls, kind, priv))
        elif src == "predefined":
            predefined.append((cls, kind, priv, role))
        elif oid is not None:  # closure: role_oid (as oid), member_oid, database_oid
            closure[oid].append((member, db))
    sd_keys = {(f[1], f[2]) for f in sd if f[1] is not None and f[2] is not None}
    sd_dbs = {f[1] for f in sd} - {None}
    # readers: the roles whose rows the edge statements keep
    readers: set[Any] = {f[6] for f in sd} | code_owners
    for db, cls, obj, _grantee, grantee_oid, priv, _system in grants:
        if grantee_oid is not None and grantee_oid != 0:
            if (cls == "function" and priv == "EXECUTE" and (db, obj) in sd_keys) or (
                cls == "schema" and priv == "CREATE"
            ):
                readers.add(grantee_oid)
    for s in schemas:  # database_oid, oid, name, is_system, has_database, holder_oid
        if s[3] is False and s[4]:
            readers.add(s[5])
    readers.discard(None)
    # subjects: roles other than pg_* predefined ones (NOT (predefined AND starts_with),
    # in SQL's three-valued logic: kept when either side is false); only the readers' rows
    # are kept, so only readers are followed
    plain: set[Any] = set()
    supers: set[Any] = set()
    for r in roles:
        starts = None if r[1] is None else r[1].startswith("pg_")
        if (r[8] is False or starts is False) and r[0] in readers:
            if r[6] is False:
                plain.add(r[0])
            elif r[6] is True:
                supers.add(r[0])
    out: set[tuple[Any, ...]] = set()

    def keep(db: Any, cls: Any, obj: Any, roles_: Any, priv: Any, is_system: Any) -> None:
        """The rows escalation_privileges.sql keeps, for each of ``roles_`` (readers)."""
        if cls == "schema" and priv in ("USAGE", "CREATE"):
            if db in sd_dbs:
                out.update((db, cls, obj, m, priv, is_system) for m in roles_)
            else:
                out.update((db, cls, obj, m, priv, is_system) for m in roles_ if m in code_owners)
        elif cls == "function" and priv == "EXECUTE" and (db, obj) in sd_keys:
            out.update((db, cls, obj, m, priv, is_system) for m in roles_)

    def members(role_oid: Any, db: Any) -> list[Any]:
        """The non-superuser subjects (readers) with ``role_oid``'s privileges in ``db``."""
        return [
            m
            for m, cdb in closure.get(role_oid, ())
            if (cdb is None or (db is not None and cdb == db)) and m in plain
        ]

    for db, cls, obj, _grantee, grantee_oid, priv, is_system in grants:
        if grantee_oid == 0:  # public_granted
            keep(db, cls, obj, plain, priv, is_system)
        elif grantee_oid is not None:  # granted, directly or through inheritance
            keep(db, cls, obj, members(grantee_oid, db), priv, is_system)
    predefined_oids: dict[Any, list[Any]] = collections.defaultdict(list)
    for r in roles:
        if r[8] is True and r[1] is not None:
            predefined_oids[r[1]].append(r[0])
    for db, cls, obj, kind, is_system in objects:
        for v_cls, v_kind, priv, role in predefined:
            if v_cls is not None and v_cls == cls and (v_kind is None or v_kind == kind):
                for pr in predefined_oids.get(role, ()):
                    keep(db, cls, obj, members(pr, db), priv, is_system)
        for t_cls, t_kind, priv in types:
            if t_cls is not None and t_cls == cls and (t_kind is None or t_kind == kind):
                keep(db, cls, obj, supers, priv, is_system)
    return list(out)


# --- escalation_edges_definer.sql: SECURITY DEFINER routines -------------------------------


def definer_edges(
    sd: list[tuple[Any, ...]],
    grants: list[tuple[Any, ...]],
    effective: list[tuple[Any, ...]],
    schemas: list[tuple[Any, ...]],
    roles: list[tuple[Any, ...]],
) -> list[Row]:
    """The rows of ``sql/escalation_edges_definer.sql``: ``effective`` is
    internal.esc_effective's rows (:func:`effective_rows`), the others
    escalation_rows_<name>.sql's."""
    # sd: database, database_oid, oid, identity, kind, owner, owner_oid, search_path,
    #     schema, name, identity_args, schema_oid, tokens, lowered, has_schema
    sd = [f for f in sd if f[14]]  # the statement's sd joins the routine's schema
    sd_by_key: dict[tuple[Any, Any], list[tuple[Any, ...]]] = collections.defaultdict(list)
    for f in sd:
        if f[1] is not None and f[2] is not None:
            sd_by_key[(f[1], f[2])].append(f)
    sd_dbs = {f[1] for f in sd} - {None}
    sd_oids = {f[2] for f in sd} - {None}
    # sd_entries: the search_path entries as the server parses them (quoted ones as written,
    # others lower-cased); then "$user", quoted or not (the server stores it quoted), is the owner
    entries: set[tuple[Any, Any, Any]] = set()
    for f in sd:
        for tok, low in zip(f[12], f[13], strict=True):
            entry = tok[1:-1].replace('""', '"') if tok.startswith('"') else low
            entries.add((f[1], f[2], f[5] if entry == "$user" else entry))
    # schema_privs: (database, schema, actor, privilege), PUBLIC's grants and the effective
    # privileges of the roles internal.esc_effective keeps
    schema_privs: set[tuple[Any, Any, Any, Any]] = set()
    for db, cls, obj, _grantee, grantee_oid, priv, _system in grants:
        if cls == "schema" and grantee_oid == 0 and db in sd_dbs:
            schema_privs.add((db, obj, 0, priv))
    sd_exec: set[tuple[Any, Any, Any]] = set()  # who may call each routine: EXECUTE on it
    for db, cls, obj, role_oid, priv, is_system in effective:
        if cls == "schema" and priv in ("USAGE", "CREATE") and is_system is False:
            if db in sd_dbs:
                schema_privs.add((db, obj, role_oid, priv))
        elif cls == "function" and priv == "EXECUTE" and (db, obj) in sd_by_key:
            sd_exec.add((db, obj, role_oid))
    calls: list[tuple[tuple[Any, ...], tuple[Any, ...]]] = []  # (sd row, grant row)
    holders: set[tuple[Any, Any]] = set()  # direct_holders: (database, actor)
    for g in grants:
        db, cls, obj, _grantee, grantee_oid, priv, _system = g
        if cls == "function":  # EXECUTE on a routine that may be SECURITY DEFINER
            for f in sd_by_key.get((db, obj), ()):
                if grantee_oid == 0:
                    sd_exec.add((db, obj, 0))
                if grantee_oid is not None and grantee_oid != f[6]:
                    calls.append((f, g))
                elif grantee_oid is None and f[6] is not None:
                    calls.append((f, g))  # IS DISTINCT FROM: NULL differs from an OID
            if db in sd_dbs and obj in sd_oids:
                holders.add((db, grantee_oid))
        elif cls == "schema" and priv == "CREATE" and db in sd_dbs:
            holders.add((db, grantee_oid))
    schema_by_key: dict[tuple[Any, Any], list[tuple[Any, ...]]] = collections.defaultdict(list)
    for s in schemas:  # database_oid, oid, name, is_system, has_database, holder_oid
        if s[0] is not None and s[1] is not None:
            schema_by_key[(s[0], s[1])].append(s)
        if s[3] is False and s[4] and s[0] in sd_dbs:
            holders.add((s[0], s[5]))
    # sd_callable: EXECUTE, and USAGE on the routine's schema held by the caller or PUBLIC
    callable_: set[tuple[Any, Any, Any]] = set()
    for db, oid, actor in sd_exec:
        for f in sd_by_key[(db, oid)]:
            if (
                actor is not None
                and f[11] is not None
                and (
                    (db, f[11], actor, "USAGE") in schema_privs
                    or (db, f[11], 0, "USAGE") in schema_privs
                )
            ):
                callable_.add((db, oid, actor))
    creatable: dict[tuple[Any, Any], set[Any]] = collections.defaultdict(set)
    for db, schema_oid, actor, priv in schema_privs:
        if priv == "CREATE" and actor is not None:
            creatable[(db, actor)].add(schema_oid)
    superuser_of: dict[Any, Any] = {}
    names_of: dict[Any, list[tuple[Any, Any]]] = collections.defaultdict(list)
    for r in roles:
        superuser_of.setdefault(r[0], r[6])
        names_of[r[0]].append((r[1], r[6]))
    # hijack: callable, a direct holder, and able to create in a schema the routine
    # resolves names in (and its owner may use); one edge per routine and caller, via the
    # first such schema by name
    hijack: dict[tuple[Any, ...], Any] = {}
    for db, oid, actor in callable_:
        if (db, actor) not in holders:
            continue
        schema_oids = creatable.get((db, actor), set()) | creatable.get((db, 0), set())
        for f in sd_by_key[(db, oid)]:
            owner_oid = f[6]
            if owner_oid is None or actor == owner_oid:
                continue
            owner_super = superuser_of.get(owner_oid) is True
            for schema_oid in schema_oids:
                for s in schema_by_key.get((db, schema_oid), ()):
                    if s[3] is not False:
                        continue
                    if not (
                        owner_super
                        or (db, s[1], owner_oid, "USAGE") in schema_privs
                        or (db, s[1], 0, "USAGE") in schema_privs
                    ):
                        continue
                    if f[7] is not None and (s[2] is None or (db, oid, s[2]) not in entries):
                        continue
                    key = (*f[:11], actor)
                    if s[2] is not None and (hijack.get(key) is None or s[2] < hijack[key]):
                        hijack[key] = s[2]
                    else:
                        hijack.setdefault(key, None)
    out: list[Row] = []
    for key, via in hijack.items():
        database, database_oid, _oid, identity, kind, owner, owner_oid, search_path = key[:8]
        schema, name, identity_args, actor = key[8], key[9], key[10], key[11]
        for a_name, a_super in names_of.get(actor) or [(None, None)]:
            if actor != 0 and a_super is True:
                continue
            who = "PUBLIC" if actor == 0 else _qi(a_name)
            tail: str | None
            if search_path is None:
                tail = (
                    ", while the function has no SET search_path: the caller's search_path "
                    "decides what it calls"
                )
            else:
                tail = _cat(", which is on the function's search_path (", search_path, ")")
            out.append(
                _edge(
                    database, database_oid, "role", "PUBLIC" if actor == 0 else a_name, actor,
                    "any", "role", owner, owner_oid, "as", "security_definer", True, identity,
                    _cat(
                        who, " can execute SECURITY DEFINER ", kind, " ", identity, " (runs as ",
                        _qi(owner), ") and can create objects in schema ", _qi(via), tail,
                        ": a planted function or operator runs as ", _qi(owner),
                    ),
                    _cat(
                        "CREATE FUNCTION ", _qi(via), ".<name the body calls>(...) ...; ",
                        _cat("SET search_path = ", _qi(via), ", pg_catalog; ")
                        if search_path is None else "",
                        "SELECT ", _qualified(schema, name), "(...);",
                    ),
                    _cat(
                        "ALTER ", _routine_keyword(kind), " ", identity,
                        " SET search_path = pg_catalog, pg_temp;",
                    )
                    if search_path is None
                    else _cat("REVOKE CREATE ON SCHEMA ", _qi(via), " FROM ", who, ";"),
                    1,
                    "function_search_path" if search_path is None else "revoke_schema_create",
                    None, None if actor == 0 else a_name, actor == 0,
                    schema if search_path is None else via, name, identity_args, kind, None,
                )
            )  # fmt: skip
    # SECURITY DEFINER: only what the body does (not followed by path searches)
    for f, g in calls:
        database, database_oid, _oid, identity, kind, owner, owner_oid = f[:7]
        grantee, grantee_oid = g[3], g[4]
        who = "PUBLIC" if grantee_oid == 0 else _qi(grantee)
        out.append(
            _edge(
                database, database_oid, "role", "PUBLIC" if grantee_oid == 0 else grantee,
                grantee_oid, "any", "role", owner, owner_oid, "privs", "security_definer_call",
                False, identity,
                _cat(
                    who, " can execute SECURITY DEFINER ", kind, " ", identity,
                    ", which does what its body does as ", _qi(owner),
                ),
                _cat("SELECT ", identity, ";"),
                _cat(
                    "REVOKE EXECUTE ON ", _routine_keyword(kind), " ", identity, " FROM ", who,
                    ";",
                ),
                2,
                "revoke_execute", None, grantee,
                None if grantee_oid is None else grantee_oid == 0,
                f[8], f[9], f[10], kind, "EXECUTE",
            )
        )  # fmt: skip
    return out


# --- escalation_edges_code.sql: trigger and event trigger functions ------------------------


def code_owners(code: list[tuple[Any, ...]]) -> set[Any]:
    """The function owners of escalation_rows_code.sql's rows (every trigger and event
    trigger): escalation_privileges.sql's and escalation_edges_code.sql's
    ``function_owner_oid`` sets."""
    return {r[11] for r in code} - {None}


def _array_to_string(values: list[Any] | None, sep: str) -> str | None:
    """DuckDB's ``array_to_string``: NULL elements skipped; NULL for a NULL list or one of
    NULLs only, '' for an empty one."""
    if values is None:
        return None
    kept = [str(v) for v in values if v is not None]
    if values and not kept:
        return None
    return sep.join(kept)


def code_edges(
    code: list[tuple[Any, ...]],
    table_grants: list[tuple[Any, ...]],
    effective: list[tuple[Any, ...]],
    schemas: list[tuple[Any, ...]],
    roles: list[tuple[Any, ...]],
) -> list[Row]:
    """The rows of ``sql/escalation_edges_code.sql``: ``code`` and ``table_grants`` are
    escalation_rows_code.sql's and escalation_rows_table_grants.sql's rows, ``effective``
    :func:`effective_rows`', the others as for :func:`definer_edges`."""
    owners = code_owners(code)
    schema_name: dict[tuple[Any, Any], list[Any]] = collections.defaultdict(list)
    for s in schemas:  # database_oid, oid, name, is_system, has_database, holder_oid
        if s[3] is False and s[0] is not None and s[1] is not None:
            schema_name[(s[0], s[1])].append(s[2])
    # code_privs: the function owners' USAGE and CREATE on non-system schemas (by name);
    # code_replaceable: where an owner can replace its function (CREATE there, or USAGE
    # there and CREATE somewhere in the database to move it to)
    privs: set[tuple[Any, Any, Any, Any]] = set()
    creates: set[tuple[Any, Any]] = set()
    for db, cls, obj, role, priv, _system in effective:
        if cls == "schema" and priv in ("CREATE", "USAGE") and role in owners:
            for name in schema_name.get((db, obj), ()):
                privs.add((db, role, name, priv))
                if priv == "CREATE":
                    creates.add((db, role))
    replaceable = {
        (db, role, name)
        for db, role, name, priv in privs
        if priv == "CREATE" or (db, role) in creates
    }
    superuser_of: dict[Any, list[Any]] = collections.defaultdict(list)
    for r in roles:
        superuser_of[r[0]].append(r[6])
    grants_on: dict[tuple[Any, Any], list[tuple[Any, ...]]] = collections.defaultdict(list)
    for g in table_grants:  # database_oid, object_oid, grantee, grantee_oid, privilege
        if g[0] is not None and g[1] is not None:
            grants_on[(g[0], g[1])].append(g)
    out: list[Row] = []
    victims: dict[tuple[Any, ...], None] = {}  # trg_victims: a UNION, so each row once
    for t in code:
        (source, database, database_oid, _oid, name, table_oid, table_identity, table_owner,
         table_owner_oid, function_identity, function_owner, function_owner_oid, sd, events,
         enabled, event, owner, fn_schema, fn_name, fn_args, fn_kind) = t  # fmt: skip
        if enabled is None or enabled == "D" or sd is True:
            continue
        if fn_schema is None or (database_oid, function_owner_oid, fn_schema) not in replaceable:
            continue
        if source == "event_trigger":
            for fo_super in superuser_of.get(function_owner_oid, ()):
                if fo_super is not False:
                    continue
                qo = _qi(function_owner)
                out.append(
                    _edge(
                        database, database_oid, "role", function_owner, function_owner_oid,
                        "any", "superuser", "superuser", None, None, "event_trigger", True,
                        function_identity,
                        _cat(
                            qo, " owns ", function_identity, ", the function of event trigger ",
                            _qi(name), " (", event, "): the next DDL statement of any role, "
                            "superusers included, runs code the function owner writes (CREATE "
                            "OR REPLACE, after moving the function to a schema it can create "
                            "in if need be) as that role",
                        ),
                        _cat(
                            "CREATE OR REPLACE FUNCTION ", function_identity,
                            " ... (the new body); -- then wait for a superuser's DDL",
                        ),
                        _cat("ALTER FUNCTION ", function_identity, " OWNER TO ", _qi(owner), ";"),
                        3,
                        "function_owner" if fn_name is not None else None, owner, None, False,
                        fn_schema, fn_name, fn_args, fn_kind, None,
                    )
                )  # fmt: skip
            continue
        ev = tuple(events) if events is not None else None
        base = (database, database_oid, t[3], name, table_identity, function_identity,
                function_owner, function_owner_oid, ev, fn_schema, fn_name, fn_args, fn_kind,
                table_owner)  # fmt: skip
        victims[(*base, table_owner, table_owner_oid, "as", "owns the table")] = None
        if (
            function_owner_oid is None
            or table_owner_oid is None
            or function_owner_oid == table_owner_oid
            or events is None
        ):
            continue
        for _db, _obj, grantee, grantee_oid, priv in grants_on.get((database_oid, table_oid), ()):
            if grantee_oid is None or grantee_oid == 0 or priv is None or priv not in events:
                continue
            victims[(*base, grantee, grantee_oid, "privs", _cat("holds ", priv, " on it"))] = None
    for v in victims:
        (database, database_oid, _oid, name, table_identity, function_identity, function_owner,
         function_owner_oid, ev, fn_schema, fn_name, fn_args, fn_kind, table_owner, victim,
         victim_oid, victim_mode, how) = v  # fmt: skip
        if victim_oid is None or function_owner_oid is None or victim_oid == function_owner_oid:
            continue
        for fo_super in superuser_of.get(function_owner_oid, ()):
            if fo_super is not False:
                continue
            qv = _qi(victim)
            out.append(
                _edge(
                    database, database_oid, "role", function_owner, function_owner_oid, "any",
                    "role", victim, victim_oid, victim_mode, "trigger_function", True,
                    table_identity,
                    _cat(
                        _qi(function_owner), " owns ", function_identity, ", run by trigger ",
                        _qi(name), " on ", table_identity, " (",
                        _array_to_string(None if ev is None else list(ev), ", "), "); ", qv,
                        " ", how, ", so when it writes the table code the function owner "
                        "writes runs as ", qv, " (CREATE OR REPLACE, after moving the function "
                        "to a schema it can create in if need be)",
                    ),
                    _cat(
                        "CREATE OR REPLACE FUNCTION ", function_identity,
                        " ... (the new body); -- then wait for ", qv, " to write ",
                        table_identity,
                    ),
                    _cat("ALTER FUNCTION ", function_identity, " OWNER TO ", _qi(table_owner), ";"),
                    3,
                    "function_owner" if fn_name is not None else None, table_owner, None, False,
                    fn_schema, fn_name, fn_args, fn_kind, None,
                )
            )  # fmt: skip
    return out


# --- escalation_edges_grants.sql: parameter ACLs, user mappings for PUBLIC -----------------


def grants_edges(
    grants: list[tuple[Any, ...]], roles: list[tuple[Any, ...]], reference: list[list[Any]]
) -> list[Row]:
    """The rows of ``sql/escalation_edges_grants.sql``: ``grants`` are
    escalation_rows_grants.sql's rows, ``reference`` internal.esc_reference's."""
    superuser_of: dict[Any, list[Any]] = collections.defaultdict(list)
    for r in roles:
        superuser_of[r[0]].append(r[6])
    parameters: dict[Any, list[list[Any]]] = collections.defaultdict(list)
    for x in reference:  # category, name, target, edge_kind, danger, privileges, reason
        if x[0] == "parameter" and x[1] is not None:
            parameters[x[1]].append(x)
    out: list[Row] = []
    for (
        source,
        database,
        database_oid,
        name,
        identity,
        priv,
        grantee,
        grantee_oid,
        options,
    ) in grants:
        who = "PUBLIC" if grantee_oid == 0 else _qi(grantee)
        # LEFT JOIN roles g ... WHERE NOT coalesce(g.superuser, false)
        kept = [g for g in superuser_of.get(grantee_oid, [None]) if g is not True]
        for _g in kept:
            if source == "parameter":
                for x in parameters.get(name, ()):
                    if priv is None or x[5] is None or priv not in x[5]:
                        continue
                    out.append(
                        _edge(
                            None, None, "role", grantee, grantee_oid, "any", "superuser",
                            "superuser", None, None, "parameter_acl", True, identity,
                            _cat(who, " holds ", priv, " on parameter ", name, ": ", x[6]),
                            _cat(
                                "SET " if priv == "SET" else "ALTER SYSTEM SET ", identity,
                                " = '...';",
                            ),
                            _cat("REVOKE ", priv, " ON PARAMETER ", identity, " FROM ", who, ";"),
                            1,
                            "revoke_parameter", None, grantee,
                            None if grantee_oid is None else grantee_oid == 0, None, name, None,
                            None, priv,
                        )
                    )  # fmt: skip
            else:
                qs = _qi(name)
                opts = (
                    ""
                    if options is None
                    else _cat(" (options: ", _array_to_string(options, ", "), ")")
                )
                out.append(
                    _edge(
                        database, database_oid, "role",
                        "PUBLIC" if grantee_oid == 0 else grantee, grantee_oid, "any", "remote",
                        name, None, None, "public_user_mapping", True, qs,
                        _cat(
                            who, " holds USAGE on foreign server ", qs, " in database ",
                            _qi(database), ", which has a user mapping for PUBLIC", opts,
                            ": every query it sends through the server logs in to the remote "
                            "side with the stored credentials",
                        ),
                        _cat("CREATE FOREIGN TABLE ... SERVER ", qs, " ...; SELECT ... FROM it;"),
                        _cat("DROP USER MAPPING FOR PUBLIC SERVER ", qs, ";"),
                        2,
                        "revoke_server_usage", None, grantee,
                        None if grantee_oid is None else grantee_oid == 0, None, name, None,
                        "server", "USAGE",
                    )
                )  # fmt: skip
    return out
