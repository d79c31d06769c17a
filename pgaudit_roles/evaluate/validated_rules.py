"""Which rule files can skip query and template validation when they are loaded.

Why: validating a rule (sqlglot parse, DuckDB binding against an empty audit schema,
Jinja2 and remediation template checks) cost about 2-4 s per run for the 53 built-in rule
queries, paid by every command that loads the rules, for files that cannot change between
runs of one installed version. So:

- **Built-in rules** are validated by the test suite and listed, with the SHA-256 of each
  file and the tool version, in ``rules/validated.json`` (the *manifest*, shipped with the
  rules). At load time a built-in file whose hash is in the manifest of this version skips
  validation; any other built-in file (edited, tampered with, a manifest of another
  version) is validated as before. ``python -m pgaudit_roles.evaluate.rule_manifest``
  rewrites the manifest after validating every built-in rule in full (``docgen`` runs it too), and
  ``--check`` exits 1 when it is stale (a test runs it, like the README check).
- **User rules** (``--rules-dir``, ``rules_dirs`` in the config) are validated when loaded,
  and a success is remembered in the user's cache directory (platformdirs, so
  ``XDG_CACHE_HOME`` is honoured) under a key of the file's bytes, the tool version and a
  fingerprint of the package's own code (a development checkout changes the validator or
  the audit schema without changing the version). Only successes are cached: a broken
  rule is validated at every load and fails with the same message. A cache that cannot be
  read or written is ignored.

The structural checks of ``rules.rule_from_mapping`` (keys, types, ids, severities) are
cheap and always run.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

from .. import __version__
from ..core import resources
from ..core.usercache import cache_root, exists, key, write

MANIFEST_NAME = "validated.json"
MANIFEST_FORMAT = "pgaudit-roles/validated-rules"
CACHE_SUBDIR = "validated-rules"


def digest(data: bytes) -> str:
    """SHA-256 of a rule file's bytes, hex."""
    import hashlib  # loads OpenSSL (~3 ms): a run whose rules come from the cache never asks

    return hashlib.sha256(data).hexdigest()


# --- built-in rules: the manifest ------------------------------------------------------------


def manifest_path(rules_dir: Path | None = None) -> Path:
    return (rules_dir or resources.rules_dir()) / MANIFEST_NAME


@functools.cache
def _manifest(path: Path) -> dict[str, str]:
    """{file name: sha256} of a manifest written by this version; empty when missing,
    unreadable or of another version (then every built-in rule is validated)."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return {}
    if (
        not isinstance(doc, dict)
        or doc.get("format") != MANIFEST_FORMAT
        or doc.get("version") != __version__
        or not isinstance(doc.get("rules"), dict)
    ):
        return {}
    return {str(k): str(v) for k, v in doc["rules"].items()}


def builtin_is_validated(path: Path, file_digest: str) -> bool:
    """Whether the built-in rule file at ``path`` is the one the manifest lists."""
    return _manifest(manifest_path(path.parent)).get(path.name) == file_digest


# --- user rules: the cache -------------------------------------------------------------------


def cache_dir() -> Path:
    """``<user cache dir>/pgaudit-roles/validated-rules`` (XDG_CACHE_HOME on Linux)."""
    return cache_root() / CACHE_SUBDIR


def _cache_key(file_digest: str) -> str:
    return key("rule", file_digest)


def user_is_validated(file_digest: str) -> bool:
    """Whether a user rule file with these bytes passed validation before (same code)."""
    return exists(CACHE_SUBDIR, _cache_key(file_digest))


def remember_user_validated(file_digest: str) -> None:
    """Record a successful validation; a cache that cannot be written is not an error."""
    write(CACHE_SUBDIR, _cache_key(file_digest), f"{__version__}\n".encode())
