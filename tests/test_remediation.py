"""Remediation templates without a server: validation, rendering, parse checks, flags.

What is proved here on the parse tree (PostgreSQL's own parser, via pglast) is proved on
real servers, by applying the SQL, in test_remediation_server.py.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pglast import ast, parse_sql

from pgaudit_roles.core.errors import EXIT_USAGE, RuleError
from pgaudit_roles.evaluate.remediation import (
    RemediationError,
    check_sql,
    classify,
    render,
    split_statements,
    validate_template,
)

ORIGIN = "rules/PGR-TEST-001.toml"


@pytest.mark.parametrize(
    "template",
    [
        "REVOKE ALL ON TABLE {{ qualified(schema, object_name) }} FROM {{ role|role }};",
        "REVOKE ALL ON TABLE {{ schema|qualified(object_name) }} FROM {{ grantee|role(is_public) }};",
        "ALTER ROLE {{ role|ident }} NOSUPERUSER;",
        "COMMENT ON ROLE {{ role|ident }} IS {{ note|literal }};",
        "GRANT {{ privileges|privs }} ON {{ kind|grant_kind }} {{ qualified(schema, name) }} TO x;",
        "ALTER {{ kind|alter_kind }} {{ func(schema, name, args) }} OWNER TO {{ owner|role }};",
        "ALTER ROLE {{ role|ident }} CONNECTION LIMIT {{ 20|number }};",
        "{% for r in roles %}REVOKE {{ r|ident }} FROM {{ member|ident }};\n{% endfor %}",
        "{% if schema %}{{ schema|ident }}{% else %}{{ 'public' }}{% endif %}",
        "{% set target = owner %}ALTER SCHEMA s OWNER TO {{ target|role }};",
        "{{ schema|ident if schema else name|ident }}",
        "{{ schema|ident ~ '.' ~ name|ident }}",
        "REVOKE CREATE ON SCHEMA public FROM PUBLIC;",
        "{# a comment #}REVOKE ALL ON DATABASE {{ database|ident }} FROM PUBLIC;",
    ],
)
def test_validate_accepts_quoted_templates(template: str) -> None:
    validate_template(template, ORIGIN)


@pytest.mark.parametrize(
    ("template", "fragment"),
    [
        ("REVOKE ALL ON {{ object_name }} FROM x;", "{{ object_name }}"),
        ("REVOKE ALL ON t FROM {{ role|upper }};", "{{ role|upper }}"),
        ("{{ role|ident|replace('\"', '') }}", "role|ident|replace"),
        ("{{ role|ident ~ other }}", "{{ other }}"),
        ("{{ a|ident if c else b }}", "{{ b }}"),
        ("{{ row['name'] }}", "row['name']"),
        ("{{ r.name }}", "r.name"),
        ("{{ lipsum(1) }}", "lipsum(...)"),
        ("{{ 'x' + y }}", "add"),
        ("{% for r in roles %}{{ r }}{% endfor %}", "{{ r }}"),
    ],
)
def test_validate_rejects_raw_values(template: str, fragment: str) -> None:
    with pytest.raises(RemediationError) as err:
        validate_template(template, ORIGIN)
    msg = str(err.value)
    assert msg.startswith(ORIGIN + ": line 1: remediation interpolates ")
    assert "without a quoting filter" in msg
    assert fragment in msg


@pytest.mark.parametrize(
    ("template", "fragment"),
    [
        ("{% macro q(x) %}{{ x|ident }}{% endmacro %}", "{% macro %}"),
        ("{% filter replace('\"', '') %}{{ x|ident }}{% endfilter %}", "{% filter %}"),
        ("{% include 'other' %}", "{% include %}"),
        ("{% import 'm' as m %}", "{% import %}"),
        ("{% extends 'base' %}", "{% extends %}"),
        ("{% set qualified = lipsum %}{{ qualified(1, 2) }}", "re-binds"),
        ("{% for func in funcs %}{{ func(a, b, c) }}{% endfor %}", "re-binds"),
        ("{{ role(grantee, true) }}", "{{ role(...) }}"),  # role is a filter, not a function
        ("{% autoescape true %}{{ x|ident }}{% endautoescape %}", "autoescape"),
        ("{{ x|ident ", "syntax error"),
        ("line1\n{{ x }}", "line 2"),
    ],
)
def test_validate_rejects_constructs(template: str, fragment: str) -> None:
    with pytest.raises(RemediationError, match=None) as err:
        validate_template(template, ORIGIN)
    assert str(err.value).startswith(ORIGIN + ": ")
    assert fragment in str(err.value)


def test_remediation_error_is_a_rule_error() -> None:
    assert issubclass(RemediationError, RuleError)
    assert RemediationError("x").exit_code == EXIT_USAGE


def test_render_quotes_and_normalises() -> None:
    sql = render(
        "REVOKE ALL ON TABLE {{ qualified(schema, object_name) }} FROM {{ role|role }};\n"
        "-- a comment in the template\n"
        "{% if owner %}ALTER TABLE {{ schema|qualified(object_name) }} OWNER TO {{ owner|role }}{% endif %}",
        {
            "schema": "my s",
            "object_name": 'x"; DROP TABLE y; --',
            "role": "App",
            "owner": "db_owner",
        },
    )
    assert sql == (
        'REVOKE ALL ON TABLE "my s"."x""; DROP TABLE y; --" FROM "App";\n'
        'ALTER TABLE "my s"."x""; DROP TABLE y; --" OWNER TO db_owner;'
    )


def test_render_public_and_empty() -> None:
    t = "REVOKE CREATE ON SCHEMA {{ schema|ident }} FROM {{ grantee|role(grantee_oid == 0) }};"
    assert (
        render(t, {"schema": "s", "grantee": None, "grantee_oid": 0})
        == "REVOKE CREATE ON SCHEMA s FROM PUBLIC;"
    )
    assert (
        render(t, {"schema": "s", "grantee": "PUBLIC", "grantee_oid": 42})
        == 'REVOKE CREATE ON SCHEMA s FROM "PUBLIC";'
    )
    assert render("{% if x %}REVOKE ALL ON t FROM y;{% endif %}\n", {"x": False}) == ""


@pytest.mark.parametrize(
    ("template", "row", "fragment"),
    [
        ("REVOKE ALL ON t FROM {{ r|ident }}", {}, "does not return: 'r' is undefined"),
        ("REVOKE ALL ON t FROM {{ r|ident }}", {"r": None}, "cannot quote a value"),
        ("REVOKE ALL ON t FROM {{ r|ident }}", {"r": ""}, "does not parse"),
        ("REVOKE ALL ON t FROM {{ r|role }}", {"r": "public"}, "cannot quote a value"),
        ("GRANT {{ p|privs }} ON t TO x", {"p": "SELECT; DROP TABLE x"}, "unknown privilege"),
        ("ALTER ROLE x CONNECTION LIMIT {{ n|number }}", {"n": "5; DROP"}, "cannot quote a value"),
        (
            "ALTER ROLE {{ r|ident }} PASSWORD {{ p|literal }}",
            {"r": "a", "p": "s3cret"},
            "password",
        ),
        ("CREATE ROLE {{ r|ident }} LOGIN ENCRYPTED PASSWORD 'x'", {"r": "a"}, "password"),
        ("SELECT pg_read_file('/etc/passwd')", {}, "SelectStmt is not allowed"),
        ("DO $$ BEGIN NULL; END $$", {}, "DoStmt is not allowed"),
        ("BEGIN; REVOKE ALL ON t FROM x; COMMIT", {}, "TransactionStmt is not allowed"),
        ("DELETE FROM t", {}, "DeleteStmt is not allowed"),
        ("ALTER TABLE t ADD COLUMN c int", {}, "AT_AddColumn is not allowed"),
        ("DROP TABLE {{ t|ident }} CASCADE", {"t": "x"}, "CASCADE is not allowed"),
        ("REVOKE ALL ON t FROM x CASCADE", {}, "CASCADE is not allowed"),
        ("REVOKE ALL ON t FROM x; \\connect other", {}, "does not parse"),
        (
            "GRANT SELECT ON TABLE {{ x.__class__|ident }} TO y",
            {"x": "t"},
            "blocked by the sandbox",
        ),
    ],
)
def test_render_refuses(template: str, row: dict, fragment: str) -> None:
    with pytest.raises(RemediationError) as err:
        render(template, row, ORIGIN)
    assert str(err.value).startswith(ORIGIN + ": ")
    assert fragment in str(err.value)


def test_column_named_like_a_function_is_refused() -> None:
    """A row value would hide the function of that name; say so instead of failing oddly."""
    with pytest.raises(RemediationError, match="column named func"):
        render(
            "ALTER FUNCTION {{ func(s, f, a) }} OWNER TO o;",
            {"func": "f", "s": "s", "f": "f", "a": ""},
            ORIGIN,
        )
    # A column called role is fine: role is only a filter.
    assert render("ALTER ROLE {{ role|role }} NOLOGIN;", {"role": "r"}) == "ALTER ROLE r NOLOGIN;"


def test_password_null_is_allowed() -> None:
    """Removing a password carries no secret."""
    assert (
        render("ALTER ROLE {{ r|ident }} PASSWORD NULL;", {"r": "a"})
        == "ALTER ROLE a PASSWORD NULL;"
    )


def test_check_and_split() -> None:
    assert check_sql('GRANT SELECT ON t TO a; REVOKE ALL ON "x;y" FROM PUBLIC') == [
        "GRANT SELECT ON t TO a",
        'REVOKE ALL ON "x;y" FROM PUBLIC',
    ]
    assert split_statements('ALTER ROLE "a\nb" NOLOGIN;') == ['ALTER ROLE "a\nb" NOLOGIN']
    with pytest.raises(RemediationError, match="no statement"):
        check_sql("  -- nothing\n")


@pytest.mark.parametrize(
    ("sql", "login", "expected", "absent"),
    [
        (
            "REVOKE CREATE ON SCHEMA public FROM PUBLIC",
            (),
            {"revoke", "revoke_public"},
            {"destructive"},
        ),
        (
            "REVOKE SELECT ON t FROM app_api",
            {"app_api"},
            {"revoke", "destructive"},
            {"revoke_public"},
        ),
        ("REVOKE SELECT ON t FROM db_reader_api", {"app_api"}, {"revoke"}, {"destructive"}),
        ("REVOKE SELECT ON t FROM app_api", (), {"revoke"}, {"destructive"}),
        (
            "REVOKE SELECT ON t FROM PUBLIC, app_api",
            {"app_api"},
            {"revoke", "destructive"},
            {"revoke_public"},
        ),
        (
            "REVOKE db_owner_api FROM app_api",
            {"app_api"},
            {"revoke", "membership", "destructive", "cluster"},
            set(),
        ),
        ("GRANT db_writer_api TO app_api", {"app_api"}, {"grant", "membership"}, {"destructive"}),
        ("GRANT SELECT ON ALL TABLES IN SCHEMA s TO r", (), {"grant"}, {"cluster"}),
        ("GRANT CONNECT ON DATABASE d TO r", (), {"grant", "cluster"}, set()),
        ("ALTER TABLE s.t OWNER TO o", (), {"ownership"}, {"destructive"}),
        ("ALTER FUNCTION s.f(int) OWNER TO o", (), {"ownership"}, set()),
        ("ALTER DATABASE d OWNER TO o", (), {"ownership", "cluster"}, set()),
        ("REASSIGN OWNED BY a TO b", (), {"reassign", "ownership"}, {"destructive"}),
        ("DROP OWNED BY a", (), {"drop", "drop_owned", "destructive"}, set()),
        ("DROP ROLE IF EXISTS a", (), {"drop", "drop_role", "destructive", "cluster"}, set()),
        ("DROP TABLE IF EXISTS t", (), {"drop", "destructive"}, set()),
        (
            "ALTER ROLE a NOSUPERUSER NOCREATEROLE",
            (),
            {"role_attributes", "cluster"},
            {"destructive"},
        ),
        ("ALTER ROLE a NOLOGIN", (), {"role_attributes", "destructive"}, set()),
        ("ALTER ROLE a CONNECTION LIMIT 10", (), {"role_attributes"}, {"destructive"}),
        ("ALTER ROLE a SET search_path = pg_catalog", (), {"role_settings"}, set()),
        (
            "ALTER DEFAULT PRIVILEGES FOR ROLE o IN SCHEMA s GRANT SELECT ON TABLES TO r",
            (),
            {"default_privileges"},
            {"grant"},
        ),
        ("ALTER SYSTEM SET log_connections = on", (), {"settings", "no_transaction"}, set()),
        ("ALTER FUNCTION s.f() SET search_path = pg_catalog, pg_temp", (), {"alter"}, set()),
    ],
)
def test_classify(sql: str, login: tuple | set, expected: set, absent: set) -> None:
    flags = classify(sql, login_roles=login)
    assert expected <= flags, flags
    assert not (absent & flags), flags


def test_import_is_light() -> None:
    code = (
        "import sys, pgaudit_roles.evaluate.remediation; "
        "print(any(m in sys.modules for m in ('jinja2', 'pglast')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --- hostile names, proved on the parse tree -------------------------------------------

_CHARS = st.characters(exclude_characters="\x00", exclude_categories=("Cs",))
HOSTILE = st.one_of(
    st.text(_CHARS, min_size=1, max_size=20),
    st.sampled_from(
        [
            "'; DROP TABLE x; --",
            'a"b',
            '"',
            "a\\b",
            "a b",
            "a\nb",
            "\r\n",
            "é",
            "select",
            "Table",
            "user",
            "<script>alert(1)</script>",
            "PUBLIC",
            "x; DROP TABLE y",
            "$1",
            "$$",
            "/*",
            "--",
            "%s",
            "{{ x }}",
            ":var",
        ]
    ),
).filter(lambda s: 0 < len(s.encode()) < 64 and s not in ("public", "none"))


@settings(max_examples=300, deadline=None)
@given(schema=HOSTILE, table=HOSTILE, role=HOSTILE, owner=HOSTILE)
def test_hostile_names_parse_to_exactly_the_intended_objects(
    schema: str, table: str, role: str, owner: str
) -> None:
    sql = render(
        "REVOKE ALL ON TABLE {{ qualified(schema, object_name) }} FROM {{ role|role }};\n"
        "ALTER TABLE {{ qualified(schema, object_name) }} OWNER TO {{ owner|role }};\n"
        "REVOKE CREATE ON SCHEMA {{ schema|ident }} FROM PUBLIC;\n"
        "COMMENT ON ROLE {{ role|ident }} IS {{ table|literal }};",
        {"schema": schema, "object_name": table, "role": role, "owner": owner, "table": table},
    )
    stmts = [s.stmt for s in parse_sql(sql)]
    assert len(stmts) == 4
    revoke, alter, schema_revoke, comment = stmts
    assert isinstance(revoke, ast.GrantStmt) and not revoke.is_grant
    rel = revoke.objects[0]
    assert (rel.schemaname, rel.relname) == (schema, table)
    assert [g.rolename for g in revoke.grantees] == [role]
    assert isinstance(alter, ast.AlterTableStmt)
    assert (alter.relation.schemaname, alter.relation.relname) == (schema, table)
    assert alter.cmds[0].newowner.rolename == owner
    assert isinstance(schema_revoke, ast.GrantStmt)
    assert [o.sval for o in schema_revoke.objects] == [schema]
    assert isinstance(comment, ast.CommentStmt)
    assert comment.object.sval == role and comment.comment == table
