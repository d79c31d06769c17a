-- audit schema loader (_schemas_objects): see audit_schema._Loader
INSERT INTO objects BY NAME
            SELECT st.name AS database, x.database_oid, x.object_class, x.oid, x.kind,
                   sc.name AS schema, x.schema_oid, x.name,
                   CASE x.object_class
                        WHEN 'function' THEN pg_qualified(sc.name, x.name)
                                             || '(' || coalesce(x.identity_args, '') || ')'
                        WHEN 'large_object' THEN x.name
                        ELSE pg_qualified(sc.name, x.name) END AS identity,
                   x.identity_args, o.name AS owner, x.owner_oid, x.acl_state, x.extension,
                   coalesce(sc.is_system, x.schema_oid IS NULL AND x.oid < 16384) AS is_system,
                   x.trusted
            FROM internal.db_objects_raw x
            JOIN internal.db_status st ON st.oid = x.database_oid
            LEFT JOIN internal.db_schemas_raw sc
                   ON sc.database_oid = x.database_oid AND sc.oid = x.schema_oid
            LEFT JOIN internal.roles_raw o ON o.oid = x.owner_oid
