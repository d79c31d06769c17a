"""escalation._sql_edges: the large path's statements run in one transaction that drops
``internal.esc_effective`` before its commit (so a compressed database never compresses
the intermediate), with the same edges as the statements run one by one; a failing
statement rolls them all back and leaves the connection usable. Pure logic: DuckDB in
memory, no server."""

from __future__ import annotations

import collections
import functools
import random
from typing import Any

import duckdb
import pytest

from pgaudit_roles.audit import escalation
from tests.test_escalation_rows import SEEDS, _catalog, _connection


@functools.cache
def _catalogs() -> list[tuple[int, int, dict[str, bool]]]:
    """(seed, version, present parts) of the random catalogs with SECURITY DEFINER routines
    or trigger functions (the readers of internal.esc_effective)."""
    out = []
    for seed in range(SEEDS):
        v, con = _build(seed)
        counts: collections.Counter[str] = collections.Counter()
        sql = escalation._sql("escalation_parts.sql")
        for part, n in con.execute(sql, {"cap": escalation.SMALL_ROWS + 1}).fetchall():
            counts[part] += n
        present = {part: counts[part] > 0 for part in escalation.EDGE_PARTS}
        if present["definer"] or present["code"]:
            out.append((seed, v, present))
        con.close()
    return out


def _build(seed: int) -> tuple[int, Any]:
    rng = random.Random(seed)
    v = rng.choice([130000, 150000, 160000, 180000, 999999])
    con = _connection()
    _catalog(con, rng, v)
    return v, con


def _edges(con: Any) -> list[str]:
    return sorted(repr(r) for r in con.execute("SELECT * FROM escalation_edges").fetchall())


def _esc_effective_exists(con: Any) -> bool:
    return bool(
        con.execute(
            "SELECT count(*) FROM duckdb_tables() "
            "WHERE schema_name = 'internal' AND table_name = 'esc_effective'"
        ).fetchone()[0]
    )


def test_one_transaction_same_edges_and_no_intermediate_left() -> None:
    catalogs = _catalogs()
    assert len(catalogs) >= 3  # the catalogs reach the transaction's path
    for seed, _v, present in catalogs:
        _v, con = _build(seed)
        con.execute("DELETE FROM escalation_edges")
        for name in ("privileges", "edges", "edges_definer", "edges_code", "edges_grants"):
            part = name.removeprefix("edges_")
            if part in present and not present[part]:
                continue
            con.execute(escalation._sql(f"escalation_{name}.sql"))
        expected = _edges(con)
        con.close()
        _v, con = _build(seed)
        con.execute("DELETE FROM escalation_edges")
        escalation._sql_edges(con, present)
        assert _edges(con) == expected, seed
        assert not _esc_effective_exists(con)
        con.execute("BEGIN TRANSACTION")  # none left open
        con.execute("ROLLBACK")
        con.close()


def test_a_failing_statement_rolls_back_all(monkeypatch: pytest.MonkeyPatch) -> None:
    seed, _v, present = next(c for c in _catalogs() if c[2]["definer"])
    real = escalation._sql

    def failing(name: str) -> str:
        return "SELECT error('boom')" if name == "escalation_edges_definer.sql" else real(name)

    monkeypatch.setattr(escalation, "_sql", failing)
    _v, con = _build(seed)
    con.execute("DELETE FROM escalation_edges")
    with pytest.raises(duckdb.Error, match="boom"):
        escalation._sql_edges(con, present)
    assert _edges(con) == []  # escalation_edges.sql's rows rolled back too
    con.execute("BEGIN TRANSACTION")  # none left open
    con.execute("ROLLBACK")
    con.close()
