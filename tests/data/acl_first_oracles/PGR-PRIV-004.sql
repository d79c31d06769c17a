-- PGR-PRIV-004's query before it read acl_items first (main, 2026-12-06): the oracle of
-- tests/test_acl_first_rules.py, which checks the rule's query gives the same rows.
WITH content AS (  -- databases with something besides the built-in catalogs and schema public
                  -- (and bootstrap-sql's password helper, schema pgaudit_roles)
    SELECT database_oid FROM schemas
    WHERE NOT is_system AND name NOT IN ('public', 'pgaudit_roles')
    UNION ALL
    SELECT database_oid FROM objects
    WHERE NOT is_system AND extension IS NULL AND coalesce(schema, '') <> 'pgaudit_roles'
),
db_apps AS (  -- applications with data here, and their environment when an owner role says
    SELECT s.database_oid, s.app, CASE WHEN o.kind = 'owner' THEN o.environment END AS environment
    FROM schemas s LEFT JOIN roles o ON o.name = s.owner
    WHERE s.app IS NOT NULL
    UNION ALL
    SELECT d.oid, r.app, r.environment FROM databases d JOIN roles r ON r.name = d.owner
    WHERE r.kind = 'owner' AND r.app IS NOT NULL
),
keep_app AS (  -- the applications' roles must keep CONNECT after PUBLIC loses it ...
    SELECT a.database_oid, r.name
    FROM db_apps a JOIN roles r ON r.app = a.app AND r.kind IN ('writer', 'reader', 'app', 'deploy')
    WHERE NOT r.superuser
      AND (a.environment IS NULL OR r.environment IS NOT DISTINCT FROM a.environment)
),
keep_ops AS (  -- ... and so must the monitoring and auditing logins
    SELECT name FROM roles
    WHERE login AND NOT superuser AND (kind IN ('monitor', 'auditor') OR is_auditor)
),
keep_users AS (  -- ... and so must every other role that uses the database today: it holds
                 -- a grant there, owns something there, was connected to it at scan
                 -- time, or reads or writes every database (pg_read/write_all_data)
    SELECT p.database_oid, p.grantee AS name
    FROM privileges p
    WHERE p.grantee_oid <> 0 AND p.source = 'explicit' AND NOT p.is_system
      AND p.object_class NOT IN ('database', 'tablespace', 'parameter')
    UNION ALL
    SELECT database_oid, owner FROM objects WHERE NOT is_system AND extension IS NULL
    UNION ALL
    SELECT database_oid, owner FROM schemas WHERE NOT is_system
    UNION ALL
    SELECT d.oid, a.role_name FROM activity a JOIN databases d ON d.name = a.database
    UNION ALL
    SELECT d.oid, r.name
    FROM databases d, role_closure c JOIN roles r ON r.oid = c.member_oid
    WHERE c.role IN ('pg_read_all_data', 'pg_write_all_data') AND c.inherits
      AND c.database IS NULL AND r.login
),
public_privs AS (
    SELECT p.object_oid, list_sort(list_distinct(list(p.privilege))) AS privileges,
           bool_and(p.source = 'default') AS builtin
    FROM privileges p
    WHERE p.object_class = 'database' AND p.grantee_oid = 0
    GROUP BY p.object_oid
)
SELECT d.name AS database, 'database' AS object_type, d.name AS object_name,
       d.identity AS object_identity, d.owner, x.privileges,
       array_to_string(x.privileges, ', ') AS privilege_list, x.builtin, d.collected,
       coalesce((SELECT list_sort(list_distinct(list(k.name))) FROM keep_app k
                 WHERE k.database_oid = d.oid), []) AS app_roles,
       coalesce((SELECT list(k.name ORDER BY k.name) FROM keep_ops k), []) AS ops_roles,
       coalesce((SELECT list_sort(list_distinct(list(u.name)))
                 FROM keep_users u JOIN roles r ON r.name = u.name
                 WHERE u.database_oid = d.oid AND u.name <> d.owner
                   AND NOT r.superuser AND NOT r.predefined
                   -- not another application's roles: their access here is PGR-PRIV-012's
                   -- finding, and a fix that grants it anew would be withheld for it
                   AND NOT (r.app IS NOT NULL
                            AND EXISTS (SELECT 1 FROM db_apps a WHERE a.database_oid = d.oid)
                            AND r.app NOT IN (SELECT a.app FROM db_apps a
                                              WHERE a.database_oid = d.oid))
                   AND u.name NOT IN (SELECT k.name FROM keep_app k WHERE k.database_oid = d.oid)
                   AND u.name NOT IN (SELECT k.name FROM keep_ops k)), []) AS user_roles
FROM databases d
JOIN public_privs x ON x.object_oid = d.oid
WHERE d.allow_connections
  AND NOT d.is_template
  AND (NOT d.collected OR d.oid IN (SELECT database_oid FROM content))
