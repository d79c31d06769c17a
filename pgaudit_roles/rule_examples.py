"""Each rule's documented examples, taken from its own test cases (never written twice).

Why from the cases: an example written only for the docs can be wrong and nobody notices;
a case runs on PostgreSQL 13-18 in tests/rules/test_rule_cases.py, so the "Anti-pattern"
(a ``fail`` case) and the "Best practice" (a ``pass`` case) shown in docs/rules.md are
known to fail and pass as the page says. The statement rules (PGR-LINT) take theirs from
the marker comments of the lint migration set (tests/data/lint: ``-- expect:``, ``-- pass:``
and ``-- twin:``), checked by tests/test_lint_statements.py. The fleet's own rule
(PGR-FLEET-001) has cases too: fleet inventories, run through the fleet by the same runner.

Which case: the first of its kind in the file that runs on every version and shows
something (SQL, pg_hba lines, settings, a configuration or the collecting role), else the
first that shows something, else the first. Order the case file to choose.

This reads source-checkout files (tests/), so only the docs generator uses it.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .lint.source import LineMap, parse, split_meta

KINDS = ("fail", "pass")
HEADINGS = {"fail": "Anti-pattern", "pass": "Best practice"}
SHOWN_PREFIX = "demo"
"""What ``{p}`` (the unique per-run name prefix) becomes in the docs; ``{db}`` becomes
``demo_db``, the database name the case runner would use for that prefix."""
CASES_SUBDIR = Path("tests") / "rules" / "cases"
LINT_SUBDIR = Path("tests") / "data" / "lint"
_MARK = re.compile(r"--\s*(expect|pass|twin):\s*((?:PGR-[A-Z]+-\d{3}\s*)+)")
_MARK_COMMENT = re.compile(r"[ \t]*--\s*(?:expect|pass|twin):.*$", re.M)
MAX_LINT_CONTEXT = 4
"""Statements shown before a lint example's own statement (those since the previous
marked one: the SET ROLE a check depends on, the table a grant names)."""


@dataclass(frozen=True)
class Block:
    """One fenced block of an example: what it is, its language and its text."""

    label: str
    lang: str
    text: str


@dataclass(frozen=True)
class Example:
    """A rule's failing or passing example, as the docs show it."""

    kind: str  # fail | pass
    case: str  # the case's name, or file:line of a lint statement
    source: str  # the file it comes from, relative to the checkout
    blocks: tuple[Block, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)
    versions: str = ""  # "PostgreSQL 16 and later", or "" for every version


def shown(value: Any) -> Any:
    """``value`` with the runner's placeholders replaced by readable names."""
    if isinstance(value, str):
        return value.replace("{db}", f"{SHOWN_PREFIX}_db").replace("{p}", SHOWN_PREFIX)
    if isinstance(value, dict):
        return {shown(k): shown(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shown(v) for v in value]
    return value


def load_examples(root: Path) -> dict[str, dict[str, Example]]:
    """{rule id: {"fail": Example, "pass": Example}} for every case file and lint marker
    under the checkout ``root`` (a kind without a case is simply absent)."""
    out: dict[str, dict[str, Example]] = {}
    cases_dir = root / CASES_SUBDIR
    for path in sorted(cases_dir.glob("*.toml")) if cases_dir.is_dir() else []:
        out[path.stem] = case_file_examples(path, root)
    lint_dir = root / LINT_SUBDIR
    if lint_dir.is_dir():
        for rid, found in lint_examples(lint_dir, root).items():
            out.setdefault(rid, {}).update(found)
    return out


# --- rule cases (tests/rules/cases/<ID>.toml) ---------------------------------------------


def case_file_examples(path: Path, root: Path) -> dict[str, Example]:
    """The chosen fail and pass examples of one case file (format: tests/rules/caseload.py,
    which validates it; this only reads it)."""
    cases = tomllib.loads(path.read_text(encoding="utf-8")).get("case", [])
    rel = _relative(path, root)
    out: dict[str, Example] = {}
    for kind in KINDS:
        mine = [c for c in cases if isinstance(c, dict) and c.get("expect") == kind]
        if not mine:
            continue
        every = [c for c in mine if "min_version" not in c and "max_version" not in c]
        showing = [c for c in every if _blocks(c)] or [c for c in mine if _blocks(c)]
        out[kind] = case_example(showing[0] if showing else mine[0], rel)
    return out


def case_example(case: Mapping[str, Any], source: str) -> Example:
    """One case as a documented example."""
    notes: list[str] = []
    if case.get("collect_as") == "auditor" and case.get("hba") is None:
        if "{p}_auditor" in str(case.get("cluster_setup", "")):
            notes.append(f"Collected as `{SHOWN_PREFIX}_auditor`, the login role created above.")
    if case.get("hba") is not None:
        notes.append("The pg_hba lines are read as `--hba-file`, by a `pg_monitor` member.")
    if "{closed_port}" in str(case.get("inventory") or ""):
        notes.append(
            f"No server listens on port {SHOWN_CLOSED_PORT} (the test picks a free local port)."
        )
    if case.get("connect_to"):
        notes.append(
            f"The collector connects to database `{shown(case['connect_to'])}` and "
            "reads it and the case's database."
        )
    if case.get("expect") == "fail" and case.get("match"):
        notes.append("Reported: " + _describe_match(shown(case["match"])) + ".")
    lo, hi = case.get("min_version"), case.get("max_version")
    versions = ""
    if lo and hi:
        versions = f"PostgreSQL {lo} to {hi}"
    elif lo:
        versions = f"PostgreSQL {lo} and later"
    elif hi:
        versions = f"PostgreSQL {hi} and earlier"
    return Example(
        kind=str(case.get("expect")),
        case=str(case.get("name", "")),
        source=source,
        blocks=tuple(_blocks(case)),
        notes=tuple(notes),
        versions=versions,
    )


def _blocks(case: Mapping[str, Any]) -> list[Block]:
    out: list[Block] = []
    if (
        case.get("collect_as") == "auditor"
        and case.get("hba") is None
        and "{p}_auditor" not in str(case.get("cluster_setup", ""))
    ):
        # what the case runner sets up for collect_as = "auditor" (ensure_auditor)
        out.append(
            Block(
                "The collecting role: a `pg_monitor` member without the pg_hba "
                "grants of `bootstrap-sql`",
                "sql",
                "CREATE ROLE auditor LOGIN;\nGRANT pg_monitor TO auditor;",
            )
        )
    if str(case.get("cluster_setup", "")).strip():
        out.append(
            Block("Cluster-wide, as a superuser", "sql", _dedent(shown(case["cluster_setup"])))
        )
    if str(case.get("setup", "")).strip():
        out.append(
            Block(
                f"In the audited database (`{SHOWN_PREFIX}_db`), as a superuser",
                "sql",
                _dedent(shown(case["setup"])),
            )
        )
    if case.get("settings"):
        lines = [f"{k} = {_conf_value(str(v))}" for k, v in shown(case["settings"]).items()]
        out.append(Block("Server settings (postgresql.conf)", "ini", "\n".join(lines)))
    if case.get("hba") is not None and str(case["hba"]).strip():
        out.append(Block("pg_hba.conf", "text", _dedent(shown(case["hba"]))))
    if case.get("config"):
        out.append(
            Block("Configuration (pgaudit-roles.toml)", "toml", toml_text(shown(case["config"])))
        )
    if str(case.get("inventory") or "").strip():
        out.append(
            Block(
                "Fleet inventory, run with `pgaudit-roles fleet`",
                "toml",
                shown_inventory(case["inventory"], case.get("collect_as") == "auditor"),
            )
        )
    return out


SHOWN_PORT, SHOWN_CLOSED_PORT = "5432", "5433"
"""What a fleet case's ``{port}`` (the test server's) and ``{closed_port}`` (a free local
port, where no server listens) become in the docs."""


def shown_inventory(text: str, auditor: bool) -> str:
    """A fleet case's inventory with the runner's placeholders replaced by readable values
    (tests/rules/caseload.py): ``{host}`` is the test server's socket directory there."""
    for name, value in (
        ("{host}", "127.0.0.1"),
        ("{port}", SHOWN_PORT),
        ("{closed_port}", SHOWN_CLOSED_PORT),
        ("{user}", "auditor" if auditor else "postgres"),
    ):
        text = text.replace(name, value)
    return _dedent(shown(text))


def _describe_match(match: Mapping[str, Any]) -> str:
    parts: list[str] = []
    for key, value in match.items():
        if key == "details" and isinstance(value, Mapping):
            parts += [f"{k} {code(_plain(v))}" for k, v in value.items()]
        elif key == "message_contains":
            parts.append(f"a message containing {code(str(value))}")
        else:
            parts.append(f"{key.replace('_', ' ')} {code(_plain(value))}")
    return ", ".join(parts)


def _plain(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ", ".join(_plain(v) for v in value)
    return str(value)


def code(text: str) -> str:
    """``text`` as a Markdown code span, whatever backticks or line breaks it holds."""
    text = text.replace("\r", " ").replace("\n", " ")
    ticks = max((len(m) for m in re.findall(r"`+", text)), default=0) + 1
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return f"{'`' * ticks}{pad}{text}{pad}{'`' * ticks}"


def _conf_value(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def _dedent(text: str) -> str:
    import textwrap

    return textwrap.dedent(text.strip("\n")).strip()


def toml_text(table: Mapping[str, Any]) -> str:
    """A small TOML writer for case configurations: nested tables of strings, numbers,
    booleans and lists (what ``config`` holds); a test reads it back with tomllib."""
    lines: list[str] = []

    def emit(prefix: list[str], tbl: Mapping[str, Any]) -> None:
        scalars = [(k, v) for k, v in tbl.items() if not isinstance(v, Mapping)]
        tables = [(k, v) for k, v in tbl.items() if isinstance(v, Mapping)]
        if prefix and (scalars or not tables):
            if lines:
                lines.append("")
            lines.append("[" + ".".join(_toml_key(p) for p in prefix) + "]")
        lines.extend(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in scalars)
        for k, v in tables:
            emit([*prefix, k], v)

    emit([], table)
    return "\n".join(lines)


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else _toml_value(key)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return (
            "{ " + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + " }"
        )
    return json.dumps(str(value), ensure_ascii=False)  # a JSON string is a TOML basic string


# --- statement rules (tests/data/lint) ----------------------------------------------------


@dataclass
class _Stmt:
    first: int
    last: int
    text: str
    marks: list[tuple[str, str]]  # (expect | pass | twin, rule id)


def lint_examples(lint_dir: Path, root: Path) -> dict[str, dict[str, Example]]:
    """The first ``expect`` (else ``twin``) marker of each rule as its failing example and
    the first ``pass`` marker as its passing one, in file order."""
    out: dict[str, dict[str, Example]] = {}
    twin: dict[str, Example] = {}
    for path in sorted(lint_dir.rglob("*.sql")):
        stmts = _marked_statements(path, root)
        for i, st in enumerate(stmts):
            for mark, rid in st.marks:
                kind = "pass" if mark == "pass" else "fail"
                start = i
                while start > 0 and not stmts[start - 1].marks and i - start < MAX_LINT_CONTEXT:
                    start -= 1
                text = ";\n".join(s.text for s in stmts[start : i + 1]) + ";"
                ex = Example(
                    kind=kind,
                    case=f"{_relative(path, root)}:{st.first}",
                    source=_relative(path, root),
                    blocks=(Block("Migration", "sql", text),),
                )
                if mark == "twin":
                    twin.setdefault(rid, ex)
                else:
                    out.setdefault(rid, {}).setdefault(kind, ex)
    for rid, ex in twin.items():
        out.setdefault(rid, {}).setdefault("fail", ex)
    return out


def _marked_statements(path: Path, root: Path) -> list[_Stmt]:
    """The file's statements with their line span and the markers on those lines."""
    text = path.read_text(encoding="utf-8")
    marks: dict[int, list[tuple[str, str]]] = {}
    for no, line in enumerate(text.splitlines(), 1):
        for m in _MARK.finditer(line):
            marks.setdefault(no, []).extend((m.group(1), rid) for rid in m.group(2).split())
    blanked, _metas = split_meta(text)
    lines = LineMap(blanked)
    out: list[_Stmt] = []
    for off, (_node, _start, stext) in parse(blanked, _relative(path, root), lines):
        first = lines.position(off)[0]
        last = first + stext.count("\n")
        # a marker comment after the statement's semicolon is on its last line
        found = [m for no in range(first, last + 1) for m in marks.get(no, [])]
        clean = _MARK_COMMENT.sub("", stext).rstrip()
        out.append(_Stmt(first, last, clean, found))
    return out


def _relative(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()
