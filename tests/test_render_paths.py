"""The cheaper per-finding paths of evaluation give what the paths they replace gave.

Why: a finding's message and fix are rendered, and its fix checked, once per finding
(tens of thousands on a large cluster), so each has a faster form: ``template_cache.render``
builds a row's Jinja2 context from globals flattened once per template instead of
``Template.render``, and ``remediation.check_sql`` skips its node walk when the parse
tree's JSON cannot hold what the walk refuses (``_may_object``). Each must give exactly
the old result, errors included. Pure logic: no server.
"""

from __future__ import annotations

from typing import Any

import pytest

from pgaudit_roles.evaluate import messages, remediation, template_cache
from pgaudit_roles.evaluate.engine import _AS_IS, _plain

# --- check_sql with and without the node walk ---------------------------------------

CHECKED = [
    'GRANT SELECT ON t TO a; REVOKE ALL ON "x;y" FROM PUBLIC',
    "REVOKE ALL ON TABLE s.t FROM x",
    "REVOKE ALL ON t FROM x CASCADE",
    "DROP TABLE x CASCADE",
    "DROP OWNED BY a CASCADE",
    "DROP OWNED BY a",
    "REVOKE GRANT OPTION FOR SELECT ON t FROM x CASCADE",
    "ALTER DEFAULT PRIVILEGES FOR ROLE o REVOKE ALL ON TABLES FROM x CASCADE",
    "ALTER DEFAULT PRIVILEGES FOR ROLE o REVOKE ALL ON TABLES FROM x",
    'ALTER ROLE "DROP_CASCADE" NOLOGIN',
    'REVOKE ALL ON "drop_cascade" FROM "Password"',
    "ALTER ROLE a PASSWORD 's3cret'",
    "ALTER ROLE a ENCRYPTED PASSWORD 'md5abc'",
    "ALTER USER a WITH PASSWORD 'x'",
    "CREATE ROLE a LOGIN PASSWORD 'x'",
    "CREATE ROLE a WITH PASSWORD NULL",
    "ALTER ROLE a PASSWORD NULL",
    "ALTER ROLE a NOLOGIN NOSUPERUSER",
    "ALTER ROLE a SET search_path = 'secret'",
    "ALTER SYSTEM SET password_encryption = 'scram-sha-256'",
    "ALTER ROLE a RESET ALL",
    "GRANT r TO u WITH ADMIN OPTION",
    "REVOKE r FROM u GRANTED BY g",
    "COMMENT ON ROLE a IS 'DROP_CASCADE password secret'",
    "ALTER TABLE t OWNER TO o",
    "ALTER TABLE t ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY",
    "ALTER TABLE t ADD COLUMN c int",
    "ALTER FUNCTION s.f(integer) OWNER TO o",
    "ALTER FUNCTION s.f(integer) RESET ALL",
    "REASSIGN OWNED BY a TO b",
    "DROP ROLE a",
    "SELECT pg_read_file('/etc/passwd')",
    "DELETE FROM t",
    "REVOKE ALL ON t FROM x; \\connect other",
    "  -- nothing\n",
    'GRANT SELECT ON "Ünïcödé ""q""" TO "pass\nword"',
    "ALTER DATABASE d OWNER TO o",
    "ALTER DATABASE d RESET ALL",
    "GRANT CONNECT ON DATABASE d TO x; ALTER ROLE x PASSWORD 'p'",
]


def _outcome(sql: str) -> tuple[str, Any]:
    try:
        return ("ok", remediation.check_sql(sql, "origin"))
    except Exception as exc:  # noqa: BLE001 - the error is the result compared
        return (type(exc).__name__, str(exc))


@pytest.mark.parametrize("sql", CHECKED)
def test_skipping_the_walk_changes_no_result(sql: str, monkeypatch: pytest.MonkeyPatch) -> None:
    fast = _outcome(sql)
    monkeypatch.setattr(remediation, "_may_object", lambda raw: True)
    assert _outcome(sql) == fast


def test_the_walk_is_skipped_and_still_refuses_what_it_must() -> None:
    """The corpus reaches both sides: texts checked without the walk, and the walk's own
    refusals, each of which the marker test sends to the walk."""
    from pglast.parser import ParseError, parse_sql_json

    skipped = refused = 0
    for sql in CHECKED:
        try:
            raw = parse_sql_json(sql)
        except ParseError:
            continue
        result = _outcome(sql)
        if not remediation._may_object(raw):
            skipped += 1
            assert result[0] == "ok" or not (  # never one of the walk's refusals
                "CASCADE is not" in result[1] or "secret" in result[1]
            )
        if result[0] != "ok" and ("CASCADE is not" in result[1] or "secret" in result[1]):
            refused += 1
            assert remediation._may_object(raw)
    assert skipped >= 10 and refused >= 8


def test_the_markers_prefilter_is_the_full_search() -> None:
    """_may_object looks for "pass" or "secret" before the seven option names: each name
    holds one, so the answer is the full search's, for the corpus and for texts around
    the edges (case, a core without a name, a name split by an escape)."""
    assert all(
        any(core in word for core in remediation._SECRET_CORES)
        for word in remediation._SECRET_OPTIONS
    )

    def full(raw: str) -> bool:
        # (a tree without the key "defname" has no DefElem: no option for the walk to refuse)
        low = raw.lower()
        return "DROP_CASCADE" in raw or (
            '"defname"' in raw and any(w in low for w in remediation._SECRET_OPTIONS)
        )

    texts = [*CHECKED, "", "PASS", "SeCrEt", "pas", "secre", "passwor", "PassWD", "x_secret_y"]
    texts += ["ldapbind" + "\\" + "passwd", "drop_cascade", "RADIUSSECRETS", "pİssword"]
    texts += [w.upper() for w in remediation._SECRET_OPTIONS]
    texts += [f'{{"defname":{text!r}}}' for text in texts]
    for raw in texts:
        assert remediation._may_object(raw) == full(raw), raw
    assert sum(map(remediation._may_object, texts)) >= 20


# --- template_cache.render against Template.render ----------------------------------

TEMPLATES = [
    "{{ a }} and {{ b|upper }}",
    "{% for x in range(n) %}{{ x }},{% endfor %}",
    "{{ range }}",  # a row value over a global of the same name
    "{% set y = a ~ '!' %}{{ y }}{{ missing }}",
    "{{ a|capitalize }} {% if b %}yes{% else %}no{% endif %}",
    "{{ a.__class__ }}",
    "{{ namespace(v=a).v }}",
]
ROWS: list[dict[str, Any]] = [
    {"a": "x", "b": "y", "n": 3, "missing": ""},
    {"a": "x", "b": None, "n": 0},
    {"a": 1, "b": [1, 2], "n": 2, "range": "shadowed"},
    {"self": 1, "a": "x", "b": "y", "n": 1},
    {},
]


def _render(fn: Any) -> tuple[str, str]:
    try:
        return ("ok", fn())
    except Exception as exc:  # noqa: BLE001 - the error is the result compared
        return (type(exc).__name__, str(exc))


@pytest.mark.parametrize("source", TEMPLATES)
@pytest.mark.parametrize("row", ROWS)
def test_render_is_template_render(source: str, row: dict[str, Any]) -> None:
    for env in (messages.template_env(), remediation._environment()):
        tmpl = env.from_string(source)
        old = _render(lambda: tmpl.render(**row))  # noqa: B023 - called at once
        new = _render(lambda: template_cache.render(tmpl, row))  # noqa: B023
        assert new == old, (source, row)


def test_render_cases_reach_output_and_errors() -> None:
    env = messages.template_env()
    results = [
        _render(lambda: template_cache.render(env.from_string(s), r))  # noqa: B023
        for s in TEMPLATES
        for r in ROWS
    ]
    kinds = {k for k, _ in results}
    assert {"ok", "UndefinedError", "TypeError", "SecurityError"} <= kinds


def test_remediation_functions_resolve_through_the_flat_globals() -> None:
    sql = remediation.render(
        "ALTER FUNCTION {{ func(s, f, a) }} OWNER TO {{ o|ident }};"
        " REVOKE ALL ON {{ qualified(s, t) }} FROM {{ o|role }};",
        {"s": "Sch", "f": "f", "a": "integer", "o": "own", "t": "t"},
    )
    assert sql == ('ALTER FUNCTION "Sch".f(integer) OWNER TO own;\nREVOKE ALL ON "Sch".t FROM own;')


# --- _plain is the identity on the types the engine passes as they are ---------------


@pytest.mark.parametrize("value", [None, True, False, 0, -7, 2**70, 1.5, float("inf"), "", "é"])
def test_as_is_values_are_what_plain_returns(value: Any) -> None:
    assert type(value) in _AS_IS
    out = _plain(value)
    assert out is value or (out == value and type(out) is type(value))


def test_plain_of_nested_values_keeps_its_conversions() -> None:
    """Lists and structs take the same shortcut for their items: converted items are still
    converted, as-is items are the same objects."""
    import datetime as dt
    import decimal
    import uuid

    u = uuid.UUID(int=5)
    value = {
        "a": [1, "x", None, decimal.Decimal("2"), decimal.Decimal("2.5"), [True, u]],
        7: {"d": dt.date(2026, 1, 2), "b": b"\x01", "t": dt.timedelta(seconds=3)},
    }
    assert _plain(value) == {
        "a": [1, "x", None, 2, 2.5, [True, str(u)]],
        "7": {"d": "2026-01-02", "b": "01", "t": 3.0},
    }
    assert _plain(("s", 1.5)) == ["s", 1.5]
