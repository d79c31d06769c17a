-- DuckDB, over the audit schema: what escalation_edges_grants.sql starts from, for the
-- small path (escalation_rows.grants_edges): parameter privileges, and the USAGE grants
-- on foreign servers that have a user mapping for PUBLIC (that statement's join); a
-- source column tells the two apart.
SELECT 'parameter' AS source, NULL::VARCHAR AS database, NULL::BIGINT AS database_oid,
       p.object_name AS name, p.identity, p.privilege, p.grantee, p.grantee_oid,
       NULL::VARCHAR[] AS option_names
FROM privileges p
WHERE p.object_class = 'parameter'
UNION ALL
SELECT 'mapping', u.database, u.database_oid, u.server, NULL, p.privilege, p.grantee,
       p.grantee_oid, u.option_names
FROM user_mappings u
JOIN privileges p ON p.object_class = 'server' AND p.database_oid = u.database_oid
                 AND p.object_oid = u.server_oid AND p.privilege = 'USAGE'
WHERE u.user_oid = 0
