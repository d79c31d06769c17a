-- PGR-PRIV-011's query before it read acl_items first (main, 2026-12-06): the oracle of
-- tests/test_acl_first_rules.py, which checks the rule's query gives the same rows.
WITH options AS (
    SELECT p.*
    FROM privileges p
    JOIN roles r ON r.oid = p.grantee_oid
    WHERE p.grantable
      AND p.grantee_oid <> 0
      AND p.grantee_oid IS DISTINCT FROM p.owner_oid
      AND NOT r.superuser
),
passed_on AS (  -- grants the grantee made with its option: they depend on it
    SELECT o.database_oid, o.object_class, o.object_oid, o.grantee_oid,
           CASE WHEN count(*) = count(g.grantee)
                THEN list_sort(list_distinct(list(g.grantee)))
                ELSE list_append(list_sort(list_distinct(list(g.grantee))), NULL) END AS dependents
    FROM options o
    JOIN privileges g
      ON g.object_class = o.object_class AND g.object_oid = o.object_oid
     AND g.database_oid IS NOT DISTINCT FROM o.database_oid
     AND g.grantor_oid = o.grantee_oid AND g.grantee_oid <> o.grantee_oid
    GROUP BY ALL
),
objs AS (
    SELECT database_oid, oid, identity_args FROM objects WHERE object_class = 'function'
)
SELECT o.database, o.kind AS object_type, o.schema, o.object_name, o.identity AS object_identity,
       o.grantee AS role, any_value(o.owner) AS owner,
       CASE WHEN o.object_class = 'column' THEN 'relation' ELSE o.object_class END AS object_class,
       o.kind, o.object_oid, any_value(f.identity_args) AS identity_args,
       coalesce(list_sort(list_distinct(list(o.privilege) FILTER (WHERE o.subid = 0))), []) AS table_privileges,
       coalesce(list_sort(list_distinct(list(o.privilege) FILTER (WHERE o.subid > 0))), []) AS column_privileges,
       -- list(DISTINCT x ORDER BY x) without DuckDB's subplan per DISTINCT aggregate;
       -- list_distinct drops a NULL, which list(DISTINCT) keeps (last)
       coalesce(CASE WHEN count(*) FILTER (WHERE o.subid > 0) = count(o.column_name) FILTER (WHERE o.subid > 0)
                THEN list_sort(list_distinct(list(o.column_name) FILTER (WHERE o.subid > 0)))
                ELSE list_append(list_sort(list_distinct(list(o.column_name) FILTER (WHERE o.subid > 0))), NULL) END, []) AS columns,
       list_aggr(list_sort(list_distinct(list(CASE WHEN o.subid = 0 THEN o.privilege
                                ELSE o.privilege || ' (' || pg_quote_ident(o.column_name) || ')' END))), 'string_agg', ', ')
           AS privilege_list,
       coalesce(any_value(d.dependents), []) AS dependents
FROM options o
LEFT JOIN passed_on d
  ON d.database_oid IS NOT DISTINCT FROM o.database_oid
 AND d.object_class = o.object_class AND d.object_oid = o.object_oid
 AND d.grantee_oid = o.grantee_oid
LEFT JOIN objs f ON o.object_class = 'function' AND f.database_oid = o.database_oid AND f.oid = o.object_oid
GROUP BY o.database, o.database_oid, o.object_class, o.object_oid, o.kind, o.schema,
         o.object_name, o.identity, o.grantee
