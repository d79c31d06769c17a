"""Quoting helpers without a server: exact forms, allow-lists, rejection of bad input.

The comparison with the server's own quote_ident()/quote_literal() on every version is in
test_sqlquote_server.py.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pgaudit_roles.core import sqlquote as q


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("abc", "abc"),
        ("_a1", "_a1"),
        ("a$b", '"a$b"'),  # $ is legal unquoted in PostgreSQL, but quote_ident quotes it
        ("Abc", '"Abc"'),
        ("1abc", '"1abc"'),
        ("", '""'),
        ('a"b', '"a""b"'),
        ("a b", '"a b"'),
        ("a\nb", '"a\nb"'),
        ("é", '"é"'),
        ("select", '"select"'),  # reserved
        ("integer", '"integer"'),  # col_name keyword
        ("left", '"left"'),  # type_func_name keyword
        ("json_table", '"json_table"'),  # col_name keyword since 17: quoted for every version
        ("name", "name"),  # unreserved
        ("public", "public"),
        ("'; DROP TABLE x; --", '"\'; DROP TABLE x; --"'),
    ],
)
def test_quote_ident_examples(name: str, expected: str) -> None:
    assert q.quote_ident(name) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("abc", "'abc'"),
        ("it's", "'it''s'"),
        ("a\\b", "E'a\\\\b'"),
        ("a\\'b", "E'a\\\\''b'"),
        ("", "''"),
        ("line\nbreak", "'line\nbreak'"),
    ],
)
def test_quote_literal_examples(value: str, expected: str) -> None:
    assert q.quote_literal(value) == expected


@pytest.mark.parametrize("bad", [None, 3, b"x", ["a"]])
def test_quote_rejects_non_strings(bad: object) -> None:
    with pytest.raises(TypeError):
        q.quote_ident(bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        q.quote_literal(bad)  # type: ignore[arg-type]


def test_nul_is_rejected() -> None:
    with pytest.raises(ValueError, match="NUL"):
        q.quote_ident("a\x00b")
    with pytest.raises(ValueError, match="NUL"):
        q.quote_literal("a\x00b")


@given(st.text(alphabet=st.characters(exclude_characters="\x00", exclude_categories=("Cs",))))
def test_quote_ident_round_trips(name: str) -> None:
    """Undoing the quoting gives back the name: nothing is lost or added."""
    out = q.quote_ident(name)
    if out.startswith('"'):
        assert out.endswith('"') and len(out) >= 2
        inner = out[1:-1]
        assert inner.replace('""', "").count('"') == 0
        assert inner.replace('""', '"') == name
    else:
        assert out == name


@given(st.text(alphabet=st.characters(exclude_characters="\x00", exclude_categories=("Cs",))))
def test_quote_literal_round_trips(value: str) -> None:
    out = q.quote_literal(value)
    escaped = out.startswith("E'")
    body = out[2:-1] if escaped else out[1:-1]
    assert out.endswith("'")
    if escaped:
        body = body.replace("\\\\", "\\")
    assert body.replace("''", "'") == value
    assert escaped == ("\\" in value)


def test_qualified_and_grantee() -> None:
    assert q.qualified("app", "Orders") == 'app."Orders"'
    assert q.qualified(None, "t") == "t"
    assert q.qualified("", "t") == "t"
    assert q.qualified("my schema", "a.b") == '"my schema"."a.b"'
    assert q.grantee(None, True) == "PUBLIC"
    assert q.grantee("whatever", is_public=True) == "PUBLIC"
    assert q.grantee("PUBLIC") == '"PUBLIC"'  # a role literally named PUBLIC
    assert q.role_spec("App") == '"App"'
    with pytest.raises(ValueError):
        q.grantee(None)
    with pytest.raises(TypeError):
        q.grantee("x", "yes")  # type: ignore[arg-type]


def test_public_only_from_the_flag() -> None:
    """PostgreSQL reads `public` and `"public"` both as PUBLIC (and no role may be named
    so), so a name "public" is refused: PUBLIC only ever comes from the explicit flag."""
    with pytest.raises(ValueError, match="is_public"):
        q.grantee("public")
    with pytest.raises(ValueError):
        q.role_spec("none")
    assert q.grantee("Public") == '"Public"'


def test_func_signature() -> None:
    assert q.func_signature("s", "f", "") == "s.f()"
    assert q.func_signature("s", "f", None) == "s.f()"
    assert (
        q.func_signature("S", "my f", 'a integer, "b;c" text')
        == '"S"."my f"(a integer, "b;c" text)'
    )
    assert (
        q.func_signature("s", "agg", "text ORDER BY anyelement")
        == "s.agg(text ORDER BY anyelement)"
    )
    assert q.func_signature("s", "f", "VARIADIC xs integer[]") == "s.f(VARIADIC xs integer[])"


@pytest.mark.parametrize(
    "bad",
    [
        "int) OWNER TO x --",
        "int); DROP TABLE x; --",
        "int) OWNER TO y",
        "int /* ",
        "int -- comment",
        "int /* c */",
        "'",
        ")(",
        "(",
        "int; SELECT 1",
    ],
)
def test_func_signature_rejects_injection(bad: str) -> None:
    with pytest.raises(ValueError, match="argument list"):
        q.func_signature("s", "f", bad)


def test_privilege_list() -> None:
    assert q.privilege_list("SELECT") == "SELECT"
    assert q.privilege_list(["select", "Insert", "SELECT"]) == "SELECT, INSERT"
    assert q.privilege_list("select, temp") == "SELECT, TEMPORARY"
    assert q.privilege_list(["alter   system", "set"]) == "ALTER SYSTEM, SET"
    assert q.privilege_list(["ALL PRIVILEGES"]) == "ALL"
    assert (
        q.privilege_list(["UPDATE", "SELECT"], columns=["a", "B c"])
        == 'UPDATE (a, "B c"), SELECT (a, "B c")'
    )
    assert q.privilege_list("MAINTAIN") == "MAINTAIN"


@pytest.mark.parametrize(
    ("privs", "columns"),
    [
        ("SELECT; DROP TABLE x", None),
        (["SELECT", "superuser"], None),
        ([], None),
        ("", None),
        (["ALL", "SELECT"], None),
        (["TRUNCATE"], ["a"]),
        (["SELECT"], []),
        ([1], None),
    ],
)
def test_privilege_list_rejects(privs: object, columns: object) -> None:
    with pytest.raises((ValueError, TypeError)):
        q.privilege_list(privs, columns)  # type: ignore[arg-type]


def test_kind_keywords() -> None:
    assert q.grant_kind("view") == "TABLE"
    assert q.alter_kind("view") == "VIEW"
    assert q.alter_kind("materialized view") == "MATERIALIZED VIEW"
    assert q.grant_kind("foreign-data wrapper") == "FOREIGN DATA WRAPPER"
    assert q.alter_kind("server") == "SERVER"
    assert q.grant_kind("server") == "FOREIGN SERVER"
    assert q.grant_kind("Sequence") == "SEQUENCE"
    with pytest.raises(ValueError):
        q.grant_kind("table; DROP TABLE x")
    with pytest.raises(ValueError):
        q.alter_kind("parameter")
    with pytest.raises(TypeError):
        q.grant_kind(None)  # type: ignore[arg-type]


def test_import_is_light() -> None:
    """Importing the module must not pull in pglast (the CLI imports it for --help paths)."""
    code = "import sys, pgaudit_roles.core.sqlquote; print('pglast' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
