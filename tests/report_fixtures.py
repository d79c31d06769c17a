"""Synthetic ScanResults for the reporter tests: every status, hostile names, waivers,
baselines, requirements, inventory; and factories for 0 and very many findings.

The names here are the ones an attacker who can create roles or tables would choose: markup,
quotes, newlines, escape sequences, bidi overrides, unicode. Every reporter must show them
as text and keep them on one line where a line matters.
"""

from __future__ import annotations

import copy
from typing import Any

from pgaudit_roles.core.model import (
    Finding,
    Reference,
    RequirementResult,
    Rule,
    RuleResult,
    ScanResult,
)

IMG = "<img src=x onerror=alert(1)>"
SCRIPT = "<script>alert(1)</script>"
HOSTILE: list[str] = [
    IMG,
    SCRIPT,
    "</script><script>alert(2)</script>",
    "quote\"d 'role'",
    "new\nline FAIL: forged",
    "esc\x1b[31mred",
    "tab\there",
    "ünïcødé_rôle_日本",
    "amp&amp;lt;",
    "bidi\u202eevil",
    "sep\u2028line",
    "{{ 7*7 }}",
]
SECRET = "Sup3rS3cret!pw"


def qi(name: str) -> str:
    """quote_ident: what the remediation module produces for an identifier."""
    return '"' + name.replace('"', '""') + '"'


def rule(rid: str, severity: str, title: str, **kw: Any) -> Rule:
    base: dict[str, Any] = {
        "category": "privileges",
        "rationale": f"Why {rid} matters.\nSecond line of rationale.",
        "query": "SELECT 1",
        "message": "{role}",
        "references": (
            Reference("guide", "Production role guide, section 3"),
            Reference(
                "docs",
                "PostgreSQL: Privileges",
                "https://www.postgresql.org/docs/current/ddl-priv.html",
            ),
            Reference("other", "evil link", "javascript:alert(1)"),
        ),
    }
    base.update(kw)
    return Rule(id=rid, title=title, severity=severity, **base)


def _meta(**over: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "tool_version": "0.1.0",
        "collected_at": "2025-05-04T10:11:12.345678+02:00",
        "server_version": "16.4",
        "connected_user": "auditor",
        "is_superuser": False,
        "target": {
            "host": "db.example.internal",
            "port": 5432,
            "dbname": "postgres",
            "user": "auditor",
            "password": SECRET,
        },
        "conninfo": f"host=db.example.internal user=auditor password={SECRET}",
        "databases": ["app", "reporting", IMG],
        "sources": {
            "roles": {"collected": True, "reason": None},
            "memberships": {"collected": True, "reason": None},
            "hba_rules": {
                "collected": False,
                "reason": "permission denied for view pg_hba_file_rules (grant it: see bootstrap-sql)",
            },
            "password_types": {
                "collected": False,
                "reason": "needs superuser or the helper function",
            },
        },
    }
    meta.update(over)
    return meta


def inventory(extra_roles: list[str] | None = None) -> dict[str, Any]:
    names = [
        "postgres",
        "app_owner",
        "app_rw",
        "app_ro",
        "deploy",
        "auditor",
        "pg_monitor",
        *(extra_roles if extra_roles is not None else HOSTILE),
    ]
    roles = []
    for i, n in enumerate(names):
        roles.append(
            {
                "oid": 10 + i,
                "name": n,
                "superuser": n in ("postgres", IMG),
                "inherit": True,
                "createrole": n == "deploy",
                "createdb": n == "deploy",
                "login": n not in ("app_owner", "pg_monitor"),
                "replication": False,
                "bypassrls": n == SCRIPT,
                "connection_limit": 20 if n == "app_rw" else -1,
                "valid_until": "2026-01-01T00:00:00+00:00" if n == "deploy" else None,
                "password_type": "scram-sha-256" if n != "app_ro" else "md5",
                "config": ["search_path=app"] if n == "app_rw" else [],
                "predefined": n.startswith("pg_"),
                "comment": None,
            }
        )
    memberships = [
        {
            "role": "app_owner",
            "member": "deploy",
            "admin_option": True,
            "inherit_option": False,
            "set_option": True,
        },
        {
            "role": "app_rw",
            "member": IMG,
            "admin_option": False,
            "inherit_option": True,
            "set_option": True,
        },
        {
            "role": "app_ro",
            "member": SCRIPT,
            "admin_option": False,
            "inherit_option": True,
            "set_option": False,
        },
        {
            "role": "pg_monitor",
            "member": "auditor",
            "admin_option": False,
            "inherit_option": True,
            "set_option": True,
        },
        # by OID, as the snapshot stores them
        {
            "role_oid": 10 + names.index("app_ro"),
            "member_oid": 10 + names.index("app_rw"),
            "admin_option": False,
            "inherit_option": True,
            "set_option": True,
        },
    ]
    for n in (extra_roles if extra_roles is not None else HOSTILE)[2:]:
        memberships.append(
            {
                "role": "app_ro",
                "member": n,
                "admin_option": False,
                "inherit_option": True,
                "set_option": True,
            }
        )
    privileges = {
        # the engine's shape (login_privileges): counts per database/privilege + top objects
        "app_rw": {
            "counts": [
                {"database": "app", "privilege": "SELECT", "objects": 12},
                {"database": IMG, "privilege": "INSERT", "objects": 3},
            ],
            "top_objects": [
                {
                    "database": "app",
                    "object_class": "table",
                    "identity": 'app."Orders"',
                    "privileges": ["INSERT", "SELECT"],
                    "via": ["app_rw", SCRIPT],
                }
            ],
        },
        # any other nested shape is shown generically
        IMG: {"app": {"tables": {"SELECT": 3}}, SCRIPT: ["<b>not bold</b>"]},
        "deploy": {"app": {"schemas": {"CREATE": 1}}, "via": ["app_owner"]},
    }
    return {"roles": roles, "memberships": memberships, "role_privileges": privileges}


def finding(
    rule_: Rule,
    *,
    role: str | None = None,
    database: str | None = None,
    object_type: str = "role",
    schema: str | None = None,
    name: str | None = None,
    severity: str | None = None,
    **kw: Any,
) -> Finding:
    obj = name if name is not None else role
    identity = f"{qi(schema)}.{qi(obj)}" if schema and obj else obj
    return Finding(
        rule_id=rule_.id,
        severity=severity or rule_.severity,
        message=kw.pop("message", f"{object_type} {obj} violates {rule_.id}"),
        database=database,
        object_type=object_type,
        schema=schema,
        object_name=obj,
        object_identity=identity,
        role=role,
        remediation=kw.pop("remediation", f"REVOKE ALL ON SCHEMA public FROM {qi(role or 'x')};"),
        **kw,
    )


def full_result(*, baseline: bool = True, fail_on: str = "high") -> ScanResult:
    """Every rule status, hostile names, waived, baselined and expired-waiver findings."""
    r_super = rule(
        "PGR-ROLE-001",
        "critical",
        "Application roles do not have SUPERUSER",
        category="roles",
        object_type="role",
        tags=("cis-4.2",),
    )
    r_public = rule(
        "PGR-PRIV-002", "high", "PUBLIC cannot CREATE in schema public", object_type="schema"
    )
    r_defacl = rule(
        "PGR-DEFACL-003",
        "medium",
        "Owner roles set default privileges for app schemas",
        object_type="default_acl",
        manual="Run ALTER DEFAULT PRIVILEGES as the owner role.",
    )
    r_hba = rule(
        "PGR-HBA-004",
        "high",
        "pg_hba has no trust lines for TCP",
        category="hba",
        requires=("hba_rules",),
    )
    r_own = rule(
        "PGR-OWN-005",
        "low",
        "Runtime roles own no objects",
        category="ownership",
        tags=("ownership", "ddl"),
    )  # a tag equal to the category (SARIF tags must be unique)
    r_clean = rule("PGR-PASS-006", "info", "Login roles have a connection limit", category="roles")
    r_login = rule("PGR-LOGIN-007", "low", "Login roles have a password expiry", category="roles")

    f_super = [
        finding(
            r_super,
            role=n,
            remediation=f"ALTER ROLE {qi(n)} NOSUPERUSER;",
            details={"rolsuper": True, "member_of": ["app_rw"]},
        )
        for n in (IMG, SCRIPT, "new\nline FAIL: forged")
    ]
    f_public = [
        finding(
            r_public,
            role="PUBLIC",
            database=db,
            object_type="schema",
            name="public",
            remediation="REVOKE CREATE ON SCHEMA public FROM PUBLIC;",
        )
        for db in ("app", "reporting", IMG)
    ]
    evil_table = 'Orders"; DROP TABLE x; --'
    f_public.append(
        finding(
            r_public,
            role=SCRIPT,
            database="app",
            object_type="table",
            schema="app",
            name=evil_table,
            severity="high",
            remediation=f"REVOKE ALL ON TABLE app.{qi(evil_table)} FROM {qi(SCRIPT)};",
        )
    )
    f_defacl = [
        finding(
            r_defacl,
            role="app_owner",
            database="app",
            object_type="default_acl",
            schema="app",
            name="tables",
            remediation=None,
            manual="ALTER DEFAULT PRIVILEGES FOR ROLE app_owner ...",
        ),
        finding(
            r_defacl,
            role="deploy",
            database="app",
            object_type="default_acl",
            schema="audit",
            name="tables",
            destructive=True,
            remediation="ALTER DEFAULT PRIVILEGES FOR ROLE deploy IN SCHEMA audit\n  REVOKE ALL ON TABLES FROM PUBLIC;",
        ),
        finding(
            r_defacl,
            role="ünïcødé_rôle_日本",
            database="reporting",
            object_type="default_acl",
            schema="rpt",
            name="tables",
            details={
                "expired_waiver": {
                    "kind": "waiver",
                    "index": 2,
                    "rule": "PGR-DEFACL-003",
                    "reason": "old exception",
                    "owner": "dba",
                    "ticket": "OPS-1",
                    "expires": "2024-01-01",
                }
            },
        ),
    ]
    f_defacl[0].suppressed = {
        "kind": "waiver",
        "index": 0,
        "rule": "PGR-DEFACL-003",
        "reason": f"legacy schema {IMG}; migration planned",
        "owner": "team-db",
        "ticket": "DB-42",
        "expires": "2099-12-31",
    }
    f_login = [
        finding(r_login, role=n, remediation=f"ALTER ROLE {qi(n)} VALID UNTIL 'infinity';")
        for n in ("app_rw", "esc\x1b[31mred", "tab\there", "bidi\u202eevil")
    ]
    f_own = finding(
        r_own, role="app_rw", database="app", object_type="table", schema="app", name="t"
    )

    results = [
        RuleResult(r_super, "fail", findings=f_super),
        RuleResult(r_public, "fail", findings=f_public),
        RuleResult(r_defacl, "fail", findings=f_defacl),
        RuleResult(
            r_hba, "skipped", reason="needs hba_rules: permission denied for view pg_hba_file_rules"
        ),
        RuleResult(
            r_own, "error", reason="rule query failed: Binder Error <b>x</b>", findings=[f_own]
        ),
        RuleResult(r_clean, "pass"),
        RuleResult(r_login, "fail", findings=f_login, severity="medium"),  # config override
    ]
    for f in f_login:
        f.severity = "medium"
    resolved: list[dict[str, Any]] = []
    if baseline:
        for rr in results:
            for f in rr.findings:
                f.baseline = "new"
        for f in f_login[:3]:
            f.baseline = "unchanged"
        resolved = [
            {
                "fingerprint": "0" * 32,
                "rule_id": "PGR-ROLE-001",
                "severity": "critical",
                "database": None,
                "object": "old_admin",
                "role": "old_admin",
            }
        ]
    requirements = [
        RequirementResult(
            "go-live",
            "GL-1",
            "Remove default superuser credentials from app config",
            "fail",
            ("PGR-ROLE-001",),
        ),
        RequirementResult(
            "go-live",
            "GL-2",
            "Passwords in a secrets manager, not in source control",
            "manual",
            (),
            note="Not visible from the database.",
        ),
        RequirementResult(
            "go-live", "GL-3", "Connection limits for app roles", "pass", ("PGR-PASS-006",)
        ),
        RequirementResult(
            "go-live",
            "GL-4",
            "ALTER DEFAULT PRIVILEGES for each app schema",
            "fail",
            ("PGR-DEFACL-003",),
        ),
        RequirementResult(
            "go-live",
            "GL-5",
            "pg_hba allows no trust over TCP",
            "skipped",
            ("PGR-HBA-004",),
            note="pg_hba_file_rules not readable",
        ),
        RequirementResult(
            "cis",
            "4.3",
            "Ensure excessive function privileges are revoked",
            "error",
            ("PGR-OWN-005",),
        ),
    ]
    return ScanResult(
        meta=_meta(),
        results=results,
        requirements=requirements,
        fail_on=fail_on,
        resolved=resolved,
        config_sources={"fail_on": "pyproject.toml"},
        inventory=inventory(),
    )


def empty_result() -> ScanResult:
    """Zero findings: every rule passed (and one skipped), no baseline."""
    rules = [
        rule(f"PGR-CLEAN-{i:03d}", sev, f"Clean rule {i}")
        for i, sev in enumerate(("critical", "high", "medium", "low", "info"))
    ]
    results = [RuleResult(r, "pass") for r in rules]
    results.append(
        RuleResult(
            rule("PGR-HBA-004", "high", "pg_hba has no trust lines"),
            "skipped",
            reason="needs hba_rules",
        )
    )
    meta = _meta()
    meta["sources"] = {"roles": {"collected": True, "reason": None}}
    return ScanResult(
        meta=meta, results=results, fail_on="high", inventory={"roles": [], "memberships": []}
    )


def many_result(n: int, *, rules: int = 5) -> ScanResult:
    """``n`` findings spread over ``rules`` rules, many databases and roles."""
    sevs = ("critical", "high", "medium", "low", "info")
    rule_objs = [
        rule(f"PGR-BULK-{i:03d}", sevs[i % 5], f"Bulk rule {i}", object_type="table")
        for i in range(rules)
    ]
    results = [RuleResult(r, "fail") for r in rule_objs]
    for k in range(n):
        i = k % rules
        rr = results[i]
        db = f"db_{k % 37}"
        role = f"role_{k % 211}" if k % 13 else IMG
        rr.findings.append(
            Finding(
                rule_id=rr.rule.id,
                severity=rr.rule.severity,
                message=f"table app.t_{k} grants SELECT to {role}",
                database=db,
                object_type="table",
                schema="app",
                object_name=f"t_{k}",
                object_identity=f"app.t_{k}",
                role=role,
                remediation=f"REVOKE SELECT ON TABLE app.t_{k} FROM {qi(role)};",
            )
        )  # noqa: S608 test data
    return ScanResult(
        meta=_meta(),
        results=results,
        fail_on="high",
        inventory=inventory(extra_roles=[f"role_{i}" for i in range(211)] + [IMG]),
    )


def clone(result: ScanResult) -> ScanResult:
    return copy.deepcopy(result)
