-- audit schema loader (_default_privileges): see audit_schema._Loader
INSERT INTO default_privileges BY NAME
            SELECT st.name AS database, a.database_oid, a.oid, c.name AS creator, a.creator_oid,
                   s.name AS schema, nullif(a.schema_oid, 0) AS schema_oid,
                   CASE WHEN a.schema_oid = 0 THEN 'global' ELSE 'schema' END AS scope,
                   a.objtype, ot.object_type,
                   CASE WHEN a.grantee_oid = 0 THEN 'PUBLIC' ELSE g.name END AS grantee,
                   a.grantee_oid, gr.name AS grantor, a.grantor_oid, a.privilege, a.grantable,
                   a.privilege IS NULL AND a.grantee_oid IS NULL AS is_empty_marker
            FROM internal.db_default_acls_raw a
            JOIN internal.db_status st ON st.oid = a.database_oid
            LEFT JOIN internal.db_schemas_raw s
                   ON s.database_oid = a.database_oid AND s.oid = a.schema_oid
            LEFT JOIN internal.objtypes ot ON ot.objtype = a.objtype
            LEFT JOIN internal.roles_raw c ON c.oid = a.creator_oid
            LEFT JOIN internal.roles_raw g ON g.oid = a.grantee_oid
            LEFT JOIN internal.roles_raw gr ON gr.oid = a.grantor_oid
