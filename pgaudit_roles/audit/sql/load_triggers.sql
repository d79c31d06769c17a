-- audit schema loader (_rls_code): see audit_schema._Loader
INSERT INTO triggers BY NAME
            SELECT o.database, o.database_oid, t.oid, t.table_oid, o.identity AS table_identity,
                   o.owner AS table_owner, o.owner_oid AS table_owner_oid, t.name,
                   t.function_oid, t.function_identity, fo.name AS function_owner,
                   t.function_owner_oid, t.function_security_definer, t.events, t.enabled
            FROM internal.db_triggers_raw t
            JOIN objects o ON o.database_oid = t.database_oid AND o.oid = t.table_oid
                          AND o.object_class = 'relation'
            LEFT JOIN internal.roles_raw fo ON fo.oid = t.function_owner_oid
