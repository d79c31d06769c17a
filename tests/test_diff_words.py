"""Drift and evidence in the words a DBA reads, and the baseline's evidence check: pure logic."""

from __future__ import annotations

from pgaudit_roles.core.model import Finding, widened
from pgaudit_roles.diffing import drift_lines, evidence_changes
from pgaudit_roles.evaluate import baseline


def test_role_attributes_read_as_gained_and_lost():
    dr = {
        "roles": {
            "added": [],
            "removed": [],
            "changed": [
                {
                    "role": "app_api",
                    "changes": {
                        "createrole": [False, True],
                        "login": [True, False],
                        "connection_limit": [-1, 20],
                    },
                }
            ],
        }
    }
    (line,) = drift_lines(dr)
    assert line == "role app_api: gained CREATEROLE, lost LOGIN, connection limit unlimited -> 20"
    assert "False" not in line and "True" not in line


def test_membership_options_and_privilege_lists_in_words():
    dr = {
        "memberships": {
            "added": [{"role": "g", "member": "m"}],
            "removed": [],
            "changed": [
                {
                    "role": "g2",
                    "member": "m",
                    "old": {"admin_option": False, "inherit_option": True, "set_option": True},
                    "new": {"admin_option": True, "inherit_option": True, "set_option": True},
                }
            ],
        },
        "privileges": {
            "granted": [],
            "revoked": [],
            "by_grantee": [
                {
                    "database": "db",
                    "object_class": "relation",
                    "schema": "s",
                    "object": "t",
                    "args": None,
                    "column": None,
                    "grantee": "r",
                    "old": ["SELECT"],
                    "new": ["INSERT", "SELECT", "UPDATE"],
                },
                {
                    "database": None,
                    "object_class": "database",
                    "schema": None,
                    "object": "db",
                    "args": None,
                    "column": None,
                    "grantee": "PUBLIC",
                    "old": ["CONNECT", "TEMPORARY"],
                    "new": [],
                },
            ],
        },
    }
    assert drift_lines(dr) == [
        "m became a member of g",
        "m in g2: gained ADMIN OPTION",
        "r: SELECT widened to INSERT, SELECT, UPDATE on table s.t in db",
        "PUBLIC lost CONNECT, TEMPORARY on database db (no privileges left)",
    ]


def test_evidence_changes_and_widening():
    old = {"table_privileges": ["INSERT"], "owner": "a", "writes": True}
    new = {"table_privileges": ["DELETE", "INSERT"], "owner": "b", "writes": True}
    assert evidence_changes(old, new) == [
        "owner: a changed to b",
        "table privileges: INSERT widened to DELETE, INSERT",
    ]
    assert widened(
        {"table_privileges": ["INSERT"]}, {"table_privileges": ["DELETE", "INSERT"]}
    ) == {"table_privileges": [["INSERT"], ["DELETE", "INSERT"]]}
    assert (
        widened({"table_privileges": ["DELETE", "INSERT"]}, {"table_privileges": ["INSERT"]}) == {}
    )


def _finding(privs: list[str], **extra) -> Finding:
    return Finding(
        rule_id="PGR-PRIV-005",
        severity="high",
        message="m",
        database="db",
        object_type="table",
        object_identity="s.t",
        details={"table_privileges": privs, "object_oid": 1, **extra},
    )


def test_baseline_entry_covers_only_what_it_saw(tmp_path):
    path = tmp_path / "b.json"
    baseline.create([_finding(["INSERT"])], path)
    accepted = baseline.load(path)
    same, oid_moved, narrowed, wider = (
        _finding(["INSERT"]),
        _finding(["INSERT"], object_oid=99),
        _finding([]),
        _finding(["INSERT", "TRUNCATE"]),
    )
    for f in (same, oid_moved, narrowed, wider):
        baseline.apply([f], accepted)
    assert [f.baseline for f in (same, oid_moved, narrowed, wider)] == [
        "unchanged",
        "unchanged",
        "unchanged",
        "updated",
    ]
    assert wider.gating and not same.gating
    assert wider.previous["widened"] == {"table_privileges": [["INSERT"], ["INSERT", "TRUNCATE"]]}
