-- DuckDB, over the audit schema: the trigger and event trigger function owners, whose
-- effective privileges escalation_edges_code.sql reads (escalation_privileges.sql's
-- readers; the small path's escalation_rows.effective_rows).
SELECT function_owner_oid FROM triggers
UNION
SELECT function_owner_oid FROM event_triggers
