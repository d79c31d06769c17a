"""The two forms of the audit schema's ``pg_quote_ident`` / ``pg_qualified`` macros
(``audit_schema.temp_macros``: regular expression for large snapshots, keyword buckets by
length for small ones) quote every text exactly as ``sqlquote.quote_ident`` does, so a
snapshot's size never changes a name in a finding. Pure: no server."""

from __future__ import annotations

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pglast import keywords
from test_audit_schema import SCHEMA, acl, make, member, obj, role

from pgaudit_roles.audit import audit_schema
from pgaudit_roles.core.sqlquote import quote_ident

_QUOTED = sorted(
    keywords.RESERVED_KEYWORDS | keywords.COL_NAME_KEYWORDS | keywords.TYPE_FUNC_NAME_KEYWORDS
)


def _con(small: bool) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute(";\n".join(audit_schema.temp_macros(small=small)))
    return con


_CONS = {small: _con(small) for small in (False, True)}


def _near_keywords() -> list[str]:
    """Every keyword, every unreserved one, and strings one edit away from a keyword (the
    cases a wrong bucket, a missing separator or a partial match would get wrong)."""
    out = set(_QUOTED) | set(keywords.UNRESERVED_KEYWORDS)
    for w in _QUOTED:
        out |= {w + "x", w + "_", "x" + w, w[1:], w[:-1], w.upper(), w.capitalize(), w + "1"}
        out |= {w + " " + w, f"{w} ", f" {w}", w + '"', w.replace("_", "")}
    out |= {"", " ", "a", "_", "1", "a b", 'a"b', "é", "x" * 17, "x" * 18, "a" * 63}
    out |= {"\n", "<script>", "\u202eevil", "Ab", "user1", "all_", "as as"}
    return sorted(out)


def _quote_all(small: bool, names: list[str | None]) -> list[str | None]:
    rows = (
        _CONS[small]
        .execute(
            "SELECT pg_quote_ident(n) FROM unnest(?::VARCHAR[]) WITH ORDINALITY t(n, i) ORDER BY i",
            [names],
        )
        .fetchall()
    )
    return [r[0] for r in rows]


@pytest.mark.parametrize("small", [False, True], ids=["regex", "buckets"])
def test_every_keyword_and_near_miss_quotes_like_sqlquote(small: bool) -> None:
    names = _near_keywords()
    got = _quote_all(small, list(names))
    want = [quote_ident(n) for n in names]
    assert [n for n, g, w in zip(names, got, want, strict=True) if g != w] == []
    # the keywords are really quoted (guards against both sides wrongly agreeing)
    assert all(
        g == f'"{w}"' for w, g in zip(_QUOTED, _quote_all(small, list(_QUOTED)), strict=True)
    )


@pytest.mark.parametrize("small", [False, True], ids=["regex", "buckets"])
def test_null_and_qualified_names_agree(small: bool) -> None:
    con = _CONS[small]
    got = con.execute(
        "SELECT pg_quote_ident(NULL), pg_qualified(NULL, 'select'), pg_qualified('a b', 'user'),"
        " pg_qualified('s', NULL), pg_qualified('public', 'tbl')"
    ).fetchone()
    assert got == (None, '"select"', '"a b"."user"', None, "public.tbl")


_names = st.text(
    alphabet=st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)),
    max_size=20,
)
_identish = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_0123456789 ", max_size=18)


@settings(max_examples=300, deadline=None)
@given(st.lists(_names | _identish | st.sampled_from(_QUOTED), min_size=1, max_size=30))
def test_random_and_hostile_names_quote_the_same_in_both_forms(names: list[str]) -> None:
    want = [quote_ident(n) for n in names]
    assert _quote_all(False, list(names)) == want
    assert _quote_all(True, list(names)) == want


def _schema(con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    """Every audit table's rows, as sorted reprs (row order never matters)."""
    return {
        t: sorted(map(repr, con.execute(f'SELECT * FROM "{t}"').fetchall()))
        for t in audit_schema.AUDIT_TABLES
    }


def test_a_snapshot_loads_the_same_schema_with_either_form(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Keyword, quoted and hostile role/schema/table names: the small form (chosen for this
    tiny snapshot) and the large form (forced by a zero size limit) build the same tables."""
    names = ["select", "user", "all_", 'we"ird\nname', "Ab", "order", "<script>", "x1"]
    roles = [role(100 + i, n, login=True) for i, n in enumerate(names)]
    schemas = [dict(SCHEMA, oid=2200 + i, name=n) for i, n in enumerate(["app", "order", 'a"b'])]
    objects = [
        obj(1000 + i, "relation", "table", n, schema_oid=2200 + i % 3, acl_state="explicit")
        for i, n in enumerate(names)
    ]
    grants = [acl("relation", 1000 + i, 100 + (i + 1) % len(names), "SELECT") for i in range(8)]
    snap = make(
        roles=roles,
        memberships=[member(100, 101), member(102, 103)],
        db={"schemas": schemas, "objects": objects, "acl": grants},
    )
    assert audit_schema.is_small(snap)
    small = audit_schema.load(snap)
    assert "contains(" in _macro(small)
    monkeypatch.setattr(audit_schema, "SMALL_SNAPSHOT_ROWS", -1)
    large = audit_schema.load(snap)
    assert "contains(" not in _macro(large)
    got, want = _schema(small), _schema(large)
    assert got == want
    assert any('we"ird' in r for r in got["privileges"]), "the hostile names were loaded"


def _macro(con: duckdb.DuckDBPyConnection) -> str:
    return con.execute(
        "SELECT macro_definition FROM duckdb_functions() WHERE function_name = 'pg_quote_ident'"
    ).fetchone()[0]
