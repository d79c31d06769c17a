"""The user's cache directory: work that depends only on our code and an input's bytes.

Three things are kept there (``<user cache dir>/pgaudit-roles/``, platformdirs, so
``XDG_CACHE_HOME`` is honoured on Linux): which user rule files passed validation
(``validated_rules``), rule files' parsed TOML as JSON (``rules.parse_toml``) and the
compiled Python code of message and remediation templates (``template_cache``). Keys always include the tool version and :func:`code_fingerprint`,
so any change to the package (a development checkout changes code without changing the
version) starts from an empty cache.

The cache is an optimisation only: an entry that cannot be read is a miss, one that cannot
be written is skipped, and nothing is ever reported about it. It holds no snapshot data,
only hashes, parsed rule files and compiled templates of rule files. Entries are written to a temporary name
and renamed, so parallel runs never see half an entry.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
from pathlib import Path

from .. import __version__
from . import resources


def cache_root() -> Path:
    """``<user cache dir>/pgaudit-roles`` (``$XDG_CACHE_HOME/pgaudit-roles`` on Linux)."""
    import platformdirs

    return Path(platformdirs.user_cache_dir("pgaudit-roles", appauthor=False))


@functools.cache
def code_fingerprint() -> str:
    """SHA-256 over the version and the package's Python and SQL sources: what cached work
    depends on (the rule validator, the audit schema's tables and columns, the template
    filters). About 5 ms, computed only when the cache is used."""
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
