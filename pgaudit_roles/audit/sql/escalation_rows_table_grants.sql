-- DuckDB, over the audit schema: the grants on tables that have a trigger, whose grantees
-- escalation_edges_code.sql's trg_victims reads (a superset: escalation_rows.code_edges
-- applies its exact conditions).
SELECT p.database_oid, p.object_oid, p.grantee, p.grantee_oid, p.privilege
FROM privileges p
WHERE p.object_class = 'relation' AND p.object_oid IN (SELECT table_oid FROM triggers)
