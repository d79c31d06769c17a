-- DuckDB, over the audit schema: the grants the small path reads (escalation_rows): USAGE
-- and CREATE on schemas, EXECUTE on SECURITY DEFINER routines (a superset: the Python side
-- applies escalation_privileges.sql's and escalation_edges_definer.sql's exact conditions).
-- Every row, duplicates included: security_definer_call keeps one edge per grant row.
SELECT p.database_oid, p.object_class, p.object_oid, p.grantee, p.grantee_oid, p.privilege,
       p.is_system
FROM privileges p
WHERE (p.object_class = 'schema' AND p.privilege IN ('USAGE', 'CREATE'))
   OR (p.object_class = 'function' AND p.privilege = 'EXECUTE'
       AND p.object_oid IN (SELECT oid FROM functions
                            WHERE security_definer AND NOT is_system AND extension IS NULL))
