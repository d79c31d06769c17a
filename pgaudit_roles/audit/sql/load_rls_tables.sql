-- audit schema loader (_rls_code): see audit_schema._Loader
INSERT INTO rls_tables BY NAME
            SELECT o.database, o.database_oid, r.table_oid, o.schema, o.name, o.identity,
                   o.owner, o.owner_oid, ok.kind AS owner_kind, r.row_security,
                   r.force_row_security,
                   (SELECT count(*) FROM internal.db_policies_raw p
                    WHERE p.database_oid = r.database_oid AND p.table_oid = r.table_oid)::INTEGER
                   AS policies
            FROM internal.db_rls_tables_raw r
            JOIN objects o ON o.database_oid = r.database_oid AND o.oid = r.table_oid
                          AND o.object_class = 'relation'
            LEFT JOIN roles ok ON ok.oid = o.owner_oid
