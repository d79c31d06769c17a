"""The twin's build plan and the verified script's rendering, without a server.

Every statement the twin would run is parsed by pglast, and hostile names (quotes,
newlines, unicode, ``<script>``) come out of the parse tree exactly as they went in: the
snapshot is a file anyone can edit, so nothing in it may reach SQL unquoted.
"""

from __future__ import annotations

from typing import Any

import pytest

from pgaudit_roles.collect.snapshot import (
    CLUSTER_TABLES,
    DATABASE_TABLES,
    DatabaseSnapshot,
    Snapshot,
    Table,
)
from pgaudit_roles.core.model import Finding, Rule, RuleResult, ScanResult
from pgaudit_roles.reports.sql_script import render_sql_script
from pgaudit_roles.twin.plan import guc_value_sql, plan
from pgaudit_roles.twin.verify import Verification, unverified

ROLE = "r \"q'uote <script>alert(1)</script>\nnaïve \u2603"
SCHEMA = "s ch\"ema'\n<b>"
TABLE = "t ab\"le'\n\u00fc"
COLUMN = "c ol\"'\n"
DB = "d b\"q'\n<script>"


def _table(spec: list[tuple[str, str, str]], rows: list[dict[str, Any]]) -> Table:
    cols = [c[0] for c in spec]
    return Table(cols, [[r.get(c) for c in cols] for r in rows])


def _snapshot() -> Snapshot:
    role = {
        "oid": 20000,
        "name": ROLE,
        "superuser": False,
        "inherit": True,
        "createrole": False,
        "createdb": False,
        "login": True,
        "replication": False,
        "bypassrls": False,
        "connection_limit": 3,
        "valid_until": "2030-01-01T00:00:00Z",
        "password_type": "md5",
        "config": None,
        "predefined": False,
        "comment": "it's <b>me</b>",
    }
    group = {
        **role,
        "oid": 20001,
        "name": "grp",
        "login": False,
        "comment": None,
        "valid_until": None,
    }
    boot = {**role, "oid": 10, "name": "postgres", "superuser": True, "comment": None}
    cluster = {
        "roles": _table(CLUSTER_TABLES["roles"], [boot, role, group]),
        "memberships": _table(
            CLUSTER_TABLES["memberships"],
            [
                {
                    "role_oid": 20001,
                    "member_oid": 20000,
                    "grantor_oid": 10,
                    "admin_option": True,
                    "inherit_option": False,
                    "set_option": True,
                }
            ],
        ),
        "databases": _table(
            CLUSTER_TABLES["databases"],
            [
                {
                    "oid": 5,
                    "name": "postgres",
                    "owner_oid": 10,
                    "allow_connections": True,
                    "is_template": False,
                    "connection_limit": -1,
                    "acl_state": "default",
                    "auditor_can_connect": True,
                },
                {
                    "oid": 30000,
                    "name": DB,
                    "owner_oid": 20001,
                    "allow_connections": True,
                    "is_template": False,
                    "connection_limit": -1,
                    "acl_state": "explicit",
                    "auditor_can_connect": True,
                },
            ],
        ),
        "db_role_settings": _table(
            CLUSTER_TABLES["db_role_settings"],
            [
                {
                    "database_oid": 30000,
                    "role_oid": 20000,
                    "config": ['search_path="$user", public', "statement_timeout=5s"],
                }
            ],
        ),
        "shared_acl": _table(
            CLUSTER_TABLES["shared_acl"],
            [
                {
                    "object_class": "database",
                    "object_oid": 30000,
                    "object_name": DB,
                    "grantor_oid": 20001,
                    "grantee_oid": 20000,
                    "privilege": "CONNECT",
                    "grantable": False,
                }
            ],
        ),
    }
    db = DatabaseSnapshot(
        oid=30000,
        name=DB,
        status="collected",
        tables={
            "schemas": _table(
                DATABASE_TABLES["schemas"],
                [
                    {
                        "oid": 40000,
                        "name": SCHEMA,
                        "owner_oid": 20001,
                        "acl_state": "explicit",
                        "is_system": False,
                    }
                ],
            ),
            "objects": _table(
                DATABASE_TABLES["objects"],
                [
                    {
                        "object_class": "relation",
                        "oid": 40001,
                        "kind": "table",
                        "schema_oid": 40000,
                        "name": TABLE,
                        "identity_args": None,
                        "owner_oid": 20001,
                        "acl_state": "explicit",
                        "extension": None,
                        "trusted": None,
                    },
                    {
                        "object_class": "function",
                        "oid": 40002,
                        "kind": "function",
                        "schema_oid": 40000,
                        "name": TABLE,
                        "identity_args": '"a""rg" integer',
                        "owner_oid": 20001,
                        "acl_state": "default",
                        "extension": None,
                        "trusted": None,
                    },
                ],
            ),
            "columns": _table(
                DATABASE_TABLES["columns"], [{"table_oid": 40001, "attnum": 2, "name": COLUMN}]
            ),
            "acl": _table(
                DATABASE_TABLES["acl"],
                [
                    {
                        "object_class": "relation",
                        "object_oid": 40001,
                        "subid": 0,
                        "grantor_oid": 20001,
                        "grantee_oid": 0,
                        "privilege": "SELECT",
                        "grantable": False,
                    },
                    {
                        "object_class": "column",
                        "object_oid": 40001,
                        "subid": 2,
                        "grantor_oid": 20001,
                        "grantee_oid": 20000,
                        "privilege": "UPDATE",
                        "grantable": True,
                    },
                ],
            ),
            "functions": _table(
                DATABASE_TABLES["functions"],
                [
                    {
                        "oid": 40002,
                        "security_definer": True,
                        "config": ["search_path=pg_catalog, pg_temp"],
                        "language": "plpgsql",
                        "leakproof": False,
                    }
                ],
            ),
            "default_acls": _table(
                DATABASE_TABLES["default_acls"],
                [
                    {
                        "oid": 1,
                        "creator_oid": 20001,
                        "schema_oid": 40000,
                        "objtype": "r",
                        "grantor_oid": 20001,
                        "grantee_oid": 20000,
                        "privilege": "SELECT",
                        "grantable": False,
                    }
                ],
            ),
        },
    )
    return Snapshot(meta={"server_version_num": 160004}, cluster=cluster, databases=[db])


def _names(node: Any, out: set[str]) -> set[str]:
    """Every string value in a pglast parse tree."""
    if isinstance(node, str):
        out.add(node)
    elif isinstance(node, dict):
        for v in node.values():
            _names(v, out)
    elif isinstance(node, list | tuple):
        for v in node:
            _names(v, out)
    return out


@pytest.mark.parametrize("twin_version", [130000, 160000, 180000])
def test_every_step_parses_and_names_survive(twin_version: int) -> None:
    import json

    from pglast.parser import parse_sql_json

    p = plan(_snapshot(), twin_version)
    found: set[str] = set()
    count = 0
    for _name, steps in p.phases:
        for s in steps:
            for sql in [*s.pre, s.sql, *s.post]:
                tree = json.loads(parse_sql_json(sql))
                assert len(tree["stmts"]) == 1, sql
                _names(tree, found)
                count += 1
                assert "PASSWORD" not in sql.upper()
    assert count > 15
    for name in (ROLE, SCHEMA, TABLE, COLUMN, DB, "it's <b>me</b>"):
        assert name in found, f"{name!r} did not survive quoting"
    sqls = [s.sql for _n, steps in p.phases for s in steps]
    assert any(
        "SECURITY DEFINER" in s and "SET search_path TO 'pg_catalog', 'pg_temp'" in s for s in sqls
    )
    membership = next(s for s in sqls if s.startswith("GRANT grp TO"))
    if twin_version >= 160000:
        assert "ADMIN TRUE, INHERIT FALSE, SET TRUE GRANTED BY postgres" in membership
    else:
        assert "WITH ADMIN OPTION GRANTED BY postgres" in membership


def test_list_settings_are_split_into_literals() -> None:
    assert guc_value_sql("search_path", '"$user", public') == "'$user', 'public'"
    assert guc_value_sql("search_path", '"a,""b", c') == "'a,\"b', 'c'"
    assert guc_value_sql("statement_timeout", "5s") == "'5s'"
    assert guc_value_sql("search_path", "") == "''"


def _result(findings: list[Finding]) -> ScanResult:
    rule = Rule(
        id="PGR-X-001",
        title="t",
        severity="high",
        category="c",
        rationale="r",
        query="SELECT 1",
        message="m",
    )
    return ScanResult(
        meta={"target": {"host": "h", "dbname": "postgres"}},
        results=[RuleResult(rule, "fail", findings=findings)],
    )


def test_a_fix_that_failed_on_the_twin_is_listed_not_emitted() -> None:
    ok = Finding(
        "PGR-X-001",
        "high",
        "m",
        database="app",
        object_identity="a",
        remediation="REVOKE ALL ON TABLE a FROM PUBLIC;",
    )
    bad = Finding(
        "PGR-X-001",
        "high",
        "m",
        database="app",
        object_identity="b",
        remediation="REVOKE ALL ON TABLE b FROM PUBLIC;",
    )
    follow = Finding(
        "PGR-X-001",
        "high",
        "m",
        database="app",
        object_identity="c",
        remediation="REVOKE ALL ON TABLE c FROM PUBLIC;",
    )
    v = Verification(
        level="all",
        verified=True,
        twin_version="18.1",
        rounds=2,
        converged=False,
        followups=[follow],
        failed={bad.fingerprint: 'relation "b" does not exist'},
        fixed=1,
        problems=["1 fix(es) failed on the twin (listed, not emitted)"],
    )
    script = render_sql_script(_result([ok, bad]), "all", verification=v)
    body = [ln for ln in script.splitlines() if not ln.startswith("--")]
    assert "REVOKE ALL ON TABLE a FROM PUBLIC;" in body
    assert "REVOKE ALL ON TABLE c FROM PUBLIC;" in body  # the folded follow-up
    assert "REVOKE ALL ON TABLE b FROM PUBLIC;" not in body
    assert '--     ERROR: relation "b" does not exist' in script
    assert bad.fingerprint in script
    assert "-- verified:  yes, on a twin of the snapshot (PostgreSQL 18.1" in script
    assert "converged: NO - 1 fix(es) failed on the twin" in script


def test_unverified_header() -> None:
    f = Finding(
        "PGR-X-001",
        "high",
        "m",
        database="app",
        object_identity="a",
        remediation="REVOKE ALL ON TABLE a FROM PUBLIC;",
    )
    script = render_sql_script(
        _result([f]), "safe", verification=unverified("safe", "--no-verify was given")
    )
    assert "-- verified:  no (--no-verify was given)" in script
    plain = render_sql_script(_result([f]), "safe")
    assert "-- verified:  no (unverified: generated without a twin" in plain


def test_carry_over_keeps_what_the_twin_cannot_build() -> None:
    """A user tablespace (it needs a directory on the server) and the sources a throwaway
    server cannot have are taken from the source and marked, never dropped."""
    import copy
    from types import SimpleNamespace

    from pgaudit_roles.twin.carry import carry_over

    source = _snapshot()
    source.cluster["tablespaces"] = _table(
        CLUSTER_TABLES["tablespaces"],
        [
            {"oid": 1663, "name": "pg_default", "owner_oid": 10, "acl_state": "default"},
            {"oid": 50000, "name": "fast ssd\n<b>", "owner_oid": 20001, "acl_state": "default"},
        ],
    )
    source.cluster["hba_rules"] = _table(
        CLUSTER_TABLES["hba_rules"],
        [
            {
                "rule_number": 1,
                "type": "local",
                "databases": ["all"],
                "users": ["all"],
                "auth_method": "trust",
            }
        ],
    )
    source.meta["sources"] = {"hba_rules": {"collected": True, "reason": None}}
    twin_snap = copy.deepcopy(source)
    twin_snap.cluster["tablespaces"] = _table(
        CLUSTER_TABLES["tablespaces"],
        [{"oid": 1663, "name": "pg_default", "owner_oid": 10, "acl_state": "default"}],
    )
    twin_snap.cluster["hba_rules"] = _table(CLUSTER_TABLES["hba_rules"], [])
    fake = SimpleNamespace(
        failures=[],
        server_version="18.1",
        server_version_num=180001,
        build_seconds=1.0,
        databases=None,
        schemas=None,
        notes=[],
    )
    out = carry_over(source, twin_snap, fake)  # type: ignore[arg-type]
    assert "fast ssd\n<b>" in {r["name"] for r in out.table("tablespaces").dicts()}
    assert out.table("hba_rules").rows == source.table("hba_rules").rows
    assert out.meta["sources"]["hba_rules"]["carried_over"] is True
    assert any("fast ssd" in c for c in out.meta["twin"]["carried_over"])
    assert out.meta["twin"]["server_version"] == "18.1"


def test_large_snapshots_are_verified_only_on_request() -> None:
    from pgaudit_roles.commands._shared import AUTO_VERIFY_MAX_OBJECTS, _verification

    snap = _snapshot()
    row = {
        "object_class": "relation",
        "kind": "table",
        "schema_oid": 40000,
        "owner_oid": 20001,
        "acl_state": "default",
    }
    snap.databases[0].tables["objects"] = _table(
        DATABASE_TABLES["objects"],
        [{**row, "oid": 50000 + i, "name": f"t{i}"} for i in range(AUTO_VERIFY_MAX_OBJECTS + 1)],
    )
    f = Finding(
        "PGR-X-001",
        "high",
        "m",
        database="app",
        object_identity="a",
        remediation="REVOKE ALL ON TABLE a FROM PUBLIC;",
    )
    v = _verification(
        snap, [], None, _result([f]), {"remediation_level": "safe", "verify": None}, lambda _m: None
    )
    assert not v.verified and "pass --verify" in (v.unverified_reason or "")
    v = _verification(
        snap,
        [],
        None,
        _result([f]),
        {"remediation_level": "safe", "verify": False},
        lambda _m: None,
    )
    assert v.unverified_reason == "--no-verify was given"
    v = _verification(
        snap, [], None, _result([]), {"remediation_level": "safe", "verify": True}, lambda _m: None
    )
    assert v.unverified_reason == "no finding has an SQL fix"
