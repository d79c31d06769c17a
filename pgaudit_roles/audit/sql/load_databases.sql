-- audit schema loader (_databases): see audit_schema._Loader
INSERT INTO databases BY NAME
            SELECT d.oid, d.name, pg_quote_ident(d.name) AS identity, o.name AS owner,
                   d.owner_oid, d.allow_connections, d.is_template, d.connection_limit,
                   d.acl_state, d.auditor_can_connect,
                   coalesce(s.status = 'collected', false) AS collected,
                   CASE WHEN s.status IS NULL THEN 'not in the snapshot'
                        WHEN s.status <> 'collected' THEN coalesce(s.reason, s.status) END
                        AS not_collected_reason
            FROM internal.databases_raw d
            LEFT JOIN internal.roles_raw o ON o.oid = d.owner_oid
            LEFT JOIN internal.db_status s ON s.oid = d.oid
