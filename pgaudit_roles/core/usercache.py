"""The user's cache directory: work that depends only on our code and an input's bytes.

Four things are kept there (``<user cache dir>/pgaudit-roles/``, platformdirs, so
``XDG_CACHE_HOME`` is honoured on Linux): which user rule files passed validation
(``validated_rules``), rule files' parsed TOML as JSON (``rules.parse_toml``), a rule
directory's loaded rules (``rule_dir_cache``) and the compiled Python code of message and
remediation templates (``template_cache``). Keys (or, for a rule directory, the entry
itself) always include the tool version and the package's code (:func:`code_fingerprint`,
:func:`code_state`), so any change to the package (a development checkout changes code
without changing the version) starts from an empty cache.

The cache is an optimisation only: an entry that cannot be read is a miss, one that cannot
be written is skipped, and nothing is ever reported about it. It holds no snapshot data,
only hashes, parsed and loaded rule files and compiled templates of rule files. Entries are written to a temporary name
and renamed, so parallel runs never see half an entry.
"""

from __future__ import annotations

import contextlib
import functools
import os
import time
from pathlib import Path

from .. import __version__
from . import resources


def cache_root() -> Path:
    """``<user cache dir>/pgaudit-roles`` (``$XDG_CACHE_HOME/pgaudit-roles`` on Linux)."""
    import platformdirs

    return Path(platformdirs.user_cache_dir("pgaudit-roles", appauthor=False))


RACY_NS = 2_000_000_000
"""A file changed less than this long ago (or "in the future": a clock that cannot be
trusted) is not described by its stat data: see :func:`code_state`."""


@functools.cache
def code_state() -> str | None:
    """What the package's code is, from stat data alone: the version, then for every
    Python and SQL file of the package its relative path, size, mtime, ctime, inode and
    device; None when a file changed less than :data:`RACY_NS` ago (or its times are
    ahead of the clock), or the package cannot be listed.

    Why this is sound (the approach of ``.pyc`` files and of git's index, made strict):
    changing a file's bytes in place, or replacing it with another file, always sets its
    ctime to the time of the change (the kernel sets it, no program can set it back) and
    a replacing file has another inode. So a file whose last change is at least
    :data:`RACY_NS` old shows other stat data after any later change, since the clock
    has moved on by more than its resolution; a file changed within that window could
    change again within the same clock tick with the same size, so then no answer is
    given and the caller falls back to reading every byte. A clock set back by more than
    the window between two runs is the one thing this does not see. A ``touch`` or a
    re-install changes the answer without changing the code: a miss, never a wrong hit.

    Why: hashing every source byte (:func:`code_fingerprint`'s fallback) cost about 5 ms
    of every run's start (reading some 200 files); the stat data are about 0.5 ms."""
    now = time.time_ns()
    lines = [__version__]
    try:
        for rel, st in _package_sources(str(resources.PACKAGE_DIR)):
            if now - max(st.st_mtime_ns, st.st_ctime_ns) < RACY_NS:  # also: ahead of the clock
                return None
            lines.append(
                f"{rel}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ctime_ns}\0{st.st_ino}\0{st.st_dev}"
            )
    except OSError:
        return None
    return "\n".join(lines)


def _package_sources(root: str, rel: str = "") -> list[tuple[str, os.stat_result]]:
    """(relative path, stat) of every ``.py``/``.sql`` file under ``root``, sorted, outside
    ``__pycache__``; symbolic links to directories are not followed (as ``Path.rglob``)."""
    out: list[tuple[str, os.stat_result]] = []
    with os.scandir(os.path.join(root, rel) if rel else root) as entries:
        found = sorted(entries, key=lambda e: e.name)
    for entry in found:
        path = f"{rel}/{entry.name}" if rel else entry.name
        if entry.is_dir(follow_symlinks=False):
            if entry.name != "__pycache__":
                out += _package_sources(root, path)
        elif entry.name.endswith((".py", ".sql")):
            out.append((path, entry.stat()))
    return out


@functools.cache
def code_fingerprint() -> str:
    """SHA-256 of what cached work depends on (the rule validator, the audit schema's
    tables and columns, the template filters): the version and the package's Python and
    SQL sources, as :func:`code_state` describes them, or, when it cannot (a file changed
    a moment ago), their bytes (about 5 ms)."""
    import hashlib  # loads OpenSSL (~3 ms): only a run that uses a keyed entry pays it

    state = code_state()
    if state is not None:
        return hashlib.sha256(b"stat\0" + state.encode("utf-8", "surrogateescape")).hexdigest()
    h = hashlib.sha256(__version__.encode())
    root = resources.PACKAGE_DIR
    for p in sorted(root.rglob("*")):
        if p.suffix in (".py", ".sql") and "__pycache__" not in p.parts:
            try:
                h.update(str(p.relative_to(root)).encode() + b"\0" + p.read_bytes())
            except OSError:
                continue
    return h.hexdigest()


def key(*parts: str | bytes) -> str:
    """A cache key over ``parts``, the version and the code fingerprint."""
    import hashlib  # loads OpenSSL (~3 ms): not at import (a run's start may not need it)

    h = hashlib.sha256(f"{__version__}\0{code_fingerprint()}".encode())
    for part in parts:
        h.update(b"\0" + (part.encode() if isinstance(part, str) else part))
    return h.hexdigest()


def read(subdir: str, name: str) -> bytes | None:
    """The entry's bytes, or None (missing, unreadable, no cache directory)."""
    try:
        return (cache_root() / subdir / name).read_bytes()
    except (OSError, ValueError):
        return None


def exists(subdir: str, name: str) -> bool:
    try:
        return (cache_root() / subdir / name).is_file()
    except (OSError, ValueError):
        return False


def write(subdir: str, name: str, data: bytes) -> None:
    """Store an entry whole or not at all; a cache that cannot be written is not an error."""
    tmp: Path | None = None
    try:
        directory = cache_root() / subdir
        directory.mkdir(parents=True, exist_ok=True)
        tmp = directory / f".{name}.{os.getpid()}.tmp"
        tmp.write_bytes(data)
        os.replace(tmp, directory / name)
    except (OSError, ValueError):
        if tmp is not None:
            with contextlib.suppress(OSError):
                tmp.unlink()
