-- DuckDB, over the audit schema: the triggers and event triggers escalation_edges_code.sql
-- reads, each with its function as that statement's LEFT JOIN finds it, for the small path
-- (escalation_rows.code_edges); a source column tells the two apart. Their function owners
-- are also readers of the effective privileges (escalation_privileges.sql).
SELECT 'trigger' AS source, t.database, t.database_oid, t.oid, t.name, t.table_oid,
       t.table_identity, t.table_owner, t.table_owner_oid, t.function_identity,
       t.function_owner, t.function_owner_oid, t.function_security_definer, t.events,
       t.enabled, NULL::VARCHAR AS event, NULL::VARCHAR AS owner, fn.schema AS fn_schema,
       fn.name AS fn_name, fn.identity_args AS fn_args, fn.kind AS fn_kind
FROM triggers t
LEFT JOIN functions fn ON fn.database_oid = t.database_oid AND fn.oid = t.function_oid
UNION ALL
SELECT 'event_trigger', e.database, e.database_oid, e.oid, e.name, NULL, NULL, NULL, NULL,
       e.function_identity, e.function_owner, e.function_owner_oid,
       e.function_security_definer, NULL, e.enabled, e.event, e.owner, fn.schema, fn.name,
       fn.identity_args, fn.kind
FROM event_triggers e
LEFT JOIN functions fn ON fn.database_oid = e.database_oid AND fn.oid = e.function_oid
