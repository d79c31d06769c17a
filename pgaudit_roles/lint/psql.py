"""What psql does to a script before the server sees it, so pglast can parse the rest.

Why a lexer of our own: psql's backslash commands, its ``:variable`` interpolation, the
data lines that follow ``COPY ... FROM stdin`` and migration tools' ``${placeholder}``
syntax are not SQL, and pglast (PostgreSQL's parser) refuses them. They are all common in
real migration sets (``\\gexec`` for idempotent ``CREATE ROLE``, ``PASSWORD :'pw'`` to keep
the secret out of git, pg_dump's ``COPY`` data, Flyway and Liquibase placeholders).

The output keeps every line where it was (lines are never added or removed), so pglast's
statement offsets still map to the file's lines; blanked text becomes spaces so columns
keep too, except after a ``:variable`` replaced by a value of another length on that line.

- a backslash outside strings, quoted identifiers, dollar quotes and comments starts a
  meta-command that runs to the end of the line (psql's rule, also mid-line); it is blanked
  and recorded. ``\\g`` and its relatives (``\\gexec``, ``\\gset`` ...) also end the
  current statement, so a ``;`` takes the backslash's place;
- the data of ``COPY ... FROM stdin`` (and ``\\copy ... from stdin``), up to the ``\\.``
  line, is blanked;
- ``:name``, ``:'name'`` and ``:"name"`` are replaced by the value a ``\\set`` earlier in
  the migrations gave (as psql does; ``:DBNAME`` is the connection's database); a quoted
  form of a variable set elsewhere (``psql -v``)
  becomes a *placeholder*: the name itself, quoted the same way (``PASSWORD :'pw'`` is then
  the string ``pw``, which the checks know is not a literal). A bare ``:name`` not set is
  left alone, as psql leaves it;
- ``${name}`` (Flyway and Liquibase placeholders) becomes ``__name_`` (same length), also a
  placeholder.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

_DOLLAR = re.compile(r"\$([A-Za-z_\x80-\U0010ffff][\w\x80-\U0010ffff]*)?\$")
_VAR = re.compile(
    r":(?:'([A-Za-z_][A-Za-z0-9_]*)'|\"([A-Za-z_][A-Za-z0-9_]*)\"|([A-Za-z_][A-Za-z0-9_]*))"
)
_PLAIN = re.compile(r"[^\n\\'\"$:;\-/]+")
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_.:\-]+)\}")
_COPY_STDIN = re.compile(r"^\s*\\?copy\b[\s\S]*\bfrom\s+stdin\b", re.IGNORECASE)
ENDS_STATEMENT = frozenset(
    {"g", "gx", "gexec", "gset", "gdesc", "crosstabview", "watch", "bind", "bind_named"}
)
"""Meta-commands that send the query buffer, as ``;`` does."""


@dataclass
class Lexed:
    """A script as the server would get it, plus what psql itself handled."""

    text: str
    metas: list[tuple[int, str]] = field(default_factory=list)  # (offset in text, command)
    placeholders: set[str] = field(default_factory=set)  # substituted stand-in values
    unset: list[tuple[int, str]] = field(default_factory=list)  # (offset, ":'name'") not set
    spans: list[tuple[int, str]] = field(default_factory=list)  # (offset, stand-in) in text
    originals: dict[str, str] = field(default_factory=dict)  # ``${x}`` stand-in -> ``${x}``
    conditions: dict[int, bool | None] = field(default_factory=dict)
    """Offset of each ``\\if``/``\\elif`` in ``metas`` -> its value when known here
    (``condition``), None when only the run can tell."""


def meta_name(command: str) -> str:
    """``\\gexec`` -> ``gexec``; ``\\c db`` -> ``c``."""
    m = re.match(r"\\([A-Za-z_?!]*)", command.strip())
    return m.group(1) if m else ""


def _quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _quote_ident(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def lex(text: str, variables: dict[str, str] | None = None, gset: set[str] | None = None) -> Lexed:
    """``text`` with psql's own syntax handled (module docstring); ``variables`` are the
    ``\\set`` values so far, updated in place by the script's ``\\set``/``\\unset``;
    ``gset`` the prefixes of the ``\\gset`` commands so far (their variables get values
    only at run time), updated in place too."""
    variables = {} if variables is None else variables
    gset = set() if gset is None else gset
    out = Lexed(text="")
    placeholders = out.placeholders

    def flyway(m: re.Match[str]) -> str:
        stand_in = "__" + re.sub(r"\W", "_", m.group(1)) + "_"
        placeholders.add(stand_in)
        out.originals.setdefault(stand_in, m.group(0))  # shown in messages (placeholders.py)
        return stand_in

    text = _PLACEHOLDER.sub(flyway, text)
    parts: list[str] = []
    olen = 0

    def emit(s: str) -> None:
        nonlocal olen
        parts.append(s)
        olen += len(s)

    n = len(text)
    i = 0
    stmt_start = 0  # where the current statement's text starts in ``text``
    line_start = True
    depth = 0
    copy_data = False  # the next lines are COPY data, up to a "\." line
    while i < n:
        c = text[i]
        if copy_data and line_start:
            end = text.find("\n", i)
            end = n if end < 0 else end
            if text[i:end].rstrip("\r") == "\\.":
                copy_data = False
            emit(re.sub(r"[^\r]", " ", text[i:end]))
            if end < n:
                emit("\n")
            i = end + 1
            continue
        if depth:
            if text.startswith("*/", i):
                depth -= 1
                emit("*/")
                i += 2
            elif text.startswith("/*", i):
                depth += 1
                emit("/*")
                i += 2
            else:
                emit(c)
                line_start = c == "\n"
                i += 1
            continue
        if c == "\n":
            line_start = True
            emit(c)
            i += 1
            continue
        if c in " \t\r":
            emit(c)
            i += 1
            continue
        line_start = False
        if c == "\\":
            end = text.find("\n", i)
            end = n if end < 0 else end
            command = text[i:end].rstrip("\r")
            name = meta_name(command)
            out.metas.append((olen, command))
            ends = name in ENDS_STATEMENT
            query = text[stmt_start:i]  # what \g and its relatives send
            emit((";" if ends else " ") + re.sub(r"[^\r]", " ", text[i + 1 : end]))
            if ends:
                stmt_start = end
            words = meta_words(command)
            if name in ("if", "elif"):
                out.conditions[out.metas[-1][0]] = condition(
                    command.strip()[len(name) + 1 :], variables, gset
                )
            elif name == "gset":
                gset.update(_gset_names(query, words[1] if len(words) > 1 else ""))
            if name == "set" and len(words) >= 2:
                variables[words[1]] = "".join(words[2:])
            elif name == "unset" and len(words) >= 2:
                variables.pop(words[1], None)
            elif name == "copy" and _COPY_STDIN.match(command):
                copy_data = True
            elif name in ("c", "connect"):  # psql's DBNAME follows the connection
                args = [
                    variables.get(w[1:].strip("'\""), "") if w.startswith(":") else w
                    for w in words[1:]
                ]
                database, _user, whole = connect_target(args)
                if database:
                    variables["DBNAME"] = database
                elif whole or "" in args:
                    variables.pop("DBNAME", None)  # not known here: a placeholder
            i = end
            continue
        if text.startswith("--", i):
            end = text.find("\n", i)
            end = n if end < 0 else end
            emit(text[i:end])
            i = end
        elif text.startswith("/*", i):
            depth = 1
            emit("/*")
            i += 2
        elif c == "'":
            escape = (
                i > 0
                and text[i - 1] in "eE"
                and (i < 2 or not (text[i - 2].isalnum() or text[i - 2] == "_"))
            )
            end = _skip_quoted(text, i + 1, "'", backslash=escape)
            emit(text[i:end])
            i = end
        elif c == '"':
            end = _skip_quoted(text, i + 1, '"', backslash=False)
            emit(text[i:end])
            i = end
        elif c == "$" and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            m = _DOLLAR.match(text, i)
            if m:
                end = text.find(m.group(0), m.end())
                end = n if end < 0 else end + len(m.group(0))
            else:
                end = i + 1
            emit(text[i:end])
            i = end
        elif c == ":" and not text.startswith("::", i) and (i == 0 or text[i - 1] != ":"):
            m = _VAR.match(text, i)
            if m is None:
                emit(c)
                i += 1
                continue
            quoted_lit, quoted_id, bare = m.groups()
            name = quoted_lit or quoted_id or bare
            value = variables.get(name)
            if value is not None and "\n" not in value:
                emit(
                    _quote_literal(value)
                    if quoted_lit
                    else _quote_ident(value)
                    if quoted_id
                    else value
                )
            elif bare:
                emit(m.group(0))  # psql leaves an unknown :name as it is
            else:
                out.unset.append((olen, m.group(0)))
                placeholders.add(name)
                emit(" " + m.group(0)[1:])
            i = m.end()
        elif c == ";":
            if _COPY_STDIN.match(_strip_comments(text[stmt_start:i])):
                copy_data = True
                end = text.find("\n", i)
                end = n if end < 0 else end
                emit(text[i:end])
                i = end
            else:
                emit(c)
                i += 1
            stmt_start = i
        else:  # a run of characters that start nothing: copied at once (speed)
            m = _PLAIN.match(text, i)
            end = m.end() if m else i + 1
            emit(text[i:end])
            i = end
    out.text = "".join(parts)
    out.spans = sorted(
        [(off + 2, ref[2:-1]) for off, ref in out.unset if ref[1:2] in "'\""]
        + [
            (m.start(), stand_in)
            for stand_in in placeholders - {ref[2:-1] for _o, ref in out.unset}
            for m in re.finditer(re.escape(stand_in), out.text)
        ]
    )
    return out


_BOOL_WORDS = {"true": True, "false": False, "yes": True, "no": False, "on": True, "off": False}


def parse_bool(value: str) -> bool | None:
    """psql's boolean words (ParseVariableBool): true/false/yes/no and unique prefixes of
    them, on/off (two letters at least), 1/0; None for anything else."""
    v = value.strip().lower()
    if v in ("1", "0"):
        return v == "1"
    hits = {
        b for w, b in _BOOL_WORDS.items() if v and w.startswith(v) and (len(v) > 1 or v[0] != "o")
    }
    return hits.pop() if len(hits) == 1 else None


def _gset_names(query: str, prefix: str) -> set[str]:
    """What a ``\\gset`` may set: ``=name`` for each output column of its query (with the
    prefix), or the bare prefix when the columns cannot be told (any name with it)."""
    import pglast

    try:
        stmts = pglast.parse_sql(_strip_comments(query))
    except Exception:  # noqa: BLE001 - psql syntax or a placeholder: assume any name
        return {prefix}
    node = stmts[-1].stmt if stmts else None
    targets = getattr(node, "targetList", None)
    if not targets:
        return {prefix}
    out = set()
    for rt in targets:
        col = rt.name or _column_name(rt.val)
        if col is None:
            return {prefix}
        out.add(f"={prefix}{col}")
    return out


def _column_name(val: Any) -> str | None:
    """The output name PostgreSQL gives an unnamed column that is a column reference or a
    function call (its last name); None for anything else."""
    parts = getattr(val, "fields", None) or getattr(val, "funcname", None)  # col, f(...)
    last = parts[-1] if parts else None
    return getattr(last, "sval", None)


def condition(arg: str, variables: dict[str, str], gset: set[str]) -> bool | None:
    """The value of a ``\\if``/``\\elif`` argument when it is known before the run: a
    boolean word, or a variable ``\\set`` earlier that no ``\\gset`` may have overwritten.
    None (only the run can tell): a variable set with ``psql -v`` or by ``\\gset`` from a
    query, a backtick command, ``:{?name}`` for a name not set here, anything else."""
    arg = arg.strip()
    m = re.fullmatch(r":(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\1", arg)
    if m is not None:
        name = m.group(2)
        if (
            name not in variables
            or f"={name}" in gset
            or any(name.startswith(p) for p in gset if not p.startswith("="))
        ):
            return None
        return parse_bool(variables[name])
    m = re.fullmatch(r":\{\?([A-Za-z_][A-Za-z0-9_]*)\}", arg)
    if m is not None:
        return True if m.group(1) in variables else None
    if "`" in arg or ":" in arg or not arg or len(arg.split()) != 1:
        return None
    return parse_bool(arg)


def _strip_comments(sql: str) -> str:
    """A statement's text without comments and meta-command lines (COPY detection)."""
    return re.sub(r"--[^\n]*|/\*[\s\S]*?\*/|^[ \t]*\\.*$", " ", sql, flags=re.MULTILINE)


def meta_words(command: str) -> list[str]:
    """``\\c "my db" bob`` -> ['c', 'my db', 'bob'] (psql's quoting, simplified)."""
    body = command.strip()[1:]
    out: list[str] = []
    for m in re.finditer(r'"((?:[^"]|"")*)"|\'((?:[^\']|\'\')*)\'|(\S+)', body):
        if m.group(1) is not None:
            out.append(m.group(1).replace('""', '"'))
        elif m.group(2) is not None:
            out.append(m.group(2).replace("''", "'"))
        else:
            out.append(m.group(3))
    if out and not out[0].startswith(("'", '"')):
        # "\\set" and "\\c" are words; a command glued to its argument stays one word
        glued = re.match(r"([A-Za-z_?!]+)(.*)", out[0])
        if glued and glued.group(2) and glued.group(1) in _META_KEEP:
            out[0:1] = [glued.group(1), glued.group(2)]
    return out


_META_KEEP = {"c", "connect", "set", "unset", "i", "include", "ir", "include_relative", "copy"}


def _skip_quoted(text: str, i: int, quote: str, *, backslash: bool) -> int:
    n = len(text)
    while i < n:
        c = text[i]
        if backslash and c == "\\":
            i += 2
            continue
        if c == quote:
            if text.startswith(quote * 2, i):
                i += 2
                continue
            return i + 1
        i += 1
    return n


def connect_target(args: list[str]) -> tuple[str | None, str | None, bool]:
    """(database, user, whole) of ``\\connect`` arguments. Positional forms keep the
    previous database or user where one is not given (``whole`` False); a connection string
    replaces both (psql does not reuse the previous values then; None is the default):
    ``\\c db user``, ``\\c -reuse-previous=on db``, ``\\c - user``, and a connection
    string (``"dbname=crm user=deploy"``, ``postgresql://deploy@host/billing``). Host and
    port are not used: the twin is always this machine's."""
    args = [a for a in args if not a.startswith("-reuse-previous")]
    if not args:
        return None, None, False
    first = args[0]
    if first.startswith(("postgresql://", "postgres://")):
        url = urlsplit(first)
        query = parse_qs(url.query)
        database = unquote(url.path.lstrip("/")) or (query.get("dbname") or [""])[0]
        user = unquote(url.username) if url.username else (query.get("user") or [""])[0]
        return database or None, user or None, True
    if "=" in first:
        pairs = dict(
            (m.group(1), (m.group(2) or m.group(3) or "").replace("\\'", "'"))
            for m in re.finditer(r"(\w+)\s*=\s*(?:'((?:[^'\\]|\\.)*)'|(\S+))", first)
        )
        return pairs.get("dbname") or None, pairs.get("user") or None, True
    return (
        None if first == "-" else first,
        args[1] if len(args) > 1 and args[1] != "-" else None,
        False,
    )
