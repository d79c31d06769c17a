"""One user-cache entry per rule directory: its rules as loaded, kept until a file changes.

Why: loading the 85 built-in rule files read each file, hashed it, read its parsed TOML
from the user cache and checked it again, about 25 ms before a scan can even start to
collect. An entry here holds the whole directory's loaded rules, and is used only when
everything a load depends on is as it was when the entry was written:

- the tool version, the Python version and the package's code
  (:func:`usercache.code_state`: stat data of every source file);
- the directory as named (a rule's ``path`` and its errors name it so) and where that is;
- the list of its ``*.toml`` files and each file's stat data (size, mtime, ctime, inode,
  device), and for built-in rules the manifest's (``validated_rules``), which decides what
  a load validates;
- the origin (built-in or user).

These are compared exactly, not through a hash: an entry of another state is a miss, never
a wrong hit. Stat data stand for the bytes for the reason :func:`usercache.code_state`
gives, so an entry is written only when no file of the directory changed less than
:data:`usercache.RACY_NS` ago, and it records the stat data taken *before* the files were
read: a file changed during the load has other stat data at the next run.

Only a load that succeeded is written, so a broken rule is loaded, and fails with its
message, every time. A built-in directory some of whose files the manifest does not vouch
for (they are validated at every load) is not kept either. A load with
``full_validation`` never reads nor writes an entry. The entry is in ``marshal``'s format
(reading the built-in rules' 360 kB is 0.25 ms, JSON's 1.1 ms; its name holds the Python
version, whose format it is), holding only strings, numbers, None and tuples; it is written
only when decoding it gives back rules equal to the ones loaded. Like every entry of the
user cache it is trusted as the user's own file.
"""

from __future__ import annotations

import dataclasses
import marshal
import os
import stat
import sys
import time
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .. import __version__
from ..core import usercache
from ..core.model import Reference, Rule

SUBDIR = "rule-dirs"
"""User-cache subdirectory of the entries (``core.usercache``)."""
FORMAT = 1
"""The entry layout; another layout is a miss."""
MANIFEST_NAME = "validated.json"
"""The built-in rules' manifest beside them (``validated_rules.MANIFEST_NAME``)."""


def state(directory: Path, paths: Sequence[Path], origin: str) -> dict[str, Any] | None:
    """What a load of ``paths`` (``directory``'s rule files, as listed) depends on, or None
    when it cannot be described by stat data (a file changed a moment ago, a file that is
    not a regular file, the code's own state unknown): then the directory is loaded from
    its files and nothing is kept."""
    code = usercache.code_state()
    if code is None:
        return None
    now = time.time_ns()
    files: list[list[Any]] = []
    listed = [*paths, directory / MANIFEST_NAME] if origin == "builtin" else list(paths)
    for path in listed:
        try:
            st = os.stat(path)
        except FileNotFoundError:
            if path.name == MANIFEST_NAME:  # no manifest: every built-in rule is validated
                files.append([path.name, None])
                continue
            return None
        except (OSError, ValueError):
            return None
        if not stat.S_ISREG(st.st_mode):
            return None
        if now - max(st.st_mtime_ns, st.st_ctime_ns) < usercache.RACY_NS:  # or in the future
            return None
        files.append([path.name, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev])
    return {
        "format": FORMAT,
        "version": __version__,
        "python": sys.version,
        "code": code,
        "origin": origin,
        "directory": str(directory),
        "absolute": os.path.abspath(directory),
        "files": files,
    }


def _name(current: dict[str, Any]) -> str:
    """The directory's entry file: one per (Python, origin, directory), overwritten when its
    state changes. The name is only a place: what is in it is compared in full."""
    where = f"{current['origin']}\0{current['directory']}\0{current['absolute']}"
    data = where.encode("utf-8", "surrogateescape")
    tag = sys.implementation.cache_tag or "python"
    return f"{current['origin']}-{tag}-{zlib.crc32(data):08x}{zlib.adler32(data):08x}"


def read(current: dict[str, Any]) -> list[Rule] | None:
    """The rules kept for exactly this state, or None (missing, another state, damaged)."""
    raw = usercache.read(SUBDIR, _name(current))
    if raw is None:
        return None
    try:
        kept_state, rules = marshal.loads(raw)
        if kept_state != current:
            return None
        return [_decode(r) for r in rules]
    except (ValueError, TypeError, EOFError, KeyError, IndexError):
        return None


def write(current: dict[str, Any], rules: Sequence[Rule]) -> None:
    """Keep ``rules`` for ``current``, when the entry gives them back exactly."""
    try:
        data = marshal.dumps((current, [_encode(r) for r in rules]))
        if [_decode(r) for r in marshal.loads(data)[1]] != list(rules):
            return
    except (ValueError, TypeError, EOFError, KeyError, IndexError):
        return
    usercache.write(SUBDIR, _name(current), data)


_FIELDS = tuple(f.name for f in dataclasses.fields(Rule))
_REFERENCES = _FIELDS.index("references")


def _encode(rule: Rule) -> tuple[Any, ...]:
    """The rule's field values in order, its references as (kind, text, url) tuples."""
    values = [getattr(rule, name) for name in _FIELDS]
    values[_REFERENCES] = tuple((r.kind, r.text, r.url) for r in rule.references)
    return tuple(values)


def _decode(values: tuple[Any, ...]) -> Rule:
    if len(values) != len(_FIELDS):
        raise ValueError("another Rule layout")
    fields = list(values)
    fields[_REFERENCES] = tuple(Reference(k, t, u) for k, t, u in fields[_REFERENCES])
    return Rule(*fields)
