"""Read migration files into located statements: psql meta-commands first, then pglast.

Why line-based meta-commands before parsing: psql's backslash commands are not SQL, and
pglast (PostgreSQL's own parser) refuses them. A small lexer finds the lines that start
with a backslash outside strings, dollar quotes and comments, records them and blanks them
with spaces, so every character keeps its offset and pglast's statement locations (in
characters, not UTF-8 bytes) still map to the file's line and column.

A file that does not parse is one ``LintSyntaxError`` naming ``file:line``; its message
never quotes a string literal (it could be a password).
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.errors import UsageError
from .conditionals import Branches
from .liquibase import for_postgres, is_formatted
from .psql import ENDS_STATEMENT, connect_target, lex, meta_name, meta_words


class LintSyntaxError(UsageError):
    """A migration file that does not parse (exit 2, one line ``file:line: ...``)."""


@dataclass
class Statement:
    """One SQL statement of a migration, where it is, and the session it runs in."""

    file: str  # as shown in reports: relative to the repository root when inside it
    line: int
    column: int
    text: str
    node: Any  # the pglast statement node
    database: str | None = None  # from \connect; None: the --database default
    user: str | None = None  # from \connect db user; None: the twin's superuser
    on_error_stop: bool | None = None  # from \set ON_ERROR_STOP; None: the layout's default
    index: int = 0  # position in the whole migration set
    placeholders: frozenset[str] = frozenset()  # stand-ins for psql variables, ${x} (psql.py)
    gexec: bool = False  # followed by \gexec: psql runs each value of its result as SQL
    embedded: bool = False  # a statement inside a DO block (checked, not applied on its own)
    conditional: str | None = None  # in a psql \if branch only the run decides (conditionals)
    twin_skip: bool = False  # another branch of its \if block is the one the twin applies

    @property
    def kind(self) -> str:
        return type(self.node).__name__


@dataclass
class Source:
    """Everything read from the ordered files."""

    statements: list[Statement] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    originals: dict[str, str] = field(default_factory=dict)  # ${x} stand-in -> its text


@dataclass
class _Session:
    database: str | None = None
    user: str | None = None
    on_error_stop: bool | None = None
    variables: dict[str, str] = field(default_factory=dict)  # psql \set values
    gset: set[str] = field(default_factory=set)  # what \gset may have set (psql.lex)


_TRUE = {"on", "true", "1", "yes"}
_FALSE = {"off", "false", "0", "no"}


def display_path(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` (the repository root) when inside it, with ``/``."""
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def repo_root(start: Path) -> Path:
    """The nearest directory upwards holding ``.git`` (else the current directory): SARIF
    locations are relative to it so GitHub shows them on the pull request."""
    here = start.resolve()
    for d in (here, *here.parents):
        if (d / ".git").exists():
            return d
    return Path.cwd().resolve()


def read_sources(
    files: list[Path],
    root: Path,
    *,
    database: str | None = None,
    dbmate: bool = False,
    dbname: str | None = None,
) -> Source:
    """Parse ``files`` in order (``\\ir`` includes inlined where they occur). ``dbname`` is
    psql's ``:DBNAME`` until a ``\\connect`` (the database the migrations run in)."""
    src = Source()
    session = _Session(database=database)
    if database or dbname:
        session.variables["DBNAME"] = str(database or dbname)
    for path in files:
        _read_file(path, root, session, src, stack=(), dbmate=dbmate)
    for i, st in enumerate(src.statements):
        st.index = i
    return src


def _read_file(
    path: Path,
    root: Path,
    session: _Session,
    src: Source,
    *,
    stack: tuple[Path, ...],
    dbmate: bool,
    outer: tuple[str | None, bool] = (None, False),
) -> None:
    shown = display_path(path, root)
    if path.resolve() in stack:
        raise LintSyntaxError(f"{shown}:1: include cycle ({' -> '.join(p.name for p in stack)})")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise LintSyntaxError(f"{shown}:{line}: not UTF-8 text") from None
    except OSError as exc:
        raise LintSyntaxError(f"{shown}: cannot read ({exc.strerror or exc})") from None
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        raise LintSyntaxError(f"{shown}:{line}: a NUL byte: binary data, not SQL text")
    text = text.removeprefix("\ufeff")  # a byte order mark (Windows editors) is not SQL
    src.files.append(shown)
    if dbmate:
        text = _dbmate_up(text)
    text = up_only(text)
    if is_formatted(text):
        text, other_dbms = for_postgres(text)
        src.notes += [
            f"{shown}:{line}: Liquibase changeset {cid} is for dbms {value}: not run on "
            "PostgreSQL, not linted"
            for line, cid, value in other_dbms
        ]
    lexed = lex(text, session.variables, session.gset)
    blanked, metas = lexed.text, lexed.metas
    for stand_in, original in lexed.originals.items():
        src.originals.setdefault(stand_in, original)
    lines = LineMap(blanked)
    for off, ref in lexed.unset:
        src.notes.append(
            f"{shown}:{lines.position(off)[0]}: psql variable {ref} is not set in the "
            "migrations: checked as a placeholder"
        )
    parsed = parse(blanked, shown, lines)
    events: list[tuple[int, int, Any]] = [(m[0], 0, m) for m in metas]
    events += [(off, 1, st) for off, st in parsed]
    events.sort(key=lambda e: (e[0], e[1]))
    branches = Branches(shown, outer)
    for _off, what, item in events:
        if what == 1:
            node, off, stext = item
            if branches.dead:
                continue
            line, col = lines.position(off)
            src.statements.append(
                Statement(
                    file=shown,
                    line=line,
                    column=col,
                    text=stext,
                    node=node,
                    database=session.database,
                    user=session.user,
                    on_error_stop=session.on_error_stop,
                    placeholders=frozenset(
                        v for o, v in lexed.spans if off <= o < off + len(stext)
                    ),
                    conditional=branches.conditional,
                    twin_skip=branches.twin_skip,
                )
            )
            continue
        off, command = item
        line = lines.position(off)[0]
        if branches.meta(meta_name(command), command, line, lexed.conditions.get(off)):
            continue
        if branches.dead:
            continue  # psql skips every meta-command of a branch that does not run
        if meta_name(command) in ENDS_STATEMENT:
            if (
                meta_name(command) == "gexec"
                and src.statements
                and src.statements[-1].file == shown
            ):
                src.statements[-1].gexec = True
            continue
        _meta(
            command,
            path,
            shown,
            line,
            root,
            session,
            src,
            stack=(*stack, path.resolve()),
            dbmate=dbmate,
            outer=branches.here,
        )
    branches.finish()
    src.notes += branches.notes


def _meta(
    command: str,
    path: Path,
    shown: str,
    line: int,
    root: Path,
    session: _Session,
    src: Source,
    *,
    stack: tuple[Path, ...],
    dbmate: bool,
    outer: tuple[str | None, bool] = (None, False),
) -> None:
    words = meta_words(command)
    name = words[0] if words else ""
    args = words[1:]
    if name in ("c", "connect"):
        values = [_meta_variable(a, session) for a in args]
        if None in values:
            src.notes.append(
                f"{shown}:{line}: \\{name}: a psql variable is not set in the migrations: "
                "the statements after it stay in the previous database"
            )
            return
        database, user, whole = connect_target([a for a in values if a is not None])
        session.database = database if whole else database or session.database
        session.user = user if whole else user or session.user
        return
    if name == "set" and args and args[0] == "ON_ERROR_STOP":
        value = (args[1] if len(args) > 1 else "on").lower()
        session.on_error_stop = value in _TRUE or value not in _FALSE
        return
    if name in ("set", "unset", "copy"):
        return  # variables and \copy data: handled by the lexer (psql.py)
    if name in ("i", "include", "ir", "include_relative") and args:
        target = Path(args[0])
        if not target.is_absolute():
            base = path.parent if name in ("ir", "include_relative") else Path.cwd()
            target = base / target
            if not target.exists() and name in ("i", "include"):
                target = path.parent / args[0]
        if not target.is_file():
            raise LintSyntaxError(f"{shown}:{line}: \\{name} {args[0]}: no such file")
        _read_file(target, root, session, src, stack=stack, dbmate=dbmate, outer=outer)
        return
    src.notes.append(f"{shown}:{line}: psql meta-command \\{name or '?'} skipped")


def _meta_variable(arg: str, session: _Session) -> str | None:
    """A meta-command argument with psql's ``:name`` (``:'name'``, ``:"name"``) replaced by
    its ``\\set`` value; None when that variable is not set here (``psql -v``)."""
    m = re.fullmatch(r":(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\1", arg)
    if m is None:
        return arg
    return session.variables.get(m.group(2))


def _dbmate_up(text: str) -> str:
    """A dbmate file runs only its ``-- migrate:up`` part: blank the down part."""
    m = re.search(r"^--\s*migrate:down\b.*$", text, re.MULTILINE)
    if not m:
        return text
    tail = text[m.start() :]
    return text[: m.start()] + re.sub(r"[^\n]", " ", tail)


_SECTION = re.compile(
    r"^--[ \t]*\+(?:goose|migrate)[ \t]+(Up|Down)\b.*$", re.MULTILINE | re.IGNORECASE
)


def up_only(text: str) -> str:
    """goose (``-- +goose Up``/``Down``) and sql-migrate (``-- +migrate Up``/``Down``)
    files hold the rollback in the same file: blank every Down section (lines kept), as the
    forward run never executes it and the twin must not apply it."""
    out, pos, down = [], 0, False
    for m in _SECTION.finditer(text):
        chunk = text[pos : m.start()]
        out.append(re.sub(r"[^\r\n]", " ", chunk) if down else chunk)
        down = m.group(1).lower() == "down"
        pos = m.start()
    tail = text[pos:]
    out.append(re.sub(r"[^\r\n]", " ", tail) if down else tail)
    return "".join(out)


def split_meta(text: str) -> tuple[str, list[tuple[int, str]]]:
    """(text with meta-command lines blanked, [(offset, command line)]): ``psql.lex``
    without ``\\set`` values (a quoted ``:'variable'`` becomes its placeholder)."""
    lexed = lex(text)
    return lexed.text, lexed.metas


class LineMap:
    """Character offset -> (line, column), both 1-based, columns in code points."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def position(self, offset: int) -> tuple[int, int]:
        i = bisect.bisect_right(self.starts, offset) - 1
        return i + 1, offset - self.starts[i] + 1


def parse(text: str, shown: str, lines: LineMap) -> list[tuple[int, tuple[Any, int, str]]]:
    """[(offset, (node, offset, statement text))] for every statement in ``text``."""
    import pglast
    from pglast.parser import ParseError

    try:
        raw = pglast.parse_sql(text)
    except ParseError as exc:
        msg = str(exc.args[0]) if exc.args else "syntax error"
        where = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], int) else None
        line = lines.position(where)[0] if where is not None else _last_line(text)
        raise LintSyntaxError(f"{shown}:{line}: {redact_literal(msg)}") from None
    out = []
    for rs in raw:
        start = skip_blank(text, rs.stmt_location or 0)
        end = (rs.stmt_location or 0) + rs.stmt_len if rs.stmt_len else len(text)
        out.append((start, (rs.stmt, start, text[start:end].strip())))
    return out


def _last_line(text: str) -> int:
    return text.rstrip().count("\n") + 1


def redact_literal(message: str) -> str:
    """``syntax error at or near "'s3cret'"`` -> ``... at or near a string literal``."""
    return re.sub(r'at or near "(?:[EeUuBbXxNn]?\'|\$).*"', "at or near a string literal", message)


def skip_blank(text: str, i: int) -> int:
    """The first offset at or after ``i`` that is not whitespace or a comment."""
    n = len(text)
    while i < n:
        if text[i].isspace():
            i += 1
        elif text.startswith("--", i):
            end = text.find("\n", i)
            i = n if end < 0 else end + 1
        elif text.startswith("/*", i):
            depth, i = 1, i + 2
            while i < n and depth:
                if text.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif text.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    i += 1
        else:
            break
    return i


def walk(node: Any) -> Iterator[Any]:
    """Every pglast node under ``node`` (itself included), depth first."""
    from pglast.ast import Node

    stack = [node]
    while stack:
        cur = stack.pop()
        if isinstance(cur, tuple | list):
            stack.extend(reversed(cur))
            continue
        if not isinstance(cur, Node):
            continue
        yield cur
        for attr in cur.__slots__:  # type: ignore[attr-defined]
            value = getattr(cur, attr, None)
            if isinstance(value, Node | tuple | list):
                stack.append(value)
