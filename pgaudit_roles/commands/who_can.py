"""``pgaudit-roles who-can SNAPSHOT_OR_DSN PRIVILEGE [ON] [TYPE] OBJECT``: who holds it, and why.

The grammar follows GRANT, so it reads like the question and pastes from SQL (``ON`` may
be left out; the older order with the target last is still accepted)::

    pgaudit-roles who-can snap.json SELECT ON app_data.orders
    pgaudit-roles who-can snap.json "ALTER SYSTEM" ON PARAMETER work_mem
    pgaudit-roles who-can snap.json EXECUTE ON FUNCTION 'app.f(integer)'
    pgaudit-roles who-can snap.json UPDATE COLUMN app_data.orders.status
    pgaudit-roles who-can snap.json CONNECT DATABASE appdb

OBJECT is an SQL name: unquoted parts are folded to lower case as PostgreSQL does, double
quotes keep case and special characters ('"App"."Orders"'). Without a TYPE keyword the
name is looked up among every kind of object; an ambiguous name is an error that lists
the candidates. ALL lists every privilege of the object type. For table privileges that
also exist on columns, roles holding them only on some columns are listed separately.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from ..audit.can import WHO_CAN_TABLES, annotate_who_can, not_collected, render_who_can_extra
from ..collect.coverage import PRIVILEGE_SOURCES
from ..core.errors import CollectionError, UsageError
from ..core.sqlquote import PRIVILEGE_ALIASES, PRIVILEGES
from ._args import looks_like_target
from .explain import chain, object_label
from .query import (
    echo_json_or_text,
    echo_partial_note,
    open_audit,
    printable,
    reading,
    records,
    sql_name,
)

TYPE_WORDS: dict[str, tuple[str, ...]] = {
    "TABLE": ("relation",),
    "VIEW": ("relation",),
    "SEQUENCE": ("relation",),
    "MATERIALIZED VIEW": ("relation",),
    "FOREIGN TABLE": ("relation",),
    "COLUMN": ("column",),
    "SCHEMA": ("schema",),
    "DATABASE": ("database",),
    "FUNCTION": ("function",),
    "PROCEDURE": ("function",),
    "ROUTINE": ("function",),
    "AGGREGATE": ("function",),
    "TYPE": ("type",),
    "DOMAIN": ("type",),
    "LANGUAGE": ("language",),
    "LARGE OBJECT": ("large_object",),
    "FOREIGN DATA WRAPPER": ("fdw",),
    "FOREIGN SERVER": ("server",),
    "SERVER": ("server",),
    "TABLESPACE": ("tablespace",),
    "PARAMETER": ("parameter",),
}
TABLES = (
    "acl_objects",
    "effective_privileges",
    "objects",
    "privilege_types",
    "privileges",
    *WHO_CAN_TABLES,
)
"""The audit tables who-can's SQL reads (its own and ``audit.can``'s): the load builds only
these and what they are built from, not the escalation edges."""
_KIND_FILTER = {
    "VIEW": "view",
    "SEQUENCE": "sequence",
    "MATERIALIZED VIEW": "materialized view",
    "FOREIGN TABLE": "foreign table",
    "PROCEDURE": "procedure",
    "AGGREGATE": "aggregate",
    "DOMAIN": "domain",
}


@dataclass
class Question:
    privilege: str
    type_word: str | None
    parts: list[str]
    args: str | None


def parse_name(text: str) -> tuple[list[str], str | None]:
    """``schema."Table"`` -> (['schema', 'Table'], None); ``f(int)`` -> (['f'], 'int')."""
    parts: list[str] = []
    buf: list[str] = []
    quoted_part = False
    i, n = 0, len(text)
    args: str | None = None
    while i < n:
        ch = text[i]
        if ch == '"':
            j = i + 1
            while True:
                k = text.find('"', j)
                if k < 0:
                    raise UsageError(f"unterminated quoted name in {printable(text)}")
                if k + 1 < n and text[k + 1] == '"':
                    buf.append(text[j:k] + '"')
                    j = k + 2
                    continue
                buf.append(text[j:k])
                i = k + 1
                break
            quoted_part = True
            continue
        if ch == ".":
            parts.append("".join(buf))
            buf, quoted_part = [], False
            i += 1
            continue
        if ch == "(":
            if not text.rstrip().endswith(")"):
                raise UsageError(f"unbalanced parentheses in {printable(text)}")
            args = text[i + 1 : text.rstrip().rfind(")")].strip()
            break
        if ch.isspace() and not buf:
            i += 1
            continue
        buf.append(ch.lower() if ch.isascii() else ch)
        i += 1
    last = "".join(buf).rstrip() if not quoted_part else "".join(buf)
    parts.append(last)
    if any(p == "" for p in parts):
        raise UsageError(f"not an object name: {printable(text)}")
    return parts, args


PRIVILEGE_WORDS = frozenset({*PRIVILEGES, *PRIVILEGE_ALIASES, "ALTER"})
"""Words that start a privilege: GRANT's keywords and their aliases, and ALTER (of ALTER
SYSTEM, read one word at a time)."""
USAGE = "expected: who-can SNAPSHOT_OR_DSN PRIVILEGE [ON] [TYPE] OBJECT"


def parse_question(tokens: tuple[str, ...]) -> tuple[Question, str]:
    """``TARGET PRIVILEGE... [ON] [TYPE...] NAME``, or the older ``PRIVILEGE... ON [TYPE...]
    NAME TARGET`` -> (question, target).

    The target comes first unless the first word is a privilege keyword (and no file of
    that name exists): then it is the older order, target last. ``ON`` may be left out:
    the privilege is then the leading privilege keywords (``ALTER SYSTEM``, ``ALL
    PRIVILEGES`` as one or two words).
    """
    words = list(tokens)
    if not words:
        raise UsageError(USAGE)
    first = " ".join(words[0].upper().split())
    if first in PRIVILEGE_WORDS and not looks_like_target(words[0]):
        if len(words) < 2:
            raise UsageError(USAGE)
        target, words = words[-1], words[:-1]
    else:
        target, words = words[0], words[1:]
    upper = [" ".join(w.upper().split()) for w in words]
    if "ON" in upper:
        on = upper.index("ON")
        if on == 0:
            raise UsageError("missing PRIVILEGE before ON")
        priv_words, obj_words = words[:on], words[on + 1 :]
    else:
        n = 0
        while n < len(words) and (
            upper[n] in PRIVILEGE_WORDS or (n and f"{upper[n - 1]} {upper[n]}" in PRIVILEGE_WORDS)
        ):
            n += 1
        if not words:
            raise UsageError(f"{USAGE} (no PRIVILEGE given)")
        if n == 0:
            raise UsageError(
                f"{USAGE} (PRIVILEGE is a GRANT keyword such as SELECT, not "
                f"{printable(words[0])}; an OBJECT named like a keyword "
                "needs ON before it)"
            )
        priv_words, obj_words = words[:n], words[n:]
    if not obj_words:
        raise UsageError(f"{USAGE} (no OBJECT given)")
    type_word = None
    for size in (3, 2, 1):
        cand = " ".join(w.upper() for w in obj_words[:size])
        if len(obj_words) > size and cand in TYPE_WORDS:
            type_word = cand
            obj_words = obj_words[size:]
            break
    if len(obj_words) != 1:
        raise UsageError(
            "OBJECT must be one argument (quote it when it has spaces: '\"My Schema\".orders')"
        )
    privilege = " ".join(" ".join(priv_words).upper().split())
    privilege = PRIVILEGE_ALIASES.get(privilege, privilege)
    parts, args = parse_name(obj_words[0])
    return Question(privilege, type_word, parts, args), target


def resolve(con: Any, q: Question, database: str | None) -> list[dict[str, Any]]:
    """Objects of acl_objects (plus column) the question names; errors when none or ambiguous."""
    classes = TYPE_WORDS.get(q.type_word or "", ())
    parts = q.parts
    found: list[dict[str, Any]] = []
    where_db = (
        "AND (o.database = ? OR o.database IS NULL OR o.object_class = 'database')"
        if database
        else ""
    )
    dbp = [database] if database else []
    if "column" in classes or (not classes and len(parts) == 3):
        return _resolve_column(con, parts, database)
    if len(parts) == 2:
        schema, name = parts
        conds = "o.schema = ? AND o.object_name = ?"
        params = [schema, name]
        # a dotted parameter name (pgaudit.log) is one name
        conds = f"(({conds}) OR (o.object_class = 'parameter' AND o.object_name = ?))"
        params.append(f"{schema}.{name}")
    elif len(parts) == 1:
        conds = "o.object_name = ?"
        params = [parts[0]]
    else:
        raise UsageError(f"too many name parts in {'.'.join(sql_name(p) for p in parts)}")
    cls_cond = ""
    if classes:
        cls_cond = "AND o.object_class IN (" + ", ".join(f"'{c}'" for c in classes) + ")"
        kind = _KIND_FILTER.get(q.type_word or "")
        if kind:
            cls_cond += f" AND o.kind = '{kind}'"
    args_cond = ""
    if q.args is not None:
        args_cond = "AND o.object_class = 'function'"
    found = records(
        con,
        f"""
        SELECT o.*, f.identity_args FROM acl_objects o
        LEFT JOIN objects f ON f.database_oid = o.database_oid AND f.oid = o.object_oid
             AND f.object_class = o.object_class
        WHERE {conds} {cls_cond} {args_cond} {where_db}
        ORDER BY o.database NULLS FIRST, o.object_class, o.identity""",  # noqa: S608
        [*params, *dbp],
    )
    if q.args is not None:
        want = _norm_args(q.args)
        found = [
            f
            for f in found
            if _norm_args(f.get("identity_args") or "") == want
            or _norm_args(_strip_arg_names(f.get("identity_args") or "")) == want
        ]
    if not found:
        what = ".".join(sql_name(p) for p in parts) + (
            f"({printable(q.args)})" if q.args is not None else ""
        )
        raise UsageError(
            f"no {q.type_word.lower() + ' ' if q.type_word else 'object '}"
            f"named {what}{' in database ' + sql_name(database) if database else ''}"
        )
    classes_found = {
        (f["object_class"], f.get("kind") if f["object_class"] == "relation" else None)
        for f in found
    }
    idents = {(f["object_class"], f["identity"]) for f in found}
    if len({c for c, _k in classes_found}) > 1 or (
        len(idents) > 1 and q.args is None and {c for c, _ in idents} == {"function"}
    ):
        listing = "; ".join(
            f"{object_label(f)}" + (f" [{sql_name(f['database'])}]" if f["database"] else "")
            for f in found
        )
        raise UsageError(
            f"{'.'.join(sql_name(p) for p in parts)} is ambiguous: {listing} "
            "(name the type, e.g. ON TABLE / ON FUNCTION 'f(integer)', "
            "or use --database)"
        )
    return found


def _norm_args(text: str) -> str:
    return ",".join(" ".join(a.split()).lower() for a in text.split(",")) if text.strip() else ""


def _strip_arg_names(text: str) -> str:
    """``x integer, OUT y text`` -> ``integer, text`` (names and modes dropped)."""
    out = []
    for arg in text.split(","):
        words = arg.split()
        while words and words[0].upper() in ("IN", "OUT", "INOUT", "VARIADIC"):
            words = words[1:]
        if len(words) > 1 and not words[0].startswith('"') and words[1][:1].isalpha():
            # a leading name followed by a type (type names never have two plain words
            # except a few builtin ones, which also parse fine when not stripped)
            if words[0].lower() not in ("double", "character", "bit", "time", "timestamp"):
                words = words[1:]
        out.append(" ".join(words))
    return ", ".join(out)


def _resolve_column(con: Any, parts: list[str], database: str | None) -> list[dict[str, Any]]:
    """The table(s) of ``[schema.]table.column``, each tagged with the column asked about.

    The snapshot lists only columns that carry grants, so a column without any is not
    an error: table-level privileges cover it.
    """
    if len(parts) not in (2, 3):
        raise UsageError("a column is named table.column or schema.table.column")
    col = parts[-1]
    conds = "o.object_class = 'relation' AND o.object_name = ?"
    params: list[Any] = [parts[-2]]
    if len(parts) == 3:
        conds += " AND o.schema = ?"
        params.append(parts[0])
    if database:
        conds += " AND o.database = ?"
        params.append(database)
    tables = records(
        con,
        f"SELECT o.* FROM acl_objects o WHERE {conds} "  # noqa: S608
        "ORDER BY o.database, o.identity",
        params,
    )
    if not tables:
        raise UsageError(
            f"no table named {'.'.join(sql_name(p) for p in parts[:-1])}"
            f"{' in database ' + sql_name(database) if database else ''}"
        )
    for t in tables:
        sub = records(
            con,
            """SELECT DISTINCT subid FROM privileges
                              WHERE object_class = 'column' AND database_oid = ?
                                AND object_oid = ? AND column_name = ?""",
            [t["database_oid"], t["object_oid"], col],
        )
        t["column_name"] = col
        t["subid"] = sub[0]["subid"] if sub else None
    return tables


def answer(con: Any, q: Question, objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per object: the privileges asked, who holds each, and column-only holders."""
    results = []
    for o in objects:
        is_column = "column_name" in o
        cls = "column" if is_column else o["object_class"]
        valid = [
            r["privilege"]
            for r in records(
                con,
                """
            SELECT privilege FROM privilege_types
            WHERE object_class = ? AND (kind IS NULL OR kind = ?)""",
                [cls, o.get("kind")],
            )
        ]
        if is_column and o.get("kind") == "sequence":
            valid = []
        privs = valid if q.privilege == "ALL" else [q.privilege]
        if q.privilege != "ALL" and q.privilege not in valid:
            raise UsageError(
                f"{q.privilege} is not a privilege of "
                f"{'columns' if is_column else (o.get('kind') or cls) + ' objects'}"
                f" (valid: {', '.join(valid) or 'none'})"
            )
        holders = records(
            con,
            """
            SELECT role, privilege, via, via_role, path, grantable, column_name
            FROM effective_privileges
            WHERE object_class = ? AND object_oid = ? AND subid = 0
              AND privilege IN (SELECT unnest(?))
              AND database_oid IS NOT DISTINCT FROM ?
            ORDER BY privilege, role, via, via_role""",
            [
                "relation" if is_column else o["object_class"],
                o["object_oid"],
                privs,
                o["database_oid"],
            ],
        )
        if is_column and o.get("subid"):
            holders += records(
                con,
                """
                SELECT role, privilege, via, via_role, path, grantable, column_name
                FROM effective_privileges
                WHERE object_class = 'column' AND object_oid = ? AND subid = ?
                  AND privilege IN (SELECT unnest(?)) AND database_oid = ?
                ORDER BY privilege, role, via, via_role""",
                [o["object_oid"], o["subid"], privs, o["database_oid"]],
            )
            holders.sort(key=lambda h: (h["privilege"], h["role"], h["via"]))
        column_only: list[dict[str, Any]] = []
        if o["object_class"] == "relation" and not is_column:
            column_only = records(
                con,
                """
                SELECT c.role, c.privilege, list(DISTINCT c.column_name ORDER BY c.column_name)
                       AS columns
                FROM effective_privileges c
                WHERE c.object_class = 'column' AND c.object_oid = ? AND c.database_oid = ?
                  AND c.privilege IN (SELECT unnest(?))
                  AND NOT EXISTS (SELECT 1 FROM effective_privileges t
                                  WHERE t.object_class = 'relation' AND t.subid = 0
                                    AND t.object_oid = c.object_oid
                                    AND t.database_oid = c.database_oid AND t.role = c.role
                                    AND t.privilege = c.privilege)
                GROUP BY c.role, c.privilege ORDER BY c.privilege, c.role""",
                [o["object_oid"], o["database_oid"], privs],
            )
        results.append(
            {"object": o, "privileges": privs, "holders": holders, "column_only": column_only}
        )
    return results


def render(results: list[dict[str, Any]]) -> str:
    lines: list[str] = []
    for res in results:
        o = res["object"]
        label = object_label(o) + (
            f" COLUMN {sql_name(o['column_name'])}" if o.get("column_name") else ""
        )
        where = (
            f" in database {sql_name(o['database'])}"
            if o.get("database") and o["object_class"] != "database"
            else ""
        )
        owner = f" (owner {sql_name(o['owner'])})" if o.get("owner") is not None else ""
        lines.append(f"{', '.join(res['privileges'])} on {label}{where}{owner}:")
        if not res["holders"]:
            lines.append("  nobody (not even the owner: its own privileges were revoked)")
        width = max([len(sql_name(h["role"])) for h in res["holders"]] + [4])
        for h in res["holders"]:
            why = {
                "superuser": "superuser",
                "owner": f"owner ({sql_name(h['via_role'])})",
                "direct": "granted directly",
                "role": f"via {sql_name(h['via_role'])}",
                "public": "granted to PUBLIC",
                "predefined": f"predefined {sql_name(h['via_role'])}",
            }.get(h["via"], h["via"])
            priv = f"{h['privilege']} " if len(res["privileges"]) > 1 else ""
            path = (
                f"  [{chain(h['path'])}]"
                if h["path"] and len(h["path"]) > 1 and h["via"] != "public"
                else ""
            )
            grant = " WITH GRANT OPTION" if h["grantable"] else ""
            blocked = (
                f"  (holds only: no {'; no '.join(printable(b) for b in h['blocked_by'])})"
                if h.get("blocked_by")
                else ""
            )
            lines.append(f"  {sql_name(h['role']).ljust(width)}  {priv}{why}{grant}{path}{blocked}")
        if res["column_only"]:
            lines.append("  on some columns only:")
            for c in res["column_only"]:
                cols = ", ".join(sql_name(x) for x in c["columns"])
                lines.append(f"  {sql_name(c['role']).ljust(width)}  {c['privilege']} ({cols})")

        lines += render_who_can_extra(res, sql_name)
        lines.append("")
    return "\n".join(lines).rstrip()


def _resolve_or_unknown(con: Any, q: Question, database: str | None) -> list[dict[str, Any]]:
    """resolve(), but a name not found while some databases were not collected is an
    unknown answer (exit 3, naming those databases), not "no object named"."""

    try:
        return resolve(con, q, database)
    except UsageError as exc:
        if not str(exc).startswith(("no ", "no table")):
            raise
        missing = [d for d in not_collected(con) if database is None or d["database"] == database]
        if not missing:
            raise
        dbs = ", ".join(
            f"{sql_name(d['database'])} ({printable(d['reason'] or 'not collected')})"
            for d in missing
        )
        raise CollectionError(
            f"unknown: {exc} among the collected databases, and "
            f"{'it' if len(missing) == 1 else 'these'} could not be read: "
            f"{dbs}"
        ) from None


@click.command("who-can", context_settings={"ignore_unknown_options": False})
@click.argument(
    "words", nargs=-1, required=True, metavar="SNAPSHOT_OR_DSN PRIVILEGE [ON] [TYPE] OBJECT"
)
@click.option("--database", "-d", help="Only objects in this database.")
@click.option(
    "--format", "fmt", type=click.Choice(("text", "json")), default="text", show_default=True
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Configuration file (naming policy, collection settings).",
)
def who_can(
    words: tuple[str, ...], database: str | None, fmt: str, config_path: Path | None
) -> None:
    """List the roles that hold PRIVILEGE on OBJECT, and the chain that gives it to them.

    \b
      pgaudit-roles who-can snap.json SELECT app_data.orders
      pgaudit-roles who-can snap.json EXECUTE ON FUNCTION 'app.f(integer)'
      pgaudit-roles who-can snap.json UPDATE COLUMN app_data.orders.status
      pgaudit-roles who-can "host=db1 user=auditor" CONNECT DATABASE appdb
      pgaudit-roles who-can snap.json ALL ON SCHEMA app_data

    ON is optional. The older order, target last (`who-can SELECT ON app_data.orders
    snap.json`), is still accepted: it is recognised by a privilege keyword first.

    Each holder is marked when it only holds the privilege (no CONNECT on the database
    or no USAGE on the schema: it cannot use it yet). Also listed: roles that can get
    it by SET ROLE (NOINHERIT, 16+ INHERIT FALSE), owners that can grant it without
    holding it, and every role when lo_compat_privileges is on (large objects). An
    object in a database that was not collected is "unknown" (exit 3).

    OBJECT is an SQL name (unquoted parts fold to lower case; "Quoted" parts keep
    case). TYPE is a GRANT keyword (TABLE, SEQUENCE, SCHEMA, DATABASE, FUNCTION, TYPE,
    LANGUAGE, FOREIGN SERVER, TABLESPACE, PARAMETER, COLUMN, ...). Names are printed as
    SQL identifiers; names with control characters as U&"..." identifiers.
    """
    q, target = parse_question(words)
    con, snap = open_audit(target, config_path, reading(TABLES))
    try:
        objects = _resolve_or_unknown(con, q, database)
        results = answer(con, q, objects)
        annotate_who_can(con, results)
    finally:
        con.close()

    echo_json_or_text(results, fmt, render)
    echo_partial_note(snap, fmt, database=database, sources=PRIVILEGE_SOURCES)
