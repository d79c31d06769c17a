"""Remediation SQL from rule templates: quoted by construction, parsed before it is emitted.

Why this module exists: the fix SQL is pasted into production, and the names it carries
come from the audited database (anyone who can create a table can choose its name). Three
guards, each enforced here and tested against real servers:

1. **At rule load** (:func:`validate_template`): every ``{{ ... }}`` in a remediation
   template must be a call of a quoting filter or function (``|ident``, ``|literal``,
   ``qualified()``, ``|role``, ``func()``, ``|privs``, ``|grant_kind``, ``|alter_kind``,
   ``|number``) or a constant. ``{% if %}``/``{% for %}``/``{% set %}`` are fine; macros,
   ``{% filter %}`` blocks, includes and imports are refused, as is re-binding the name
   of a quoting function. A raw ``{{ object_name }}`` is a rule error, not a warning.
2. **At render** (:func:`render`): the template runs in Jinja2's immutable sandbox with
   StrictUndefined (a missing column is an error, not an empty string); every statement
   produced is parsed by pglast (PostgreSQL's own parser) and must be one of the
   statement types in :data:`ALLOWED_STATEMENTS`, without CASCADE and without a
   password or other secret. Anything else raises :class:`RemediationError`, a rule
   error: it is never printed as a fix.
3. **At report** (:func:`classify`): flags computed from the parse tree (not regexes)
   say what a statement does, so the script can order it safely and mark what is
   destructive.

Destructive, by our definition (documented in the README and the script header):
``DROP ...``, ``DROP OWNED``, ``ALTER ROLE ... NOLOGIN``, and ``REVOKE`` (of a privilege
or of a membership) from a role that can log in (when the caller knows the login roles);
a rule can also declare its fix destructive. REVOKE from PUBLIC or from a group role,
GRANT, ownership changes, REASSIGN OWNED and ALTER ROLE NO<attribute> are reviewed but
not destructive: they do not lose data and are undone by the inverse statement.

jinja2 and pglast are imported inside functions: importing this module stays cheap.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Collection, Iterator
from typing import TYPE_CHECKING, Any, NamedTuple

from ..core import sqlquote
from ..core.errors import RuleError
from . import template_cache

if TYPE_CHECKING:  # pragma: no cover
    import jinja2
    import jinja2.sandbox

__all__ = [
    "ALLOWED_STATEMENTS",
    "QUOTING_FILTERS",
    "QUOTING_FUNCTIONS",
    "RemediationError",
    "Checked",
    "analysed",
    "check_and_classify",
    "check_sql",
    "classify",
    "render",
    "split_statements",
    "validate_template",
]


class RemediationError(RuleError):
    """A remediation template or its output that must not be emitted (exit code 2)."""


# --- the quoting vocabulary a template may use --------------------------------------


def _number(value: object) -> str:
    """An integer for SQL (connection limits, large-object OIDs); bools and text refused."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"number expects an integer, got {type(value).__name__}")
    return str(value)


def _role(name: str | None, is_public: bool = False) -> str:
    return sqlquote.grantee(name, is_public)


def _privs(privileges: Any, columns: Any = None) -> str:
    return sqlquote.privilege_list(privileges, columns)


QUOTING_FILTERS: dict[str, Callable[..., str]] = {
    "ident": sqlquote.quote_ident,
    "literal": sqlquote.quote_literal,
    "qualified": sqlquote.qualified,  # {{ schema|qualified(name) }}
    "role": _role,  # {{ grantee|role }}, {{ grantee|role(grantee_oid == 0) }}
    "func": sqlquote.func_signature,  # {{ schema|func(name, identity_args) }}
    "privs": _privs,  # {{ privileges|privs }}, {{ privileges|privs(columns) }}
    "grant_kind": sqlquote.grant_kind,  # GRANT ... ON {{ kind|grant_kind }}
    "alter_kind": sqlquote.alter_kind,  # ALTER {{ kind|alter_kind }} ... OWNER TO
    "number": _number,
}
"""Filters whose output is safe to interpolate: quoted names/literals or allow-listed words."""

QUOTING_FUNCTIONS: dict[str, Callable[..., str]] = {
    "qualified": sqlquote.qualified,  # {{ qualified(schema, object_name) }}
    "func": sqlquote.func_signature,  # {{ func(schema, object_name, identity_args) }}
}
"""The multi-argument helpers, also callable as functions. (``role`` is a filter only: rule
queries commonly return a column named ``role``, and a column would hide a function.)"""

_FORBIDDEN_NODES: dict[str, str] = {
    "Macro": "macro",
    "CallBlock": "call",
    "FilterBlock": "filter",
    "Include": "include",
    "Import": "import",
    "FromImport": "from ... import",
    "Extends": "extends",
    "Block": "block",
    "EvalContextModifier": "autoescape",
    "ScopedEvalContextModifier": "autoescape",
    "ExprStmt": "do",
}
"""Template constructs that could transform quoted output or pull in other templates."""
_HINT = (
    "use |ident, |literal, qualified(schema, name), |role, func(schema, name, args), "
    "|privs, |grant_kind, |alter_kind or |number"
)


@functools.cache
def _environment() -> jinja2.Environment:
    from jinja2 import StrictUndefined
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(
        autoescape=False, undefined=StrictUndefined, keep_trailing_newline=True
    )
    env.filters.update({k: _strict(f) for k, f in QUOTING_FILTERS.items()})
    env.globals.update({k: _strict(f) for k, f in QUOTING_FUNCTIONS.items()})
    return env


def _strict(helper: Callable[..., str]) -> Callable[..., str]:
    """Make a helper raise Jinja's undefined error when given a missing value.

    StrictUndefined fails when printed or iterated, but a filter receives the Undefined
    object itself; without this the error would read "must be a string" instead of
    naming the missing column.

    The helpers are pure functions, so a call whose arguments are all text, booleans or
    None (never Undefined) returns what the same call returned before, kept in a bounded
    table (:data:`_MEMO_LIMIT`): a rule's fixes quote the same schemas, roles, kinds and
    routine signatures over and over (the bench's large preset: 165,000 calls, ~40%
    repeats), and ``qualified``/``func`` cost several ``quote_ident`` calls each. Only
    results are kept: a call that raises is made again, and raises again.
    """
    from jinja2 import Undefined

    memo: dict[tuple[Any, ...], str] = {}
    _MEMOS.append(memo)

    @functools.wraps(helper)
    def wrapper(*args: Any, **kwargs: Any) -> str:
        if not kwargs:
            for value in args:
                if type(value) not in _MEMO_TYPES:
                    break
            else:  # exact types, so equal arguments are the same values (True is not 1)
                hit = memo.get(args)
                if hit is None:
                    hit = helper(*args)
                    if len(memo) >= _MEMO_LIMIT:
                        memo.clear()
                    memo[args] = hit
                return hit
        for value in (*args, *kwargs.values()):
            if isinstance(value, Undefined):
                value._fail_with_undefined_error()
        return helper(*args, **kwargs)

    return wrapper


_MEMOS: list[dict[tuple[Any, ...], str]] = []
"""Every helper's table (a test or a measurement empties them to start cold)."""
_MEMO_TYPES: frozenset[type] = frozenset({str, bool, type(None)})
_MEMO_LIMIT = 16384
"""Calls kept per quoting helper; past it the table starts again (names are data)."""


def _describe(node: Any) -> str:
    """A short source-like rendering of an expression for error messages."""
    from jinja2 import nodes

    if isinstance(node, nodes.Name):
        return node.name
    if isinstance(node, nodes.Const):
        return repr(node.value)
    if isinstance(node, nodes.Getattr):
        return f"{_describe(node.node)}.{node.attr}"
    if isinstance(node, nodes.Getitem):
        return f"{_describe(node.node)}[{_describe(node.arg)}]"
    if isinstance(node, nodes.Filter):
        return f"{_describe(node.node)}|{node.name}"
    if isinstance(node, nodes.Call):
        return f"{_describe(node.node)}(...)"
    if isinstance(node, nodes.Concat):
        return " ~ ".join(_describe(n) for n in node.nodes)
    if isinstance(node, nodes.CondExpr):
        return f"{_describe(node.expr1)} if ... else ..."
    return type(node).__name__.lower()


def _unsafe_output(expr: Any) -> Any | None:
    """The first sub-expression of an output that is not quoted, or None when all are."""
    from jinja2 import nodes

    if isinstance(expr, nodes.TemplateData | nodes.Const):
        return None
    if isinstance(expr, nodes.Filter):
        return None if expr.name in QUOTING_FILTERS and expr.node is not None else expr
    if isinstance(expr, nodes.Call):
        ok = isinstance(expr.node, nodes.Name) and expr.node.name in QUOTING_FUNCTIONS
        return None if ok else expr
    if isinstance(expr, nodes.CondExpr):
        for part in (expr.expr1, expr.expr2):
            if part is not None and (bad := _unsafe_output(part)) is not None:
                return bad
        return None
    if isinstance(expr, nodes.Concat):
        for part in expr.nodes:
            if (bad := _unsafe_output(part)) is not None:
                return bad
        return None
    return expr


@functools.cache
def _analyse(template: str) -> tuple[Any, str | None]:
    """Parse and check a template once: (compiled template, None) or (None, problem)."""
    from jinja2 import TemplateSyntaxError, nodes

    env = _environment()
    hit = template_cache.load(env, "remediation", template)  # stored only once it passed
    if hit is not None:
        return hit, None
    try:
        tree = env.parse(template)
    except TemplateSyntaxError as exc:
        return None, f"line {exc.lineno}: template syntax error: {exc.message}"
    for node in tree.find_all(nodes.Node):
        kind = type(node).__name__
        if kind in _FORBIDDEN_NODES:
            return None, (
                f"line {node.lineno}: {{% {_FORBIDDEN_NODES[kind]} %}} is not "
                "allowed in a remediation template"
            )
        if (
            isinstance(node, nodes.Name)
            and node.ctx in ("store", "param")
            and node.name in QUOTING_FUNCTIONS
        ):
            return None, (
                f"line {node.lineno}: remediation re-binds the quoting function {node.name!r}"
            )
    for out in tree.find_all(nodes.Output):
        for expr in out.nodes:
            bad = _unsafe_output(expr)
            if bad is not None:
                return None, (
                    f"line {getattr(bad, 'lineno', out.lineno)}: remediation "
                    f"interpolates {{{{ {_describe(bad)} }}}} without a quoting "
                    f"filter ({_HINT})"
                )
    return template_cache.compile_and_store(env, "remediation", tree, template), None


def analysed(template: str) -> None:
    """Load (or analyse and compile) the remediation template now, as :func:`render`
    would (``template_preload``)."""
    _analyse(template)


def validate_template(template: str, origin: str) -> None:
    """Refuse a template that could emit an unquoted value; ``origin`` names the rule file.

    Raises :class:`RemediationError` (``"<origin>: line N: remediation interpolates
    {{ x }} without a quoting filter (...)"``).
    """
    if not isinstance(template, str):
        raise RemediationError(f"{origin}: remediation must be a string")
    _, problem = _analyse(template)
    if problem:
        raise RemediationError(f"{origin}: {problem}")


@functools.cache
def _jinja_errors() -> tuple[
    type[jinja2.TemplateError], type[jinja2.UndefinedError], type[jinja2.sandbox.SecurityError]
]:
    """Jinja2's TemplateError, UndefinedError and SecurityError, imported once (not at
    module import: this module stays light; not per call: :func:`render` runs per finding)."""
    from jinja2 import TemplateError, UndefinedError
    from jinja2.sandbox import SecurityError

    return TemplateError, UndefinedError, SecurityError


def render(template: str, row: dict[str, Any], origin: str = "remediation") -> str:
    """Render ``template`` for one finding row and return checked SQL (or "" for none).

    The result is the template's statements, each ending in ``;`` on its own line(s),
    every one parsed by pglast and checked by :func:`check_sql`. A template that renders
    only whitespace (e.g. an ``{% if %}`` that did not apply) yields "".
    """
    return renderer(template, origin)(row)


def renderer(template: str, origin: str = "remediation") -> Callable[[dict[str, Any]], str]:
    """:func:`render` of ``template`` as a function of the row, for a rule's findings: the
    template is looked up (and analysed) once, not per row. Raises nothing itself: a
    template that cannot render raises its :class:`RemediationError` for every row, as
    :func:`render` does."""
    TemplateError, UndefinedError, SecurityError = _jinja_errors()  # noqa: N806
    problem: str | None = None
    if not isinstance(template, str):  # validate_template's checks, with one _analyse
        problem = f"{origin}: remediation must be a string"
    else:
        compiled, why = _analyse(template)
        if why:
            problem = f"{origin}: {why}"
    if problem is not None:
        refused = problem

        def refuse(row: dict[str, Any]) -> str:
            raise RemediationError(refused)

        return refuse
    render_template = template_cache.renderer(compiled)

    def render_row(row: dict[str, Any]) -> str:
        if not QUOTING_FUNCTIONS.keys().isdisjoint(row):
            hidden = sorted(k for k in row if k in QUOTING_FUNCTIONS)
            raise RemediationError(
                f"{origin}: the rule query returns a column named "
                f"{', '.join(hidden)}, which would hide the quoting function of "
                "that name; rename the column"
            )
        try:
            text = render_template(row)
        except UndefinedError as exc:
            raise RemediationError(
                f"{origin}: remediation uses a value the rule query does not return: {exc.message}"
            ) from exc
        except SecurityError as exc:
            raise RemediationError(f"{origin}: remediation blocked by the sandbox: {exc}") from exc
        except (TypeError, ValueError) as exc:
            raise RemediationError(f"{origin}: remediation cannot quote a value: {exc}") from exc
        except TemplateError as exc:
            raise RemediationError(f"{origin}: remediation failed to render: {exc}") from exc
        if not text.strip():
            return ""
        return ";\n".join(check_sql(text, origin)) + ";"  # (never an empty list)

    return render_row


# --- parsing and checking the output -----------------------------------------------

ALLOWED_STATEMENTS: frozenset[str] = frozenset(
    {
        "GrantStmt",
        "GrantRoleStmt",
        "AlterOwnerStmt",
        "AlterTableStmt",
        "ReassignOwnedStmt",
        "DropOwnedStmt",
        "DropStmt",
        "DropRoleStmt",
        "CreateRoleStmt",
        "AlterRoleStmt",
        "AlterRoleSetStmt",
        "AlterDefaultPrivilegesStmt",
        "AlterFunctionStmt",
        "AlterDatabaseStmt",
        "AlterDatabaseSetStmt",
        "AlterSystemStmt",
        "CommentStmt",
    }
)
"""Statement node types a remediation may contain: privileges, ownership, roles, settings.
No DML, no SELECT, no DO blocks, no transaction control (the script adds BEGIN/COMMIT)."""

_ALTER_TABLE_CMDS = frozenset({"AT_ChangeOwner", "AT_EnableRowSecurity", "AT_ForceRowSecurity"})
_SECRET_OPTIONS = frozenset(
    {
        "password",
        "encrypted_password",
        "unencrypted_password",
        "passwd",
        "ldapbindpasswd",
        "radiussecrets",
        "secret",
    }
)
_SECRET_CORES = ("pass", "secret")
"""Each name in :data:`_SECRET_OPTIONS` holds one of these (:func:`_may_object` looks for
them first; tests/test_render_paths.py checks the two stay in step)."""


def _parse(sql: str, origin: str) -> list[tuple[str, Any]]:
    """(statement text without ';', parse tree) for each statement in ``sql``."""
    from pglast import parse_sql
    from pglast.parser import ParseError, split

    _refuse_nul(sql, origin)
    try:
        pieces = split(sql, with_parser=True)
    except ParseError as exc:
        raise RemediationError(
            f"{origin}: generated SQL does not parse ({exc}): {_excerpt(sql)}"
        ) from exc
    out: list[tuple[str, Any]] = []
    for piece in pieces:
        text = piece.strip()
        try:
            stmts = parse_sql(text)
        except ParseError as exc:  # pragma: no cover - split already parsed it
            raise RemediationError(
                f"{origin}: generated SQL does not parse ({exc}): {_excerpt(text)}"
            ) from exc
        if len(stmts) != 1:  # pragma: no cover - split yields one statement per piece
            raise RemediationError(f"{origin}: could not split generated SQL: {_excerpt(text)}")
        out.append((text, stmts[0].stmt))
    return out


def _refuse_nul(sql: str, origin: str) -> None:
    """Refuse SQL holding a NUL character: PostgreSQL's parser reads a C string and stops
    at the first one, so whatever follows it would pass unparsed and unchecked (and a
    statement's text, cut by byte offsets, would carry it). The quoting filters already
    refuse a NUL in a value; this closes the template text itself (a TOML ``\u0000``)."""
    if "\x00" in sql:
        raise RemediationError(
            f"{origin}: generated SQL contains a NUL character, where PostgreSQL's parser "
            f"stops reading: {_excerpt(sql)}"
        )


def _excerpt(sql: str, limit: int = 160) -> str:
    flat = sql.encode("unicode_escape").decode("ascii")
    return flat if len(flat) <= limit else flat[:limit] + "..."


def check_sql(sql: str, origin: str = "remediation") -> list[str]:
    """Parse ``sql`` with pglast and check every statement; return them without ``;``.

    Raises :class:`RemediationError` if it does not parse, holds a statement type outside
    :data:`ALLOWED_STATEMENTS`, uses CASCADE, or sets a password/secret.

    This runs once per finding (tens of thousands on a large cluster), so it reads
    PostgreSQL's parse tree as the JSON libpg_query emits rather than as pglast's Python
    node objects, which cost ten times more to build (:func:`classify` reads the same
    JSON); and where the JSON's text already settles the checks it is not decoded at all
    (:func:`_settled_texts`).
    """
    raw = _raw_json(sql, origin)
    texts = _settled_texts(sql, raw)
    if texts is not None:
        return texts
    return [text for text, _ in _checked_raw(sql, raw, origin)[0]]


def _checked(sql: str, origin: str) -> tuple[list[tuple[str, dict[str, Any]]], bool]:
    """:func:`check_sql`'s checks of ``sql``; its parse (:func:`_parse_json`)."""
    return _checked_raw(sql, _raw_json(sql, origin), origin)


def _checked_raw(sql: str, raw: str, origin: str) -> tuple[list[tuple[str, dict[str, Any]]], bool]:
    """:func:`_checked` of ``sql`` whose libpg_query JSON is ``raw``."""
    parsed, walk = _decoded(sql, raw)
    if not parsed:
        raise RemediationError(f"{origin}: remediation SQL holds no statement")
    for text, stmt in parsed:
        _check_json_statement(text, stmt, origin, walk=walk)
    return parsed, walk


def _may_object(raw: str) -> bool:
    """Whether the node walk of :func:`_check_json_statement` could refuse the parse tree
    whose libpg_query JSON is ``raw``: only when ``raw`` holds ``DROP_CASCADE`` (the walk
    refuses a ``"behavior": "DROP_CASCADE"``) or, in any case, one of the secret option
    names (it refuses a ``defname`` that lower-cases to one of them) and the key
    ``"defname"`` itself (the walk looks at no other node). libpg_query writes enum values
    and names as they are (it escapes only quotes, backslashes and control characters), so
    a tree holding either has the words in its JSON text, and a quote in a name is written
    ``\\"``: ``"defname"`` with bare quotes is a key or a whole string, never part of one.
    Where neither appears the walk, a third of the cost of a check, cannot fail and is
    skipped. A word that only appears in a name or a literal costs the walk, as before."""
    if "DROP_CASCADE" in raw:
        return True
    if '"defname"' not in raw:  # no DefElem: no option the walk could refuse
        return False
    low = raw.lower()
    # every secret option name holds "pass" or "secret" (_SECRET_CORES): two searches rule
    # out all seven for nearly every tree (0.1 s of the SQL report's 36,000 checks at the
    # bench's large preset, as much of the scan's own)
    return ("pass" in low or "secret" in low) and any(word in low for word in _SECRET_OPTIONS)


@functools.cache
def _pglast_parser() -> tuple[type[Exception], Callable[[str], str]]:
    """pglast's ParseError and parse_sql_json, imported once (not at module import: this
    module stays light; not per call: :func:`check_sql` runs per finding)."""
    from pglast.parser import ParseError, parse_sql_json

    return ParseError, parse_sql_json


def _raw_json(sql: str, origin: str) -> str:
    """libpg_query's JSON parse tree of ``sql`` (a NUL or a parse error is refused)."""
    ParseError, parse_sql_json = _pglast_parser()  # noqa: N806
    _refuse_nul(sql, origin)
    try:
        return str(parse_sql_json(sql))
    except ParseError as exc:
        raise RemediationError(
            f"{origin}: generated SQL does not parse ({exc}): {_excerpt(sql)}"
        ) from exc


def _parse_json(sql: str, origin: str) -> tuple[list[tuple[str, dict[str, Any]]], bool]:
    """(statement text without ';', {NodeType: fields}) for each statement in ``sql``, and
    whether the node walk must run (:func:`_may_object`)."""
    return _decoded(sql, _raw_json(sql, origin))


def _decoded(sql: str, raw: str) -> tuple[list[tuple[str, dict[str, Any]]], bool]:
    """:func:`_parse_json` of ``sql`` whose libpg_query JSON is ``raw``."""
    import json

    doc = json.loads(raw)
    data = sql.encode("utf-8")  # libpg_query's locations are byte offsets
    out: list[tuple[str, dict[str, Any]]] = []
    for stmt in doc.get("stmts", []):
        start = int(stmt.get("stmt_location", 0))
        length = int(stmt.get("stmt_len", 0))
        out.append((_statement_text(data, start, length), stmt["stmt"]))
    return out, _may_object(raw)


def _statement_text(data: bytes, start: int, length: int) -> str:
    """The statement at byte ``start`` (``length`` bytes, 0: to the end) of ``data``,
    without surrounding blanks and its ``;``."""
    piece = data[start : start + length] if length else data[start:]
    return piece.decode("utf-8").strip().rstrip(";").strip()


_RAW_STMT = '{"stmt":{"'


def _settled_texts(sql: str, raw: str) -> list[str] | None:
    """:func:`check_sql`'s result for ``sql``, read from its libpg_query JSON ``raw``
    without decoding it, when the text settles every check; None when it does not (the
    JSON is then decoded and checked node by node, which also raises the errors).

    Why: decoding the JSON was two thirds of a check (libpg_query writes every location
    and type name; ~1.5 kB for a GRANT and a REVOKE of a function), and what the checks
    read of a statement that passes is its node type and its place in ``sql``.

    Why the text can be read: libpg_query writes valid JSON, and inside a JSON string
    every quote is escaped (``\\"``), so a bare-quoted ``{"stmt":{"`` or
    ``,"stmt_len":`` is structure, never part of a name or literal (nor can it start
    inside a string: a string is never followed by ``stmt``). Only ``RawStmt``, one per
    statement, has fields called ``stmt``, ``stmt_location`` and ``stmt_len`` (the other
    node with the last two, ``Query``, is not in a raw parse tree), and it writes ``stmt``
    first, ``{"NodeType":{...}}``, then the two numbers, each left out when 0. So each
    ``{"stmt":{"`` starts a statement and names its node type, and the numbers after it
    and before the next one are its location and length. Settled means: at least one
    statement, each of a type in :data:`ALLOWED_STATEMENTS` (of an ``AlterTableStmt``, that
    one statement is decoded to check its commands: :func:`_alter_table_settled`), and
    nothing for the node walk to refuse (:func:`_may_object`); anything else, including a
    shape this reading does not expect, goes the decoding way (and a number found
    elsewhere than at the end of a statement's part: each is counted).
    ``tests/test_finding_paths.py`` compares the two ways."""
    if _may_object(raw):
        return None
    # libpg_query's locations are byte offsets: in ASCII text, also character offsets
    text: str | bytes = sql if sql.isascii() else sql.encode("utf-8")
    texts: list[str] = []
    numbers = 0
    find = raw.find
    pos = find(_RAW_STMT)
    if pos < 0:
        return None
    while pos >= 0:
        begin = pos + 10  # len(_RAW_STMT)
        end = find('"', begin)
        kind = raw[begin:end]
        if kind not in ALLOWED_STATEMENTS:
            return None
        stmt_at = pos + 8  # where its {"NodeType":{...}} starts, after '{"stmt":'
        pos = find(_RAW_STMT, end)
        # the statement's part ends before the ',' of the next one, or the ']}' closing all
        bound = pos - 1 if pos >= 0 else len(raw) - 2
        tail = find(',"stmt_', max(end, bound - _TAIL_WINDOW), bound)
        stmt_end = tail if tail >= 0 else bound - 1
        numbered = _RAW_TAIL.fullmatch(raw, stmt_end, bound)
        if numbered is None:
            return None
        if kind == "AlterTableStmt" and not _alter_table_settled(raw[stmt_at:stmt_end]):
            return None
        location, length = numbered.groups()
        numbers += (location is not None) + (length is not None)
        start = int(location) if location else 0
        size = int(length) if length else 0
        piece = text[start : start + size] if size else text[start:]
        part = piece if isinstance(piece, str) else piece.decode("utf-8")
        texts.append(part.strip().rstrip(";").strip())
    if numbers != raw.count(',"stmt_'):  # the prefix of both keys, and of no other one
        return None  # a number elsewhere than at the end of a statement's part: not read
    return texts


def _alter_table_settled(stmt_json: str) -> bool:
    """Whether the ALTER TABLE whose ``{"AlterTableStmt":{...}}`` is ``stmt_json`` holds
    only commands a remediation may hold: the statement alone is decoded (an ownership
    change after two GRANTs: a third of the JSON), and a text that is not that one
    value is not settled."""
    import json

    try:
        stmt = json.loads(stmt_json)
    except ValueError:
        return False
    if not isinstance(stmt, dict) or list(stmt) != ["AlterTableStmt"]:
        return False
    fields = stmt["AlterTableStmt"]
    return isinstance(fields, dict) and not _refused_alter_table_cmd(fields)[0]


_RAW_TAIL = re.compile(r'(?:,"stmt_location":([0-9]{1,12}))?(?:,"stmt_len":([0-9]{1,12}))?\}\Z')
_TAIL_WINDOW = 64
"""Characters before a statement's end that hold its location and length: 54 at most (a
longer number is not read; the counts then differ and the JSON is decoded)."""


def _json_nodes(value: Any) -> Iterator[tuple[str | None, dict[str, Any]]]:
    """(node type or None for an unwrapped field struct, fields) for every dict below."""
    if isinstance(value, dict):
        if len(value) == 1:
            ((key, inner),) = value.items()
            if key[:1].isupper() and isinstance(inner, dict):
                yield key, inner
                for v in inner.values():
                    yield from _json_nodes(v)
                return
        yield None, value
        for v in value.values():
            yield from _json_nodes(v)
    elif isinstance(value, list):
        for item in value:
            yield from _json_nodes(item)


def _refused_alter_table_cmd(fields: dict[str, Any]) -> tuple[bool, Any]:
    """(True, its subtype) for the first command of an ALTER TABLE (``fields`` of its
    ``AlterTableStmt``) that a remediation must not hold, else (False, None)."""
    for cmd in fields.get("cmds") or ():
        subtype = cmd.get("AlterTableCmd", {}).get("subtype")
        if subtype not in _ALTER_TABLE_CMDS:
            return True, subtype
    return False, None


def _check_json_statement(
    text: str, stmt: dict[str, Any], origin: str, *, walk: bool = True
) -> None:
    """Refuse a statement of a kind, ALTER TABLE command, CASCADE or secret option that a
    remediation must not hold; ``walk=False`` (:func:`_may_object` said the parse tree
    cannot hold either) skips looking for the last two."""
    ((kind, fields),) = stmt.items()
    if kind not in ALLOWED_STATEMENTS:
        raise RemediationError(
            f"{origin}: {kind} is not allowed in remediation SQL "
            f"(only privilege, ownership, role and setting statements): "
            f"{_excerpt(text)}"
        )
    if kind == "AlterTableStmt":
        refused, subtype = _refused_alter_table_cmd(fields)
        if refused:
            raise RemediationError(
                f"{origin}: ALTER TABLE ... {subtype} is not "
                f"allowed in remediation SQL: {_excerpt(text)}"
            )
    if not walk:
        return
    for node_type, node in _json_nodes(stmt):
        if node.get("behavior") == "DROP_CASCADE":
            raise RemediationError(
                f"{origin}: CASCADE is not allowed in remediation SQL "
                f"(name each dependent change): {_excerpt(text)}"
            )
        is_defelem = node_type == "DefElem" or (node_type is None and "defname" in node)
        if (
            is_defelem
            and str(node.get("defname") or "").lower() in _SECRET_OPTIONS
            and node.get("arg") is not None
        ):
            raise RemediationError(
                f"{origin}: remediation SQL must never carry a password or "
                "secret (point to the secrets manager in a comment instead)"
            )


def split_statements(sql: str) -> list[str]:
    """The statements of checked remediation SQL, each without its trailing ``;``."""
    return [text for text, _ in _parse(sql, "remediation")]


# --- classification ------------------------------------------------------------------

_CLUSTER_OBJTYPES = frozenset(
    {"OBJECT_DATABASE", "OBJECT_TABLESPACE", "OBJECT_PARAMETER_ACL", "OBJECT_ROLE"}
)


def _items(value: Any) -> list[Any]:
    """A node list of libpg_query's JSON: a plain list, or a ``List`` node's items (a
    DefElem's argument); the nodes in it stay wrapped as ``{NodeType: fields}``."""
    if isinstance(value, dict):
        value = value.get("List", {}).get("items")
    return value if isinstance(value, list) else []


def _role_names(specs: Any) -> tuple[list[str], bool]:
    """(named roles, includes PUBLIC) of a grantee list."""
    names: list[str] = []
    public = False
    for item in _items(specs):
        spec = item.get("RoleSpec", item)
        roletype = spec.get("roletype")
        if roletype == "ROLESPEC_PUBLIC":
            public = True
        elif roletype == "ROLESPEC_CSTRING":
            names.append(spec.get("rolename"))
        else:  # CURRENT_USER / SESSION_USER / CURRENT_ROLE: unknown target
            names.append("")
    return names, public


def _flags(stmt: dict[str, Any], login_roles: Collection[str]) -> set[str]:
    """The flags of one statement, read from its libpg_query JSON tree (``{kind: fields}``,
    as check_sql parses it): false booleans and absent nodes are left out of that tree,
    enums are their names. tests/test_remediation.py holds this to the same rules read
    from pglast's typed nodes."""
    ((kind, node),) = stmt.items()
    flags: set[str] = set()
    if kind == "GrantStmt":
        names, public = _role_names(node.get("grantees"))
        if node.get("is_grant"):
            flags.add("grant")
        else:
            flags.add("revoke")
            if public and not names:
                flags.add("revoke_public")
            if any(n in login_roles or n == "" for n in names) and login_roles:
                flags.add("destructive")
        if node.get("objtype") in _CLUSTER_OBJTYPES:
            flags.add("cluster")
    elif kind == "GrantRoleStmt":
        names, _ = _role_names(node.get("grantee_roles"))
        is_grant = bool(node.get("is_grant"))
        flags |= {"membership", "cluster", "grant" if is_grant else "revoke"}
        if not is_grant and login_roles and any(n in login_roles or n == "" for n in names):
            flags.add("destructive")
    elif kind == "AlterOwnerStmt":
        flags.add("ownership")
        if node.get("objectType") in _CLUSTER_OBJTYPES:
            flags.add("cluster")
    elif kind == "AlterTableStmt":
        subtypes = {
            cmd.get("AlterTableCmd", cmd).get("subtype") for cmd in _items(node.get("cmds"))
        }
        flags.add("ownership" if "AT_ChangeOwner" in subtypes else "alter")
    elif kind == "ReassignOwnedStmt":
        flags |= {"reassign", "ownership"}
    elif kind == "DropOwnedStmt":
        flags |= {"drop", "drop_owned", "destructive"}
    elif kind == "DropRoleStmt":
        flags |= {"drop", "drop_role", "destructive", "cluster"}
    elif kind == "DropStmt":
        flags |= {"drop", "destructive"}
    elif kind in ("CreateRoleStmt", "AlterRoleStmt"):
        if kind == "CreateRoleStmt":
            flags |= {"create_role", "cluster"}
            if node.get("stmt_type") == "ROLESTMT_USER":  # implies LOGIN
                flags.add("login_role")
            adds = True
        else:
            flags |= {"role_attributes", "cluster"}
            adds = node.get("action", 0) == 1  # CREATE ROLE ... ROLE u only adds members
        for item in _items(node.get("options")):
            opt = item.get("DefElem", item)
            defname, arg = opt.get("defname"), opt.get("arg")
            if defname == "canlogin":
                # LOGIN / NOLOGIN is a Boolean; any other argument (or none) reads as LOGIN
                login = (
                    bool(arg["Boolean"].get("boolval"))
                    if isinstance(arg, dict) and "Boolean" in arg
                    else True
                )
                if login:
                    flags.add("login_role")
                elif kind == "AlterRoleStmt":  # locks its users out
                    flags.add("destructive")
            if defname == "password" and arg is None:
                flags.add("password_removed")
            if defname == "rolemembers":  # ALTER GROUP g ADD/DROP USER u
                flags |= {"membership", "grant" if adds else "revoke"}
                names, _ = _role_names(arg)
                if not adds and login_roles and any(n in login_roles or n == "" for n in names):
                    flags.add("destructive")
    elif kind == "AlterRoleSetStmt":
        flags |= {"role_settings", "cluster"}
    elif kind == "AlterDefaultPrivilegesStmt":
        flags.add("default_privileges")
    elif kind == "AlterSystemStmt":
        flags |= {"settings", "no_transaction", "cluster"}
    elif kind in ("AlterDatabaseStmt", "AlterDatabaseSetStmt"):
        flags |= {"alter", "cluster"}
    else:
        flags.add("alter")
    return flags


def _grantees(stmt: dict[str, Any]) -> list[str]:
    """The roles a GRANT/REVOKE ... ON <objects> names as grantees (not PUBLIC)."""
    ((kind, node),) = stmt.items()
    if kind != "GrantStmt":
        return []
    return [n for n in _role_names(node.get("grantees"))[0] if n]


def privilege_grantees(sql: str) -> list[str]:
    """The roles named as grantees of the GRANT/REVOKE ... ON <objects> statements in
    ``sql`` (not role memberships, not PUBLIC): the script orders a grant by them."""
    return [n for _, stmt in _parse_json(sql, "remediation")[0] for n in _grantees(stmt)]


class Checked(NamedTuple):
    """A statement of checked remediation SQL, what it does and whom it grants to."""

    sql: str  # without the trailing ;
    flags: set[str]  # classify()
    grantees: list[str]  # privilege_grantees()


def check_and_classify(
    sql: str, origin: str = "remediation", *, login_roles: Collection[str] = ()
) -> list[Checked]:
    """:func:`check_sql`, :func:`classify` and :func:`privilege_grantees` of each
    statement, from one parse of ``sql`` (the remediation script checks and orders every
    statement; parsing each again as pglast's typed nodes cost it twice the check)."""
    parsed, _ = _checked(sql, origin)
    return [Checked(text, _flags(stmt, login_roles), _grantees(stmt)) for text, stmt in parsed]


def classify(sql: str, *, login_roles: Collection[str] = ()) -> set[str]:
    """What ``sql`` does, as flags read from its parse tree (union over its statements).

    Flags: ``grant``, ``revoke``, ``revoke_public`` (only PUBLIC), ``membership``,
    ``ownership``, ``reassign``, ``drop`` (``drop_owned``, ``drop_role``),
    ``create_role``, ``role_attributes``, ``role_settings``, ``default_privileges``,
    ``settings`` + ``no_transaction`` (ALTER SYSTEM cannot run in a transaction block),
    ``login_role`` (creates a role or gives it LOGIN: it will need a credential from the
    secrets manager), ``password_removed`` (PASSWORD NULL),
    ``alter``, ``cluster`` (acts on shared catalogs: any database will do), and
    ``destructive`` (see the module docstring). ``login_roles`` are the names of roles
    that can log in; without them a REVOKE is never called destructive by itself.
    """
    flags: set[str] = set()
    for _, stmt in _parse_json(sql, "remediation")[0]:
        flags |= _flags(stmt, login_roles)
    return flags
