-- audit schema loader (_settings): see audit_schema._Loader
INSERT INTO role_settings BY NAME
            WITH items AS (
                SELECT nullif(s.role_oid, 0) AS role_oid, nullif(s.database_oid, 0) AS database_oid,
                       unnest(s.config) AS item
                FROM internal.db_role_settings_raw s
                UNION
                SELECT r.oid, NULL, unnest(r.config) FROM internal.roles_raw r
            )
            SELECT r.name AS role, i.role_oid, d.name AS database, i.database_oid,
                   CASE WHEN strpos(i.item, '=') > 0 THEN substr(i.item, 1, strpos(i.item, '=') - 1)
                        ELSE i.item END AS name,
                   CASE WHEN strpos(i.item, '=') > 0 THEN substr(i.item, strpos(i.item, '=') + 1)
                        END AS value
            FROM items i
            LEFT JOIN internal.roles_raw r ON r.oid = i.role_oid
            LEFT JOIN internal.databases_raw d ON d.oid = i.database_oid
