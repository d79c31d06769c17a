"""quote_ident/quote_literal agree with the server's own functions on every version 13-18.

Our keyword list is PostgreSQL 18's (from pglast). On older servers the only allowed
difference is a word that is a keyword needing quotes in 18 but not in that version (we
quote it, the old server does not): quoting more is harmless, quoting less would not be.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pgaudit_roles.core import sqlquote as q

pytestmark = pytest.mark.pg

_CHARS = st.characters(exclude_characters="\x00", exclude_categories=("Cs",))


def _keywords(pg) -> dict[str, str]:
    return dict(pg.query("SELECT word, catcode FROM pg_get_keywords()"))


def _assert_same_as_server(pg, names: list[str]) -> None:
    kw = _keywords(pg)
    rows = pg.query("SELECT n, quote_ident(n) FROM unnest(%s::text[]) AS n", (names,))
    assert len(rows) == len(names)
    for name, server in rows:
        ours = q.quote_ident(name)
        if ours == server:
            continue
        # Allowed only: a newer keyword the old server leaves bare.
        assert pg.major < 18, (name, ours, server)
        assert server == name and ours == f'"{name}"', (name, ours, server)
        assert kw.get(name, "U") == "U", (name, kw.get(name))


def test_every_server_keyword(pg) -> None:
    """Every keyword of this server, in lower, upper and mixed case, quoted the same way."""
    words = list(_keywords(pg))
    assert len(words) > 400
    names = words + [w.upper() for w in words] + [w.capitalize() for w in words]
    _assert_same_as_server(pg, names)
    needing = [w for w, cat in _keywords(pg).items() if cat != "U"]
    # Each of them is quoted by us (never fewer quotes than the server).
    assert all(q.quote_ident(w) == f'"{w}"' for w in needing)


def test_newest_keywords_make_older_servers_differ_only_by_extra_quotes(pg) -> None:
    names = ["system_user", "json_table", "merge_action", "json", "name", "recheck"]
    _assert_same_as_server(pg, names)


_names = st.one_of(
    st.text(_CHARS, max_size=30),
    st.from_regex(r"[a-z_][a-z0-9_$]{0,20}", fullmatch=True),
    st.sampled_from(
        [
            "select",
            "user",
            "Table",
            "public",
            "PUBLIC",
            "'; DROP TABLE x; --",
            'a"b',
            "a\\b",
            "a b",
            "a\nb",
            "é",
            "ß",
            "日本",
            "<script>",
            "",
            "1a",
            "_",
        ]
    ),
)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(names=st.lists(_names, min_size=1, max_size=40))
def test_quote_ident_matches_server(pg, names: list[str]) -> None:
    _assert_same_as_server(pg, names)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    values=st.lists(
        st.one_of(
            st.text(_CHARS, max_size=30), st.sampled_from(["\\", "'", "\\'", "''\\\\", "a\nb"])
        ),
        min_size=1,
        max_size=40,
    )
)
def test_quote_literal_matches_server(pg, values: list[str]) -> None:
    rows = pg.query("SELECT v, quote_literal(v) FROM unnest(%s::text[]) AS v", (values,))
    for value, server in rows:
        assert q.quote_literal(value) == server, value
    # And the server reads our literal back as the value (standard_conforming_strings on).
    exprs = ", ".join(q.quote_literal(v) for v in values)
    back = pg.query(f"SELECT ARRAY[{exprs}]::text[]")[0][0]  # noqa: S608 - quoted by the helper under test
    assert back == values


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(names=st.lists(_names.filter(lambda n: 0 < len(n.encode()) < 64), min_size=1, max_size=20))
def test_server_reads_quoted_names_back(pg, names: list[str]) -> None:
    """Used as column aliases, our quoted forms come back as exactly the original names."""
    import psycopg

    select = ", ".join(f"1 AS {q.quote_ident(n)}" for n in names)
    with psycopg.connect(pg.conninfo(), autocommit=True) as conn:
        cur = conn.execute(f"SELECT {select}".encode())  # noqa: S608 - quoted by the helper under test
        assert [c.name for c in cur.description or ()] == names
