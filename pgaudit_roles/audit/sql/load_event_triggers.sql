-- audit schema loader (_rls_code): see audit_schema._Loader
INSERT INTO event_triggers BY NAME
            SELECT st.name AS database, e.database_oid, e.oid, e.name, e.event,
                   ow.name AS owner, e.owner_oid, e.function_oid, e.function_identity,
                   fo.name AS function_owner, e.function_owner_oid,
                   e.function_security_definer, e.enabled
            FROM internal.db_event_triggers_raw e
            JOIN internal.db_status st ON st.oid = e.database_oid
            LEFT JOIN internal.roles_raw ow ON ow.oid = e.owner_oid
            LEFT JOIN internal.roles_raw fo ON fo.oid = e.function_owner_oid
