"""Validate a snapshot document before anything trusts it: shapes, types, NULLs, duplicates.

Why a module of its own: a snapshot is a file, and a file can be truncated, edited or
forged. A loader that takes rows on faith turns a damaged file into wrong answers (an
ACL row cut to ``[1]`` silently loses the findings built on it) or into a crash deep in
DuckDB. Every problem found here is one UsageError (exit 2) naming the file and the
place in it (``cluster.roles.rows[3].name``), never a traceback and never a partial load.

Checked: the document's keys and their types, each table's column list, every in-memory
row's length, each value's type for its column's DuckDB type (integers in range, no
floats, no NaN, booleans as booleans, arrays of text), NULL where a column must have a
value (OIDs, names, privileges), NUL characters in text, and duplicate OIDs among roles
and databases. Parquet members of an archive are checked by their schema (column names
and types) with DuckDB, which reads only the files' footers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..core.errors import UsageError
from .columnfile import duckdb_literal, run_on_reader

INT64 = (-(2**63), 2**63 - 1)
INT32 = (-(2**31), 2**31 - 1)

NOT_NULL: dict[str, frozenset[str]] = {
    "roles": frozenset({"oid", "name"}),
    "memberships": frozenset({"role_oid", "member_oid"}),
    "db_role_settings": frozenset({"database_oid", "role_oid"}),
    "databases": frozenset({"oid", "name"}),
    "tablespaces": frozenset({"oid", "name"}),
    "shared_acl": frozenset({"object_class", "object_oid", "grantee_oid", "privilege"}),
    "settings": frozenset({"name"}),
    "hba_rules": frozenset(),
    "schemas": frozenset({"oid", "name"}),
    "objects": frozenset({"object_class", "oid", "name"}),
    "columns": frozenset({"table_oid", "attnum", "name"}),
    "acl": frozenset({"object_class", "object_oid", "grantee_oid", "privilege"}),
    "default_acls": frozenset({"oid", "creator_oid", "objtype"}),
    "functions": frozenset({"oid"}),
    "extensions": frozenset({"oid", "name"}),
}
"""Columns that must hold a value (identities, names, the privilege of a grant): a NULL
there is a damaged file, not a fact. Attributes may be NULL (unknown)."""

DB_STATUSES = ("collected", "not_collected")

# meta keys other modules read, and the JSON types each may have (None = may be null)
META_TYPES: dict[str, tuple[type, ...]] = {
    "server_version_num": (int,),
    "server_version": (str,),
    "collected_at": (str,),
    "connected_user": (str,),
    "is_superuser": (bool,),
    "target": (dict,),
    "sources": (dict,),
    "databases_requested": (list,),
    "tool_version": (str,),
    "capabilities": (dict,),
    "server_encoding": (str,),
    "duration_seconds": (int, float),
}

Check = Callable[[Any], str | None]


def _int_check(lo: int, hi: int, what: str) -> Check:
    def check(v: Any) -> str | None:
        if type(v) is not int:
            return f"expected {what}, got {_kind(v)}"
        if not lo <= v <= hi:
            return f"{what} {v} out of range"
        return None

    return check


def _text(v: Any) -> str | None:
    if type(v) is not str:
        return f"expected text, got {_kind(v)}"
    if "\x00" in v:
        return "text holds a NUL character"
    return None


def _bool(v: Any) -> str | None:
    return None if type(v) is bool else f"expected true/false, got {_kind(v)}"


def _text_array(v: Any) -> str | None:
    if type(v) is not list:
        return f"expected a list of text, got {_kind(v)}"
    for item in v:
        if item is not None and (type(item) is not str or "\x00" in item):
            return f"expected a list of text, holds {_kind(item)}"
    return None


CHECKS: dict[str, Check] = {
    "BIGINT": _int_check(*INT64, "an integer"),
    "INTEGER": _int_check(*INT32, "a 32-bit integer"),
    "VARCHAR": _text,
    "BOOLEAN": _bool,
    "VARCHAR[]": _text_array,
}


def _array_of(inner: Check, what: str) -> Check:
    def check(v: Any) -> str | None:
        if type(v) is not list:
            return f"expected a list of {what}, got {_kind(v)}"
        for item in v:
            if item is not None and inner(item):
                return f"expected a list of {what}, holds {_kind(item)}"
        return None

    return check


def check_for(duck_type: str) -> Check:
    """The value check of a DuckDB column type (any ``T[]`` is a list of ``T``)."""
    if duck_type in CHECKS:
        return CHECKS[duck_type]
    if duck_type.endswith("[]") and duck_type[:-2] in CHECKS:
        CHECKS[duck_type] = _array_of(CHECKS[duck_type[:-2]], duck_type[:-2].lower())
        return CHECKS[duck_type]
    raise ValueError(f"no snapshot check for column type {duck_type}")


def _kind(v: Any) -> str:
    if v is None:
        return "null"
    return {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "text",
        list: "a list",
        dict: "an object",
    }.get(type(v), type(v).__name__)


def fail(origin: str, where: str, problem: str) -> UsageError:
    return UsageError(f"{origin}: malformed snapshot at {where}: {problem}")


def check_rows(
    origin: str, where: str, table: str, spec: Sequence[tuple[str, str, str]], rows: Any
) -> None:
    """Every row of an in-memory table: a list of the right length, each value typed."""
    if not isinstance(rows, list):
        raise fail(origin, f"{where}.rows", f"expected a list of rows, got {_kind(rows)}")
    if not rows_pass(spec, NOT_NULL.get(table, frozenset()), rows):
        check_each_row(origin, where, table, spec, rows)


def check_each_row(
    origin: str, where: str, table: str, spec: Sequence[tuple[str, str, str]], rows: list[Any]
) -> None:
    """The row-by-row check: slow, but it finds the first problem in row order and says
    exactly where it is. Run only when the column-wise pass found something."""
    width = len(spec)
    required = NOT_NULL.get(table, frozenset())
    cols = [(i, name, check_for(ty), name in required) for i, (name, ty, _d) in enumerate(spec)]
    for n, row in enumerate(rows):
        if type(row) is not list:
            raise fail(origin, f"{where}.rows[{n}]", f"expected a list, got {_kind(row)}")
        if len(row) != width:
            raise fail(origin, f"{where}.rows[{n}]", f"has {len(row)} values, expected {width}")
        for i, name, check, must in cols:
            v = row[i]
            if v is None:
                if must:
                    raise fail(origin, f"{where}.rows[{n}].{name}", "is null")
                continue
            problem = check(v)
            if problem:
                raise fail(origin, f"{where}.rows[{n}].{name}", problem)


_NONE = type(None)
_SCALAR_TYPES: dict[str, type] = {"BIGINT": int, "INTEGER": int, "VARCHAR": str, "BOOLEAN": bool}
_RANGES: dict[str, tuple[int, int]] = {"BIGINT": INT64, "INTEGER": INT32}


def _values_pass(ty: str, values: Sequence[Any], nullable: bool) -> bool:
    """True when every value of one column (or of its arrays' items) passes
    :func:`check_for`'s check; False means "look closer", never a verdict of its own."""
    kinds = set(map(type, values))
    has_null = _NONE in kinds
    if has_null:
        if not nullable:
            return False
        kinds.discard(_NONE)
        values = [v for v in values if v is not None]
    if not kinds:
        return True
    if ty.endswith("[]"):
        if kinds != {list}:
            return False
        return _values_pass(ty[:-2], [x for v in values for x in v], True)
    want = _SCALAR_TYPES.get(ty)
    if want is None or kinds != {want}:
        return False
    if ty in _RANGES:
        lo, hi = _RANGES[ty]
        return lo <= min(values) and max(values) <= hi
    if want is str:
        return "\x00" not in "".join(values)
    return True


def rows_pass(
    spec: Sequence[tuple[str, str, str]], required: frozenset[str], rows: list[Any]
) -> bool:
    """The fast path of :func:`check_rows`: the same checks column by column (one pass of C
    loops per column instead of a Python call per cell; a snapshot load checked 2.6 M cells
    one by one). Only says "all good"; the first problem and its message come from the
    row-by-row loop."""
    if not rows:
        return True
    if set(map(type, rows)) != {list} or set(map(len, rows)) != {len(spec)}:
        return False
    columns = list(zip(*rows, strict=True))
    return all(
        _values_pass(ty, column, name not in required)
        for (name, ty, _d), column in zip(spec, columns, strict=True)
    )


def check_unique(origin: str, where: str, values: list[Any]) -> None:
    seen: set[Any] = set()
    for v in values:
        if v in seen:
            raise fail(origin, where, f"duplicate OID {v}")
        seen.add(v)


def check_meta(origin: str, meta: Any) -> dict[str, Any]:
    if not isinstance(meta, dict):
        raise fail(origin, "meta", f"expected an object, got {_kind(meta)}")
    for key, types in META_TYPES.items():
        v = meta.get(key)
        if v is not None and (
            not isinstance(v, types) or (bool not in types and isinstance(v, bool))
        ):
            raise fail(
                origin,
                f"meta.{key}",
                f"expected {' or '.join(_kind(t()) for t in types)}, got {_kind(v)}",
            )
    if "sources" in meta and not isinstance(meta["sources"], dict):
        raise fail(origin, "meta.sources", f"expected an object, got {_kind(meta['sources'])}")
    for name, src in (meta.get("sources") or {}).items():
        if not isinstance(src, dict) or type(src.get("collected")) is not bool:
            raise fail(
                origin, f"meta.sources.{name}", "expected an object with collected: true/false"
            )
        reason = src.get("reason")
        if reason is not None and type(reason) is not str:
            raise fail(origin, f"meta.sources.{name}.reason", f"expected text, got {_kind(reason)}")
    return dict(meta)


def check_database(origin: str, n: int, d: Any) -> None:
    where = f"databases[{n}]"
    if not isinstance(d, dict):
        raise fail(origin, where, f"expected an object, got {_kind(d)}")
    for key, check in (("oid", CHECKS["BIGINT"]), ("name", _text)):
        if key not in d or d[key] is None:
            raise fail(origin, f"{where}.{key}", "is missing")
        problem = check(d[key])
        if problem:
            raise fail(origin, f"{where}.{key}", problem)
    if d.get("status") not in DB_STATUSES:
        raise fail(origin, f"{where}.status", f"expected one of {', '.join(DB_STATUSES)}")
    if d.get("reason") is not None and type(d["reason"]) is not str:
        raise fail(origin, f"{where}.reason", f"expected text, got {_kind(d['reason'])}")
    if not isinstance(d.get("tables", {}), dict):
        raise fail(origin, f"{where}.tables", f"expected an object, got {_kind(d['tables'])}")


def check_parquet(
    origin: str, member: str, local: str, spec: Sequence[tuple[str, str, str]]
) -> None:
    """A Parquet member's columns and types are the table's (footer only, no data read).

    Read on the thread's reader connection (``columnfile.run_on_reader``): an archive has
    dozens of members, and a new in-memory database costs 12-15 ms of CPU."""
    sql = f"DESCRIBE SELECT * FROM read_parquet({duckdb_literal(local)})"  # noqa: S608 - quoted
    try:
        described = run_on_reader(sql)
    except Exception as exc:  # duckdb.Error: not Parquet, truncated, corrupt footer
        raise UsageError(
            f"{origin}: archive member {member} is not a readable Parquet "
            f"file ({_first_line(str(exc))})"
        ) from None
    cols = [(str(r[0]), str(r[1])) for r in described]
    want = [(name, ty) for name, ty, _d in spec]
    if cols != want:
        raise UsageError(
            f"{origin}: archive member {member} has columns "
            f"{', '.join(f'{c} {t}' for c, t in cols)}; expected "
            f"{', '.join(f'{c} {t}' for c, t in want)}"
        )


def _first_line(text: str) -> str:
    return next((ln.strip() for ln in text.splitlines() if ln.strip()), text.strip())[:300]
