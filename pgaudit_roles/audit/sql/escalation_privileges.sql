-- DuckDB, run before escalation_edges.sql: the rows of effective_privileges that the edges
-- read (schema USAGE/CREATE and EXECUTE on SECURITY DEFINER routines), a superset of what
-- each of its three readers filters for. Expanded once here instead of inlining the view
-- three times into the edge statement, whose planning then dominated the load.
--
-- Only for the roles those readers keep (readers): the view gives every role each PUBLIC
-- grant (EXECUTE on every function by default) and every superuser everything, which on a
-- cluster of 20,000 roles and 100,000 functions is hundreds of millions of rows, more than
-- the memory cap. escalation_edges_definer.sql keeps a caller's row only when the caller is
-- a direct holder (a grantee of EXECUTE on the routine or of CREATE on a schema, or a
-- schema's owner: its direct_holders), and the routine owner's USAGE; PUBLIC's own rows it
-- reads from privileges. escalation_edges_code.sql keeps the trigger and event trigger
-- function owners' rows.
CREATE OR REPLACE TABLE internal.esc_effective AS
WITH sd AS (
    SELECT database_oid, oid, owner_oid FROM functions
    WHERE security_definer AND NOT is_system AND extension IS NULL
),
readers AS (
    SELECT p.grantee_oid AS role_oid
    FROM privileges p
    WHERE p.grantee_oid <> 0
      AND ((p.object_class = 'function' AND p.privilege = 'EXECUTE'
            AND EXISTS (SELECT 1 FROM sd WHERE sd.database_oid = p.database_oid
                                           AND sd.oid = p.object_oid))
           OR (p.object_class = 'schema' AND p.privilege = 'CREATE'))
    UNION
    SELECT coalesce(CASE WHEN s.owner = 'pg_database_owner' THEN d.owner_oid END, s.owner_oid)
    FROM schemas s JOIN databases d ON d.oid = s.database_oid
    WHERE NOT s.is_system
    UNION
    SELECT owner_oid FROM sd
    UNION
    SELECT function_owner_oid FROM triggers
    UNION
    SELECT function_owner_oid FROM event_triggers
)
SELECT e.database_oid, e.object_class, e.object_oid, e.role_oid, e.privilege, e.is_system
FROM effective_privileges e
WHERE e.role_oid IN (SELECT role_oid FROM readers)
  AND ((e.object_class = 'schema' AND e.privilege IN ('USAGE', 'CREATE')
        AND (e.database_oid IN (SELECT database_oid FROM sd)
             OR e.role_oid IN (SELECT function_owner_oid FROM triggers
                               UNION SELECT function_owner_oid FROM event_triggers)))
       OR (e.object_class = 'function' AND e.privilege = 'EXECUTE'
           AND EXISTS (SELECT 1 FROM sd WHERE sd.database_oid = e.database_oid
                                          AND sd.oid = e.object_oid)))
