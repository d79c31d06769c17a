-- PGR-OWN-001's query before it kept only the owners its joins read (main, 2026-12-06): the
-- oracle of tests/test_acl_first_rules.py, which checks the rule's query gives the same rows.
WITH runtime AS (
    SELECT name, kind, app, environment, login FROM roles WHERE kind IN ('app', 'writer', 'reader')
),
owned AS (
    SELECT o.database, o.object_class, o.kind, o.schema, o.name AS object_name,
           o.identity AS object_identity, o.identity_args, o.oid AS object_oid, o.owner
    FROM objects o
    WHERE NOT o.is_system AND o.extension IS NULL
    UNION ALL
    SELECT s.database, 'schema', 'schema', s.name, s.name, s.identity, NULL, s.oid, s.owner
    FROM schemas s
    WHERE NOT s.is_system
    UNION ALL
    SELECT d.name, 'database', 'database', NULL, d.name, d.identity, NULL, d.oid, d.owner
    FROM databases d
),
app_role AS (  -- the owner, writer and reader group roles of each application
    SELECT app, environment, min(name) FILTER (WHERE kind = 'owner') AS owner,
           min(name) FILTER (WHERE kind = 'writer') AS writer,
           min(name) FILTER (WHERE kind = 'reader') AS reader
    FROM roles
    WHERE kind IN ('owner', 'writer', 'reader') AND app IS NOT NULL
    GROUP BY app, environment
),
reach AS (  -- runtime roles that can SET ROLE to another role, per database when it matters
    SELECT c.database, c.member, c.role, array_to_string(c.set_path, ' -> ') AS path
    FROM role_closure c
    JOIN runtime r ON r.name = c.member
    WHERE c.can_set AND c.depth > 0
)
SELECT o.database, o.kind AS object_type, o.schema, o.object_name, o.object_identity,
       r.name AS role, r.kind AS role_kind, r.login, 'direct' AS evidence,
       o.object_class, o.kind, o.identity_args, o.object_oid,
       CAST(NULL AS VARCHAR) AS via_role, CAST(NULL AS VARCHAR) AS path, 1 AS objects,
       CAST(NULL AS VARCHAR) AS examples,
       a.owner AS new_owner, a.writer AS writer_role, a.reader AS reader_role
FROM owned o
JOIN runtime r ON r.name = o.owner
LEFT JOIN app_role a ON a.app = r.app AND a.environment IS NOT DISTINCT FROM r.environment
UNION ALL
SELECT o.database, 'role', NULL, x.role, x.role,
       x.member, any_value(r.kind), any_value(r.login), 'set_role',
       'role', 'role', NULL, NULL,
       x.role, min(x.path), count(*),
       string_agg(o.object_identity, ', ' ORDER BY o.object_identity) FILTER (WHERE o.object_identity IS NOT NULL),
       NULL, NULL, NULL
FROM owned o
JOIN reach x ON x.role = o.owner AND (x.database IS NULL OR x.database = o.database)
JOIN runtime r ON r.name = x.member
WHERE x.role <> x.member
  AND x.role NOT IN (SELECT name FROM runtime)  -- its ownership is reported directly
  AND x.role <> 'pg_database_owner'             -- implicit; the database owner is reported
GROUP BY o.database, x.member, x.role
