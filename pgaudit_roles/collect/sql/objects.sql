-- Every object with privileges: relations, functions, types, languages, large
-- objects, foreign data wrappers and servers, with owner, ACL state and extension.
-- Scope: schemas matching ^pg_(toast|temp_N|toast_temp_N)$ are never descended into
-- (TOAST storage, other sessions' temporary schemas); in pg_catalog and
-- information_schema only objects whose ACL was changed are listed.
-- A relation in a system schema is in scope when it or one of its columns has an ACL.
-- Array types and the implicit row types of relations are left out.
--
-- Relations in user schemas and in system schemas are two branches: written as one OR,
-- the planner hashes the column-ACL test over all of pg_attribute for every database
-- (40% of this query's time at 20,000 tables) although only system relations need it.
SELECT 'relation' AS object_class, c.oid AS oid,
       CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'partitioned table'
            WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view'
            WHEN 'S' THEN 'sequence' WHEN 'f' THEN 'foreign table' END AS kind,
       c.relnamespace AS schema_oid, c.relname::text AS name, NULL::text AS identity_args,
       c.relowner AS owner_oid,
       CASE WHEN c.relacl IS NULL THEN 'default' ELSE 'explicit' END AS acl_state,
       x.extname::text AS extension, NULL::boolean AS trusted
FROM pg_catalog.pg_class AS c
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
LEFT JOIN (
    SELECT d.classid AS classid, d.objid AS objid, e.extname AS extname
    FROM pg_catalog.pg_depend AS d
    JOIN pg_catalog.pg_extension AS e ON e.oid = d.refobjid
    WHERE d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass AND d.deptype = 'e'
) AS x
  ON x.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND x.objid = c.oid
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND n.nspname !~ '^pg_(toast|temp_[0-9]+|toast_temp_[0-9]+)$' AND n.nspname NOT IN ('pg_catalog', 'information_schema')
UNION ALL
SELECT 'relation' AS object_class, c.oid AS oid,
       CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'partitioned table'
            WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view'
            WHEN 'S' THEN 'sequence' WHEN 'f' THEN 'foreign table' END AS kind,
       c.relnamespace AS schema_oid, c.relname::text AS name, NULL::text AS identity_args,
       c.relowner AS owner_oid,
       CASE WHEN c.relacl IS NULL THEN 'default' ELSE 'explicit' END AS acl_state,
       x.extname::text AS extension, NULL::boolean AS trusted
FROM pg_catalog.pg_class AS c
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
LEFT JOIN (
    SELECT d.classid AS classid, d.objid AS objid, e.extname AS extname
    FROM pg_catalog.pg_depend AS d
    JOIN pg_catalog.pg_extension AS e ON e.oid = d.refobjid
    WHERE d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass AND d.deptype = 'e'
) AS x
  ON x.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND x.objid = c.oid
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND n.nspname IN ('pg_catalog', 'information_schema') AND (c.relacl IS NOT NULL OR EXISTS (SELECT FROM pg_catalog.pg_attribute AS ca WHERE ca.attrelid = c.oid AND ca.attacl IS NOT NULL AND ca.attnum > 0 AND NOT ca.attisdropped))
UNION ALL
SELECT 'function', p.oid,
       CASE p.prokind WHEN 'f' THEN 'function' WHEN 'p' THEN 'procedure'
            WHEN 'a' THEN 'aggregate' WHEN 'w' THEN 'window function' END,
       p.pronamespace, p.proname::text, pg_catalog.pg_get_function_identity_arguments(p.oid),
       p.proowner, CASE WHEN p.proacl IS NULL THEN 'default' ELSE 'explicit' END,
       x.extname::text, NULL::boolean
FROM pg_catalog.pg_proc AS p
JOIN pg_catalog.pg_namespace AS n ON n.oid = p.pronamespace
LEFT JOIN (
    SELECT d.classid AS classid, d.objid AS objid, e.extname AS extname
    FROM pg_catalog.pg_depend AS d
    JOIN pg_catalog.pg_extension AS e ON e.oid = d.refobjid
    WHERE d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass AND d.deptype = 'e'
) AS x
  ON x.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND x.objid = p.oid
WHERE n.nspname !~ '^pg_(toast|temp_[0-9]+|toast_temp_[0-9]+)$' AND (n.nspname NOT IN ('pg_catalog', 'information_schema') OR p.proacl IS NOT NULL)
UNION ALL
SELECT 'type', t.oid,
       CASE t.typtype WHEN 'b' THEN 'base type' WHEN 'd' THEN 'domain' WHEN 'e' THEN 'enum'
            WHEN 'r' THEN 'range' WHEN 'm' THEN 'multirange' WHEN 'c' THEN 'composite'
            WHEN 'p' THEN 'pseudo' END,
       t.typnamespace, t.typname::text, NULL::text, t.typowner,
       CASE WHEN t.typacl IS NULL THEN 'default' ELSE 'explicit' END, x.extname::text, NULL::boolean
FROM pg_catalog.pg_type AS t
JOIN pg_catalog.pg_namespace AS n ON n.oid = t.typnamespace
LEFT JOIN pg_catalog.pg_class AS tr ON tr.oid = t.typrelid
LEFT JOIN (
    SELECT d.classid AS classid, d.objid AS objid, e.extname AS extname
    FROM pg_catalog.pg_depend AS d
    JOIN pg_catalog.pg_extension AS e ON e.oid = d.refobjid
    WHERE d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass AND d.deptype = 'e'
) AS x
  ON x.classid = 'pg_catalog.pg_type'::pg_catalog.regclass AND x.objid = t.oid
WHERE NOT (t.typtype = 'b' AND t.typelem <> 0 AND t.typlen = -1) AND (t.typtype <> 'c' OR tr.relkind = 'c') AND n.nspname !~ '^pg_(toast|temp_[0-9]+|toast_temp_[0-9]+)$' AND (n.nspname NOT IN ('pg_catalog', 'information_schema') OR t.typacl IS NOT NULL)
UNION ALL
SELECT 'language', l.oid, 'language', NULL::oid, l.lanname::text, NULL::text, l.lanowner,
       CASE WHEN l.lanacl IS NULL THEN 'default' ELSE 'explicit' END, x.extname::text,
       l.lanpltrusted
FROM pg_catalog.pg_language AS l
LEFT JOIN (
    SELECT d.classid AS classid, d.objid AS objid, e.extname AS extname
    FROM pg_catalog.pg_depend AS d
    JOIN pg_catalog.pg_extension AS e ON e.oid = d.refobjid
    WHERE d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass AND d.deptype = 'e'
) AS x
  ON x.classid = 'pg_catalog.pg_language'::pg_catalog.regclass AND x.objid = l.oid
UNION ALL
SELECT 'large_object', m.oid, 'large object', NULL::oid, m.oid::text, NULL::text, m.lomowner,
       CASE WHEN m.lomacl IS NULL THEN 'default' ELSE 'explicit' END, NULL::text, NULL::boolean
FROM pg_catalog.pg_largeobject_metadata AS m
UNION ALL
SELECT 'fdw', w.oid, 'foreign-data wrapper', NULL::oid, w.fdwname::text, NULL::text, w.fdwowner,
       CASE WHEN w.fdwacl IS NULL THEN 'default' ELSE 'explicit' END, x.extname::text,
       NULL::boolean
FROM pg_catalog.pg_foreign_data_wrapper AS w
LEFT JOIN (
    SELECT d.classid AS classid, d.objid AS objid, e.extname AS extname
    FROM pg_catalog.pg_depend AS d
    JOIN pg_catalog.pg_extension AS e ON e.oid = d.refobjid
    WHERE d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass AND d.deptype = 'e'
) AS x
  ON x.classid = 'pg_catalog.pg_foreign_data_wrapper'::pg_catalog.regclass AND x.objid = w.oid
UNION ALL
SELECT 'server', s.oid, 'server', NULL::oid, s.srvname::text, NULL::text, s.srvowner,
       CASE WHEN s.srvacl IS NULL THEN 'default' ELSE 'explicit' END, x.extname::text,
       NULL::boolean
FROM pg_catalog.pg_foreign_server AS s
LEFT JOIN (
    SELECT d.classid AS classid, d.objid AS objid, e.extname AS extname
    FROM pg_catalog.pg_depend AS d
    JOIN pg_catalog.pg_extension AS e ON e.oid = d.refobjid
    WHERE d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass AND d.deptype = 'e'
) AS x
  ON x.classid = 'pg_catalog.pg_foreign_server'::pg_catalog.regclass AND x.objid = s.oid
