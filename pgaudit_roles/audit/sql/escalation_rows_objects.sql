-- DuckDB, over the audit schema: what the small path's effective privileges
-- (escalation_rows.effective_rows, escalation_privileges.sql's rows of the
-- effective_privileges view) read besides grants: the objects that superusers and
-- predefined roles hold privileges on (schemas, and SECURITY DEFINER routines: a superset,
-- narrowed in Python), which privileges those are (privilege_types, predefined_privileges),
-- and the inheritance closure. One statement, a source column telling the rows apart.
SELECT 'object' AS source, o.database_oid, o.object_class, o.object_oid, o.kind, o.is_system,
       NULL::VARCHAR AS privilege, NULL::VARCHAR AS role, NULL::BIGINT AS member_oid
FROM acl_objects o
WHERE o.object_class = 'schema'
   OR (o.object_class = 'function'
       AND o.object_oid IN (SELECT oid FROM functions
                            WHERE security_definer AND NOT is_system AND extension IS NULL))
UNION ALL
SELECT 'type', NULL, t.object_class, NULL, t.kind, NULL, t.privilege, NULL, NULL
FROM privilege_types t
UNION ALL
SELECT 'predefined', NULL, v.object_class, NULL, v.kind, NULL, v.privilege, v.role, NULL
FROM predefined_privileges v
UNION ALL
SELECT 'closure', c.database_oid, NULL, c.role_oid, NULL, NULL, NULL, NULL, c.member_oid
FROM internal.inherit_closure c
