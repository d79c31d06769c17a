"""Collector logic that needs no server: query shapes, conninfo redaction, session options."""

from __future__ import annotations

import pglast
import pytest
from pglast import ast

from pgaudit_roles.collect import catalog_queries as q
from pgaudit_roles.collect.collector import _requested, redact_hba_options
from pgaudit_roles.collect.connect import (
    ConnectSettings,
    _clean_message,
    describe_target,
    parse_conninfo,
    redact_conninfo,
    startup_options,
)
from pgaudit_roles.collect.snapshot import CLUSTER_TABLES, DATABASE_TABLES
from pgaudit_roles.collect.spool import WIRE_FORMATS
from pgaudit_roles.core.errors import UsageError

VERSIONS = (130000, 140000, 150000, 160000, 170000, 180000)


def _all_queries(v: int) -> dict[str, tuple[str, list[str]]]:
    out = {
        name: (sql, [c[0] for c in CLUSTER_TABLES[name]])
        for name, sql in q.cluster_queries(v).items()
    }
    out["hba_rules"] = (q.hba_query(v), [c[0] for c in CLUSTER_TABLES["hba_rules"]])
    # A table sent in another shape (the grouped acl) is checked against its wire columns.
    out.update(
        {
            name: (sql, [c[0] for c in WIRE_FORMATS.get(name, ("", DATABASE_TABLES[name]))[1]])
            for name, sql in q.database_queries(v).items()
        }
    )
    return out


def _first_branch(stmt: ast.SelectStmt) -> ast.SelectStmt:
    while stmt.larg is not None:
        stmt = stmt.larg
    return stmt


@pytest.mark.parametrize("version", VERSIONS)
def test_every_query_is_one_select_with_the_snapshot_columns(version):
    for name, (sql, columns) in _all_queries(version).items():
        parsed = pglast.parse_sql(sql.replace("%(names)s", "'{}'"))
        assert len(parsed) == 1, name
        stmt = parsed[0].stmt
        assert isinstance(stmt, ast.SelectStmt), name
        assert sql.lstrip().upper().startswith("SELECT"), name  # logged as SELECT
        first = _first_branch(stmt)
        labels = [t.name for t in first.targetList]
        assert labels == columns, (name, labels)
        assert "WITH" not in sql.split("\n", 1)[0].upper()


def test_version_branches():
    assert "inherit_option AS inherit_option" not in q.cluster_queries(150000)["memberships"]
    assert "m.inherit_option" in q.cluster_queries(160000)["memberships"]
    assert "pg_parameter_acl" not in q.cluster_queries(140000)["shared_acl"]
    assert "pg_parameter_acl" in q.cluster_queries(150000)["shared_acl"]
    assert "h.rule_number" in q.hba_query(160000) and "row_number()" in q.hba_query(150000)


def test_queries_are_schema_qualified():
    """Every catalog relation and function is written pg_catalog.x (search_path hijack)."""
    for v in VERSIONS:
        for name, (sql, _cols) in _all_queries(v).items():
            tree = pglast.parse_sql(sql.replace("%(names)s", "'{}'"))
            assert list(_walk(tree, ast.RangeVar)), name
            for rv in _walk(tree, ast.RangeVar):
                assert rv.schemaname == "pg_catalog", (name, rv.relname)
            for fc in _walk(tree, ast.FuncCall):
                names = [n.sval for n in fc.funcname]
                assert names[0] == "pg_catalog" or names[-1] in _SQL_STANDARD_FUNCS, (name, names)


_SQL_STANDARD_FUNCS = {"coalesce"}


def _walk(node, kind):
    if isinstance(node, kind):
        yield node
    if isinstance(node, ast.Node):
        for attr in node:
            yield from _walk(getattr(node, attr), kind)
    elif isinstance(node, (list, tuple)):
        for item in node:
            yield from _walk(item, kind)


def test_redact_conninfo_drops_the_password():
    for dsn in (
        "host=db.example port=5433 user=aud password=Hunter2 dbname=app",
        "postgresql://aud:Hunter2@db.example:5433/app?sslmode=require",
    ):
        shown = redact_conninfo(dsn)
        assert "Hunter2" not in shown
        params = parse_conninfo(shown)
        assert params["host"] == "db.example" and params["user"] == "aud"
        assert "password" not in params
        assert describe_target(dsn) == "aud@db.example:5433/app"


def test_malformed_conninfo_is_a_usage_error_without_the_text():
    with pytest.raises(UsageError) as err:
        parse_conninfo("host=x password='Hunter2")
    assert "Hunter2" not in str(err.value)


def test_connection_error_message_is_one_line_and_masks_secrets():
    msg = _clean_message(
        "connection failed: FATAL:  password authentication failed for user "
        '"a" (sent Hunter2)\n\tsecond line\n',
        ["Hunter2"],
    )
    assert "\n" not in msg and "Hunter2" not in msg and "second line" in msg


def test_startup_options_ours_last_and_escaped():
    opts = startup_options(ConnectSettings(statement_timeout="30s"), "-c work_mem=64MB")
    assert opts.startswith("-c work_mem=64MB ")
    assert "-c default_transaction_read_only=on" in opts
    assert "-c statement_timeout=30s" in opts
    assert "-c search_path=pg_catalog,\\ pg_temp" in opts
    assert opts.index("work_mem") < opts.index("default_transaction_read_only")


@pytest.mark.parametrize(
    "kw",
    [
        {"statement_timeout": "soon"},
        {"lock_timeout": "1s -c x=y"},
        {"idle_in_transaction_session_timeout": ""},
        {"connect_timeout": -1},
    ],
)
def test_bad_settings_are_usage_errors(kw):
    with pytest.raises(UsageError):
        ConnectSettings(**kw)


def test_requested_databases():
    assert _requested(None, True) is None
    assert _requested(["b", "a", "b"], True) == ["b", "a"]
    with pytest.raises(UsageError):
        _requested([""], True)
    with pytest.raises(UsageError):
        _requested(None, False)


def test_hba_secrets_redacted():
    opts = ["ldapserver=x", "ldapbindpasswd=Hunter2", "radiussecrets=a,b", "map=m"]
    out = redact_hba_options(opts)
    assert out is not None and "Hunter2" not in " ".join(out) and "a,b" not in " ".join(out)
    assert "ldapserver=x" in out and "map=m" in out
    assert redact_hba_options(None) is None
    # option names in any case; the value only is replaced
    assert redact_hba_options(["LDAPBindPasswd=Hunter2", "radiussecrets=s1", "ldapserver=x"]) == [
        "LDAPBindPasswd=<redacted>",
        "radiussecrets=<redacted>",
        "ldapserver=x",
    ]
