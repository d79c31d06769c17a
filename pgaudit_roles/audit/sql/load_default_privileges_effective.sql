-- audit schema loader (_default_privileges): see audit_schema._Loader; $per_schema: the
-- object types ALTER DEFAULT PRIVILEGES ... IN SCHEMA applies to
-- (acl_defaults.PER_SCHEMA_OBJTYPES). The global and the schema's own entries of a target
-- are one join (schema_oid 0, or the target's schema, never 0): the same rows as two
-- branches of the UNION, with one copy of targets fewer to plan (1.3 ms of 15).
INSERT INTO default_privileges_effective BY NAME
            WITH creators AS (
                SELECT DISTINCT database_oid, creator_oid FROM internal.db_default_acls_raw
                UNION
                SELECT database_oid, owner_oid FROM internal.db_schemas_raw WHERE NOT is_system
            ), targets AS (
                SELECT c.database_oid, c.creator_oid, s.oid AS schema_oid, s.name AS schema,
                       s.owner_oid AS schema_owner_oid, t.objtype
                FROM creators c
                JOIN internal.db_schemas_raw s
                  ON s.database_oid = c.database_oid AND NOT s.is_system
                CROSS JOIN (SELECT unnest($per_schema::VARCHAR[]) AS objtype) t
            ), has_global AS (
                SELECT DISTINCT database_oid, creator_oid, objtype
                FROM internal.db_default_acls_raw WHERE schema_oid = 0
            ), items AS (
                SELECT t.*, a.grantee_oid, a.privilege, a.grantable,
                       CASE WHEN a.schema_oid = 0 THEN 'global' ELSE 'schema' END AS source
                FROM targets t JOIN internal.db_default_acls_raw a
                  ON a.database_oid = t.database_oid AND a.creator_oid = t.creator_oid
                 AND a.objtype = t.objtype AND (a.schema_oid = 0 OR a.schema_oid = t.schema_oid)
                 AND a.privilege IS NOT NULL
                UNION ALL
                SELECT t.*, CASE WHEN b.grantee = 'owner' THEN t.creator_oid ELSE 0 END,
                       b.privilege, false, 'builtin'
                FROM targets t JOIN internal.builtin_default_privs b ON b.objtype = t.objtype
                WHERE NOT EXISTS (SELECT 1 FROM has_global h
                                  WHERE h.database_oid = t.database_oid
                                    AND h.creator_oid = t.creator_oid AND h.objtype = t.objtype)
            )
            SELECT st.name AS database, i.database_oid, c.name AS creator, i.creator_oid,
                   i.schema, i.schema_oid, so.name AS schema_owner, i.objtype, ot.object_type,
                   CASE WHEN i.grantee_oid = 0 THEN 'PUBLIC' ELSE g.name END AS grantee,
                   i.grantee_oid, i.privilege, bool_or(i.grantable) AS grantable,
                   coalesce(min(i.source) FILTER (WHERE i.source <> 'schema'), 'schema') AS source
            FROM items i
            JOIN internal.db_status st ON st.oid = i.database_oid
            LEFT JOIN internal.roles_raw c ON c.oid = i.creator_oid
            LEFT JOIN internal.roles_raw so ON so.oid = i.schema_owner_oid
            LEFT JOIN internal.roles_raw g ON g.oid = i.grantee_oid
            LEFT JOIN internal.objtypes ot ON ot.objtype = i.objtype
            GROUP BY ALL
