-- audit schema loader (_privileges): see audit_schema._Loader. Explicit ACL items of
-- per-database objects and columns, of shared objects, and the built-in defaults of
-- objects whose ACL is NULL.
INSERT INTO privileges BY NAME
            SELECT o.database, o.database_oid, a.object_class AS object_class, o.object_oid,
                    a.subid AS subid, o.schema, o.object_name, o.identity,
                    c.name AS column_name, o.kind, o.owner, o.owner_oid, CASE WHEN a.grantee_oid = 0 THEN 'PUBLIC' ELSE g.name END AS grantee,
                     a.grantee_oid, gr.name AS grantor, a.grantor_oid, a.privilege,
                     a.grantable, 'explicit' AS source, o.is_system
            FROM internal.db_acl_raw a
            JOIN acl_objects o
              ON o.database_oid = a.database_oid AND o.object_oid = a.object_oid
             AND o.object_class = CASE WHEN a.object_class = 'column' THEN 'relation'
                                       ELSE a.object_class END
            LEFT JOIN internal.db_columns_raw c
              ON a.object_class = 'column' AND c.database_oid = a.database_oid
             AND c.table_oid = a.object_oid AND c.attnum = a.subid
            LEFT JOIN internal.roles_raw g ON g.oid = a.grantee_oid
            LEFT JOIN internal.roles_raw gr ON gr.oid = a.grantor_oid
            UNION ALL
            SELECT o.database, o.database_oid, a.object_class AS object_class, o.object_oid,
                    0 AS subid, o.schema, o.object_name, o.identity,
                    NULL AS column_name, o.kind, o.owner, o.owner_oid, CASE WHEN a.grantee_oid = 0 THEN 'PUBLIC' ELSE g.name END AS grantee,
                     a.grantee_oid, gr.name AS grantor, a.grantor_oid, a.privilege,
                     a.grantable, 'explicit' AS source, o.is_system
            FROM internal.shared_acl_raw a
            JOIN acl_objects o ON o.object_class = a.object_class AND o.object_oid = a.object_oid
            LEFT JOIN internal.roles_raw g ON g.oid = a.grantee_oid
            LEFT JOIN internal.roles_raw gr ON gr.oid = a.grantor_oid
            UNION ALL
            SELECT o.database, o.database_oid, o.object_class AS object_class, o.object_oid,
                    0 AS subid, o.schema, o.object_name, o.identity,
                    NULL AS column_name, o.kind, o.owner, o.owner_oid,
                   CASE WHEN w.who = 'owner' THEN o.owner ELSE 'PUBLIC' END AS grantee,
                   CASE WHEN w.who = 'owner' THEN o.owner_oid ELSE 0 END AS grantee_oid,
                   o.owner AS grantor, o.owner_oid AS grantor_oid, t.privilege,
                   false AS grantable, 'default' AS source, o.is_system
            FROM acl_objects o
            JOIN privilege_types t
              ON t.object_class = o.object_class AND (t.kind IS NULL OR t.kind = o.kind)
            JOIN (VALUES ('owner'), ('PUBLIC')) w(who)
              ON (w.who = 'owner' AND t.owner_default) OR (w.who = 'PUBLIC' AND t.public_default)
            WHERE o.acl_state = 'default' AND o.owner_oid IS NOT NULL
