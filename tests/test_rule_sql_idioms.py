"""The distinct-list idioms built-in rules use instead of DuckDB's DISTINCT aggregates.

Why: DuckDB plans every ``list(DISTINCT x ORDER BY x)`` / ``string_agg(DISTINCT ...)`` of a
query as its own grouped subplan joined back to the rows; the privilege rules (PGR-PRIV-008
to -012 and others) had four to six each, a third of their cost at small size. They now
write ``list_sort(list_distinct(list(x)))``, ``list_aggr(..., 'string_agg', sep)`` and
``len(list_distinct(list(...)))``. What must hold: each idiom gives exactly what the
DISTINCT aggregate gives, NULLs, duplicates, FILTERs that keep nothing and empty inputs
included, so a DuckDB upgrade that changed ``list_distinct`` or ``list_aggr`` fails here
before it changes a finding. Pure DuckDB: no server.
"""

from __future__ import annotations

from typing import Any

import duckdb
import pytest

ROWS: list[tuple[Any, ...]] = [
    # group, value, keep (the FILTER), second and third struct fields
    (1, "b", True, 1, None),
    (1, "a", True, 1, None),
    (1, "b", True, 2, None),
    (1, None, True, 2, "c"),
    (1, "B", False, 2, "c"),
    (1, "é", True, None, None),
    (2, None, True, None, None),
    (2, None, False, None, None),
    (3, "x", False, 1, "c"),
    (3, "y", False, 1, "c"),
    (4, "z", True, 1, "c"),
    (4, "z", True, 1, "c"),
]


@pytest.fixture(scope="module")
def con() -> Any:
    c = duckdb.connect()
    c.execute("CREATE TABLE t (g INTEGER, x VARCHAR, keep BOOLEAN, a INTEGER, b VARCHAR)")
    c.executemany("INSERT INTO t VALUES (?, ?, ?, ?, ?)", ROWS)
    yield c
    c.close()


def _pairs(con: Any, old: str, new: str, where: str = "true") -> list[tuple[Any, Any]]:
    return con.execute(
        f"SELECT g, {old} AS old, {new} AS new FROM t WHERE {where} GROUP BY g ORDER BY g"  # noqa: S608
    ).fetchall()


def _same(rows: list[tuple[Any, ...]]) -> None:
    assert rows, "no groups compared"
    for g, old, new in rows:
        assert old == new, f"group {g}: {old!r} != {new!r}"


NULL_KEEPING = (
    "CASE WHEN count(*){f} = count(x){f} THEN list_sort(list_distinct(list(x){f})) "
    "ELSE list_append(list_sort(list_distinct(list(x){f})), NULL) END"
)


@pytest.mark.parametrize("f", ["", " FILTER (WHERE keep)"])
def test_null_keeping_distinct_list_is_list_distinct_ordered(con: Any, f: str) -> None:
    rows = _pairs(con, f"list(DISTINCT x ORDER BY x){f}", NULL_KEEPING.format(f=f))
    _same(rows)
    # the inputs reach every case: a NULL kept last, all NULL, nothing kept
    olds = [r[1] for r in rows]
    assert any(o and o[-1] is None and len(o) > 1 for o in olds)
    assert [None] in olds
    assert None in olds or f == ""


@pytest.mark.parametrize("f", ["", " FILTER (WHERE keep)"])
def test_plain_distinct_list_where_the_value_is_never_null(con: Any, f: str) -> None:
    _same(
        _pairs(
            con,
            f"list(DISTINCT x ORDER BY x){f}",
            f"list_sort(list_distinct(list(x){f}))",
            where="x IS NOT NULL",
        )
    )


def test_plain_distinct_list_differs_on_null_which_is_why_the_rules_keep_it() -> None:
    c = duckdb.connect()
    try:
        got = c.execute(
            "SELECT list(DISTINCT x ORDER BY x), list_sort(list_distinct(list(x))) "
            "FROM (VALUES ('b'), (NULL), ('a')) v(x)"
        ).fetchone()
    finally:
        c.close()
    assert got == (["a", "b", None], ["a", "b"])


@pytest.mark.parametrize("f", ["", " FILTER (WHERE keep)", " FILTER (WHERE x IS NOT NULL)"])
def test_distinct_string_agg_is_list_aggr_over_the_distinct_list(con: Any, f: str) -> None:
    rows = _pairs(
        con,
        f"string_agg(DISTINCT x, ', ' ORDER BY x){f}",
        f"list_aggr(list_sort(list_distinct(list(x){f})), 'string_agg', ', ')",
    )
    _same(rows)
    assert any(r[1] is None for r in rows) and any(r[1] and ", " in r[1] for r in rows)


def test_distinct_count_of_a_row_is_the_length_of_its_distinct_list(con: Any) -> None:
    rows = _pairs(con, "count(DISTINCT (x, a, b))", "len(list_distinct(list((x, a, b))))")
    _same(rows)
    assert [r[1] for r in rows] == [6, 1, 2, 1]


def test_idioms_over_no_rows_are_null_like_the_aggregates(con: Any) -> None:
    got = con.execute(
        "SELECT (SELECT list(DISTINCT x ORDER BY x) FROM t WHERE false), "
        f"(SELECT {NULL_KEEPING.format(f='')} FROM t WHERE false), "
        "(SELECT string_agg(DISTINCT x, ', ' ORDER BY x) FROM t WHERE false), "
        "(SELECT list_aggr(list_sort(list_distinct(list(x))), 'string_agg', ', ') "
        " FROM t WHERE false)"
    ).fetchone()
    assert got == (None, None, None, None)
