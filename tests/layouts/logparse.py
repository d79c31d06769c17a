"""Read statements back out of a test server's log (``log_statement=all``).

The harness's ``log_line_prefix`` is ``'%m [%p] app=%a user=%u db=%d '``. A logged
statement may span lines (continuation lines start with a tab) and a database name may
itself contain a newline, so the log is split into entries at each timestamped prefix,
not at line ends.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

_ENTRY_START = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)? \S+ \[(\d+)\] app=", re.M)
_MESSAGE = re.compile(r"(LOG|ERROR|FATAL|WARNING|NOTICE|STATEMENT|DETAIL):  ")
_STATEMENT = re.compile(r"^LOG:  (?:statement|execute [^:]*): ", re.S)

READ_ONLY_COMMANDS = ("SELECT", "SHOW", "SET", "BEGIN", "COMMIT", "ROLLBACK")


@dataclass(frozen=True)
class Entry:
    pid: int
    app: str
    severity: str
    text: str  # the message after "SEVERITY:  "
    statement: str | None  # for LOG statement/execute entries


def entries(text: str) -> list[Entry]:
    out: list[Entry] = []
    starts = [m for m in _ENTRY_START.finditer(text)]
    for i, m in enumerate(starts):
        end = starts[i + 1].start() if i + 1 < len(starts) else len(text)
        chunk = text[m.end() : end]
        app, _, rest = chunk.partition(" user=")
        mm = _MESSAGE.search(rest)
        if not mm:
            continue
        message = rest[mm.start() :]
        sm = _STATEMENT.match(message)
        out.append(
            Entry(
                pid=int(m.group(1)),
                app=app,
                severity=mm.group(1),
                text=message[mm.end() - mm.start() :].rstrip("\n"),
                statement=message[sm.end() :].strip() if sm else None,
            )
        )
    return out


def read_since(path: Path, offset: int) -> str:
    with open(path, "rb") as fh:
        fh.seek(offset)
        return fh.read().decode("utf-8", errors="replace")


def first_keyword(statement: str) -> str:
    m = re.match(r"\s*([A-Za-z]+)", statement)
    return m.group(1).upper() if m else ""


_COPY_QUERY_TO_STDOUT = re.compile(
    r"\s*COPY\s*\(\s*SELECT\b.*\)\s*TO\s+STDOUT\s*(\([^()]*\))?\s*;?\s*", re.S | re.I
)


def is_read_statement(statement: str) -> bool:
    """A statement a read-only tool may send: SELECT/SHOW/SET/transaction control, or
    ``COPY (SELECT ...) TO STDOUT`` (never COPY FROM, never COPY to a server file)."""
    if first_keyword(statement) in READ_ONLY_COMMANDS:
        return True
    return first_keyword(statement) == "COPY" and bool(_COPY_QUERY_TO_STDOUT.fullmatch(statement))


def non_read_statements(items: list[Entry], app: str) -> list[str]:
    """Statements by ``app`` that are not ones a read-only tool may send."""
    return [
        e.statement
        for e in items
        if e.app == app and e.statement is not None and not is_read_statement(e.statement)
    ]
