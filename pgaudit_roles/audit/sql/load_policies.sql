-- audit schema loader (_rls_code): see audit_schema._Loader
INSERT INTO policies BY NAME
            SELECT o.database, o.database_oid, p.oid, p.table_oid, o.schema,
                   o.name AS table_name, o.identity, p.name, p.command, p.permissive,
                   (SELECT list(CASE WHEN x.oid = 0 THEN 'PUBLIC'
                                     ELSE coalesce(r.name, x.oid::VARCHAR) END ORDER BY x.pos)
                    FROM (SELECT unnest(p.role_oids) AS oid,
                                 generate_subscripts(p.role_oids, 1) AS pos) x
                    LEFT JOIN internal.roles_raw r ON r.oid = x.oid) AS roles,
                   p.role_oids, p.using_expr, p.check_expr
            FROM internal.db_policies_raw p
            JOIN objects o ON o.database_oid = p.database_oid AND o.oid = p.table_oid
                          AND o.object_class = 'relation'
