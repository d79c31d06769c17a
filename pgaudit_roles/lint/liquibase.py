"""Liquibase ``dbms`` filters: a changeset or SQL file for another database is not linted.

Why: a Liquibase project often carries the same change for several databases
(``--changeset ann:7 dbms:oracle`` next to ``--changeset ann:7-pg dbms:postgresql``, or
``<sqlFile path="oracle/grants.sql" dbms="oracle"/>`` in the changelog). Liquibase runs
on PostgreSQL only what is for ``postgresql``; linting the rest as PostgreSQL reported
Oracle syntax as a parse error or Oracle grants as PostgreSQL findings, and the twin
applied them.

A ``dbms`` value is a comma-separated list (Liquibase's rules): ``all`` and ``none``,
database short names (``postgresql``), and ``!name`` to exclude one. It applies to
PostgreSQL when it names ``postgresql`` or ``all``, or when it only excludes other
databases. Filters read here: the ``dbms:`` attribute of a formatted SQL file's
``--changeset`` line (its statements are blanked, lines kept, so every other line keeps
its number), and in XML, JSON and YAML changelogs the ``dbms`` of an ``include``,
``sqlFile`` or of the ``changeSet`` around a ``sqlFile`` (those files are not run).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

POSTGRES = "postgresql"
_CHANGESET = re.compile(r"^--[ \t]*changeset[ \t]+(\S+)(.*)$", re.IGNORECASE | re.MULTILINE)
_DBMS_ATTR = re.compile(r"(?:^|\s)dbms:(\S+)", re.IGNORECASE)
_HEAD = re.compile(r"\A(?:\s*\n)*\s*--\s*liquibase\s+formatted\s+sql", re.IGNORECASE)


def is_formatted(text: str) -> bool:
    """A Liquibase formatted SQL file (its first line says so)."""
    return _HEAD.match(text) is not None


def dbms_applies(value: str | None) -> bool:
    """Whether a Liquibase ``dbms`` value lets the change run on PostgreSQL."""
    if value is None:
        return True
    names = [n.strip().lower() for n in value.split(",") if n.strip()]
    if not names:
        return True
    if f"!{POSTGRES}" in names or "none" in names:
        return False
    positive = [n for n in names if not n.startswith("!")]
    return not positive or POSTGRES in positive or "all" in positive


def for_postgres(text: str) -> tuple[str, list[tuple[int, str, str]]]:
    """``text`` (a formatted SQL file) with every changeset for another database blanked
    (lines kept), and [(line, changeset id, dbms value)] of the blanked ones."""
    marks = list(_CHANGESET.finditer(text))
    if not marks:
        return text, []
    out, skipped, pos = [], [], 0
    for i, m in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
        attr = _DBMS_ATTR.search(m.group(2))
        if attr is None or dbms_applies(attr.group(1)):
            continue
        out.append(text[pos : m.start()])
        out.append(re.sub(r"[^\r\n]", " ", text[m.start() : end]))
        pos = end
        skipped.append((text[: m.start()].count("\n") + 1, m.group(1), attr.group(1)))
    out.append(text[pos:])
    return "".join(out), skipped


def excluded_references(changelog: Path) -> dict[str, str]:
    """File references (as written) that a changelog runs only on other databases, with
    the ``dbms`` value that excludes them. Unreadable or malformed files exclude nothing
    (the order then falls back to the files' natural order, as before)."""
    try:
        text = changelog.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return {}
    suffix = changelog.suffix.lower()
    if suffix == ".xml":
        return _from_xml(text)
    if suffix == ".json":
        try:
            return _from_tree(json.loads(text), None)
        except ValueError:
            return {}
    return _from_yaml(text)


def _from_xml(text: str) -> dict[str, str]:
    import xml.etree.ElementTree as ET

    try:
        root = ET.fromstring(text)
    except ET.ParseError:
        return {}
    out: dict[str, str] = {}

    def visit(el: Any, inherited: str | None) -> None:
        tag = el.tag.rsplit("}", 1)[-1] if isinstance(el.tag, str) else ""
        dbms = el.get("dbms") or inherited
        if tag in ("include", "sqlFile"):
            ref = el.get("file") or el.get("path")
            if ref and not dbms_applies(dbms):
                out[ref] = str(dbms)
        for child in el:
            visit(child, dbms if tag == "changeSet" else inherited)

    visit(root, None)
    return out


def _from_tree(node: Any, inherited: str | None) -> dict[str, str]:
    """JSON (and YAML read as the same shape): ``changeSet`` maps carry ``dbms`` for the
    ``sqlFile`` entries of their ``changes``; ``include``/``sqlFile`` maps their own."""
    out: dict[str, str] = {}
    if isinstance(node, list):
        for item in node:
            out.update(_from_tree(item, inherited))
    elif isinstance(node, dict):
        for key, value in node.items():
            if key in ("include", "sqlFile") and isinstance(value, dict):
                dbms = value.get("dbms") or inherited
                ref = value.get("file") or value.get("path")
                if isinstance(ref, str) and not dbms_applies(dbms):
                    out[ref] = str(dbms)
            elif key == "changeSet" and isinstance(value, dict):
                out.update(_from_tree(value.get("changes"), value.get("dbms") or inherited))
            else:
                out.update(_from_tree(value, inherited))
    return out


_YAML_KEY = re.compile(r"^(\s*)(-\s+)?([A-Za-z]+):\s*(.*?)\s*$")


def _from_yaml(text: str) -> dict[str, str]:
    """The block-style YAML changelogs Liquibase writes (no YAML parser is a dependency):
    each ``changeSet``/``include``/``sqlFile`` key opens a block that runs while lines are
    indented deeper; ``dbms``, ``path`` and ``file`` are read from the blocks."""
    out: dict[str, str] = {}
    stack: list[tuple[int, str, dict[str, str]]] = []  # (indent, kind, fields)

    def close(indent: int) -> None:
        while stack and stack[-1][0] >= indent:
            _i, kind, fields = stack.pop()
            if kind in ("include", "sqlFile"):
                ref = fields.get("file") or fields.get("path")
                dbms = fields.get("dbms") or next(
                    (f.get("dbms") for _j, k, f in reversed(stack) if k == "changeSet"), None
                )
                if ref and not dbms_applies(dbms):
                    out[ref] = str(dbms)

    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        m = _YAML_KEY.match(line)
        if m is None:
            continue
        indent = len(m.group(1)) + len(m.group(2) or "")
        key, value = m.group(3), m.group(4).strip("'\"")
        if key in ("changeSet", "include", "sqlFile"):
            close(indent)
            stack.append((indent, key, {}))
        else:
            close(indent)  # a key no deeper than an open block's ends that block
            if stack and key in ("dbms", "path", "file"):
                stack[-1][2][key] = value
    close(-1)
    return out
