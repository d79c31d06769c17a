"""Text from servers whose encoding is not UTF-8, turned into UTF-8 without loss of meaning.

Why a module of its own: the snapshot, DuckDB and every report are UTF-8, but a cluster may
be ``SQL_ASCII`` (common on old installs: the server stores whatever bytes a client sent)
or LATIN1/WIN1252. A session on a real encoding uses ``client_encoding=UTF8``, so the
server converts for us. ``SQL_ASCII`` cannot be converted (asking for UTF8 makes the
server reject the first invalid byte): such a session uses ``client_encoding=SQL_ASCII``
and gets the bytes as they were stored. For those sessions, text is decoded as UTF-8 and each byte that is not part of
valid UTF-8 becomes the four characters ``\\xNN`` (Python's ``backslashreplace``): the
name is shown escaped, never dropped, never replaced by ``?``, and the same bytes always
give the same text, so snapshots of one cluster compare equal. A name that already holds
the literal text ``\\xNN`` looks the same; ``meta.server_encoding`` in the snapshot says
when this representation applies.
"""

from __future__ import annotations

import codecs
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import psycopg

RAW_ENCODING = "SQL_ASCII"
"""The server encoding with no conversion: bytes pass through as stored."""

ERRORS = "backslashreplace"

# text, varchar, name, bpchar, "char", unknown: every type a catalog query returns as text.
_TEXT_OIDS = (25, 1043, 19, 1042, 18, 705)


def decode(data: bytes | bytearray | memoryview) -> str:
    """Bytes from a ``SQL_ASCII`` server as text (invalid UTF-8 bytes as ``\\xNN``)."""
    return bytes(data).decode("utf-8", ERRORS)


def server_encoding(conn: psycopg.Connection[Any]) -> str:
    return conn.info.parameter_status("server_encoding") or ""


def is_raw(conn: psycopg.Connection[Any]) -> bool:
    """True when the server sends bytes unconverted (``SQL_ASCII``)."""
    return server_encoding(conn) == RAW_ENCODING


def copy_encoding(conn: psycopg.Connection[Any]) -> str:
    """The ``ENCODING`` of a ``COPY ... TO STDOUT``: UTF8, or the raw bytes on SQL_ASCII."""
    return RAW_ENCODING if is_raw(conn) else "UTF8"


def install(conn: psycopg.Connection[Any]) -> None:
    """Make ``conn`` return text, never bytes, whatever the server's encoding.

    Sets the client encoding (UTF8, or SQL_ASCII on a SQL_ASCII server, whatever
    PGCLIENTENCODING said) and, on SQL_ASCII, a loader for text types: psycopg returns
    ``bytes`` for a SQL_ASCII session, and a strict UTF-8 decode fails on the first
    invalid byte; this loader does neither.
    """
    want = RAW_ENCODING if is_raw(conn) else "UTF8"
    if (conn.info.parameter_status("client_encoding") or "").upper() != want:
        conn.execute(f"SET client_encoding = '{want}'")
    if want != RAW_ENCODING:
        return
    from psycopg.adapt import Loader

    class _EscapingTextLoader(Loader):
        def load(self, data: Any) -> str:
            return decode(data)

    for name in _TEXT_OIDS:
        conn.adapters.register_loader(name, _EscapingTextLoader)


class Transcoder:
    """Streamed bytes from a ``SQL_ASCII`` server to valid UTF-8, chunk by chunk.

    A multi-byte character may be split across chunks: the incremental decoder keeps the
    pending bytes until the next chunk (or ``finish``) decides what they are.
    """

    def __init__(self) -> None:
        self._dec = codecs.getincrementaldecoder("utf-8")(ERRORS)

    def feed(self, data: bytes | bytearray | memoryview) -> bytes:
        return self._dec.decode(bytes(data)).encode("utf-8")

    def finish(self) -> bytes:
        return self._dec.decode(b"", final=True).encode("utf-8")
