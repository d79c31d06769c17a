"""Quoting helpers: the only way a name or value from a catalog gets into generated SQL.

Why our own: remediation SQL is pasted into production by people who trust it, and the
names it carries come from the audited database, i.e. from whoever could create a role or
a table there. ``quote_ident`` reproduces the server's ``quote_ident()`` exactly (tested
against every version 13-18), ``quote_literal`` the server's ``quote_literal()``; the other
helpers build the few composite forms remediation needs (qualified names, routine
signatures, grantees, privilege lists, object-kind keywords) from those two and from
allow-lists, never by pasting text.

Pure functions. The keyword list comes from pglast (PostgreSQL's own ``kwlist.h``) and is
imported on first use, so importing this module stays cheap for the CLI.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

__all__ = [
    "PRIVILEGES",
    "alter_kind",
    "func_signature",
    "grant_kind",
    "grantee",
    "privilege_list",
    "qualified",
    "quote_ident",
    "quote_literal",
    "role_spec",
]

_SAFE_IDENT = re.compile(r"[a-z_][a-z0-9_]*")
_RESERVED_ROLE_NAMES = frozenset({"public", "none"})


@functools.cache
def _quoted_keywords() -> frozenset[str]:
    """Keywords that ``quote_ident`` must quote: every category except UNRESERVED.

    pglast's list is PostgreSQL 18's. Older servers have a subset of these keywords
    needing quotes (16 added SYSTEM_USER, 17 the JSON_* functions), never one more
    (checked in the tests against ``pg_get_keywords()`` on 13-18), so quoting with the
    newest list yields SQL that every supported version reads the same way.
    """
    from pglast import keywords

    return frozenset(
        keywords.RESERVED_KEYWORDS | keywords.COL_NAME_KEYWORDS | keywords.TYPE_FUNC_NAME_KEYWORDS
    )


def _check_text(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a string, got {type(value).__name__}")
    if "\x00" in value:
        raise ValueError(f"{what} contains a NUL character, which PostgreSQL cannot store")
    return value


def quote_ident(name: str) -> str:
    """Quote ``name`` as an SQL identifier exactly as PostgreSQL's ``quote_ident()``.

    Left bare only when it is lowercase ASCII letters, digits and underscores, does not
    start with a digit, and is not a keyword that needs quoting; otherwise wrapped in
    double quotes with embedded double quotes doubled.
    """
    _check_text(name, "identifier")
    if _SAFE_IDENT.fullmatch(name) and name not in _quoted_keywords():
        return name
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    """Quote ``value`` as a string literal exactly as PostgreSQL's ``quote_literal()``.

    Single quotes are doubled; a value containing a backslash becomes an ``E''`` literal
    with backslashes doubled, so it reads the same whatever standard_conforming_strings is.
    """
    _check_text(value, "literal")
    body = value.replace("'", "''")
    if "\\" in value:
        return "E'" + body.replace("\\", "\\\\") + "'"
    return "'" + body + "'"


def qualified(schema: str | None, name: str) -> str:
    """``schema.name`` with each part quoted; just ``name`` when schema is None or empty."""
    if schema is None or schema == "":
        return quote_ident(name)
    return quote_ident(schema) + "." + quote_ident(name)


def role_spec(name: str) -> str:
    """A role name as it appears after TO/FROM/OWNER TO: always an identifier.

    A role literally named ``PUBLIC`` (possible when created quoted) is quoted, so it can
    never be mistaken for the ``PUBLIC`` pseudo-role. The lowercase names ``public`` and
    ``none`` are refused: PostgreSQL reads them as the pseudo-role even when quoted, and no
    real role can have them. Use :func:`grantee` where the grantee may be PUBLIC itself.
    """
    if name in _RESERVED_ROLE_NAMES:
        raise ValueError(
            f"{name!r} is not a role name (for PUBLIC use grantee(..., is_public=True))"
        )
    return quote_ident(name)


def grantee(name: str | None, is_public: bool = False) -> str:
    """A grantee for GRANT/REVOKE: the keyword ``PUBLIC`` only when ``is_public`` is true.

    Why a flag and not a magic name: the audit schema marks PUBLIC by grantee OID 0, and
    a real role may be called "PUBLIC" or "public" in any case; a name is never
    interpreted, it is always quoted as an identifier.
    """
    if not isinstance(is_public, bool):
        raise TypeError("is_public must be a boolean")
    if is_public:
        return "PUBLIC"
    if name is None:
        raise ValueError("grantee name is NULL and is_public is false")
    return role_spec(name)


@functools.cache
def _check_identity_args(identity_args: str) -> None:
    """Prove ``identity_args`` is exactly one routine argument list and nothing more.

    The text comes from ``pg_get_function_identity_arguments()`` (the server quotes
    names and types in it), but a snapshot is a file and may be edited, so we do not
    trust it blindly: it is embedded in a probe statement between fixed sentinels and
    must parse as that single statement with the sentinels intact; its tokens may hold
    no comment, no ``;`` and no ``)`` that closes the list early.
    """
    from pglast import ast, parse_sql
    from pglast.parser import ParseError, scan

    try:
        tokens = scan(identity_args)
    except ParseError as exc:
        raise ValueError(f"not a routine argument list: {identity_args!r}") from exc
    depth = 0
    for tok in tokens:
        if tok.name in ("SQL_COMMENT", "C_COMMENT", "ASCII_59"):  # comments, ';'
            raise ValueError(f"not a routine argument list: {identity_args!r}")
        depth += {"ASCII_40": 1, "ASCII_41": -1}.get(tok.name, 0)
        if depth < 0:
            raise ValueError(f"not a routine argument list: {identity_args!r}")
    if depth != 0:
        raise ValueError(f"not a routine argument list: {identity_args!r}")

    sentinel = "pgaudit_sentinel_7f3a"
    for kind in ("ROUTINE", "AGGREGATE"):
        probe = f"ALTER {kind} {sentinel}.{sentinel}({identity_args}) OWNER TO {sentinel}"
        try:
            stmts = parse_sql(probe)
        except ParseError:
            continue
        if len(stmts) != 1:
            break
        stmt = stmts[0].stmt
        if not isinstance(stmt, ast.AlterOwnerStmt) or stmt.newowner is None:
            break
        obj = stmt.object
        names = [getattr(n, "sval", None) for n in (getattr(obj, "objname", None) or ())]
        if stmt.newowner.rolename == sentinel and names == [sentinel, sentinel]:
            return
        break
    raise ValueError(f"not a routine argument list: {identity_args!r}")


def func_signature(schema: str | None, name: str, identity_args: str | None) -> str:
    """``schema.name(args)`` for ALTER/GRANT ... FUNCTION/PROCEDURE/ROUTINE.

    ``identity_args`` is ``pg_get_function_identity_arguments()`` output, already valid
    SQL (the server quotes what needs quoting); it is verified to be an argument list
    and nothing else (see :func:`_check_identity_args`). None means no arguments.
    """
    args = "" if identity_args is None else _check_text(identity_args, "argument list")
    if args.strip():
        _check_identity_args(args)
    return f"{qualified(schema, name)}({args})"


PRIVILEGE_ORDER: tuple[str, ...] = (
    "SELECT",
    "INSERT",
    "UPDATE",
    "DELETE",
    "TRUNCATE",
    "REFERENCES",
    "TRIGGER",
    "MAINTAIN",
    "USAGE",
    "CREATE",
    "CONNECT",
    "TEMPORARY",
    "EXECUTE",
    "SET",
    "ALTER SYSTEM",
)
"""The privilege keywords in the order PostgreSQL's documentation lists them (how reports
sort a role's privileges)."""

PRIVILEGES: frozenset[str] = frozenset({*PRIVILEGE_ORDER, "ALL"})
"""Privilege keywords GRANT/REVOKE accept (SQL words, as aclexplode() reports them)."""

PRIVILEGE_ALIASES = {"TEMP": "TEMPORARY", "ALL PRIVILEGES": "ALL"}
"""Spellings GRANT/REVOKE accept for a privilege keyword, and the keyword they mean."""
_COLUMN_PRIVILEGES = frozenset({"SELECT", "INSERT", "UPDATE", "REFERENCES", "ALL"})


def _normalise_privilege(word: object) -> str:
    if not isinstance(word, str):
        raise TypeError(f"privilege must be a string, got {type(word).__name__}")
    norm = " ".join(word.split()).upper()
    norm = PRIVILEGE_ALIASES.get(norm, norm)
    if norm not in PRIVILEGES:
        raise ValueError(f"unknown privilege {word!r}")
    return norm


def privilege_list(privileges: str | Iterable[str], columns: Iterable[str] | None = None) -> str:
    """A validated, de-duplicated privilege list for GRANT/REVOKE, e.g. ``SELECT, INSERT``.

    ``privileges`` is one privilege word, a comma-separated string of them, or an
    iterable (a DuckDB list column). Every word must be in :data:`PRIVILEGES`; ``ALL``
    cannot be combined with others. With ``columns`` each privilege gets a quoted column
    list (``SELECT (a, "B")``), allowed only for column privileges.
    """
    items: Iterable[object]
    if isinstance(privileges, str):
        items = privileges.split(",")
    else:
        items = privileges
    words: list[str] = []
    for item in items:
        word = _normalise_privilege(item)
        if word not in words:
            words.append(word)
    if not words:
        raise ValueError("empty privilege list")
    if "ALL" in words and len(words) > 1:
        raise ValueError("ALL cannot be combined with other privileges")
    if columns is None:
        return ", ".join(words)
    cols = [quote_ident(c) for c in ([columns] if isinstance(columns, str) else columns)]
    if not cols:
        raise ValueError("empty column list")
    bad = [w for w in words if w not in _COLUMN_PRIVILEGES]
    if bad:
        raise ValueError(f"{', '.join(bad)} cannot be granted on columns")
    col_list = ", ".join(dict.fromkeys(cols))
    return ", ".join(f"{w} ({col_list})" for w in words)


# Object kinds as the snapshot/audit schema names them -> the keyword GRANT ... ON takes.
_GRANT_KINDS: dict[str, str] = {
    "table": "TABLE",
    "partitioned table": "TABLE",
    "view": "TABLE",
    "materialized view": "TABLE",
    "foreign table": "TABLE",
    "sequence": "SEQUENCE",
    "function": "FUNCTION",
    "window function": "FUNCTION",
    "procedure": "PROCEDURE",
    "aggregate": "FUNCTION",
    "routine": "ROUTINE",
    "base type": "TYPE",
    "type": "TYPE",
    "enum": "TYPE",
    "range": "TYPE",
    "composite": "TYPE",
    "multirange": "TYPE",
    "domain": "DOMAIN",
    "language": "LANGUAGE",
    "large object": "LARGE OBJECT",
    "foreign-data wrapper": "FOREIGN DATA WRAPPER",
    "fdw": "FOREIGN DATA WRAPPER",
    "server": "FOREIGN SERVER",
    "foreign server": "FOREIGN SERVER",
    "schema": "SCHEMA",
    "database": "DATABASE",
    "tablespace": "TABLESPACE",
    "parameter": "PARAMETER",
}

# ... and the keyword ALTER <kind> ... OWNER TO takes.
_ALTER_KINDS: dict[str, str] = {
    "table": "TABLE",
    "partitioned table": "TABLE",
    "view": "VIEW",
    "materialized view": "MATERIALIZED VIEW",
    "foreign table": "FOREIGN TABLE",
    "sequence": "SEQUENCE",
    "function": "FUNCTION",
    "window function": "FUNCTION",
    "procedure": "PROCEDURE",
    "aggregate": "AGGREGATE",
    "routine": "ROUTINE",
    "base type": "TYPE",
    "type": "TYPE",
    "enum": "TYPE",
    "range": "TYPE",
    "composite": "TYPE",
    "multirange": "TYPE",
    "domain": "DOMAIN",
    "language": "LANGUAGE",
    "large object": "LARGE OBJECT",
    "foreign-data wrapper": "FOREIGN DATA WRAPPER",
    "fdw": "FOREIGN DATA WRAPPER",
    "server": "SERVER",
    "foreign server": "SERVER",
    "schema": "SCHEMA",
    "database": "DATABASE",
    "tablespace": "TABLESPACE",
}


def _kind_keyword(kind: object, table: dict[str, str], what: str) -> str:
    if not isinstance(kind, str):
        raise TypeError(f"object kind must be a string, got {type(kind).__name__}")
    key = " ".join(kind.split()).lower()
    if key not in table:
        raise ValueError(f"object kind {kind!r} has no {what} keyword")
    return table[key]


def grant_kind(kind: str) -> str:
    """The object-type keyword for ``GRANT/REVOKE ... ON <kind>`` (a view is ``TABLE``)."""
    return _kind_keyword(kind, _GRANT_KINDS, "GRANT ... ON")


def alter_kind(kind: str) -> str:
    """The object-type keyword for ``ALTER <kind> ... OWNER TO`` (a view is ``VIEW``)."""
    return _kind_keyword(kind, _ALTER_KINDS, "ALTER")


def sql_name(name: str | None) -> str:
    """A name as an SQL identifier, safe to print on one terminal line.

    quote_ident's form when every character is printable; otherwise a PostgreSQL
    Unicode-escape identifier (``U&"a\\000Ab"``), which reads back as the same name.
    """
    if name is None:
        return "NULL"
    if _printable(name):
        return quote_ident(name)
    out = []
    for ch in name:
        code = ord(ch)
        if ch == '"':
            out.append('""')
        elif ch == "\\":
            out.append("\\\\")
        elif not _printable(ch):
            out.append(f"\\{code:04X}" if code <= 0xFFFF else f"\\+{code:06X}")
        else:
            out.append(ch)
    return 'U&"' + "".join(out) + '"'


def _printable(text: str) -> bool:
    # str.isprintable() is False for control, format (bidi overrides), separator (line and
    # paragraph separators, exotic spaces) and unassigned characters; the ASCII space is fine.
    return text.isprintable()
