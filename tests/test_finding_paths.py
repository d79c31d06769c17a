"""The engine's per-rule finding path gives what the per-row path it replaced gave.

Why: a rule's rows become findings once per row (56,000 on the bench's large preset), so
``engine._rule_result`` prepares per rule what does not change between rows (the message
and fix renderers, which columns need ``_plain``, the sort keys), the quoting helpers of
remediation templates remember their results, and ``remediation.check_sql`` reads a
statement's type and place from libpg_query's JSON text instead of decoding it when that
settles the check (``_settled_texts``). Each must give exactly the old result: the same
findings in the same order, the same messages, fixes and errors. The old per-row path is
kept here, as it was, to compare with. Pure logic: no server.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import random
from typing import Any

import pytest
from jinja2 import meta

from pgaudit_roles.core import sqlquote
from pgaudit_roles.core.model import Finding, Rule
from pgaudit_roles.evaluate import engine, messages, remediation, template_cache
from pgaudit_roles.evaluate.engine import FINDING_FIELDS, DefaultSettings

HOSTILE = [
    "app_rw",
    'x"; DROP TABLE t; --',
    "Mixed Case",
    "line\nbreak",
    "bidi\u202eevil",
    "Ünïcødé",
    "it's",
    "back\\slash",
    "select",
    "public",
    "PUBLIC",
    "",
    " ",
    '{"stmt":{"DropStmt":',
    ',"stmt_len":3}',
]


def _old_rule_result(rule: Rule, cfg: Any, outcome: Any) -> Any:
    """``engine._rule_result`` as it was before the per-rule path (rows -> findings)."""
    result = engine._result_for(rule, cfg)
    effective = cfg.severity.get(rule.id) or rule.severity
    columns, rows = outcome
    findings: list[Finding] = []
    problems: list[str] = []
    for raw in rows:
        row = {
            c: v if type(v) in engine._AS_IS else engine._plain(v)
            for c, v in zip(columns, raw, strict=True)
        }
        try:
            message = messages.render_message(rule.message, row)
        except Exception as exc:  # noqa: BLE001
            return result("error", f"message template failed: {engine._one_line(str(exc))}")
        fix: str | None = None
        if rule.remediation:
            try:
                fix = remediation.render(rule.remediation, row, rule.path).strip() or None
            except Exception as exc:  # noqa: BLE001
                problems.append(engine._one_line(str(exc)))
                fix = None
        fields = {k: engine._text_or_none(row.get(k)) for k in FINDING_FIELDS}
        findings.append(
            Finding(
                rule_id=rule.id,
                severity=effective,
                message=message,
                database=fields["database"],
                object_type=fields["object_type"] or rule.object_type,
                schema=fields["schema"],
                object_name=fields["object_name"],
                object_identity=fields["object_identity"],
                role=fields["role"],
                remediation=fix,
                manual=rule.manual if fix is None else None,
                destructive=rule.destructive,
                details=row,
            )
        )
    findings.sort(
        key=lambda f: (
            f.database or "",
            f.object_type or "",
            f.object_identity or f.object_name or "",
            f.role or "",
            f.message,
        )
    )
    if problems:
        return result(
            "error",
            f"remediation did not render for {len(problems)} finding(s): {problems[0]}",
            findings,
        )
    return result("fail" if findings else "pass", None, findings)


def _summary(res: Any) -> tuple[Any, ...]:
    return (
        res.status,
        res.reason,
        res.severity,
        [(dataclasses.asdict(f), {k: type(v) for k, v in f.details.items()}) for f in res.findings],
    )


def _same(rule: Rule, columns: list[str], rows: list[tuple[Any, ...]]) -> Any:
    cfg = DefaultSettings()
    old = _old_rule_result(rule, cfg, (columns, rows))
    new = engine._rule_result(rule, cfg, (columns, [tuple(r) for r in rows]))
    assert _summary(new) == _summary(old), rule.id
    return new


def _names(template: str | None, env: Any) -> set[str]:
    return set(meta.find_undeclared_variables(env.parse(template))) if template else set()


_KINDS = ["table", "view", "function", "schema", "database", "sequence", "type", "bogus"]
_CHOICES: dict[str, list[Any]] = {
    "kind": _KINDS,
    "object_type": _KINDS,
    "object_class": ["relation", "function", "schema", "database", "type", "large_object"],
    "evidence": ["direct", "set_role", "other"],
    "role_kind": ["writer", "reader", "app"],
    "source": ["default", "explicit"],
    "identity_args": ["", "integer", "p integer, q text", "x int); DROP TABLE t; --", None],
    "object_oid": [16401, "16401", True, None],
}


def _value(name: str, rnd: random.Random) -> Any:
    if name in _CHOICES:
        return rnd.choice(_CHOICES[name])
    if name.endswith(("roles", "_to", "privileges", "columns", "examples")):
        return rnd.choice(
            [
                rnd.sample(HOSTILE[:8], rnd.randint(0, 3)),
                ["SELECT", "INSERT"],
                "SELECT, UPDATE",
                None,
            ]
        )
    return rnd.choice(
        [
            *HOSTILE,
            None,
            None,
            True,
            False,
            0,
            1,
            7,
            decimal.Decimal("2"),
            decimal.Decimal("2.5"),
            dt.date(2027, 3, 6),
            [1, "x", None],
        ]
    )


def test_builtin_rules_give_the_same_findings_both_ways(builtin_rules: tuple) -> None:
    """Every built-in rule over rows of hostile, mistyped and repeated values: equal
    sort keys (stability), fixes that render and fixes that fail, on both paths."""
    rnd = random.Random(17)
    fixes = errors = findings = 0
    for rule in builtin_rules:
        if not rule.on_snapshot:
            continue
        names = _names(rule.message, messages.template_env())
        names |= _names(rule.remediation, remediation._environment())
        columns = sorted(names | set(FINDING_FIELDS))
        base = [_value(c, rnd) for c in columns]
        rows = []
        for i in range(40):
            row = list(base) if i % 4 == 0 else [_value(c, rnd) for c in columns]
            rows.append(tuple(row))
        res = _same(rule, columns, rows)
        findings += len(res.findings)
        fixes += sum(f.remediation is not None for f in res.findings)
        errors += res.status == "error"
    assert findings > 1000 and fixes > 200 and errors > 5  # both sides of every branch


def test_realistic_rows_render_fixes_both_ways(builtin_rules: tuple) -> None:
    """Rows shaped like the real ones of the rules with the most findings."""
    rules = {r.id: r for r in builtin_rules}
    columns = [
        "database",
        "object_type",
        "schema",
        "object_name",
        "object_identity",
        "role",
        "kind",
        "identity_args",
        "source",
        "app",
        "grant_to",
        "routes",
        "route_example",
    ]
    rows = [
        (
            db,
            "function",
            schema,
            f"f_{i % 3}",
            f"{schema}.f_{i % 3}(p integer)",
            role,
            "function",
            "p integer",
            "explicit" if i % 2 else "default",
            "ledger",
            [role, "db_writer"],
            i % 3,
            None,
        )
        for i, (db, schema, role) in enumerate(
            (db, schema, role)
            for db in ("saas_1", "Ünï")
            for schema in HOSTILE[:6]
            for role in HOSTILE[:4]
        )
    ]
    res = _same(rules["PGR-PRIV-014"], columns, rows[::-1])
    assert res.status == "fail" and all(f.remediation for f in res.findings)


def test_duplicate_columns_and_converted_values() -> None:
    rule = Rule(
        id="PGR-TEST-001",
        title="t",
        severity="high",
        category="roles",
        rationale="r",
        query="select 1",
        message="{{ role }} {{ x }}",
        remediation="REVOKE {{ role|role }} FROM {{ x|ident }};",
        path="test",
    )
    rows = [
        ("a", "b", decimal.Decimal("1")),
        ("c", "d", "e"),
        ("c", None, [decimal.Decimal("1.5"), dt.date(2026, 1, 1)]),
    ]
    _same(rule, ["role", "role", "x"], rows)
    _same(rule, ["role", "y", "x"], rows)
    _same(rule, ["role", "y", "x"], [])


@pytest.mark.parametrize(
    ("message", "fix"),
    [
        ("{{ role", None),  # the message does not compile: the first row's error
        ("{{ nope }}", None),  # a column the query does not return
        ("{{ role }}", "REVOKE ALL ON t FROM {{ role }};"),  # an unquoted value
        ("{{ role }}", "REVOKE ALL ON t FROM {{ nope|role }};"),
        ("{{ role }}", "DROP TABLE {{ role|ident }} CASCADE;"),
        ("{{ role }}", "SELECT 1;"),
        ("{{ role }}", "{% if role == 'x' %}REVOKE a FROM {{ role|role }};{% endif %}"),
        ("{{ role }}", "ALTER TABLE {{ role|ident }} OWNER TO x, ADD COLUMN c int;"),
    ],
)
def test_broken_templates_fail_the_same_way(message: str, fix: str | None) -> None:
    rule = Rule(
        id="PGR-TEST-001",
        title="t",
        severity="high",
        category="roles",
        rationale="r",
        query="select 1",
        message=message,
        remediation=fix,
        path="test",
    )
    rows = [("x",), ("y",), ("public",), ("a\x00b",)]
    _same(rule, ["role"], rows)
    _same(rule, ["qualified"], rows)


def test_plain_rows_are_the_row_comprehension() -> None:
    rows = [
        (1, decimal.Decimal("2"), "x", [1, decimal.Decimal("3")]),
        (2, 5, None, None),
        (3, decimal.Decimal("2.5"), "y", [dt.date(2026, 1, 1)]),
    ]
    for columns in (["a", "b", "c", "d"], ["a", "b", "a", "d"]):
        old = [{c: engine._plain(v) for c, v in zip(columns, raw, strict=True)} for raw in rows]
        new = list(engine._plain_rows(columns, rows))
        assert new == old
        assert [list(r) for r in new] == [list(r) for r in old]  # the same key order
    with pytest.raises(ValueError):
        list(engine._plain_rows(["a"], [(1, 2)]))


def test_inventory_records_are_the_row_comprehension() -> None:
    """engine._records (the inventory's rows) against ``{c: _plain(v)}`` per row: the same
    values of the same types, the same key order, for the column types it leaves as they
    are (scalars, lists of them) and those it converts (timestamps, decimals, lists of
    decimals, structs), NULLs among them; an error is one line in ``errors``."""
    import duckdb

    con = duckdb.connect()
    sql = """
        SELECT * FROM (VALUES
            (1, 'a', true, ['x', NULL], TIMESTAMPTZ '2026-01-02 03:04:05+00', 2.50::DECIMAL(5,2),
             [1.5::DECIMAL(4,1)], {'k': DATE '2026-01-01'}, 7::HUGEINT, [3, NULL]),
            (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
            (3, 'b', false, [], NULL, 3::DECIMAL(5,2), [], {'k': NULL}, 8::HUGEINT, []))
        AS t(i, s, b, l, ts, d, dl, st, h, il)"""
    cur = con.execute(sql)
    columns = [c[0] for c in cur.description]
    old = [
        {c: engine._plain(v) for c, v in zip(columns, raw, strict=True)} for raw in cur.fetchall()
    ]
    inv: dict[str, Any] = {"errors": []}
    new = engine._records(con, sql, inv)
    assert new == old and inv["errors"] == []
    assert [list(r) for r in new] == [list(r) for r in old]
    assert [[type(v) for v in r.values()] for r in new] == [
        [type(v) for v in r.values()] for r in old
    ]
    assert new[0]["ts"] == old[0]["ts"] and isinstance(new[0]["ts"], str)
    assert engine._records(con, "SELECT 1 AS a, 2 AS a", inv) == [{"a": 2}]
    assert engine._records(con, "SELECT * FROM missing", inv) == [] and len(inv["errors"]) == 1


# --- check_sql: settled from the JSON text or decoded -----------------------------------

SQL = [
    'GRANT SELECT ON t TO a; REVOKE ALL ON "x;y" FROM PUBLIC',
    "\nGRANT EXECUTE ON FUNCTION s.f(p integer) TO a;\nREVOKE EXECUTE ON FUNCTION s.f() FROM PUBLIC;\n",
    'GRANT SELECT ON "{""stmt"":{""DropStmt"":" TO "x,""stmt_len"":3}"',
    'GRANT SELECT ON "Ünïcødé ""q""" TO "pass\nword"; GRANT a TO "bidi\u202eevil"',
    'GRANT a TO b;;; GRANT c TO "d;"  ;',
    "/* c */ GRANT a TO b; -- x\n GRANT c TO d",
    "ALTER TABLE t OWNER TO o",
    'GRANT SELECT ON t TO w; ALTER TABLE "T" OWNER TO "o"""',
    "ALTER TABLE t ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY",
    "ALTER TABLE t OWNER TO o, ADD COLUMN c int",
    "ALTER TABLE t ADD COLUMN c int; GRANT a TO b",
    "ALTER DEFAULT PRIVILEGES FOR ROLE o REVOKE ALL ON TABLES FROM x",
    "ALTER ROLE a VALID UNTIL '2027-03-06'",
    'ALTER ROLE "\'; DROP TABLE x; --" NOLOGIN',
    "REVOKE ALL ON t FROM x CASCADE",
    "ALTER ROLE a PASSWORD 'x'",
    "SELECT 1",
    "GRANT a TO b; SELECT 1",
    "",
    " ; ",
    "-- only a comment",
    "GRANT a TO",
]


def _check(sql: str) -> tuple[str, Any]:
    try:
        return ("ok", remediation.check_sql(sql, "origin"))
    except Exception as exc:  # noqa: BLE001 - the error is the result compared
        return (type(exc).__name__, str(exc))


@pytest.mark.parametrize("sql", SQL)
def test_settled_texts_are_the_decoded_ones(sql: str, monkeypatch: pytest.MonkeyPatch) -> None:
    settled = _check(sql)
    monkeypatch.setattr(remediation, "_settled_texts", lambda sql, raw: None)
    assert _check(sql) == settled


def test_settling_reaches_both_sides() -> None:
    """The corpus has texts settled without decoding (ALTER TABLE among them) and texts
    that must be decoded (refused, or a shape the reading does not settle)."""
    settled = []
    for sql in SQL:
        try:
            raw = remediation._raw_json(sql, "o")
        except remediation.RemediationError:
            continue
        if remediation._settled_texts(sql, raw) is not None:
            settled.append(sql)
    assert len(settled) >= 9
    assert any("ALTER TABLE" in s for s in settled)
    assert not any("CASCADE" in s or "SELECT 1" in s or "ADD COLUMN" in s for s in settled)


def test_a_reading_that_does_not_fit_is_not_settled() -> None:
    sql = "GRANT a TO b; GRANT c TO d"
    raw = remediation._raw_json(sql, "o")
    assert remediation._settled_texts(sql, raw) == ["GRANT a TO b", "GRANT c TO d"]
    assert ',"stmt_location":14}' in raw
    moved = raw.replace(',"stmt_location":14}', ',"stmt_location":14,"x":1}')
    assert remediation._settled_texts(sql, moved) is None  # numbers not where expected
    twice = raw.replace('"rolename":"d"', '"rolename":"d","stmt_len":3', 1)
    assert remediation._settled_texts(sql, twice) is None
    assert remediation._settled_texts(sql, raw.replace("GrantRoleStmt", "SelectStmt")) is None
    assert remediation._settled_texts(sql, '{"version":1,"stmts":[]}') is None


# --- the renderers: one per rule, many rows ---------------------------------------------

TEMPLATES = [
    "{% set y = a ~ '!' %}{{ y }}{{ b }}",
    "{% for x in range(n) %}{{ loop.index }}{{ x }},{% endfor %}{{ a|upper }}",
    "{{ a.__class__ }}",
    "{{ range }}",
    "{% if b %}{% set y = b %}{% endif %}{{ y }}",  # a row without b must not see y
    "{% autoescape true %}{{ a }}{% endautoescape %}{{ a }}",
]
ROWS: list[dict[str, Any]] = [
    {"a": "x", "b": "y", "n": 3},
    {"a": "z", "n": 0},
    {"a": 1, "b": [1, 2], "n": 2, "range": "shadowed"},
    {"self": 1, "a": "x", "b": "y", "n": 1},
    {"a": "w", "b": "v", "n": 1},
    {"a": "<b>", "n": 1},
]


def _outcome(fn: Any) -> tuple[str, str]:
    try:
        return ("ok", fn())
    except Exception as exc:  # noqa: BLE001 - the error is the result compared
        return (type(exc).__name__, str(exc))


@pytest.mark.parametrize("source", TEMPLATES)
def test_one_renderer_over_many_rows_is_template_render(source: str) -> None:
    for env in (messages.template_env(), remediation._environment()):
        tmpl = env.from_string(source)
        render = template_cache.renderer(tmpl)
        for row in ROWS:
            old = _outcome(lambda: tmpl.render(**row))  # noqa: B023 - called at once
            assert _outcome(lambda: render(row)) == old, (source, row)  # noqa: B023


def test_remediation_renderer_is_render() -> None:
    for template in [
        "REVOKE {{ a|role }} FROM {{ b|role }};",
        "REVOKE {{ a }} FROM x;",
        "{% macro m() %}{% endmacro %}",
        42,
    ]:
        render = remediation.renderer(template, "o")  # type: ignore[arg-type]
        for row in [{"a": "x", "b": "y"}, {"a": "x"}, {"a": "public", "b": "y"}, {"func": 1}]:
            old = _outcome(lambda: remediation.render(template, row, "o"))  # type: ignore[arg-type]  # noqa: B023
            assert _outcome(lambda: render(row)) == old  # noqa: B023


# --- the quoting helpers' memory ----------------------------------------------------------


def test_remembered_quoting_is_the_helpers_own() -> None:
    env = remediation._environment()
    for memo in remediation._MEMOS:
        memo.clear()
    ident, number, role = (env.filters[k] for k in ("ident", "number", "role"))
    for name in [*HOSTILE, *HOSTILE]:
        assert ident(name) == sqlquote.quote_ident(name)
    assert any(remediation._MEMOS)  # remembered
    assert number(1) == "1"
    with pytest.raises(TypeError):
        number(True)  # equal to 1, never its result
    assert role("x", True) == "PUBLIC" and role("x", False) == "x"
    with pytest.raises(TypeError):
        role("x", 1)  # not a boolean: refused every time
    for _ in range(2):
        with pytest.raises(ValueError, match="NUL"):
            ident("a\x00b")
    for _ in range(2):
        with pytest.raises(ValueError):
            role("public")
    sub = type("S", (str,), {})("x")
    assert ident(sub) == "x"


# The top-objects query of engine.build_inventory before it took distinct rows first: the
# oracle its result is compared with.
_TOP_OBJECTS_BEFORE = """
    SELECT p.grantee AS role, p.database, p.object_class, p.identity,
           list(DISTINCT p.privilege ORDER BY p.privilege) AS privileges,
           [CASE WHEN p.grantee = p.owner THEN 'owner' ELSE 'direct' END] AS via
    FROM privileges p
    WHERE list_contains(?::VARCHAR[], p.grantee) AND NOT coalesce(p.is_system, false)
    GROUP BY p.grantee, p.database, p.object_class, p.identity, p.grantee = p.owner
    QUALIFY row_number() OVER (PARTITION BY p.grantee
                               ORDER BY count(DISTINCT p.privilege) DESC, p.database,
                                        p.identity) <= ?
    ORDER BY role, p.database, p.identity"""


def test_inventory_top_objects_are_the_distinct_aggregates() -> None:
    """build_inventory's top_objects against the query with list(DISTINCT)/count(DISTINCT)
    it replaced, on privileges rows with what those aggregates are about: one privilege
    held through two grantors, a NULL privilege, owner and direct rows of one object,
    system objects, more objects than INVENTORY_TOP_OBJECTS (no ties in the order; the last
    one kept is decided by not counting a NULL privilege)."""
    import duckdb

    con = duckdb.connect()
    con.execute(
        "CREATE TABLE roles (name VARCHAR, oid BIGINT, login BOOLEAN, superuser BOOLEAN);"
        "INSERT INTO roles VALUES ('alice', 1, true, false), ('bob', 2, true, true),"
        " ('grp', 3, false, false);"
        "CREATE TABLE privileges (database VARCHAR, object_class VARCHAR, identity VARCHAR,"
        " owner VARCHAR, grantee VARCHAR, grantor VARCHAR, privilege VARCHAR,"
        " is_system BOOLEAN)"
    )
    rows = []
    for n in range(engine.INVENTORY_TOP_OBJECTS + 8):
        ident = f"s.t{n:03d}"
        for k, priv in enumerate(["SELECT", "INSERT", "UPDATE", "DELETE"][: 1 + n % 4]):
            for grantor in ("bob", "grp")[: 1 + k % 2]:  # the same privilege twice
                rows.append(("db1", "relation", ident, "bob", "alice", grantor, priv, None))
        rows.append(("db1", "relation", ident, "bob", "bob", "bob", "SELECT", False))
        rows.append(("db2", "column", ident, "bob", "alice", "bob", "UPDATE", False))
    rows += [
        ("db1", "relation", "s.a", "alice", "alice", "alice", "SELECT", False),
        ("db1", "relation", "s.b", "bob", "alice", "bob", "SELECT", False),
        ("db1", "relation", "s.t032", "bob", "alice", "bob", None, False),
        ("db1", "relation", "s.t003", "bob", "alice", "bob", None, False),
        ("db1", "relation", "pg_catalog.x", "bob", "alice", "bob", "SELECT", True),
        (None, "parameter", "work_mem", None, "alice", "bob", "SET", None),
        ("db1", "relation", "s.v", "bob", "grp", "bob", "SELECT", False),
    ]
    con.executemany("INSERT INTO privileges VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    inv = engine.build_inventory(con)
    before = con.execute(
        _TOP_OBJECTS_BEFORE, [["bob", "alice"], engine.INVENTORY_TOP_OBJECTS]
    ).fetchall()
    want: dict[str, list[dict[str, Any]]] = {"alice": [], "bob": []}
    for role, database, object_class, identity, privileges, via in before:
        want[role].append(
            {
                "database": database,
                "object_class": object_class,
                "identity": identity,
                "privileges": privileges,
                "via": via,
            }
        )
    got = {r: s["top_objects"] for r, s in inv["login_privileges"].items()}
    assert got == want
    assert [[list(o) for o in v] for v in got.values()] == [[list(o) for o in want[r]] for r in got]
    assert len(want["alice"]) == engine.INVENTORY_TOP_OBJECTS
    assert any(None in o["privileges"] for o in want["alice"])


def test_inventory_top_objects_that_tie_are_kept_and_listed_the_same_on_every_run() -> None:
    """Groups that tie on everything the ranking used to order by (a table's own row and its
    columns': the same count, database and identity) are ordered by class, then ownership:
    whatever order the rows arrive in, the same objects are kept, in the same order."""
    import duckdb

    top = engine.INVENTORY_TOP_OBJECTS
    rows = []
    for n in range(top - 1):  # more privileges than the tied pair: kept first
        rows += [("db", "relation", f"s.a{n:02d}", "o", "alice", p) for p in ("SELECT", "INSERT")]
    # one place left for three tied groups: the column's row, the relation's, and the
    # relation's row held as its owner
    rows += [
        ("db", "relation", "s.t", "o", "alice", "SELECT"),
        ("db", "column", "s.t", "o", "alice", "UPDATE"),
        ("db", "relation", "s.t", "alice", "alice", "SELECT"),
    ]
    seen = []
    for order in (rows, rows[::-1], rows[1::2] + rows[::2]):
        con = duckdb.connect()
        con.execute(
            "CREATE TABLE roles (name VARCHAR, oid BIGINT, login BOOLEAN, superuser BOOLEAN);"
            "INSERT INTO roles VALUES ('alice', 1, true, false);"
            "CREATE TABLE privileges (database VARCHAR, object_class VARCHAR, identity VARCHAR,"
            " owner VARCHAR, grantee VARCHAR, privilege VARCHAR, is_system BOOLEAN)"
        )
        con.executemany(
            "INSERT INTO privileges VALUES (?, ?, ?, ?, ?, ?, false)",
            [list(r) for r in order],
        )
        got = engine.build_inventory(con)["login_privileges"]["alice"]["top_objects"]
        seen.append(got)
        con.close()
    assert seen[0] == seen[1] == seen[2]
    assert len(seen[0]) == top
    # the last one kept: class 'column' before 'relation', not owned before owned
    assert seen[0][-1]["identity"] == "s.t" and seen[0][-1]["object_class"] == "column"
