"""Rules rewritten to read the distinct ACLs first (acl_items -> object_acls ->
acl_objects) give exactly the rows their plain ``privileges`` formulation gives.

Why: on a large snapshot ``privileges`` is a view that joins every object to its ACL (the
bench's large preset: 18 million rows per scan of it), so the heaviest privilege rules
filter the ACL items first and expand to objects only for what matches. Such a rewrite
must keep every row: the defaults a NULL ACL expands to (not in object_acls), PUBLIC
(grantee 0), column ACLs (the table's names, subid > 0), shared objects (a NULL
database_oid in object_acls, the database's own oid in acl_objects), a grant to the
owner, duplicate items and names with quotes. The snapshot below has each of them; the
oracle is each rule's query as it read ``privileges`` before the rewrite, compared on
both storage paths (the table below SMALL_SNAPSHOT_ROWS, the view above it). Pure: no
server.
"""

from __future__ import annotations

from typing import Any

import pytest
from test_audit_schema import SCHEMA, acl, make, member, obj, role

from pgaudit_roles.audit import audit_schema

# The queries as they read privileges before the rewrite (main before 2026-12-06's
# issue-17 rule rewrites): the oracle.
ORACLES: dict[str, str] = {
    "PGR-ROLE-014": """WITH monitors AS (
    SELECT r.name, r.oid, r.kind, r.login FROM roles r
    WHERE NOT r.is_auditor AND NOT r.superuser AND NOT r.superuser_equivalent
      AND NOT r.is_breakglass AND r.kind NOT IN ('predefined', 'auditor', 'breakglass')
      AND (r.kind = 'monitor' OR r.oid IN (
               SELECT c.member_oid FROM role_closure c
               WHERE c.role = 'pg_monitor' AND c.depth > 0 AND c.database IS NULL))
),
owned AS (
    SELECT o.database, o.object_class, o.kind, o.schema, o.name, o.identity, o.owner
    FROM objects o JOIN monitors m ON m.name = o.owner
    WHERE NOT o.is_system AND o.extension IS NULL
    UNION ALL
    SELECT s.database, 'schema', 'schema', NULL, s.name, s.identity, s.owner
    FROM schemas s JOIN monitors m ON m.name = s.owner
    WHERE NOT s.is_system
    UNION ALL
    SELECT d.name, 'database', 'database', NULL, d.name, d.identity, d.owner
    FROM databases d JOIN monitors m ON m.name = d.owner
),
reach AS (  -- the monitoring role itself and the roles it inherits from or can SET ROLE to
    SELECT c.member, c.role, c.role_oid, c.depth, c.path, c.database_oid
    FROM role_closure c JOIN monitors m ON m.name = c.member
    WHERE c.inherits OR c.can_set
),
writes AS (
    SELECT x.member AS role, x.role AS holder, x.depth, x.path, p.database, p.object_class,
           p.object_oid, p.kind, p.schema, p.object_name, p.identity, p.column_name,
           p.privilege
    FROM privileges p
    JOIN reach x ON x.role_oid = p.grantee_oid
                AND (x.database_oid IS NULL OR x.database_oid = p.database_oid)
    WHERE p.privilege IN ('INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER',
                          'MAINTAIN', 'CREATE', 'SET', 'ALTER SYSTEM')
      AND NOT p.is_system
      AND NOT (x.depth = 0 AND p.grantee_oid IS NOT DISTINCT FROM p.owner_oid)
),
direct AS (
    SELECT role, database, object_class, object_oid, kind, schema, object_name, identity,
           column_name, list_sort(list_distinct(list(privilege))) AS privileges
    FROM writes WHERE depth = 0
    GROUP BY ALL
),
inherited AS (
    SELECT role, database, holder, min(depth) AS depth,
           min(array_to_string(path, ' -> ')) AS path,
           len(list_distinct(list((object_class, object_oid, column_name)))) AS objects,  -- count(DISTINCT)
           list_sort(list_distinct(list(privilege))) AS privileges,
           -- list(DISTINCT x ORDER BY x) without DuckDB's subplan per DISTINCT aggregate;
           -- list_distinct drops a NULL, which list(DISTINCT) keeps (last)
           array_to_string(list_slice(CASE WHEN count(*) = count(identity)
                THEN list_sort(list_distinct(list(identity)))
                ELSE list_append(list_sort(list_distinct(list(identity))), NULL) END, 1, 5), ', ') AS examples
    FROM writes WHERE depth > 0
    GROUP BY role, database, holder
),
grants AS (
    SELECT member, role, list_sort(list_distinct(list(grantor) FILTER (WHERE grantor IS NOT NULL))) AS grantors
    FROM memberships WHERE member IN (SELECT name FROM monitors)
    GROUP BY member, role
),
version AS (
    SELECT max(TRY_CAST(value AS INTEGER)) AS num FROM scan_meta WHERE key = 'server_version_num'
)
SELECT o.owner AS role, o.database, o.kind AS object_type, o.schema, o.name AS object_name,
       o.identity AS object_identity, 'owner' AS evidence, m.kind AS role_kind,
       o.object_class, CAST(NULL AS BIGINT) AS object_oid, CAST(NULL AS VARCHAR) AS column_name,
       CAST(NULL AS VARCHAR[]) AS privileges, CAST(NULL AS VARCHAR) AS holder,
       CAST(NULL AS INTEGER) AS depth, CAST(NULL AS VARCHAR) AS path,
       CAST(NULL AS BIGINT) AS objects, CAST(NULL AS VARCHAR) AS examples,
       CAST([] AS VARCHAR[]) AS grantors, (SELECT num FROM version) AS server_version_num
FROM owned o JOIN monitors m ON m.name = o.owner
UNION ALL
SELECT d.role, d.database, CASE WHEN d.column_name IS NULL THEN d.kind ELSE 'column' END,
       d.schema, d.object_name,
       d.identity || CASE WHEN d.column_name IS NULL THEN '' ELSE '.' || pg_quote_ident(d.column_name) END,
       'direct', m.kind, d.object_class, d.object_oid, d.column_name, d.privileges, NULL,
       0, NULL, 1, NULL, [], (SELECT num FROM version)
FROM direct d JOIN monitors m ON m.name = d.role
UNION ALL
SELECT i.role, i.database, 'role', NULL, i.holder, i.holder, 'membership', m.kind,
       NULL, NULL, NULL, i.privileges, i.holder, i.depth, i.path, i.objects, i.examples,
       coalesce(g.grantors, []), (SELECT num FROM version)
FROM inherited i JOIN monitors m ON m.name = i.role
LEFT JOIN grants g ON g.member = i.role AND g.role = i.holder AND i.depth = 1
""",
    "PGR-DEFP-004": """WITH app_keys AS (  -- the objects compared, narrow: the anti-join below runs on these
    SELECT o.database_oid, o.object_class, o.oid, o.schema_oid, o.owner_oid,
           CASE WHEN o.object_class = 'function' THEN 'f'
                WHEN o.object_class = 'type' THEN 'T'
                WHEN o.kind = 'sequence' THEN 'S'
                ELSE 'r' END AS objtype
    FROM objects o
    JOIN schemas s ON s.database_oid = o.database_oid AND s.oid = o.schema_oid
    WHERE s.app IS NOT NULL AND NOT o.is_system AND o.extension IS NULL
      AND o.object_class IN ('relation', 'function', 'type')
      AND o.kind NOT IN ('multirange', 'pseudo')
),
promised AS MATERIALIZED (
    SELECT e.*, g.kind AS grantee_kind
    FROM default_privileges_effective e
    JOIN roles g ON g.oid = e.grantee_oid
    WHERE e.grantee_oid <> e.creator_oid
      AND e.schema_oid IN (SELECT oid FROM schemas WHERE app IS NOT NULL)
      AND NOT (g.kind = 'reader' AND (e.privilege IN ('INSERT', 'UPDATE', 'DELETE', 'TRUNCATE',
               'REFERENCES', 'TRIGGER', 'MAINTAIN') OR (e.objtype = 'S' AND e.privilege = 'USAGE')))
      AND NOT (g.kind IN ('writer', 'app') AND e.privilege IN ('TRUNCATE', 'REFERENCES', 'TRIGGER',
               'MAINTAIN'))
),
lacking AS (  -- objects missing at least one promised privilege, found on keys alone: the
              -- same test as missing's, whose wide rows (names) made the anti-join over
              -- millions of promises spill (bench large: 6 million, 6 s)
    SELECT DISTINCT o.database_oid, o.object_class, o.oid
    FROM app_keys o
    JOIN promised p
      ON p.database_oid = o.database_oid AND p.schema_oid = o.schema_oid
     AND p.creator_oid = o.owner_oid AND p.objtype = o.objtype
    WHERE NOT EXISTS (
        SELECT 1 FROM privileges x
        WHERE x.grantee_oid IN (SELECT grantee_oid FROM promised)  -- fewer rows to hash
          AND x.database_oid = o.database_oid AND x.object_class = o.object_class
          AND x.object_oid = o.oid AND x.subid = 0
          AND x.grantee_oid = p.grantee_oid AND x.privilege = p.privilege)
),
app_objects AS (
    SELECT o.database, o.database_oid, o.object_class, o.oid, o.kind, o.schema, o.schema_oid,
           o.name, o.identity, o.identity_args, o.owner, o.owner_oid,
           CASE WHEN o.object_class = 'function' THEN 'f'
                WHEN o.object_class = 'type' THEN 'T'
                WHEN o.kind = 'sequence' THEN 'S'
                ELSE 'r' END AS objtype
    FROM objects o
    JOIN schemas s ON s.database_oid = o.database_oid AND s.oid = o.schema_oid
    WHERE s.app IS NOT NULL AND NOT o.is_system AND o.extension IS NULL
      AND o.object_class IN ('relation', 'function', 'type')
      AND o.kind NOT IN ('multirange', 'pseudo')
      AND EXISTS (SELECT 1 FROM lacking l
                  WHERE l.database_oid = o.database_oid AND l.object_class = o.object_class
                    AND l.oid = o.oid)
),
missing AS (
    SELECT o.*, p.grantee, p.grantee_oid, p.privilege
    FROM app_objects o
    JOIN promised p
      ON p.database_oid = o.database_oid AND p.schema_oid = o.schema_oid
     AND p.creator_oid = o.owner_oid AND p.objtype = o.objtype
    WHERE NOT EXISTS (
        SELECT 1 FROM privileges x
        WHERE x.grantee_oid IN (SELECT grantee_oid FROM promised)  -- fewer rows to hash
          AND x.database_oid = o.database_oid AND x.object_class = o.object_class
          AND x.object_oid = o.oid AND x.subid = 0
          AND x.grantee_oid = p.grantee_oid AND x.privilege = p.privilege)
)
SELECT m.database, m.kind AS object_type, m.schema, m.name AS object_name,
       m.identity AS object_identity, m.grantee AS role, m.owner, m.object_class, m.kind,
       m.identity_args, list(m.privilege ORDER BY m.privilege) AS missing,
       array_to_string(list(m.privilege ORDER BY m.privilege), ', ') AS missing_list
FROM missing m
GROUP BY m.database, m.database_oid, m.object_class, m.oid, m.kind, m.schema, m.name,
         m.identity, m.identity_args, m.owner, m.grantee
""",
    "PGR-ROLE-015": """WITH candidates AS (
    SELECT r.oid, r.name, r.kind FROM roles r
    WHERE NOT r.login AND len(r.members) = 0
      AND NOT (r.predefined AND starts_with(r.name, 'pg_'))
      AND NOT r.is_bootstrap_superuser AND NOT r.is_breakglass AND NOT r.is_auditor
      AND r.kind NOT IN ('predefined', 'breakglass', 'auditor')
      AND NOT regexp_full_match(r.name, '^(rds_[a-z0-9_]+|rdsadmin|rdsrepladmin|rdstopmgr|rdswriteforwarduser|cloudsql[a-z0-9_]*|alloydb[a-z0-9_]*|azure_[a-z0-9_]+|azuresu)$')  -- managed-service platform roles
),
used AS (
    SELECT owner_oid AS oid FROM databases
    UNION SELECT owner_oid FROM tablespaces
    UNION SELECT owner_oid FROM schemas
    UNION SELECT owner_oid FROM objects WHERE owner_oid IN (SELECT oid FROM candidates)
    UNION SELECT owner_oid FROM extensions
    UNION SELECT grantee_oid FROM privileges WHERE grantee_oid IN (SELECT oid FROM candidates)
    UNION SELECT grantor_oid FROM privileges WHERE grantor_oid IN (SELECT oid FROM candidates)
    UNION SELECT creator_oid FROM default_privileges
    UNION SELECT grantee_oid FROM default_privileges WHERE grantee_oid IS NOT NULL
    UNION SELECT grantor_oid FROM memberships WHERE grantor_oid IS NOT NULL
),
uncollected AS (
    SELECT count(*) AS n FROM databases WHERE NOT collected AND allow_connections
)
SELECT c.name AS role, 'role' AS object_type, c.name AS object_name, c.name AS object_identity,
       c.kind AS role_kind, r.member_of, r.comment,
       (SELECT n FROM uncollected) AS uncollected_databases
FROM candidates c
JOIN roles r ON r.oid = c.oid
WHERE c.oid NOT IN (SELECT oid FROM used WHERE oid IS NOT NULL)
""",
    "PGR-PRIV-009": """WITH runtime AS (
    SELECT oid, name, kind FROM roles WHERE kind IN ('writer', 'app')
),
extra AS (
    SELECT p.*, r.kind AS role_kind
    FROM privileges p
    JOIN runtime r ON r.oid = p.grantee_oid
    WHERE p.grantee_oid IS DISTINCT FROM p.owner_oid
      AND NOT (p.is_system AND p.object_class <> 'database')
      AND ((p.object_class = 'relation' AND p.kind <> 'sequence'
            AND p.privilege IN ('TRUNCATE', 'REFERENCES', 'TRIGGER', 'MAINTAIN'))
        OR (p.object_class = 'column' AND p.privilege = 'REFERENCES')
        OR (p.object_class IN ('schema', 'database') AND p.privilege = 'CREATE'))
),
default_extra AS (
    SELECT d.*, r.kind AS role_kind
    FROM default_privileges d
    JOIN runtime r ON r.oid = d.grantee_oid
    WHERE NOT d.is_empty_marker
      AND ((d.objtype = 'r' AND d.privilege IN ('TRUNCATE', 'REFERENCES', 'TRIGGER', 'MAINTAIN'))
        OR (d.objtype = 'n' AND d.privilege = 'CREATE'))
)
SELECT w.database, w.kind AS object_type, w.schema, w.object_name, w.identity AS object_identity,
       w.grantee AS role, any_value(w.role_kind) AS role_kind, 'grant' AS evidence,
       CASE WHEN w.object_class = 'column' THEN 'relation' ELSE w.object_class END AS object_class,
       w.kind,
       coalesce(list_sort(list_distinct(list(w.privilege) FILTER (WHERE w.subid = 0))), []) AS table_privileges,
       coalesce(list_sort(list_distinct(list(w.privilege) FILTER (WHERE w.subid > 0))), []) AS column_privileges,
       -- list(DISTINCT x ORDER BY x) without DuckDB's subplan per DISTINCT aggregate;
       -- list_distinct drops a NULL, which list(DISTINCT) keeps (last)
       coalesce(CASE WHEN count(*) FILTER (WHERE w.subid > 0) = count(w.column_name) FILTER (WHERE w.subid > 0)
                THEN list_sort(list_distinct(list(w.column_name) FILTER (WHERE w.subid > 0)))
                ELSE list_append(list_sort(list_distinct(list(w.column_name) FILTER (WHERE w.subid > 0))), NULL) END, []) AS columns,
       list_aggr(list_sort(list_distinct(list(CASE WHEN w.subid = 0 THEN w.privilege
                                ELSE w.privilege || ' (' || pg_quote_ident(w.column_name) || ')' END))), 'string_agg', ', ')
           AS privilege_list,
       CAST(NULL AS VARCHAR) AS creator, CAST(NULL AS VARCHAR) AS objtype
FROM extra w
GROUP BY w.database, w.database_oid, w.object_class, w.object_oid, w.kind, w.schema, w.object_name,
         w.identity, w.grantee
UNION ALL
SELECT d.database, 'default_privilege', d.schema,
       d.object_type, d.object_type || ' created by ' || pg_quote_ident(d.creator)
           || coalesce(' in schema ' || pg_quote_ident(d.schema), ''),
       d.grantee, any_value(d.role_kind), 'default', 'default_privilege', d.object_type,
       list_sort(list_distinct(list(d.privilege))), [], [],
       list_aggr(list_sort(list_distinct(list(d.privilege))), 'string_agg', ', '), d.creator, d.objtype
FROM default_extra d
GROUP BY d.database, d.oid, d.schema, d.object_type, d.objtype, d.creator, d.grantee
""",
}

MONITOR = 103  # 'monitoring_"eye"': a monitor by name, in pg_monitor, inherits ops
OPS = 104  # a role the monitor inherits from: owns objects with a NULL ACL
WRITER = 101
APP = 102
OWNER = 100
PG_MONITOR = 3373
READER = 106
TABLE, VIEW, SEQ, FUNC, TABLE2, SYSTAB = 1000, 1001, 1002, 1003, 1004, 1005


def _snapshot() -> Any:
    roles = [
        role(OWNER, "db_owner_shop"),
        role(WRITER, "db_writer_shop"),
        role(APP, 'app_sh"op', login=True),
        role(MONITOR, 'monitoring_"eye"', login=True),
        role(OPS, "ops helper"),
        role(PG_MONITOR, "pg_monitor", predefined=True),
        role(READER, "db_reader_shop"),
        # NOLOGIN roles without members: in privileges only through a column grant, as a
        # grantor, through a shared object's ACL; and one in nothing
        role(110, "col_only"),
        role(111, "grantor only"),
        role(112, 'shared"only'),
        role(113, "unused"),
    ]
    memberships = [member(PG_MONITOR, MONITOR), member(OPS, MONITOR), member(WRITER, APP)]
    schemas = [
        dict(SCHEMA, oid=2200, name="Sh op", owner_oid=OWNER, acl_state="explicit"),
        dict(SCHEMA, oid=2201, name="ops", owner_oid=OPS),  # NULL ACL: owner's CREATE
        dict(SCHEMA, oid=11, name="pg_catalog", owner_oid=10, is_system=True),
    ]
    explicit = {"acl_state": "explicit"}
    objects = [
        obj(TABLE, "relation", "table", 'Or"ders', owner_oid=OWNER, **explicit),
        obj(VIEW, "relation", "view", "v", owner_oid=OWNER, **explicit),
        obj(SEQ, "relation", "sequence", "s", owner_oid=OWNER, **explicit),
        obj(FUNC, "function", "function", "f", owner_oid=OWNER, identity_args="", **explicit),
        # NULL ACLs owned by the role the monitor inherits: owner defaults in privileges
        obj(TABLE2, "relation", "table", "ops_t", schema_oid=2201, owner_oid=OPS),
        obj(1006, "function", "function", "ops_f", schema_oid=2201, owner_oid=OPS),
        obj(SYSTAB, "relation", "table", "pg_x", schema_oid=11, owner_oid=10, **explicit),
        # app schema objects compared with their owner's default privileges: a NULL ACL
        # (owner and PUBLIC defaults only), and one granted all it was promised
        obj(1007, "relation", "table", "fresh", owner_oid=OWNER),
        obj(1008, "relation", "table", "good", owner_oid=OWNER, **explicit),
    ]
    columns = [
        {"table_oid": TABLE, "attnum": 1, "name": "id"},
        {"table_oid": TABLE, "attnum": 2, "name": 'we"ird col'},
    ]
    grants = []
    for cls, oid in (("relation", TABLE), ("relation", VIEW), ("relation", SEQ)):
        for p in ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER"):
            grants.append(acl(cls, oid, OWNER, p))  # the owner's own entries
    grants += [
        acl("relation", TABLE, MONITOR, "INSERT"),
        acl("relation", TABLE, MONITOR, "INSERT", grantor_oid=WRITER),  # a second grantor
        acl("relation", TABLE, WRITER, "TRUNCATE"),
        acl("relation", TABLE, WRITER, "TRIGGER", grantable=True),
        acl("relation", TABLE, APP, "REFERENCES"),
        acl("relation", TABLE, 0, "TRUNCATE"),  # PUBLIC
        acl("relation", VIEW, OPS, "UPDATE"),
        acl("relation", VIEW, WRITER, "TRUNCATE"),
        acl("relation", SEQ, WRITER, "UPDATE"),
        acl("relation", SEQ, APP, "USAGE"),
        acl("column", TABLE, MONITOR, "UPDATE", subid=2),
        acl("column", TABLE, WRITER, "REFERENCES", subid=2),
        acl("column", TABLE, APP, "REFERENCES", subid=1),
        acl("column", TABLE, 0, "UPDATE", subid=1),
        acl("function", FUNC, OWNER, "EXECUTE"),
        acl("function", FUNC, MONITOR, "EXECUTE"),
        acl("schema", 2200, OWNER, "USAGE"),
        acl("schema", 2200, OWNER, "CREATE"),
        acl("schema", 2200, WRITER, "CREATE"),
        acl("schema", 2200, MONITOR, "CREATE"),
        acl("schema", 2200, OPS, "CREATE"),
        acl("relation", SYSTAB, MONITOR, "INSERT"),
        acl("relation", SYSTAB, WRITER, "TRUNCATE"),
        *(acl("relation", 1008, WRITER, p) for p in ("SELECT", "INSERT", "UPDATE", "DELETE")),
        acl("relation", 1008, READER, "SELECT"),
        acl("relation", TABLE, READER, "SELECT"),
        acl("relation", VIEW, WRITER, "SELECT"),
        acl("column", TABLE, 110, "SELECT", subid=1),
        acl("relation", VIEW, READER, "INSERT", grantor_oid=111),
    ]
    promises = [(0, "r", WRITER, p) for p in ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE")]
    promises += [(2200, "r", READER, "SELECT"), (2200, "r", READER, "INSERT")]
    promises += [(2200, "f", APP, "EXECUTE"), (0, "f", OWNER, "EXECUTE"), (2200, "r", 0, "SELECT")]
    default_acls = [
        {
            "oid": 50 + n,
            "creator_oid": OWNER,
            "schema_oid": sch,
            "objtype": t,
            "grantor_oid": OWNER,
            "grantee_oid": gee,
            "privilege": p,
            "grantable": False,
        }
        for n, (sch, t, gee, p) in enumerate(promises)
    ]
    shared = [
        {
            "object_class": "database",
            "object_oid": 5,
            "object_name": "appdb",
            "grantor_oid": OWNER,
            "grantee_oid": gee,
            "privilege": p,
            "grantable": False,
        }
        for gee, p in (
            (OWNER, "CREATE"),
            (OWNER, "CONNECT"),
            (WRITER, "CREATE"),
            (MONITOR, "CREATE"),
            (OPS, "TEMPORARY"),
            (0, "CONNECT"),
        )
    ]
    shared += [
        {
            "object_class": "tablespace",
            "object_oid": 16500,
            "object_name": "fast",
            "grantor_oid": OPS,
            "grantee_oid": gee,
            "privilege": "CREATE",
            "grantable": False,
        }
        for gee in (OPS, MONITOR, 112)
    ]
    shared += [
        {
            "object_class": "parameter",
            "object_oid": 9000,
            "object_name": "work_mem",
            "grantor_oid": 10,
            "grantee_oid": gee,
            "privilege": p,
            "grantable": False,
        }
        for gee, p in ((MONITOR, "SET"), (OPS, "ALTER SYSTEM"), (0, "SET"))
    ]
    return make(
        version=170000,
        roles=roles,
        memberships=memberships,
        databases=[
            {"oid": 5, "name": "appdb", "owner_oid": OWNER, "acl_state": "explicit"},
            {"oid": 6, "name": "ops db", "owner_oid": OPS},  # NULL ACL: owner's CREATE
        ],
        tablespaces=[
            {"oid": 16500, "name": "fast", "owner_oid": OPS, "acl_state": "explicit"},
            {"oid": 16501, "name": "slow", "owner_oid": MONITOR},
        ],
        shared_acl=shared,
        db={
            "schemas": schemas,
            "objects": objects,
            "columns": columns,
            "acl": grants,
            "default_acls": default_acls,
        },
    )


def _rows(con: Any, query: str) -> list[str]:
    return sorted(map(repr, con.execute(query).fetchall()))


@pytest.mark.parametrize("large", [False, True], ids=["table", "view"])
def test_acl_first_rules_give_the_rows_of_their_privileges_oracle(
    monkeypatch: pytest.MonkeyPatch, builtin_rules: tuple[Any, ...], large: bool
) -> None:
    if large:
        monkeypatch.setattr(audit_schema, "SMALL_SNAPSHOT_ROWS", -1)
    con = audit_schema.load(_snapshot())
    kind = con.execute(
        "SELECT table_type FROM information_schema.tables WHERE table_name = 'privileges'"
    ).fetchone()
    assert kind == (("VIEW",) if large else ("BASE TABLE",))
    # the snapshot has every case a careless rewrite gets wrong
    cases = con.execute(
        """SELECT count(*) FILTER (WHERE source = 'default' AND grantee_oid = 104),
                  count(*) FILTER (WHERE grantee_oid = 0),
                  count(*) FILTER (WHERE object_class = 'column'),
                  count(*) FILTER (WHERE object_class IN ('database', 'tablespace', 'parameter')
                                   AND source = 'explicit'),
                  count(*) FILTER (WHERE grantee_oid = owner_oid AND source = 'explicit')
           FROM privileges"""
    ).fetchone()
    assert cases is not None and all(cases), cases
    queries = {r.id: r.query for r in builtin_rules}
    for rule_id, oracle in ORACLES.items():
        want = _rows(con, oracle)
        assert want, f"{rule_id}: the oracle finds something"
        assert _rows(con, queries[rule_id]) == want, rule_id
