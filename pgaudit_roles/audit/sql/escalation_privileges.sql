-- DuckDB, run before escalation_edges.sql: the rows of effective_privileges that the edges
-- read (schema USAGE/CREATE and EXECUTE on SECURITY DEFINER routines), a superset of what
-- each of its three readers filters for. Expanded once here instead of inlining the view
-- three times into the edge statement, whose planning then dominated the load.
CREATE OR REPLACE TABLE internal.esc_effective AS
WITH sd AS (
    SELECT database_oid, oid FROM functions
    WHERE security_definer AND NOT is_system AND extension IS NULL
)
SELECT e.database_oid, e.object_class, e.object_oid, e.role_oid, e.privilege, e.is_system
FROM effective_privileges e
WHERE (e.object_class = 'schema' AND e.privilege IN ('USAGE', 'CREATE')
       AND (e.database_oid IN (SELECT database_oid FROM sd)
            OR e.role_oid IN (SELECT function_owner_oid FROM triggers
                              UNION SELECT function_owner_oid FROM event_triggers)))
   OR (e.object_class = 'function' AND e.privilege = 'EXECUTE'
       AND EXISTS (SELECT 1 FROM sd WHERE sd.database_oid = e.database_oid
                                      AND sd.oid = e.object_oid))
