-- audit schema loader (_databases): see audit_schema._Loader
INSERT INTO tablespaces BY NAME
            SELECT t.oid, t.name, o.name AS owner, t.owner_oid, t.acl_state
            FROM internal.tablespaces_raw t LEFT JOIN internal.roles_raw o ON o.oid = t.owner_oid
