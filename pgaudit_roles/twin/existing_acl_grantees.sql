-- Grantees in the ACLs of objects the twin did not create (initdb's system objects,
-- languages, schemas): before an object's ACL is written out exactly, every entry the
-- twin's own initdb put there is revoked. One row per (object, grantee); PUBLIC is 0.
SELECT 'schema' AS object_class, n.nspname::text AS schema_name, n.nspname::text AS name,
       NULL::text AS args, pg_catalog.pg_get_userbyid(a.grantee)::text AS grantee, a.grantee = 0 AS is_public
FROM pg_catalog.pg_namespace AS n CROSS JOIN LATERAL pg_catalog.aclexplode(n.nspacl) AS a
UNION ALL
SELECT 'relation', n.nspname::text, c.relname::text, NULL, pg_catalog.pg_get_userbyid(a.grantee)::text, a.grantee = 0
FROM pg_catalog.pg_class AS c JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
CROSS JOIN LATERAL pg_catalog.aclexplode(c.relacl) AS a
WHERE n.nspname IN ('pg_catalog', 'information_schema')
UNION ALL
SELECT 'function', n.nspname::text, p.proname::text,
       pg_catalog.pg_get_function_identity_arguments(p.oid), pg_catalog.pg_get_userbyid(a.grantee)::text, a.grantee = 0
FROM pg_catalog.pg_proc AS p JOIN pg_catalog.pg_namespace AS n ON n.oid = p.pronamespace
CROSS JOIN LATERAL pg_catalog.aclexplode(p.proacl) AS a
WHERE n.nspname IN ('pg_catalog', 'information_schema')
UNION ALL
SELECT 'type', n.nspname::text, t.typname::text, NULL, pg_catalog.pg_get_userbyid(a.grantee)::text, a.grantee = 0
FROM pg_catalog.pg_type AS t JOIN pg_catalog.pg_namespace AS n ON n.oid = t.typnamespace
CROSS JOIN LATERAL pg_catalog.aclexplode(t.typacl) AS a
WHERE n.nspname IN ('pg_catalog', 'information_schema')
UNION ALL
SELECT 'language', NULL, l.lanname::text, NULL, pg_catalog.pg_get_userbyid(a.grantee)::text, a.grantee = 0
FROM pg_catalog.pg_language AS l CROSS JOIN LATERAL pg_catalog.aclexplode(l.lanacl) AS a
UNION ALL
SELECT 'database', NULL, d.datname::text, NULL, pg_catalog.pg_get_userbyid(a.grantee)::text, a.grantee = 0
FROM pg_catalog.pg_database AS d CROSS JOIN LATERAL pg_catalog.aclexplode(d.datacl) AS a
UNION ALL
SELECT 'tablespace', NULL, t.spcname::text, NULL, pg_catalog.pg_get_userbyid(a.grantee)::text, a.grantee = 0
FROM pg_catalog.pg_tablespace AS t CROSS JOIN LATERAL pg_catalog.aclexplode(t.spcacl) AS a
