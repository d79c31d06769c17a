"""The column-wise row check must agree with the row-by-row one on every input.

``snapshot_check.rows_pass`` is the fast path of ``check_rows``: it must never accept what
the row-by-row check refuses (a damaged snapshot would load), and should accept everything
it accepts (else the speed is lost). Pure logic, no server.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from pgaudit_roles.collect.snapshot_check import NOT_NULL, check_each_row, check_rows, rows_pass
from pgaudit_roles.collect.tables import CLUSTER_TABLES, DATABASE_TABLES
from pgaudit_roles.core.errors import UsageError

SPECS = {**CLUSTER_TABLES, **DATABASE_TABLES}

GOOD: dict[str, list[Any]] = {
    "BIGINT": [0, 1, -1, 2**63 - 1, -(2**63), 16384],
    "INTEGER": [0, -1, 2**31 - 1, -(2**31), 5],
    "VARCHAR": ["", "x", "quote ' \" \\", "line\nbreak", "\u202eévil<script>", "\x7f"],
    "BOOLEAN": [True, False],
    "VARCHAR[]": [[], ["a=b"], ["x", None], ["", "\n"]],
    "BIGINT[]": [[], [0], [1, 2**63 - 1], [None, 3]],
}
BAD: dict[str, list[Any]] = {
    "BIGINT": [2**63, -(2**63) - 1, True, 1.0, "1", [1], float("nan")],
    "INTEGER": [2**31, -(2**31) - 1, False, 2.5, "7", {}],
    "VARCHAR": ["a\x00b", 1, True, ["x"], {"a": 1}, 0.5],
    "BOOLEAN": [1, 0, "true", 1.0, [True]],
    "VARCHAR[]": ["a", [1], ["ok", "n\x00ul"], [["nested"]], {"a": 1}, [True], 3],
    "BIGINT[]": [[2**63], ["1"], [True], [1.5], 7, "x", [[1]]],
}


def _good_row(spec: list[tuple[str, str, str]], rnd: random.Random, table: str) -> list[Any]:
    must = NOT_NULL.get(table, frozenset())
    return [rnd.choice(GOOD[ty] + ([] if name in must else [None])) for name, ty, _d in spec]


def _outcome(fn: Any, *args: Any) -> str | None:
    try:
        fn(*args)
    except UsageError as exc:
        return str(exc)
    return None


@pytest.mark.parametrize("table", sorted(SPECS))
def test_fast_and_row_by_row_checks_agree(table: str) -> None:
    spec = SPECS[table]
    must = NOT_NULL.get(table, frozenset())
    rnd = random.Random(table)
    refused = 0
    for _case in range(300):
        rows = [_good_row(spec, rnd, table) for _ in range(rnd.randint(0, 6))]
        if rows and rnd.random() < 0.8:  # damage one or two cells or rows
            for _ in range(rnd.randint(1, 2)):
                n = rnd.randrange(len(rows))
                what = rnd.random()
                if what < 0.1:
                    rows[n] = rows[n][:-1]
                elif what < 0.15:
                    rows[n] = [*rows[n], 1]
                elif what < 0.2:
                    rows[n] = tuple(rows[n])  # type: ignore[call-overload]
                elif type(rows[n]) is list and len(rows[n]) == len(spec):
                    i = rnd.randrange(len(spec))
                    name, ty = spec[i][0], spec[i][1]
                    bad = BAD[ty] + ([None] if name in must else [])
                    rows[n][i] = rnd.choice(bad)
        slow = _outcome(check_each_row, "f", "w", table, spec, rows)
        assert rows_pass(spec, must, rows) == (slow is None), (rows, slow)
        assert _outcome(check_rows, "f", "w", table, spec, rows) == slow
        refused += slow is not None
    assert 100 < refused < 300  # both kinds of input were tried


def test_first_problem_in_row_order_is_reported() -> None:
    """Two bad cells: the message names the first in row order, as before."""
    spec = CLUSTER_TABLES["roles"]
    rows = [_good_row(spec, random.Random(n), "roles") for n in range(3)]
    rows[1][14] = 5  # comment: later column, earlier row
    rows[2][0] = "x"  # oid
    with pytest.raises(
        UsageError, match=r"at w\.rows\[1\]\.comment: expected text, got an integer"
    ):
        check_rows("f", "w", "roles", spec, rows)
