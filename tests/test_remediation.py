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


def test_sql_with_a_nul_is_refused_not_cut_short() -> None:
    """PostgreSQL's parser stops at a NUL: what follows must not pass unchecked, whether
    the NUL comes from the checked text or from a template's own text (a TOML \\u0000;
    a value with one is refused by the quoting filters already)."""
    from pgaudit_roles.evaluate.remediation import check_and_classify, render

    sql = "GRANT a TO b\x00; DROP TABLE important"
    for check in (check_sql, split_statements, check_and_classify):
        with pytest.raises(RemediationError, match="NUL character") as exc:
            check(sql)
        assert "\\x00; DROP TABLE important" in str(exc.value)
    with pytest.raises(RemediationError, match="r.toml: generated SQL contains a NUL"):
        render("GRANT a TO {{ r|ident }};\x00 DROP TABLE important;", {"r": "b"}, "r.toml")


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


# --- classify reads libpg_query's JSON tree; the same rules on pglast's typed nodes ----
# are its spec, kept here: every statement below must get the same flags and grantees
# from both (and from check_and_classify, which the remediation script uses).

_CLUSTER_OBJTYPES = {"OBJECT_DATABASE", "OBJECT_TABLESPACE", "OBJECT_PARAMETER_ACL", "OBJECT_ROLE"}


def _typed_role_names(specs):
    from pglast import enums

    names, public = [], False
    for spec in specs or ():
        if spec.roletype == enums.RoleSpecType.ROLESPEC_PUBLIC:
            public = True
        elif spec.roletype == enums.RoleSpecType.ROLESPEC_CSTRING:
            names.append(spec.rolename)
        else:
            names.append("")
    return names, public


def _typed_flags(stmt, login_roles):
    flags = set()
    if isinstance(stmt, ast.GrantStmt):
        names, public = _typed_role_names(stmt.grantees)
        if stmt.is_grant:
            flags.add("grant")
        else:
            flags.add("revoke")
            if public and not names:
                flags.add("revoke_public")
            if any(n in login_roles or n == "" for n in names) and login_roles:
                flags.add("destructive")
        if getattr(stmt.objtype, "name", None) in _CLUSTER_OBJTYPES:
            flags.add("cluster")
    elif isinstance(stmt, ast.GrantRoleStmt):
        names, _ = _typed_role_names(stmt.grantee_roles)
        flags |= {"membership", "cluster", "grant" if stmt.is_grant else "revoke"}
        if not stmt.is_grant and login_roles and any(n in login_roles or n == "" for n in names):
            flags.add("destructive")
    elif isinstance(stmt, ast.AlterOwnerStmt):
        flags.add("ownership")
        if getattr(stmt.objectType, "name", None) in _CLUSTER_OBJTYPES:
            flags.add("cluster")
    elif isinstance(stmt, ast.AlterTableStmt):
        subtypes = {cmd.subtype.name for cmd in stmt.cmds or ()}
        flags.add("ownership" if "AT_ChangeOwner" in subtypes else "alter")
    elif isinstance(stmt, ast.ReassignOwnedStmt):
        flags |= {"reassign", "ownership"}
    elif isinstance(stmt, ast.DropOwnedStmt):
        flags |= {"drop", "drop_owned", "destructive"}
    elif isinstance(stmt, ast.DropRoleStmt):
        flags |= {"drop", "drop_role", "destructive", "cluster"}
    elif isinstance(stmt, ast.DropStmt):
        flags |= {"drop", "destructive"}
    elif isinstance(stmt, ast.CreateRoleStmt | ast.AlterRoleStmt):
        if isinstance(stmt, ast.CreateRoleStmt):
            flags |= {"create_role", "cluster"}
            if getattr(stmt.stmt_type, "name", None) == "ROLESTMT_USER":
                flags.add("login_role")
        else:
            flags |= {"role_attributes", "cluster"}
        adds = getattr(stmt, "action", 1) == 1
        for opt in stmt.options or ():
            if opt.defname == "canlogin":
                if getattr(opt.arg, "boolval", True):
                    flags.add("login_role")
                elif isinstance(stmt, ast.AlterRoleStmt):
                    flags.add("destructive")
            if opt.defname == "password" and opt.arg is None:
                flags.add("password_removed")
            if opt.defname == "rolemembers":
                flags |= {"membership", "grant" if adds else "revoke"}
                names, _ = _typed_role_names(opt.arg)
                if not adds and login_roles and any(n in login_roles or n == "" for n in names):
                    flags.add("destructive")
    elif isinstance(stmt, ast.AlterRoleSetStmt):
        flags |= {"role_settings", "cluster"}
    elif isinstance(stmt, ast.AlterDefaultPrivilegesStmt):
        flags.add("default_privileges")
    elif isinstance(stmt, ast.AlterSystemStmt):
        flags |= {"settings", "no_transaction", "cluster"}
    elif isinstance(stmt, ast.AlterDatabaseStmt | ast.AlterDatabaseSetStmt):
        flags |= {"alter", "cluster"}
    else:
        flags.add("alter")
    return flags


def _typed(sql, login_roles):
    """(flags, grantees) of each statement of ``sql`` from pglast's typed nodes."""
    out = []
    for raw in parse_sql(sql):
        stmt = raw.stmt
        grantees = []
        if isinstance(stmt, ast.GrantStmt):
            grantees = [n for n in _typed_role_names(stmt.grantees)[0] if n]
        out.append((_typed_flags(stmt, login_roles), grantees))
    return out


_STATEMENTS = [
    "GRANT SELECT ON t TO a, PUBLIC, CURRENT_USER",
    "GRANT SELECT, INSERT ON TABLE s.t, s.u TO a WITH GRANT OPTION",
    "REVOKE ALL ON ALL TABLES IN SCHEMA s FROM a, SESSION_USER",
    "REVOKE SELECT ON t FROM PUBLIC",
    "REVOKE CREATE ON SCHEMA public FROM PUBLIC",
    "GRANT CONNECT ON DATABASE d TO r",
    "REVOKE CONNECT, TEMPORARY ON DATABASE d FROM PUBLIC, r",
    "GRANT CREATE ON TABLESPACE ts TO r",
    "GRANT SET ON PARAMETER work_mem TO r",
    "REVOKE ALTER SYSTEM ON PARAMETER log_statement FROM r",
    "GRANT USAGE ON SEQUENCE s.q TO r",
    "REVOKE EXECUTE ON FUNCTION s.f(int) FROM PUBLIC",
    "REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA s FROM r",
    "GRANT USAGE ON FOREIGN SERVER srv TO r",
    "GRANT USAGE ON LANGUAGE plpgsql TO r",
    "REVOKE SELECT ON LARGE OBJECT 1234 FROM r",
    "GRANT a TO b",
    "GRANT a, b TO c, d WITH ADMIN OPTION",
    "GRANT a TO b WITH INHERIT FALSE, SET FALSE",
    "REVOKE a FROM b",
    "REVOKE ADMIN OPTION FOR a FROM b",
    "REVOKE a FROM CURRENT_USER",
    "ALTER TABLE s.t OWNER TO o",
    "ALTER TABLE s.t ENABLE ROW LEVEL SECURITY",
    "ALTER TABLE s.t FORCE ROW LEVEL SECURITY",
    "ALTER TABLE s.t ENABLE ROW LEVEL SECURITY, OWNER TO o",
    "ALTER VIEW s.v OWNER TO o",
    "ALTER SEQUENCE s.q OWNER TO o",
    "ALTER FUNCTION s.f(int) OWNER TO o",
    "ALTER SCHEMA s OWNER TO o",
    "ALTER DATABASE d OWNER TO o",
    "ALTER TABLESPACE ts OWNER TO o",
    "ALTER TYPE s.ty OWNER TO o",
    "REASSIGN OWNED BY a, b TO c",
    "DROP OWNED BY a",
    "DROP ROLE IF EXISTS a, b",
    "DROP TABLE IF EXISTS t",
    "DROP FUNCTION s.f(int)",
    "CREATE ROLE x",
    "CREATE ROLE x LOGIN PASSWORD NULL ROLE u, v IN ROLE g ADMIN w",
    "CREATE ROLE x NOLOGIN",
    "CREATE ROLE x WITH LOGIN CONNECTION LIMIT 3",
    "CREATE USER y",
    "CREATE USER y NOLOGIN",
    "CREATE GROUP z USER u",
    "ALTER ROLE a NOSUPERUSER NOCREATEROLE NOBYPASSRLS",
    "ALTER ROLE a NOLOGIN",
    "ALTER ROLE a WITH LOGIN",
    "ALTER ROLE a PASSWORD NULL",
    "ALTER ROLE a VALID UNTIL 'infinity'",
    "ALTER ROLE a CONNECTION LIMIT 10",
    "ALTER USER a NOLOGIN",
    "ALTER GROUP g ADD USER u, v",
    "ALTER GROUP g DROP USER u, v",
    "ALTER ROLE a SET search_path = pg_catalog",
    "ALTER ROLE a IN DATABASE d RESET ALL",
    "ALTER DEFAULT PRIVILEGES FOR ROLE o IN SCHEMA s GRANT SELECT ON TABLES TO r",
    "ALTER DEFAULT PRIVILEGES FOR ROLE o REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC",
    "ALTER SYSTEM SET log_connections = on",
    "ALTER SYSTEM RESET ALL",
    "ALTER DATABASE d SET search_path = pg_catalog",
    "ALTER DATABASE d CONNECTION LIMIT 5",
    "ALTER DATABASE d ALLOW_CONNECTIONS false",
    "ALTER FUNCTION s.f() SET search_path = pg_catalog, pg_temp",
    "ALTER FUNCTION s.f() SECURITY INVOKER",
    "COMMENT ON ROLE a IS 'x'",
]
_LOGINS = [(), {"a", "b", "app_api"}, {"u", "c", "r", "y"}]


@pytest.mark.parametrize("sql", _STATEMENTS)
def test_classify_from_json_matches_the_typed_nodes(sql: str) -> None:
    from pgaudit_roles.evaluate.remediation import check_and_classify, privilege_grantees

    for login in _LOGINS:
        typed = _typed(sql, login)
        assert [(classify(sql, login_roles=login), privilege_grantees(sql))] == typed
        checked = check_and_classify(sql + ";", login_roles=login)
        assert [c.sql for c in checked] == check_sql(sql + ";") == [sql]
        assert [(c.flags, c.grantees) for c in checked] == typed


@settings(max_examples=200, deadline=None)
@given(a=HOSTILE, b=HOSTILE, login=st.booleans())
def test_classify_from_json_matches_the_typed_nodes_for_hostile_names(
    a: str, b: str, login: bool
) -> None:
    from pgaudit_roles.evaluate.remediation import check_and_classify

    sql = render(
        "REVOKE ALL ON TABLE {{ qualified(a, b) }} FROM {{ a|role }}, {{ b|role }};\n"
        "GRANT {{ a|ident }} TO {{ b|ident }};\n"
        "REVOKE {{ b|ident }} FROM {{ a|ident }};\n"
        "ALTER GROUP {{ a|ident }} DROP USER {{ b|ident }};\n"
        "ALTER ROLE {{ b|ident }} NOLOGIN;",
        {"a": a, "b": b},
    )
    logins = {a} if login else ()
    checked = check_and_classify(sql, login_roles=logins)
    assert [(c.flags, c.grantees) for c in checked] == _typed(sql, logins)
