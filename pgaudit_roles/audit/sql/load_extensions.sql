-- audit schema loader (_functions_extensions): see audit_schema._Loader
INSERT INTO extensions BY NAME
            SELECT st.name AS database, e.database_oid, e.oid, e.name, o.name AS owner,
                   e.owner_oid, s.name AS schema, e.schema_oid, e.version
            FROM internal.db_extensions_raw e
            JOIN internal.db_status st ON st.oid = e.database_oid
            LEFT JOIN internal.roles_raw o ON o.oid = e.owner_oid
            LEFT JOIN internal.db_schemas_raw s
                   ON s.database_oid = e.database_oid AND s.oid = e.schema_oid
