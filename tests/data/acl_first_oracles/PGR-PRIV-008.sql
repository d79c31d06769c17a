-- PGR-PRIV-008's query before it read acl_items first (main, 2026-12-06): the oracle of
-- tests/test_acl_first_rules.py, which checks the rule's query gives the same rows.
WITH version AS (
    SELECT coalesce(max(TRY_CAST(value AS INTEGER)), 0) AS num
    FROM scan_meta WHERE key = 'server_version_num'
),
readers AS (
    SELECT oid, name FROM roles WHERE kind = 'reader'
),
writes AS (
    SELECT p.*
    FROM privileges p
    JOIN readers r ON r.oid = p.grantee_oid
    WHERE p.grantee_oid IS DISTINCT FROM p.owner_oid
      AND NOT (p.is_system AND p.object_class <> 'database')
      AND ((p.object_class = 'relation' AND p.kind <> 'sequence'
            AND p.privilege IN ('INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER',
                                'MAINTAIN'))
        OR (p.object_class = 'relation' AND p.kind = 'sequence' AND p.privilege IN ('USAGE', 'UPDATE'))
        OR (p.object_class = 'column' AND p.privilege IN ('INSERT', 'UPDATE', 'REFERENCES'))
        OR (p.object_class IN ('schema', 'database') AND p.privilege = 'CREATE')
        OR (p.object_class = 'large_object' AND p.privilege = 'UPDATE'))
),
default_writes AS (
    SELECT d.*
    FROM default_privileges d
    JOIN readers r ON r.oid = d.grantee_oid
    WHERE NOT d.is_empty_marker
      AND ((d.objtype = 'r' AND d.privilege IN ('INSERT', 'UPDATE', 'DELETE', 'TRUNCATE',
                                                'REFERENCES', 'TRIGGER', 'MAINTAIN'))
        OR (d.objtype = 'S' AND d.privilege IN ('USAGE', 'UPDATE'))
        OR (d.objtype = 'n' AND d.privilege = 'CREATE')
        OR (d.objtype = 'L' AND d.privilege = 'UPDATE'))
)
SELECT w.database, w.kind AS object_type, w.schema, w.object_name, w.identity AS object_identity,
       w.grantee AS role, 'grant' AS evidence,
       CASE WHEN w.object_class = 'column' THEN 'relation' ELSE w.object_class END AS object_class,
       w.kind, w.object_oid,
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
       CAST(NULL AS VARCHAR) AS via_role, CAST(NULL AS VARCHAR) AS path, CAST(NULL AS INTEGER) AS depth,
       CAST(NULL AS VARCHAR[]) AS grantors, false AS grantor_matters,
       CAST(NULL AS VARCHAR) AS creator, CAST(NULL AS VARCHAR) AS objtype
FROM writes w
GROUP BY w.database, w.database_oid, w.object_class, w.object_oid, w.kind, w.schema, w.object_name,
         w.identity, w.grantee
UNION ALL
SELECT NULL, 'membership', NULL, c.role, c.member || ' -> ' || c.role, c.member, 'membership',
       'role', 'role', NULL, [], [], [], NULL, c.role,
       array_to_string(c.inherit_path, ' -> '), c.inherit_depth,
       (SELECT list_sort(list_distinct(list(m.grantor) FILTER (WHERE m.grantor IS NOT NULL)))
        FROM memberships m WHERE m.role = c.role AND m.member = c.member),
       (SELECT num FROM version) >= 160000, NULL, NULL
FROM role_closure c
JOIN readers r ON r.name = c.member
JOIN roles g ON g.name = c.role AND g.kind IN ('writer', 'app')
WHERE c.database IS NULL AND c.depth > 0 AND c.inherits
UNION ALL
SELECT d.database, 'default_privilege', d.schema,
       d.object_type, d.object_type || ' created by ' || pg_quote_ident(d.creator)
           || coalesce(' in schema ' || pg_quote_ident(d.schema), ''),
       d.grantee, 'default', 'default_privilege', d.object_type, d.oid,
       list_sort(list_distinct(list(d.privilege))), [], [],
       list_aggr(list_sort(list_distinct(list(d.privilege))), 'string_agg', ', '), NULL, NULL, NULL, NULL, false, d.creator, d.objtype
FROM default_writes d
GROUP BY d.database, d.oid, d.schema, d.object_type, d.objtype, d.creator, d.grantee
