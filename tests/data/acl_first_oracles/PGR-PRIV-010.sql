-- PGR-PRIV-010's query before it read acl_items first (main, 2026-12-06): the oracle of
-- tests/test_acl_first_rules.py, which checks the rule's query gives the same rows.
WITH logins AS (
    SELECT oid, name, kind FROM roles
    WHERE login AND NOT superuser AND NOT is_auditor
      AND kind NOT IN ('owner', 'writer', 'reader', 'predefined', 'auditor')
),
direct AS (
    SELECT p.*, l.kind AS role_kind
    FROM privileges p
    JOIN logins l ON l.oid = p.grantee_oid
    WHERE p.source = 'explicit'
      AND p.grantee_oid IS DISTINCT FROM p.owner_oid
      AND NOT p.is_system
      AND p.object_class NOT IN ('database', 'tablespace', 'parameter')
),
covered AS (  -- direct grants the login role also holds through a role it inherits from
    SELECT d.database_oid, d.object_class, d.object_oid, d.subid, d.grantee_oid,
           d.privilege, min(g.grantee) AS via_role
    FROM direct d
    JOIN role_closure c
      ON c.member_oid = d.grantee_oid AND c.depth > 0 AND c.inherits
     AND (c.database IS NULL OR c.database_oid = d.database_oid)
    JOIN privileges g
      ON g.database_oid = d.database_oid AND g.object_oid = d.object_oid
     AND g.grantee_oid = c.role_oid AND g.privilege = d.privilege
     AND ((g.object_class = d.object_class AND g.subid = d.subid)
          OR (d.object_class = 'column' AND g.object_class = 'relation' AND g.subid = 0))
    GROUP BY ALL
),
objs AS (
    SELECT database_oid, oid, identity_args FROM objects WHERE object_class = 'function'
)
SELECT d.database, d.kind AS object_type, d.schema, d.object_name, d.identity AS object_identity,
       d.grantee AS role, any_value(d.role_kind) AS role_kind, 'grant' AS evidence,
       CASE WHEN d.object_class = 'column' THEN 'relation' ELSE d.object_class END AS object_class,
       d.kind, d.object_oid, any_value(f.identity_args) AS identity_args,
       coalesce(list_sort(list_distinct(list(d.privilege) FILTER (WHERE d.subid = 0))), []) AS table_privileges,
       coalesce(list_sort(list_distinct(list(d.privilege) FILTER (WHERE d.subid > 0))), []) AS column_privileges,
       -- list(DISTINCT x ORDER BY x) without DuckDB's subplan per DISTINCT aggregate;
       -- list_distinct drops a NULL, which list(DISTINCT) keeps (last)
       coalesce(CASE WHEN count(*) FILTER (WHERE d.subid > 0) = count(d.column_name) FILTER (WHERE d.subid > 0)
                THEN list_sort(list_distinct(list(d.column_name) FILTER (WHERE d.subid > 0)))
                ELSE list_append(list_sort(list_distinct(list(d.column_name) FILTER (WHERE d.subid > 0))), NULL) END, []) AS columns,
       list_aggr(list_sort(list_distinct(list(CASE WHEN d.subid = 0 THEN d.privilege
                                ELSE d.privilege || ' (' || pg_quote_ident(d.column_name) || ')' END))), 'string_agg', ', ')
           AS privilege_list,
       bool_and(v.privilege IS NOT NULL) AS redundant,
       list_aggr(list_sort(list_distinct(list(v.via_role))), 'string_agg', ', ') AS via_roles,
       CAST(NULL AS VARCHAR) AS creator
FROM direct d
LEFT JOIN covered v
  ON v.database_oid = d.database_oid AND v.object_class = d.object_class
 AND v.object_oid = d.object_oid AND v.subid = d.subid AND v.grantee_oid = d.grantee_oid
 AND v.privilege = d.privilege
LEFT JOIN objs f ON d.object_class = 'function' AND f.database_oid = d.database_oid AND f.oid = d.object_oid
GROUP BY d.database, d.database_oid, d.object_class, d.object_oid, d.kind, d.schema, d.object_name,
         d.identity, d.grantee
UNION ALL
SELECT d.database, 'default_privilege', d.schema, d.object_type,
       d.object_type || ' created by ' || pg_quote_ident(d.creator)
           || coalesce(' in schema ' || pg_quote_ident(d.schema), ''),
       d.grantee, any_value(l.kind), 'default', 'default_privilege', d.object_type, d.oid, NULL,
       list_sort(list_distinct(list(d.privilege))), [], [],
       list_aggr(list_sort(list_distinct(list(d.privilege))), 'string_agg', ', '), false, NULL, d.creator
FROM default_privileges d
JOIN logins l ON l.oid = d.grantee_oid
WHERE NOT d.is_empty_marker AND d.grantee_oid <> d.creator_oid
GROUP BY d.database, d.oid, d.schema, d.object_type, d.creator, d.grantee
