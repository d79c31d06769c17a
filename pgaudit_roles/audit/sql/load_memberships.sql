-- audit schema loader (_memberships): see audit_schema._Loader
INSERT INTO memberships BY NAME
            SELECT r.name AS role, m.role_oid, u.name AS member, m.member_oid,
                   g.name AS grantor, m.grantor_oid, m.admin_option, m.inherit_option,
                   m.set_option
            FROM internal.memberships_raw m
            LEFT JOIN internal.roles_raw r ON r.oid = m.role_oid
            LEFT JOIN internal.roles_raw u ON u.oid = m.member_oid
            LEFT JOIN internal.roles_raw g ON g.oid = m.grantor_oid
