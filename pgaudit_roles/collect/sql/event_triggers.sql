-- Event triggers fire on DDL by any role, superusers included, and run their function
-- as that role: whoever can replace the function runs code as the next DDL's author.
SELECT e.oid AS oid, e.evtname::text AS name, e.evtevent::text AS event,
       e.evtowner AS owner_oid, e.evtfoid AS function_oid, p.proowner AS function_owner_oid,
       e.evtfoid::pg_catalog.regprocedure::text AS function_identity,
       p.prosecdef AS function_security_definer, e.evtenabled::text AS enabled
FROM pg_catalog.pg_event_trigger AS e
JOIN pg_catalog.pg_proc AS p ON p.oid = e.evtfoid
