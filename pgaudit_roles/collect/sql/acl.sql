-- Every explicit ACL, one row per object (or column) with the whole ACL packed in
-- items as grantor:grantee:SELECT,*UPDATE;... (OIDs; * = WITH GRANT OPTION): a fifth
-- of aclexplode's rows for a quarter of its server time. columnfile.ACL_ITEMS expands
-- it again in DuckDB.
--
-- The acl table as sent: one row per object with its whole ACL packed in ``items``; see
-- columnfile.ACL_ITEMS for the expansion into the snapshot's acl table (one row per privilege).
-- Column rows also carry the column's name: the snapshot's ``columns`` table (columns with
-- an ACL) is read from the same transfer, saving a second scan of pg_attribute, the
-- biggest catalog, per database.
SELECT 'schema' AS object_class, n.oid AS object_oid, 0 AS subid, NULL::text AS name,
       a.items AS items
FROM pg_catalog.pg_namespace AS n CROSS JOIN LATERAL (SELECT pg_catalog.string_agg(g.grantor::text || ':' || g.grantee::text || ':' || g.privileges, ';') AS items FROM (SELECT e.grantor, e.grantee, pg_catalog.string_agg(CASE WHEN e.is_grantable THEN '*' ELSE '' END || e.privilege_type, ',' ORDER BY e.privilege_type) AS privileges FROM pg_catalog.aclexplode(n.nspacl) AS e GROUP BY e.grantor, e.grantee) AS g) AS a
WHERE n.nspacl IS NOT NULL AND n.nspname !~ '^pg_(toast|temp_[0-9]+|toast_temp_[0-9]+)$'
UNION ALL
SELECT 'relation', c.oid, 0, NULL, a.items
FROM pg_catalog.pg_class AS c
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
CROSS JOIN LATERAL (SELECT pg_catalog.string_agg(g.grantor::text || ':' || g.grantee::text || ':' || g.privileges, ';') AS items FROM (SELECT e.grantor, e.grantee, pg_catalog.string_agg(CASE WHEN e.is_grantable THEN '*' ELSE '' END || e.privilege_type, ',' ORDER BY e.privilege_type) AS privileges FROM pg_catalog.aclexplode(c.relacl) AS e GROUP BY e.grantor, e.grantee) AS g) AS a
WHERE c.relacl IS NOT NULL AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND n.nspname !~ '^pg_(toast|temp_[0-9]+|toast_temp_[0-9]+)$'
UNION ALL
SELECT 'column', c.oid, at.attnum::int, at.attname::text, a.items
FROM pg_catalog.pg_attribute AS at
JOIN pg_catalog.pg_class AS c ON c.oid = at.attrelid
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
CROSS JOIN LATERAL (SELECT pg_catalog.string_agg(g.grantor::text || ':' || g.grantee::text || ':' || g.privileges, ';') AS items FROM (SELECT e.grantor, e.grantee, pg_catalog.string_agg(CASE WHEN e.is_grantable THEN '*' ELSE '' END || e.privilege_type, ',' ORDER BY e.privilege_type) AS privileges FROM pg_catalog.aclexplode(at.attacl) AS e GROUP BY e.grantor, e.grantee) AS g) AS a
WHERE at.attacl IS NOT NULL AND at.attnum > 0 AND NOT at.attisdropped
  AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND n.nspname !~ '^pg_(toast|temp_[0-9]+|toast_temp_[0-9]+)$'
UNION ALL
SELECT 'function', p.oid, 0, NULL, a.items
FROM pg_catalog.pg_proc AS p
JOIN pg_catalog.pg_namespace AS n ON n.oid = p.pronamespace
CROSS JOIN LATERAL (SELECT pg_catalog.string_agg(g.grantor::text || ':' || g.grantee::text || ':' || g.privileges, ';') AS items FROM (SELECT e.grantor, e.grantee, pg_catalog.string_agg(CASE WHEN e.is_grantable THEN '*' ELSE '' END || e.privilege_type, ',' ORDER BY e.privilege_type) AS privileges FROM pg_catalog.aclexplode(p.proacl) AS e GROUP BY e.grantor, e.grantee) AS g) AS a
WHERE p.proacl IS NOT NULL AND n.nspname !~ '^pg_(toast|temp_[0-9]+|toast_temp_[0-9]+)$'
UNION ALL
SELECT 'type', t.oid, 0, NULL, a.items
FROM pg_catalog.pg_type AS t
JOIN pg_catalog.pg_namespace AS n ON n.oid = t.typnamespace
LEFT JOIN pg_catalog.pg_class AS tr ON tr.oid = t.typrelid
CROSS JOIN LATERAL (SELECT pg_catalog.string_agg(g.grantor::text || ':' || g.grantee::text || ':' || g.privileges, ';') AS items FROM (SELECT e.grantor, e.grantee, pg_catalog.string_agg(CASE WHEN e.is_grantable THEN '*' ELSE '' END || e.privilege_type, ',' ORDER BY e.privilege_type) AS privileges FROM pg_catalog.aclexplode(t.typacl) AS e GROUP BY e.grantor, e.grantee) AS g) AS a
WHERE t.typacl IS NOT NULL AND NOT (t.typtype = 'b' AND t.typelem <> 0 AND t.typlen = -1) AND (t.typtype <> 'c' OR tr.relkind = 'c') AND n.nspname !~ '^pg_(toast|temp_[0-9]+|toast_temp_[0-9]+)$'
UNION ALL
SELECT 'language', l.oid, 0, NULL, a.items
FROM pg_catalog.pg_language AS l CROSS JOIN LATERAL (SELECT pg_catalog.string_agg(g.grantor::text || ':' || g.grantee::text || ':' || g.privileges, ';') AS items FROM (SELECT e.grantor, e.grantee, pg_catalog.string_agg(CASE WHEN e.is_grantable THEN '*' ELSE '' END || e.privilege_type, ',' ORDER BY e.privilege_type) AS privileges FROM pg_catalog.aclexplode(l.lanacl) AS e GROUP BY e.grantor, e.grantee) AS g) AS a
UNION ALL
SELECT 'large_object', m.oid, 0, NULL, a.items
FROM pg_catalog.pg_largeobject_metadata AS m CROSS JOIN LATERAL (SELECT pg_catalog.string_agg(g.grantor::text || ':' || g.grantee::text || ':' || g.privileges, ';') AS items FROM (SELECT e.grantor, e.grantee, pg_catalog.string_agg(CASE WHEN e.is_grantable THEN '*' ELSE '' END || e.privilege_type, ',' ORDER BY e.privilege_type) AS privileges FROM pg_catalog.aclexplode(m.lomacl) AS e GROUP BY e.grantor, e.grantee) AS g) AS a
UNION ALL
SELECT 'fdw', w.oid, 0, NULL, a.items
FROM pg_catalog.pg_foreign_data_wrapper AS w CROSS JOIN LATERAL (SELECT pg_catalog.string_agg(g.grantor::text || ':' || g.grantee::text || ':' || g.privileges, ';') AS items FROM (SELECT e.grantor, e.grantee, pg_catalog.string_agg(CASE WHEN e.is_grantable THEN '*' ELSE '' END || e.privilege_type, ',' ORDER BY e.privilege_type) AS privileges FROM pg_catalog.aclexplode(w.fdwacl) AS e GROUP BY e.grantor, e.grantee) AS g) AS a
UNION ALL
SELECT 'server', s.oid, 0, NULL, a.items
FROM pg_catalog.pg_foreign_server AS s CROSS JOIN LATERAL (SELECT pg_catalog.string_agg(g.grantor::text || ':' || g.grantee::text || ':' || g.privileges, ';') AS items FROM (SELECT e.grantor, e.grantee, pg_catalog.string_agg(CASE WHEN e.is_grantable THEN '*' ELSE '' END || e.privilege_type, ',' ORDER BY e.privilege_type) AS privileges FROM pg_catalog.aclexplode(s.srvacl) AS e GROUP BY e.grantor, e.grantee) AS g) AS a
