"""Where the shipped data lives: rule files, report templates, JSON schemas.

In a built wheel, ``rules/`` and ``reports/templates/`` are copied into
``pgaudit_roles/_data/``; in a source checkout (editable install) they are read from the
repository's top level. Both layouts are supported so tests exercise the same code path
that users run.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent.parent
_DATA = PACKAGE_DIR / "_data"
_REPO = PACKAGE_DIR.parent


def _pick(packaged: Path, source: Path) -> Path:
    return packaged if packaged.is_dir() else source


def rules_dir() -> Path:
    """Directory of the built-in rule files (one TOML file per rule)."""
    return _pick(_DATA / "rules", _REPO / "rules")


def frameworks_dir() -> Path:
    """Compliance mappings (requirement -> rules), shipped beside the rules."""
    return rules_dir() / "frameworks"


def templates_dir() -> Path:
    """Jinja2 templates for the reports."""
    return _pick(_DATA / "templates", _REPO / "reports" / "templates")


def schemas_dir() -> Path:
    """JSON Schemas shipped inside the package (the JSON report's schema)."""
    return PACKAGE_DIR / "schemas"
