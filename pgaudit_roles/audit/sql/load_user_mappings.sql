-- audit schema loader (_rls_code): see audit_schema._Loader
INSERT INTO user_mappings BY NAME
            SELECT st.name AS database, u.database_oid, u.oid, u.server_name AS server,
                   u.server_oid, CASE WHEN u.user_oid = 0 THEN 'PUBLIC' ELSE r.name END AS "user",
                   u.user_oid, u.option_names
            FROM internal.db_user_mappings_raw u
            JOIN internal.db_status st ON st.oid = u.database_oid
            LEFT JOIN internal.roles_raw r ON r.oid = u.user_oid
