-- audit schema loader (_functions_extensions): see audit_schema._Loader
INSERT INTO functions BY NAME
            SELECT o.database, o.database_oid, o.oid, o.schema, o.name, o.identity,
                   o.identity_args, o.owner, o.owner_oid, o.kind, f.security_definer, f.config,
                   (SELECT substr(u.item, 13) FROM unnest(f.config) u(item)
                    WHERE starts_with(u.item, 'search_path=') LIMIT 1) AS search_path,
                   f.language, f.leakproof, o.extension, o.acl_state, o.is_system
            FROM objects o
            JOIN internal.db_functions_raw f
              ON f.database_oid = o.database_oid AND f.oid = o.oid
            WHERE o.object_class = 'function'
