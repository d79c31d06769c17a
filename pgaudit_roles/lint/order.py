"""The order migrations run in: the migration tool's, recognised from the directory.

Why it matters: the effect layer applies files in this order, and a statement check that
depends on state (``SET ROLE``, a SECURITY DEFINER function created earlier) sees the
files in this order too. Files named on the command line keep the order given;
directories are expanded by the first layout that matches:

- sqitch: a ``sqitch.plan`` (changes in plan order, ``deploy/<change>.sql``);
- Liquibase formatted SQL: files starting ``--liquibase formatted sql``, in the order of a
  master changelog's ``include``s when there is one, else natural sort;
- Flyway: ``V<version>__<name>.sql`` by version compared numerically part by part
  (``V1_10`` after ``V1_9``), then ``R__<name>.sql`` repeatables by name; undo (``U``)
  files are not run; SQL callbacks (``beforeMigrate.sql``, ``afterMigrate__grants.sql``)
  where ``migrate`` runs them;
- golang-migrate: ``<n>_<name>.up.sql`` by number, ``.down.sql`` not run;
- dbmate: ``<n>_<name>.sql`` holding ``-- migrate:up``, by number, the ``migrate:down``
  part not run;
- goose and sql-migrate: ``<n>_<name>.sql`` holding ``-- +goose Up`` (``-- +migrate Up``),
  by number, the Down sections not run (``source.up_only``);
- otherwise every ``*.sql`` under the directory in natural sort order (``2_x`` before
  ``10_x``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from ..core.errors import UsageError
from .liquibase import excluded_references

_FLYWAY = re.compile(
    r"^(?P<kind>[VRU])(?P<version>[0-9][0-9._]*)?__(?P<name>.+)\.sql$", re.IGNORECASE
)
_MIGRATE = re.compile(r"^(?P<n>\d+)_(?P<name>.+)\.(?P<dir>up|down)\.sql$", re.IGNORECASE)
_NUMBERED = re.compile(r"^(?P<n>\d+)[_-].*\.sql$", re.IGNORECASE)
_BOM = rb"(?:\xef\xbb\xbf)?"  # a byte order mark before the first line's marker
_LIQUIBASE_HEAD = re.compile(
    rb"\A" + _BOM + rb"(?:\s*\n)*\s*--\s*liquibase\s+formatted\s+sql", re.IGNORECASE
)
_DBMATE_UP = re.compile(rb"^" + _BOM + rb"--\s*migrate:up\b", re.MULTILINE)
_GOOSE_UP = re.compile(rb"^" + _BOM + rb"--[ \t]*\+goose[ \t]+up\b", re.MULTILINE | re.I)
_SQL_MIGRATE_UP = re.compile(rb"^" + _BOM + rb"--[ \t]*\+migrate[ \t]+up\b", re.MULTILINE | re.I)


@dataclass
class Ordered:
    """The files to run, in order, and how the order was decided per directory."""

    files: list[Path] = field(default_factory=list)
    layouts: list[tuple[str, str]] = field(default_factory=list)  # (directory, layout)
    dbmate: set[Path] = field(default_factory=set)
    skipped: list[tuple[Path, str]] = field(default_factory=list)  # (file, why not run)


def natural_key(text: str) -> list[tuple[int, int | str]]:
    """``V2`` < ``V10``; digits compare as numbers, the rest case-insensitively."""
    return [
        (0, int(part)) if part.isdigit() else (1, part.lower())
        for part in re.split(r"(\d+)", text)
        if part
    ]


def order_paths(paths: list[Path]) -> Ordered:
    """Expand and order ``paths`` (files as given, directories by their layout)."""
    out = Ordered()
    for p in paths:
        if p.is_dir():
            layout, files = order_directory(p)
            other_dbms = liquibase_excluded(p, files)
            out.skipped += [(f, f"Liquibase runs it only on dbms {v}") for f, v in other_dbms]
            files = [f for f in files if f not in {f for f, _v in other_dbms}]
            out.layouts.append((p.as_posix(), layout))
            if layout == "dbmate":
                out.dbmate.update(f.resolve() for f in files)
            out.files += files
        elif p.is_file():
            out.files.append(p)
            if _DBMATE_UP.search(_head(p, 1 << 16)):
                out.dbmate.add(p.resolve())
        else:
            raise UsageError(f"{p}: no such file or directory")
    seen: set[Path] = set()
    unique = []
    for f in out.files:
        key = f.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(f)
    out.files = unique
    return out


def order_directory(d: Path) -> tuple[str, list[Path]]:
    """(layout name, ordered files) for one directory."""
    plan = d / "sqitch.plan"
    if plan.is_file():
        return "sqitch", sqitch_order(d, plan)
    sql = sorted(
        (p for p in d.rglob("*.sql") if p.is_file()),
        key=lambda p: natural_key(p.relative_to(d).as_posix()),
    )
    if not sql:
        raise UsageError(f"{d}: no .sql files")
    liquibase = [p for p in sql if _LIQUIBASE_HEAD.match(_head(p))]
    if liquibase and len(liquibase) == len(sql):
        return "liquibase", liquibase_order(d, liquibase)
    flyway = [p for p in sql if _FLYWAY.match(p.name)]
    callbacks = [p for p in sql if _FLYWAY_CALLBACK.match(p.name)]
    if flyway and len(flyway) + len(callbacks) == len(sql):
        return "flyway", flyway_callbacks(flyway_order(flyway), callbacks)
    migrate = [p for p in sql if _MIGRATE.match(p.name)]
    if migrate and len(migrate) == len(sql):
        ups = [p for p in migrate if _MIGRATE.match(p.name).group("dir").lower() == "up"]  # type: ignore[union-attr]
        return "golang-migrate", sorted(ups, key=lambda p: (_num(_MIGRATE, p), p.name))
    numbered = [p for p in sql if _NUMBERED.match(p.name)]
    if (
        numbered
        and len(numbered) == len(sql)
        and all(_DBMATE_UP.search(_head(p, 1 << 16)) for p in sql)
    ):
        return "dbmate", sorted(numbered, key=lambda p: (_num(_NUMBERED, p), p.name))
    for name, marker in (("goose", _GOOSE_UP), ("sql-migrate", _SQL_MIGRATE_UP)):
        if (
            numbered
            and len(numbered) == len(sql)
            and all(marker.search(_head(p, 1 << 16)) for p in sql)
        ):
            return name, sorted(numbered, key=lambda p: (_num(_NUMBERED, p), p.name))
    return "natural", sql


def _num(rx: re.Pattern[str], p: Path) -> int:
    m = rx.match(p.name)
    assert m is not None
    return int(m.group("n"))


def _head(p: Path, size: int = 512) -> bytes:
    try:
        with open(p, "rb") as fh:
            return fh.read(size)
    except OSError:
        return b""


def flyway_version(text: str) -> tuple[int, ...]:
    """``1.10`` / ``1_10`` -> (1, 10): Flyway compares versions part by part, numerically."""
    return tuple(int(x) for x in re.split(r"[._]", text) if x != "")


def flyway_order(files: list[Path]) -> list[Path]:
    versioned, repeatable = [], []
    for p in files:
        m = _FLYWAY.match(p.name)
        assert m is not None
        kind = m.group("kind").upper()
        if kind == "V":
            if not m.group("version"):
                raise UsageError(f"{p}: Flyway versioned migration without a version")
            versioned.append((flyway_version(m.group("version")), p))
        elif kind == "R":
            repeatable.append((m.group("name").lower(), p))
        # U (undo) migrations are not part of a forward run
    seen: dict[tuple[int, ...], Path] = {}
    for v, p in versioned:
        v_norm = _strip_zeros(v)
        if v_norm in seen:
            raise UsageError(
                f"{p}: Flyway version {'.'.join(map(str, v))} also used by {seen[v_norm].name}"
            )
        seen[v_norm] = p
    return [p for _v, p in sorted(versioned, key=lambda x: _strip_zeros(x[0]))] + [
        p for _n, p in sorted(repeatable)
    ]


_FLYWAY_CALLBACK = re.compile(
    r"^(?P<event>(?:before|after)[A-Z][A-Za-z]*|createSchema)(?:__.*)?\.sql$"
)
_FLYWAY_FORWARD = {
    # event -> its place in a migrate run (5 is the repeatables)
    "beforeMigrate": 0,
    "beforeEachMigrate": 1,
    "afterEachMigrate": 2,
    "afterVersioned": 3,
    "beforeRepeatables": 4,
    "afterMigrate": 6,
    "afterMigrateApplied": 7,
}


def flyway_callbacks(migrations: list[Path], callbacks: list[Path]) -> list[Path]:
    """Flyway's SQL callbacks where a successful ``flyway migrate`` runs them:
    beforeMigrate, then the versioned migrations (beforeEachMigrate and afterEachMigrate are
    run once, around them all: a file is listed once), afterVersioned, beforeRepeatables,
    the repeatables, afterMigrate and afterMigrateApplied. The other events (clean, info,
    validate, undo, errors, per-statement) are not part of that run and are left out."""
    slots: dict[int, list[Path]] = {}
    for p in sorted(callbacks, key=lambda p: p.name):
        m = _FLYWAY_CALLBACK.match(p.name)
        assert m is not None
        slot = _FLYWAY_FORWARD.get(m.group("event"))
        if slot is not None:
            slots.setdefault(slot, []).append(p)
    versioned = [p for p in migrations if p.name[:1].upper() == "V"]
    repeatable = [p for p in migrations if p.name[:1].upper() == "R"]
    order = (
        slots.get(0, [])
        + slots.get(1, [])
        + versioned
        + slots.get(2, [])
        + slots.get(3, [])
        + slots.get(4, [])
        + repeatable
        + slots.get(6, [])
        + slots.get(7, [])
    )
    return order


def _strip_zeros(v: tuple[int, ...]) -> tuple[int, ...]:
    out = list(v)
    while len(out) > 1 and out[-1] == 0:
        out.pop()
    return tuple(out)


def sqitch_order(d: Path, plan: Path) -> list[Path]:
    """``deploy/<change>.sql`` in ``sqitch.plan`` order (pragmas, tags and notes skipped);
    a reworked change runs its latest script once, where it was last planned."""
    names: list[str] = []
    for raw in plan.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith(("%", "#", "@")):
            continue
        name = line.split()[0]
        if name in names:
            names.remove(name)
        names.append(name)
    top = d / "deploy"
    out = []
    for name in names:
        p = top / f"{name}.sql"
        if not p.is_file():
            raise UsageError(f"{plan}: change {name!r} has no {p}")
        out.append(p)
    return out


_INCLUDE = re.compile(r"""(?:file|path)\s*[:=]\s*["']?([^"'\s,}>]+\.sql)""", re.IGNORECASE)


def _changelogs(d: Path) -> list[Path]:
    return sorted(
        p
        for ext in ("xml", "yaml", "yml", "json")
        for p in d.rglob(f"*.{ext}")
        if "changelog" in p.name.lower()
    )


def liquibase_excluded(d: Path, files: list[Path]) -> list[tuple[Path, str]]:
    """(file, dbms value) for the files a Liquibase changelog under ``d`` runs only on
    other databases (``liquibase.excluded_references``; any layout: ``sqlFile`` targets are
    often plain SQL). A reference matches a file by its path, never by its name alone
    (``oracle/grants.sql`` is not ``pg/grants.sql``)."""
    out: list[tuple[Path, str]] = []
    for master in _changelogs(d):
        for ref, dbms in excluded_references(master).items():
            ref = ref.replace("\\", "/").lstrip("./")
            for f in files:
                rel = f.relative_to(d).as_posix()
                if (rel == ref or rel.endswith("/" + ref) or ref.endswith("/" + rel)) and all(
                    f != g for g, _v in out
                ):
                    out.append((f, dbms))
    return out


def liquibase_order(d: Path, files: list[Path]) -> list[Path]:
    """The master changelog's ``include file:`` order when a changelog names the files;
    files it does not name follow in natural order."""
    by_rel = {p.relative_to(d).as_posix(): p for p in files}
    by_name = {p.name: p for p in files}
    masters = _changelogs(d)
    ordered: list[Path] = []
    for master in masters:
        for m in _INCLUDE.finditer(master.read_text(encoding="utf-8", errors="replace")):
            ref = m.group(1).lstrip("./")
            p = by_rel.get(ref) or by_name.get(Path(ref).name)
            if p is None:
                for rel, cand in by_rel.items():
                    if ref.endswith(rel):
                        p = cand
                        break
            if p is not None and p not in ordered:
                ordered.append(p)
    return ordered + [p for p in files if p not in ordered]
