"""The pg_hba and settings rules on hand-built snapshots, for what a test server cannot show.

The data-driven cases in tests/rules/cases run every PGR-HBA-* and PGR-SET-* rule on real
servers 13-18. A few inputs cannot come from those servers, and are covered here instead:

* pgaudit: it is not installed on the test servers, so shared_preload_libraries cannot
  hold it and ``pgaudit.log`` cannot be set (ALTER SYSTEM refuses an unknown parameter);
* ssl = on on 16 and 18, whose test builds have no SSL support;
* pg_hba_file_rules errors that only the server's view produces (a hostssl line while
  ssl is off: loaded, but it can never match);
* a /regular expression in pg_hba that DuckDB's RE2 cannot evaluate (look-behind).

The pg_hba rows come from the real offline parser; settings rows are written the way the
collector stores pg_settings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pgaudit_roles.collect.hba import parse_hba_file
from pgaudit_roles.collect.snapshot import CLUSTER_TABLES, DatabaseSnapshot, Snapshot, Table
from pgaudit_roles.config import Config
from pgaudit_roles.evaluate.engine import evaluate
from pgaudit_roles.evaluate.rules import find_rule, load_rules

RULES = load_rules()

BASE_SETTINGS = {
    "log_statement": "none",
    "shared_preload_libraries": "",
    "ssl": "off",
    "log_connections": "off",
    "log_disconnections": "off",
}


def _table(name: str, rows: list[dict[str, Any]]) -> Table:
    cols = [c[0] for c in CLUSTER_TABLES[name]]
    return Table(columns=cols, rows=[[r.get(c) for c in cols] for r in rows])


def snapshot(
    *,
    version: int = 180000,
    settings: dict[str, str] | None = None,
    hba_rows: list[dict[str, Any]] | None = None,
    roles: list[dict[str, Any]] | None = None,
    memberships: list[dict[str, Any]] | None = None,
    role_settings: list[dict[str, Any]] | None = None,
) -> Snapshot:
    """A cluster with database appdb (OID 5), the bootstrap superuser and ``roles``."""
    values = {**BASE_SETTINGS, **(settings or {})}
    role_rows = [
        {
            "oid": 10,
            "name": "postgres",
            "superuser": True,
            "login": True,
            "inherit": True,
            "predefined": True,
            "connection_limit": -1,
        },
        *[
            {
                "inherit": True,
                "superuser": False,
                "login": False,
                "predefined": False,
                "connection_limit": -1,
                **r,
            }
            for r in roles or []
        ],
    ]
    cluster = {
        "roles": _table("roles", role_rows),
        "memberships": _table(
            "memberships",
            [
                {
                    "inherit_option": True,
                    "set_option": True,
                    "admin_option": False,
                    "grantor_oid": 10,
                    **m,
                }
                for m in memberships or []
            ],
        ),
        "databases": _table(
            "databases",
            [
                {
                    "oid": 5,
                    "name": "appdb",
                    "owner_oid": 10,
                    "allow_connections": True,
                    "is_template": False,
                    "connection_limit": -1,
                    "acl_state": "default",
                    "auditor_can_connect": True,
                }
            ],
        ),
        "settings": _table(
            "settings",
            [{"name": k, "setting": v, "source": "configuration file"} for k, v in values.items()],
        ),
        "db_role_settings": _table("db_role_settings", role_settings or []),
        "hba_rules": _table("hba_rules", hba_rows or []),
    }
    sources = {
        s: {"collected": True}
        for s in ("roles", "memberships", "settings", "db_role_settings", "hba_rules", "databases")
    }
    meta = {"server_version_num": version, "sources": sources}
    return Snapshot(
        meta=meta,
        cluster=cluster,
        databases=[DatabaseSnapshot(oid=5, name="appdb", status="collected")],
    )


def hba(tmp_path: Path, text: str, major: int = 18) -> list[dict[str, Any]]:
    path = tmp_path / "pg_hba.conf"
    path.write_text(text, encoding="utf-8")
    return parse_hba_file(str(path), major)


def run(rule_id: str, snap: Snapshot) -> list[Any]:
    rule = find_rule(RULES, rule_id)
    assert rule is not None
    # the findings only: without the inventory the same findings, a quarter of the CPU
    (rr,) = evaluate(snap, [rule], Config(), inventory=False).results
    assert rr.status in ("pass", "fail"), f"{rule_id}: {rr.status} {rr.reason}"
    return rr.findings


# --- PGR-SET-002: pgaudit --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("preload", "classes", "ok"),
    [
        ("pgaudit", "ddl, role", True),
        ("pg_stat_statements,$libdir/pgaudit", "all", True),
        ('"pgaudit"', "write,DDL,Role", True),
        ("pgaudit", "ddl", False),  # role changes (GRANT, CREATE ROLE) are the ROLE class
        ("pgaudit", "all, -role", False),
        ("pgaudit", "", False),
        ("", "ddl, role", False),  # pgaudit.log without the library does nothing
        ("pgauditlogtofile", "ddl, role", False),
    ],
)
def test_ddl_logging_through_pgaudit(preload: str, classes: str, ok: bool) -> None:
    snap = snapshot(settings={"shared_preload_libraries": preload, "pgaudit.log": classes})
    findings = run("PGR-SET-002", snap)
    if ok:
        assert findings == []
    else:
        (f,) = findings
        assert f.details["evidence"] == "server"
        assert f.remediation == "ALTER SYSTEM SET log_statement = 'ddl';"


def test_pgaudit_opt_out_per_role_is_reported_when_pgaudit_is_the_only_logging() -> None:
    roles = [{"oid": 200, "name": 'deploy "api"'}]
    opt_out = [{"database_oid": 0, "role_oid": 200, "config": ["pgaudit.log=none"]}]
    snap = snapshot(
        settings={"shared_preload_libraries": "pgaudit", "pgaudit.log": "ddl,role"},
        roles=roles,
        role_settings=opt_out,
    )
    (f,) = run("PGR-SET-002", snap)
    assert (f.role, f.details["evidence"], f.details["setting_name"]) == (
        'deploy "api"',
        "override",
        "pgaudit.log",
    )
    assert f.remediation == 'ALTER ROLE "deploy ""api""" RESET pgaudit.log;'
    # with log_statement covering DDL as well, the opt-out leaves DDL logged
    snap = snapshot(
        settings={
            "shared_preload_libraries": "pgaudit",
            "pgaudit.log": "ddl,role",
            "log_statement": "ddl",
        },
        roles=roles,
        role_settings=opt_out,
    )
    assert run("PGR-SET-002", snap) == []


def test_log_statement_opt_out_does_not_matter_when_pgaudit_covers_ddl() -> None:
    roles = [{"oid": 200, "name": "deploy_api"}]
    snap = snapshot(
        settings={
            "shared_preload_libraries": "pgaudit",
            "pgaudit.log": "all",
            "log_statement": "all",
        },
        roles=roles,
        role_settings=[{"database_oid": 5, "role_oid": 200, "config": ["log_statement=none"]}],
    )
    assert run("PGR-SET-002", snap) == []
    snap = snapshot(
        settings={"log_statement": "all"},
        roles=roles,
        role_settings=[{"database_oid": 5, "role_oid": 200, "config": ["log_statement=none"]}],
    )
    (f,) = run("PGR-SET-002", snap)
    assert (f.role, f.database) == ("deploy_api", "appdb")
    assert f.remediation == "ALTER ROLE deploy_api IN DATABASE appdb RESET log_statement;"


def test_every_role_everywhere_opt_out() -> None:
    snap = snapshot(
        settings={"log_statement": "ddl"},
        role_settings=[{"database_oid": 0, "role_oid": 0, "config": ["log_statement=none"]}],
    )
    (f,) = run("PGR-SET-002", snap)
    assert f.remediation == "ALTER ROLE ALL RESET log_statement;"
    assert f.details["source"] == "ALTER ROLE ALL"


# --- ssl on where the test builds have no SSL ------------------------------------------------


@pytest.mark.parametrize("version", [160000, 180000])
def test_ssl_rules_with_ssl_on_for_builds_without_ssl(tmp_path: Path, version: int) -> None:
    rows = hba(
        tmp_path,
        "local all all peer\nhost all all 10.20.0.0/24 scram-sha-256\n"
        "hostssl all all 10.30.0.0/24 scram-sha-256\n",
        version // 10000,
    )
    on = snapshot(version=version, settings={"ssl": "on"}, hba_rows=rows)
    (f,) = run("PGR-HBA-007", on)
    assert f.object_identity == "host all all 10.20.0.0/24 scram-sha-256"
    assert run("PGR-SET-001", on) == []
    off = snapshot(version=version, hba_rows=rows)
    assert run("PGR-HBA-007", off) == []
    (s,) = run("PGR-SET-001", off)
    assert s.details["remote_lines"] == 1


# --- errors only the server's view shows -----------------------------------------------------


def test_hostssl_line_while_ssl_is_off_can_never_match() -> None:
    rows = [
        {
            "rule_number": 1,
            "file_name": "/data/pg_hba.conf",
            "line_number": 1,
            "type": "local",
            "databases": ["all"],
            "users": ["all"],
            "auth_method": "peer",
        },
        {
            "rule_number": None,
            "file_name": "/data/pg_hba.conf",
            "line_number": 2,
            "type": "hostssl",
            "databases": ["all"],
            "users": ["all"],
            "address": "10.0.0.0",
            "netmask": "255.0.0.0",
            "auth_method": "scram-sha-256",
            "error": "hostssl record cannot match because SSL is disabled",
        },
    ]
    (f,) = run("PGR-HBA-011", snapshot(hba_rows=rows))
    assert f.details["never_matches"] is True
    assert "can never match" in f.message and "restart" not in f.message
    assert f.object_name == "/data/pg_hba.conf:2"


# --- pg_hba regular expressions RE2 cannot evaluate ------------------------------------------


def test_unevaluable_regex_is_reported_as_reaching_the_superuser(tmp_path: Path) -> None:
    rows = hba(tmp_path, 'host all "/(?<=x)dba" 10.0.0.0/8 scram-sha-256\n')
    roles = [{"oid": 300, "name": "xdba", "superuser": True, "login": True}]
    found = {f.role: f for f in run("PGR-HBA-008", snapshot(hba_rows=rows, roles=roles))}
    assert set(found) == {"postgres", "xdba"}  # cannot tell, so it is not claimed safe
    assert found["xdba"].details["matched_by"] == "regular expression /(?<=x)dba"


def test_earlier_reject_for_a_group_takes_its_superusers_away(tmp_path: Path) -> None:
    rows = hba(
        tmp_path,
        "host all +admins 10.0.0.0/8 reject\n"
        "host all dba,app 10.1.0.0/16 scram-sha-256\n"
        "host all dba 192.0.2.0/24 scram-sha-256\n",
    )
    roles = [
        {"oid": 300, "name": "dba", "superuser": True, "login": True},
        {"oid": 301, "name": "admins"},
        {"oid": 302, "name": "app", "login": True},
    ]
    member = [{"role_oid": 301, "member_oid": 300}]
    found = run("PGR-HBA-008", snapshot(hba_rows=rows, roles=roles, memberships=member))
    assert [(f.role, f.details["line_number"]) for f in found] == [("dba", 3)]


def test_unevaluable_regex_does_not_take_a_superuser_away_from_later_lines(tmp_path: Path) -> None:
    rows = hba(
        tmp_path,
        'host all "/(?<!y)dba" 10.0.0.0/8 reject\nhost all xdba 10.1.0.0/16 scram-sha-256\n',
    )
    roles = [{"oid": 300, "name": "xdba", "superuser": True, "login": True}]
    found = run("PGR-HBA-008", snapshot(hba_rows=rows, roles=roles))
    assert [(f.role, f.details["line_number"]) for f in found] == [("xdba", 2)]
