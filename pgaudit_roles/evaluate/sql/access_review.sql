-- The access review: every privilege a login role holds, one row per (login role, database,
-- object, privilege, how it is held), for the periodic user access reviews auditors ask for
-- (SOC 2 CC6.2/CC6.3, ISO 27001 A.9.2.5). Read by the csv report.
--
-- From effective_privileges (which agrees with has_*_privilege), minus built-in objects
-- (every role holds the same EXECUTE on pg_catalog functions through PUBLIC: noise in a
-- review) and minus the per-object expansion for superusers: a superuser login is one row,
-- "(every object)" / ALL / superuser, which is what a reviewer decides on. Several grant
-- rows of one holding (grantors) are one row; grantable if any of them is.
SELECT login_role, app, database, object_type, object, privilege, held,
       bool_or(grantable) AS grantable
FROM (
    SELECT e.role AS login_role, r.app, e.database,
           CASE WHEN e.column_name IS NOT NULL THEN 'column'
                WHEN e.object_class = 'relation' THEN e.kind
                ELSE e.object_class END AS object_type,
           CASE WHEN e.column_name IS NOT NULL THEN e.identity || '.' || e.column_name
                ELSE e.identity END AS object,
           e.privilege,
           CASE e.via WHEN 'direct' THEN 'direct'
                      WHEN 'public' THEN 'PUBLIC'
                      WHEN 'owner' THEN CASE WHEN e.via_role = e.role THEN 'owner'
                                             ELSE 'owner via role ' || e.via_role END
                      ELSE 'via role ' || e.via_role END AS held,
           e.grantable
    FROM effective_privileges e
    JOIN roles r ON r.oid = e.role_oid AND r.login AND NOT r.superuser
    WHERE NOT coalesce(e.is_system, false)
    UNION ALL
    SELECT r.name, r.app, NULL, 'cluster', '(every object)', 'ALL', 'superuser', true
    FROM roles r
    WHERE r.login AND r.superuser
) x
GROUP BY ALL
ORDER BY login_role, database NULLS FIRST, object_type, object, privilege, held
