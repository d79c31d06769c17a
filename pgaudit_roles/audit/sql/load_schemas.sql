-- audit schema loader (_schemas_objects): see audit_schema._Loader; $by_app_schemas: the
-- naming policy lists app_schemas (then they decide a schema's app, else its owner's app
-- when the owner is an owner-kind role)
INSERT INTO schemas BY NAME
            SELECT st.name AS database, s.database_oid, s.oid, s.name,
                   pg_quote_ident(s.name) AS identity, o.name AS owner, s.owner_oid,
                   o.kind AS owner_kind, s.acl_state, s.is_system,
                   CASE WHEN s.is_system THEN NULL
                        WHEN $by_app_schemas
                        THEN (SELECT min(a.app) FROM internal.app_schemas a WHERE a.schema = s.name)
                        ELSE CASE WHEN o.kind = 'owner' THEN o.app END END AS app
            FROM internal.db_schemas_raw s
            JOIN internal.db_status st ON st.oid = s.database_oid
            LEFT JOIN roles o ON o.oid = s.owner_oid
